"""A pool of local worker processes: a fresh ``python -m scinas.execution.worker`` per trial.

Each of the ``workers`` slots runs one trial at a time.  With GPUs, slot ``i`` is pinned to a
GPU through ``CUDA_VISIBLE_DEVICES`` (one trial per GPU); without, workers train on the CPU with
at most ``threads`` TensorFlow threads each.  A fresh process per trial bounds TensorFlow's
memory (it is returned to the system when the trial ends), and a worker that crashes (segfault,
``SIGKILL`` from the out-of-memory killer, ``os._exit``) fails only its own trial, recorded with
the reason.  Workers write their trial's journal; this executor, in the coordinating process,
replays it into the run store while the trial runs and when it ends.

Example::

    executor = LocalExecutor(store, run_dir, "A", cache_root, workers=2, threads=1)
    executor.submit(request)
    outcomes = executor.wait(timeout=5.0)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from scinas.errors import InternalError
from scinas.execution.base import Executor, outcome_of
from scinas.execution.journal import EXIT_BUG, JournalReader
from scinas.execution.registry import EXECUTORS, ExecutionContext, ExecutorKind, local_slots
from scinas.execution.task import WorkerTask
from scinas.interrupt import check_interrupt
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.store import RunStore, TrialRecord
from scinas.store.layout import RunLayout

__all__ = ["LocalExecutor", "LocalKind", "exit_reason", "log_tail"]

logger = logging.getLogger(__name__)

_TERMINATE_GRACE_S = 10.0


def log_tail(path: Path, lines: int = 1) -> str:
    """The last ``lines`` non-empty lines of a log file ('' when there is none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(handle.tell() - 8192, 0))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


def exit_reason(returncode: int, log: Path) -> str:
    """Why a worker that wrote no final journal line ended, for the trial's failure reason."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (out of memory, or killed)" if -returncode == signal.SIGKILL else ""
        return f"the worker process was killed by {name}{hint}"
    tail = log_tail(log)
    return f"the worker process exited with status {returncode}" + (f": {tail}" if tail else "")


@dataclass
class _Worker:
    request: TrialRequest
    slot: int
    reader: JournalReader
    process: subprocess.Popen[bytes] | None
    log: IO[bytes] | None = None
    started: float = field(default_factory=time.perf_counter)


class LocalExecutor(Executor):
    """``workers`` local processes, one trial each (see the module docstring).

    ``gpus`` are the GPU ids to pin (slot ``i`` gets ``gpus[i % len(gpus)]``); empty for CPU
    workers, which also see no GPU when ``hide_gpus``.  ``None`` leaves the visible devices
    alone (a ``multi-gpu`` trial uses all of them).
    """

    name = "local"

    def __init__(self, store: RunStore, run_dir: Path, experiment: str, cache_root: Path, *, workers: int,
                 gpus: Sequence[str] | None = (), hide_gpus: bool = False, threads: int | None = None,
                 verbose: int = 2, python: str = sys.executable, poll_s: float = 0.1) -> None:
        if workers < 1:
            raise ValueError(f"a local pool needs at least one worker, got {workers}")
        self.store = store
        self.run_dir = run_dir
        self.experiment = experiment
        self.cache_root = cache_root
        self.workers = workers
        self.gpus = None if gpus is None else tuple(gpus)
        self.hide_gpus = hide_gpus
        self.threads = threads
        self.verbose = verbose
        self.python = python
        self.poll_s = poll_s
        self._running: dict[str, _Worker] = {}

    @property
    def capacity(self) -> int:
        return self.workers

    @property
    def running(self) -> int:
        return len(self._running)

    def _free_slot(self) -> int:
        taken = {worker.slot for worker in self._running.values()}
        for slot in range(self.workers):
            if slot not in taken:
                return slot
        raise RuntimeError("no free worker slot: submit only while executor.free > 0")

    def _device(self, slot: int) -> str | None:
        """The ``CUDA_VISIBLE_DEVICES`` of ``slot`` (None: leave it as it is)."""
        if self.gpus:
            return self.gpus[slot % len(self.gpus)]
        if self.hide_gpus:
            return ""
        return None

    def submit(self, request: TrialRequest) -> None:
        record = self.store.trial(request.name) or self.store.add_trial(
            request.name, architecture=request.architecture.to_text(),
            architecture_json=json.dumps(request.architecture.to_json()))
        slot = self._free_slot()
        trial = RunLayout(self.run_dir).trial(request.name)
        trial.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        trial.journal.unlink(missing_ok=True)  # a restarted trial starts a new journal
        task = WorkerTask(self.run_dir, self.experiment, self.cache_root, request, record, self.name,
                          threads=self.threads, verbose=self.verbose)
        task_path = trial.task
        task.save(task_path)
        environment = dict(os.environ, SCINAS_COORDINATOR_PID=str(os.getpid()), PYTHONUNBUFFERED="1")
        device = self._device(slot)
        if device is not None:
            environment["CUDA_VISIBLE_DEVICES"] = device
        if self.threads is not None:
            for variable in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
                environment[variable] = str(self.threads)
            environment["TF_NUM_INTEROP_THREADS"] = str(min(self.threads, 2))
        log = trial.worker_log.open("ab")
        try:
            process = subprocess.Popen([self.python, "-m", "scinas.execution.worker", str(task_path)],
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=environment, cwd=str(self.run_dir))
        except OSError:
            log.close()
            raise
        self.store.update_trial(record.trial_id, extra={"executor": self.name, "worker_slot": slot,
                                                        "device": "cpu" if not device else f"gpu:{device}"})
        self._running[request.name] = _Worker(request, slot, JournalReader(trial.journal, request.name),
                                              process, log)
        logger.info("%s: started worker %d (pid %d)", request.name, slot, process.pid)

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._running:
            check_interrupt()
            outcomes = [self._finish(name) for name in list(self._running) if self._poll(self._running[name])]
            if outcomes:
                return outcomes
            if deadline is not None and time.monotonic() >= deadline:
                return []
            time.sleep(self.poll_s)
        return []

    def _poll(self, worker: _Worker) -> bool:
        """Replay new journal lines; True when the worker has ended."""
        worker.reader.ingest(self.store)
        return worker.process is None or worker.process.poll() is not None

    def _finish(self, name: str) -> TrialOutcome:
        worker = self._running.pop(name)
        final = worker.reader.ingest(self.store)
        if worker.log is not None:
            worker.log.close()
        worker_log = RunLayout(self.run_dir).trial(name).worker_log
        worker.reader.raise_if_bug(worker_log)  # its internal_error line: a bug stopped the run
        if not final and worker.process is not None and worker.process.returncode == EXIT_BUG:
            raise InternalError(f"the worker of trial {name} stopped on an unexpected error (a bug, not a failed "
                                f"trial); its traceback is in {worker_log}")
        if not final and worker.process is not None:
            reason = exit_reason(worker.process.returncode, worker_log)
            record = self.store.trial(name)
            if record is not None:
                self.store.fail_trial(record.trial_id, reason,
                                      extra={"exit_status": worker.process.returncode})
            logger.error("%s failed: %s", name, reason)
        return outcome_of(self.store, name)

    def reattach(self, request: TrialRequest, record: TrialRecord) -> bool:
        """A trial whose worker finished its journal before the coordinator died is collected."""
        journal = RunLayout(self.run_dir).trial(request.name).journal
        if not JournalReader.ends_final(journal) or self.free < 1:
            return False
        self._running[request.name] = _Worker(request, self._free_slot(), JournalReader(journal, request.name), None)
        logger.info("%s: collecting the result its worker wrote before the run stopped", request.name)
        return True

    def shutdown(self) -> None:
        """Terminate running workers (their trials stay ``running`` and restart on resume)."""
        for worker in self._running.values():
            if worker.process is not None and worker.process.poll() is None:
                worker.process.terminate()
        for worker in self._running.values():
            if worker.process is not None:
                try:
                    worker.process.wait(_TERMINATE_GRACE_S)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                    worker.process.wait()
            worker.reader.ingest(self.store)
            if worker.log is not None:
                worker.log.close()
        self._running.clear()


@EXECUTORS.register("local")
class LocalKind(ExecutorKind):
    """``executor = "local"``: a pool of worker processes, one trial each (``parallel_trials`` of them)."""

    @classmethod
    def create(cls, context: ExecutionContext, options: Any) -> Executor:
        from scinas.training.distribution import DeviceInventory, DistributionPlan

        execution = context.experiment.execution
        inventory = DeviceInventory.detect(execution)
        plan = DistributionPlan.resolve(execution, inventory)
        slots = local_slots(dataclasses.replace(execution, distribution=plan.strategy), inventory)
        return LocalExecutor(context.store, context.run_dir, context.experiment.name, context.cache_root,
                             workers=execution.parallel_trials, gpus=slots.gpus, hide_gpus=slots.hide_gpus,
                             threads=slots.threads, verbose=2 if context.verbose is None else context.verbose)
