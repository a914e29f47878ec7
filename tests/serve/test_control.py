"""Run control: start (validated like the command line), the queue, stop, resume, the keeper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scinas.serve.control import validate_start
from scinas.serve.jobs import Job, JobBook
from scinas.serve.keeper import Keeper, job_command, writer_pid
from scinas.testing.run_stores import build_run
from tests.conftest import REPO, TINY_DATA, TINY_SEARCH, ConfigWriter
from tests.serve.conftest import Serve

RUN = "A/20261201-120000-0001"


def test_start_validates_like_the_command_line(serve: Serve, write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(TINY_SEARCH, TINY_DATA)
    client = serve(tmp_path / "results", config_dir=config)
    jobs = client.get("/api/jobs").json()
    assert jobs["experiments"] == ["P"] and jobs["jobs"] == []
    unknown = client.control("start", {"experiment": "Q", "overrides": ""})
    assert unknown.status == 400 and unknown.json()["error"].startswith("error: ")
    assert "unknown experiment 'Q'" in unknown.json()["error"]
    bad = client.control("start", {"experiment": "P", "overrides": "EPOCHS=3"})
    assert bad.status == 400 and "unknown setting 'EPOCHS=3'" in bad.json()["error"]
    assert "E.training.epochs=2" in bad.json()["error"]  # the command line's fix
    assert validate_start(config, "P", "P.training.epochs=2\n\n") == ("P", ["P.training.epochs=2"])


def test_a_queued_job_can_be_cancelled(serve: Serve, tmp_path: Path) -> None:
    results = tmp_path / "results"
    client = serve(results)
    book = JobBook(results)
    with book.locked():
        book.write(Job("20261201-000000-0001", "start", "config", experiment="P"))
    assert client.get("/api/jobs").json()["jobs"][0]["state"] == "queued"
    answer = client.control("stop", {"job": "20261201-000000-0001"})
    assert answer.status == 200 and answer.json()["job"]["state"] == "cancelled"
    assert client.control("stop", {"job": "nope"}).status == 400


def test_stop_interrupts_the_writer_of_a_run_and_resume_queues_it(serve: Serve, tmp_path: Path) -> None:
    results = tmp_path / "results"
    run = build_run(results, trials=2)
    client = serve(results)
    assert writer_pid(run) is None
    assert client.control("stop", {"run": RUN}).json() == {"error": "the run is not running"}
    # a stand-in writer: a child process holding the store's writer lock, stopped by SIGINT
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, str(os.getpid()).encode())\n"
        "try:\n print('ok', flush=True)\n time.sleep(60)\nexcept KeyboardInterrupt:\n sys.exit(130)"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(run / "store.sqlite.lock")], stdout=subprocess.PIPE)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == b"ok"
        assert writer_pid(run) == writer.pid
        assert client.control("resume", {"run": RUN}).json()["error"].startswith("the run is running")
        assert client.control("stop", {"run": RUN}).json() == {"stopped": writer.pid}
        assert writer.wait(timeout=20) == 130
    finally:
        writer.kill()
        writer.wait()
    assert writer_pid(run) is None


def test_the_keeper_runs_jobs_one_after_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    book = JobBook(results)
    with book.locked():
        for number, seconds in enumerate((0.5, 0.1)):
            book.write(
                Job(
                    f"20261201-000000-000{number}",
                    "start",
                    "config",
                    experiment=f"sleep{seconds}",
                    created_at=f"2026-12-01T00:00:0{number}",
                )
            )
    # each job sleeps instead of training; the second must not start before the first ends
    monkeypatch.setattr(
        "scinas.serve.keeper.job_command",
        lambda job, root: [sys.executable, "-c", f"import time; time.sleep({job.experiment[5:]})"],
    )
    keeper = Keeper(results)
    seen: list[tuple[str, ...]] = []
    deadline = time.monotonic() + 60
    while keeper.step() or any(job.state == "queued" for job in book.all()):
        seen.append(tuple(job.state for job in book.all()))
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ("running", "queued") in seen and ("running", "running") not in seen
    assert [job.state for job in book.all()] == ["completed", "completed"]


def test_a_job_runs_the_command_line(tmp_path: Path) -> None:
    start = Job("x", "start", "/cfg", experiment="A", overrides=("A.training.epochs=2",))
    assert job_command(start, tmp_path)[1:] == [
        "-m",
        "scinas",
        "run",
        "A",
        "A.training.epochs=2",
        "--config-dir",
        "/cfg",
        "--results",
        str(tmp_path),
        "--no-progress",
        "-q",
    ]
    resume = Job("y", "resume", "/cfg", run="A/r1")
    assert job_command(resume, tmp_path)[3:6] == ["run", "--resume", str(tmp_path / "A/r1")]


def test_a_job_that_fails_validation_shows_the_command_line_error(tmp_path: Path) -> None:
    results = tmp_path / "results"
    book = JobBook(results)
    with book.locked():
        book.write(Job("20261201-000000-0001", "start", str(tmp_path / "no-config"), experiment="P"))
    keeper = Keeper(results)
    deadline = time.monotonic() + 120
    while keeper.step():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    (job,) = book.all()
    assert job.state == "failed" and job.returncode == 2
    assert job.message is not None and "configuration folder not found" in job.message


def test_the_keeper_lets_go_of_a_job_whose_file_was_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    book = JobBook(results)
    with book.locked():
        book.write(Job("20261201-000000-0001", "start", "config", experiment="P"))
    monkeypatch.setattr("scinas.serve.keeper.job_command", lambda job, root: [sys.executable, "-c", "pass"])
    keeper = Keeper(results)
    assert keeper.step()
    book.path("20261201-000000-0001").unlink()
    deadline = time.monotonic() + 30
    while keeper.step():
        assert time.monotonic() < deadline, "the keeper still follows a job that is gone"
        time.sleep(0.05)


def test_runs_the_keeper_starts_stop_on_sigint_even_when_it_was_started_ignoring_it() -> None:
    """``nohup scinas serve &`` ignores SIGINT; the keeper's runs must not inherit that."""
    probe = ("import signal, subprocess, sys\n"
             "from scinas.serve.keeper import stoppable_children\n"
             "if sys.argv[1] == 'reset':\n    stoppable_children()\n"
             "child = 'import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)'\n"
             "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True).stdout.strip())\n")

    def ignoring_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def child_handles_sigint(mode: str) -> str:
        done = subprocess.run([sys.executable, "-c", probe, mode], check=False, capture_output=True, text=True,
                              timeout=60, preexec_fn=ignoring_sigint,
                              env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert child_handles_sigint("keep") == "False"  # what a run inherited before
    assert child_handles_sigint("reset") == "True"
