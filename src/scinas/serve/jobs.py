"""The queue of requested runs, kept as files so that it outlives the server.

Each job is one JSON file ``<results>/.scinas-serve/jobs/<job-id>.json`` (written atomically),
its output goes to ``<job-id>.log`` beside it.  The server adds jobs and asks to stop them; the
keeper process (:mod:`scinas.serve.keeper`) runs them one after another.  Both change job files
only under the exclusive lock ``jobs.lock``, so a job cannot be cancelled and started at once.

Job states: ``queued`` → ``running`` → ``completed`` | ``failed`` | ``stopped``; a queued job
may become ``cancelled``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scinas.atomic import write_text_atomic
from scinas.store.records import format_time, utc_now

if sys.platform != "win32":
    import fcntl

__all__ = ["FINISHED", "Job", "JobBook"]

#: The states a job does not leave.
FINISHED = ("completed", "failed", "stopped", "cancelled")


@dataclass(frozen=True)
class Job:
    """One requested run: a new run of ``experiment`` with ``overrides``, or the resume of ``run``.

    ``run`` is the run folder relative to the results folder (``A/20261122-083012-3fa2``), known
    once the run has made it; ``message`` is why a job failed (the command line's error).
    """

    id: str
    kind: str
    config_dir: str
    experiment: str | None = None
    overrides: tuple[str, ...] = ()
    run: str | None = None
    state: str = "queued"
    created_at: str = field(default_factory=lambda: format_time(utc_now()) or "")
    started_at: str | None = None
    finished_at: str | None = None
    pid: int | None = None
    returncode: int | None = None
    message: str | None = None
    stop_requested: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "overrides": list(self.overrides)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Job:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in value.items() if k in names}
        return cls(**{**known, "overrides": tuple(known.get("overrides", ()))})


class JobBook:
    """The job files of one results folder."""

    def __init__(self, results: Path) -> None:
        self.folder = results / ".scinas-serve" / "jobs"

    @staticmethod
    def new_id() -> str:
        return utc_now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock of the job files (blocking)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "jobs.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform != "win32":
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock

    def path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"

    def log(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.log"

    def write(self, job: Job) -> None:
        """Save ``job`` (call under :meth:`locked`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path(job.id), json.dumps(job.to_json(), indent=1))

    def all(self) -> list[Job]:
        """Every job, oldest first (a file that does not read is skipped)."""
        jobs = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            with contextlib.suppress(OSError, ValueError, TypeError):
                jobs.append(Job.from_json(json.loads(path.read_text(encoding="utf-8"))))
        return sorted(jobs, key=lambda job: (job.created_at, job.id))

    def get(self, job_id: str) -> Job | None:
        return next((job for job in self.all() if job.id == job_id), None)

    def update(self, job: Job, **changes: Any) -> Job:
        """Save ``job`` with ``changes`` and return it (call under :meth:`locked`)."""
        changed = dataclasses.replace(job, **changes)
        self.write(changed)
        return changed

    def tail(self, job_id: str, limit: int = 4000) -> str:
        """The end of the job's output."""
        try:
            with self.log(job_id).open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - limit))
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""
