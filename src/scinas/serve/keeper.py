"""The keeper: a process of its own that runs the queued jobs of a results folder one after another.

The server starts it (:func:`ensure_keeper`) in a new session, so it and its runs outlive the
server and the browser.  One keeper per results folder: it holds the exclusive lock
``<results>/.scinas-serve/keeper.lock``; a second one exits at once.  Each job is the command
line itself (``python -m scinas run ...`` or ``run --resume``), so a run started from the page
is validated and behaves exactly like one started in a terminal.  A stop request interrupts
the run with SIGINT, the clean interrupt that leaves it resumable (exit code 130).  The keeper
leaves when nothing is queued or running.

    python -m scinas.serve.keeper --results results
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scinas.serve.jobs import Job, JobBook
from scinas.store.layout import RunLayout
from scinas.store.records import format_time, utc_now

if sys.platform != "win32":
    import fcntl

__all__ = ["ensure_keeper", "job_command", "keeper_running", "main", "stoppable_children", "writer_pid"]

#: How often the keeper looks at its jobs, and how long it stays with nothing to do.
POLL_S = 0.3
IDLE_EXIT_S = 3.0
EXIT_INTERRUPTED = 130


def _lock_path(results: Path) -> Path:
    return results / ".scinas-serve" / "keeper.lock"


def keeper_running(results: Path) -> bool:
    """Whether a keeper holds the results folder's keeper lock."""
    path = _lock_path(results)
    if sys.platform == "win32" or not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def writer_pid(run_dir: Path) -> int | None:
    """The pid of the process writing the run (it holds the store's writer lock), or ``None``."""
    path = RunLayout(run_dir).store_lock
    if sys.platform == "win32" or not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def ensure_keeper(results: Path) -> None:
    """Start a keeper for ``results`` unless one runs (it detaches: a new session, no terminal)."""
    if keeper_running(results):
        return
    folder = results / ".scinas-serve"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "keeper.log").open("ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "scinas.serve.keeper", "--results", str(results)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def job_command(job: Job, results: Path) -> list[str]:
    """The command line a job runs."""
    common = ["--results", str(results), "--no-progress", "-q"]
    if job.kind == "resume":
        return [sys.executable, "-m", "scinas", "run", "--resume", str(results / (job.run or "")), *common]
    return [
        sys.executable,
        "-m",
        "scinas",
        "run",
        str(job.experiment),
        *job.overrides,
        "--config-dir",
        job.config_dir,
        *common,
    ]


def _runs_of(results: Path, experiment: str | None) -> set[str]:
    folder = results / str(experiment)
    if not experiment or not folder.is_dir():
        return set()
    return {f"{experiment}/{path.name}" for path in folder.iterdir() if RunLayout(path).store.is_file()}


def _error_line(text: str) -> str | None:
    lines = [line for line in text.splitlines() if line.startswith("error:")]
    return lines[-1].removeprefix("error:").strip() if lines else None


class Keeper:
    """Runs the jobs of one results folder (see the module docstring)."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.book = JobBook(results)
        self.process: subprocess.Popen[bytes] | None = None
        self.job_id: str | None = None
        self.before: set[str] = set()
        self.interrupted = False

    def step(self) -> bool:
        """One look at the jobs; whether anything is queued or running."""
        with self.book.locked():
            jobs = {job.id: job for job in self.book.all()}
            if self.process is not None and self.job_id in jobs:
                self._follow(jobs[self.job_id])
            elif self.process is not None and self.process.poll() is not None:  # its job file was removed
                self.process, self.job_id = None, None
            if self.process is None:
                jobs = {job.id: job for job in self.book.all()}
                for job in jobs.values():
                    if job.state == "running":  # left by a keeper that died: its run is not ours
                        self.book.update(
                            job,
                            state="failed",
                            finished_at=format_time(utc_now()),
                            message="the keeper that ran this job stopped",
                        )
                # a resume waits until the process that last wrote its run has let go of the store
                queued = [
                    job
                    for job in jobs.values()
                    if job.state == "queued"
                    and not (job.kind == "resume" and writer_pid(self.results / str(job.run)) is not None)
                ]
                if queued:
                    self._start(queued[0])
        return self.process is not None

    def _start(self, job: Job) -> None:
        self.before = _runs_of(self.results, job.experiment)
        with self.book.log(job.id).open("ab") as log:
            self.process = subprocess.Popen(
                job_command(job, self.results), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self.job_id, self.interrupted = job.id, False
        self.book.update(job, state="running", started_at=format_time(utc_now()), pid=self.process.pid)

    def _follow(self, job: Job) -> None:
        assert self.process is not None
        changes: dict[str, object] = {}
        if job.run is None and job.kind == "start":
            new = sorted(_runs_of(self.results, job.experiment) - self.before)
            if new:
                changes["run"] = new[-1]
        if job.stop_requested and not self.interrupted:
            self.process.send_signal(signal.SIGINT)
            self.interrupted = True
        code = self.process.poll()
        if code is not None:
            state = (
                "completed" if code == 0 else "stopped" if code == EXIT_INTERRUPTED or self.interrupted else "failed"
            )
            message = None if code == 0 else _error_line(self.book.tail(job.id))
            changes.update(state=state, returncode=code, finished_at=format_time(utc_now()), message=message)
            self.process, self.job_id = None, None
        if changes:
            self.book.update(job, **changes)


def stoppable_children() -> None:
    """Make SIGINT stop the runs this process starts.

    A server started as a background job of a non-interactive shell (``nohup scinas serve &``, a
    batch script) ignores SIGINT, the keeper it starts inherits that, and so would every run: the
    page's stop, which is a SIGINT, would do nothing.  An ignored signal is inherited through
    ``exec``; a handled one is not, so handling SIGINT here gives each run Python's default.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the keeper until its queue is empty (exit 0; also when another keeper runs)."""
    parser = argparse.ArgumentParser(prog="python -m scinas.serve.keeper")
    parser.add_argument("--results", type=Path, required=True)
    args = parser.parse_args(argv)
    results = args.results.resolve()
    path = _lock_path(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if sys.platform != "win32":
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
    # In its own session, a Ctrl-C in the server's terminal does not reach it.
    stoppable_children()
    keeper = Keeper(results)
    idle_since: float | None = None
    while True:
        busy = keeper.step()
        if busy:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > IDLE_EXIT_S:
            return 0
        time.sleep(POLL_S)


if __name__ == "__main__":
    sys.exit(main())
