"""Each trial a Slurm job, submitted through submitit (extra ``slurm``).

The job runs :func:`scinas.execution.task.run_task`, which writes the trial's journal in the run
folder (which must be on a file system the compute nodes share); the coordinator, on a login
node or inside a job of its own, replays it into the store.  The job id is kept in the trial's
``extra["slurm_job_id"]``, so a resumed coordinator reattaches to jobs still queued or running,
collects those that finished meanwhile, and trains the others again.

A job that ends without a final journal line (cancelled with ``scancel``, preempted, out of
time, out of memory, node failure) fails its trial with a reason that says so, e.g. ``Slurm job
42 ended CANCELLED without a result``; with ``max_retries = N`` it is first resubmitted up to N
times (the new job continues from the trial's last checkpoint).  Interrupting the coordinator
leaves the jobs running: the resumed run picks them up.

A job stopped by a bug in scinas (not by a failure of its trial) writes an ``internal_error``
journal line and exits with status :data:`~scinas.execution.journal.EXIT_BUG`: the coordinator
stops the run with :class:`~scinas.errors.InternalError`, saved and resumable, the trial left
``running`` (never retried, never failed).

Job states come from ``squeue`` (live jobs) and ``scontrol show job`` (recently ended ones), so
no Slurm accounting database is needed.

Each job's payload is scinas's JSON task file (``trials/<trial>/task.json``): the function
submitted is :func:`~scinas.execution.task.run_task_file` with that file's path as its only
argument.  submitit itself still pickles this call (a function reference and a string) into the
log folder and unpickles it in the job, so that folder, ``[X.execution.slurm] log_folder``, is a
relative path inside the run folder (absolute paths and ``..`` are refused) and is created
readable by its owner only (mode 0700), like the run folder.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from scinas.config.execution import ExecutionConfig
from scinas.config.experiment import ExperimentConfig
from scinas.errors import ConfigError, InternalError, ScinasError
from scinas.execution.base import Executor, outcome_of
from scinas.execution.journal import EXIT_BUG, JournalReader
from scinas.execution.registry import EXECUTORS, ExecutionContext, ExecutorKind
from scinas.execution.slurm_options import SlurmConfig, check_log_folder
from scinas.execution.task import WorkerTask, run_task_file
from scinas.interrupt import check_interrupt
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.store import RunStore, TrialRecord
from scinas.store.layout import RunLayout, TrialLayout

__all__ = ["SlurmExecutor", "SlurmKind", "check_slurm", "ended_state", "job_fields", "job_states", "log_folder",
           "sbatch_flags"]

logger = logging.getLogger(__name__)

_INSTALL = "install the Slurm extra: make install EXTRAS=slurm, or pip install 'scinas[slurm]'"
_COMMAND_TIMEOUT_S = 60


def _submitit(file: str = "", path: str = "") -> ModuleType:
    try:
        import submitit
    except ImportError:
        raise ConfigError('executor = "slurm" needs submitit, which is not installed', file=file or None,
                          path=path or None, value="slurm", fix=_INSTALL) from None
    return submitit


def sbatch_flags(config: SlurmConfig) -> list[str]:
    """The sbatch options of one trial's job (what ``--test-only`` checks and submitit writes)."""
    flags = [f"--cpus-per-task={config.cpus_per_trial}", f"--time={config.time_minutes}"]
    if config.partition:
        flags.append(f"--partition={config.partition}")
    if config.account:
        flags.append(f"--account={config.account}")
    if config.gpus_per_trial:
        flags.append(f"--gpus-per-node={config.gpus_per_trial}")
    if config.mem_gb is not None:
        flags.append(f"--mem={max(round(config.mem_gb * 1024), 1)}M")
    return [*flags, *config.sbatch_options]


def _parameters(config: SlurmConfig) -> dict[str, Any]:
    """submitit ``update_parameters`` arguments for ``config``."""
    extra: dict[str, Any] = {}
    for option in config.sbatch_options:
        key, has_value, value = option[2:].partition("=")
        extra[key.replace("-", "_")] = value if has_value else True
    parameters: dict[str, Any] = {"cpus_per_task": config.cpus_per_trial, "time": config.time_minutes,
                                  "ntasks_per_node": 1, "nodes": 1, "additional_parameters": extra}
    if config.partition:
        parameters["partition"] = config.partition
    if config.account:
        parameters["account"] = config.account
    if config.gpus_per_trial:
        parameters["gpus_per_node"] = config.gpus_per_trial
    if config.mem_gb is not None:
        parameters["mem"] = f"{max(round(config.mem_gb * 1024), 1)}M"
    return parameters


def log_folder(run_dir: Path, config: SlurmConfig) -> Path:
    """The run's Slurm log folder (``run_dir / log_folder``), created with mode 0700."""
    check_log_folder(config.log_folder)
    folder = run_dir / config.log_folder
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def check_slurm(execution: ExecutionConfig, config: SlurmConfig) -> None:
    """submitit installed, ``sbatch`` on the PATH, and the job options accepted by ``sbatch
    --test-only`` (a safe ``log_folder`` is checked when the options are read)."""
    path = f"{execution.path}.executor" if execution.path else "executor"
    _submitit(execution.file, path)
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise ConfigError('executor = "slurm" needs the sbatch command, which is not on the PATH', file=execution.file,
                          path=path, value="slurm",
                          fix='run on a Slurm login node (or inside a job), or use executor = "local"')
    command = [sbatch, "--test-only", *sbatch_flags(config), "--wrap=true"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"sbatch --test-only could not run: {exc}", file=execution.file, path=path,
                          fix="check that the Slurm controller answers (sinfo)") from None
    if result.returncode != 0:
        message = " ".join(line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip())
        raise ConfigError(f"sbatch rejects the job options {' '.join(sbatch_flags(config))}: {message}",
                          file=execution.file, path=f"{execution.path}.slurm" if execution.path else "slurm",
                          fix="correct the option sbatch names in [X.execution.slurm]")


def job_states(job_ids: list[str]) -> dict[str, str] | None:
    """The state (``PENDING``, ``RUNNING``, ...) of each live job (ended jobs are absent), or None
    when ``squeue`` could not answer (the controller is busy or restarting: ask again later)."""
    if not job_ids:
        return {}
    squeue = shutil.which("squeue") or "squeue"
    try:
        result = subprocess.run([squeue, "-h", "-o", "%i %T", "-j", ",".join(job_ids)], capture_output=True,
                                text=True, timeout=_COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("squeue did not answer (%s); asking again", exc)
        return None
    states: dict[str, str] = {}
    if result.returncode != 0:
        if "Invalid job id" in result.stderr:  # every id listed has left the controller
            return states
        logger.warning("squeue failed (%s); asking again", result.stderr.strip() or result.returncode)
        return None
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            states[parts[0]] = parts[1]
    return states


def job_fields(job_id: str) -> dict[str, str]:
    """What ``scontrol show job`` says about a job (``JobState``, ``Reason``, ``ExitCode``, ...);
    empty when the controller forgot it or did not answer."""
    scontrol = shutil.which("scontrol") or "scontrol"
    try:
        result = subprocess.run([scontrol, "-o", "show", "job", job_id], capture_output=True, text=True,
                                timeout=_COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(part.split("=", 1) for part in result.stdout.split() if "=" in part)


def ended_state(job_id: str, fields: dict[str, str] | None = None) -> str:
    """How an ended job ended (``scontrol show job``: state and reason), or ``ended`` if forgotten."""
    if fields is None:
        fields = job_fields(job_id)
    state = fields.get("JobState", "")
    reason = fields.get("Reason", "")
    if not state:
        return "ended"
    return f"ended {state}" + (f" ({reason})" if reason and reason != "None" else "")


@dataclass
class _Job:
    request: TrialRequest
    job_id: str | None
    reader: JournalReader
    retries: int


class SlurmExecutor(Executor):
    """Up to ``jobs`` trials at once, each a Slurm job (see the module docstring)."""

    name = "slurm"

    def __init__(self, store: RunStore, run_dir: Path, experiment: str, cache_root: Path, config: SlurmConfig, *,
                 jobs: int, verbose: int = 2, python: str | None = None) -> None:
        submitit = _submitit()
        self.store = store
        self.run_dir = run_dir
        self.experiment = experiment
        self.cache_root = cache_root
        self.config = config
        self.jobs = jobs
        self.verbose = verbose
        folder = log_folder(run_dir, config)
        self._executor = submitit.SlurmExecutor(folder=folder / "%j", python=python or sys.executable)
        self._executor.update_parameters(**_parameters(config))
        self._running: dict[str, _Job] = {}
        self._failed: type[Exception] = submitit.core.utils.FailedJobError

    @property
    def capacity(self) -> int:
        return self.jobs

    @property
    def running(self) -> int:
        return len(self._running)

    def submit(self, request: TrialRequest, *, retries: int = 0) -> None:
        record = self.store.trial(request.name) or self.store.add_trial(
            request.name, architecture=request.architecture.to_text(),
            architecture_json=json.dumps(request.architecture.to_json()))
        trial_dir = RunLayout(self.run_dir).trial(request.name).root
        trial_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        TrialLayout(trial_dir).journal.unlink(missing_ok=True)
        task = WorkerTask(self.run_dir, self.experiment, self.cache_root, request, record, self.name,
                          threads=self.config.cpus_per_trial, verbose=self.verbose)
        task_path = TrialLayout(trial_dir).task
        task.save(task_path)
        self._executor.update_parameters(job_name=f"scinas-{self.experiment}-{request.name}")
        try:
            job = self._executor.submit(run_task_file, str(task_path))
        except (self._failed, OSError, subprocess.SubprocessError) as exc:  # FailedJobError holds sbatch's message
            raise ScinasError(f"sbatch refused the job of trial {request.name}: {str(exc).strip()}") from exc
        job_id = str(job.job_id)
        self.store.update_trial(record.trial_id, extra={"executor": self.name, "slurm_job_id": job_id,
                                                        "slurm_retries": retries})
        self._running[request.name] = _Job(request, job_id, JournalReader(TrialLayout(trial_dir).journal, request.name),
                                           retries)
        logger.info("%s: submitted as Slurm job %s", request.name, job_id)

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._running:
            check_interrupt()
            live = job_states([job.job_id for job in self._running.values() if job.job_id is not None])
            outcomes = []
            for name in list(self._running):
                job = self._running[name]
                final = job.reader.ingest(self.store)
                self._raise_if_bug(name)
                if final:
                    outcomes.append(self._collect(name))
                elif live is not None and (job.job_id is None or job.job_id not in live):
                    outcome = self._ended_without_result(name)
                    if outcome is not None:
                        outcomes.append(outcome)
            if outcomes:
                return outcomes
            if deadline is not None and time.monotonic() >= deadline:
                return []
            time.sleep(self.config.poll_seconds)
        return []

    def _collect(self, name: str) -> TrialOutcome:
        self._running.pop(name)
        return outcome_of(self.store, name)

    def _raise_if_bug(self, name: str, exit_code: str = "") -> None:
        """Stop the run (:class:`InternalError`) when a bug, not its trial, ended the job of ``name``:
        an ``internal_error`` journal line, or the job's exit status :data:`EXIT_BUG` without one.
        The trial stays ``running`` and is trained again on resume."""
        job = self._running[name]
        logs = self._log_dir(job.job_id)
        if job.reader.bug is not None:
            self._running.pop(name)
            job.reader.raise_if_bug(logs)
        if exit_code.partition(":")[0] == str(EXIT_BUG):
            self._running.pop(name)
            raise InternalError(f"the Slurm job {job.job_id} of trial {name} stopped on an unexpected error (a bug, "
                                f"not a failed trial); its traceback is in {logs}")

    def _ended_without_result(self, name: str) -> TrialOutcome | None:
        """A job that left the queue with no final journal line: retry it, or fail its trial."""
        job = self._running[name]
        final = job.reader.ingest(self.store)  # the last lines landed between squeue and now
        fields = job_fields(job.job_id) if job.job_id is not None and not final else {}
        self._raise_if_bug(name, fields.get("ExitCode", ""))
        if final:
            return self._collect(name)
        how = ended_state(job.job_id, fields) if job.job_id is not None else "ended"
        reason = f"Slurm job {job.job_id} {how} without a result"
        log = self._error_log(job.job_id)
        if log:
            reason += f": {log}"
        if job.retries < self.config.max_retries:
            logger.warning("%s: %s; resubmitting (retry %d of %d)", name, reason, job.retries + 1,
                           self.config.max_retries)
            record = self.store.trial(name)
            if record is not None:
                history = list(record.extra.get("slurm_history", []))
                self.store.update_trial(record.trial_id, extra={"slurm_history": [*history, reason]})
            self._running.pop(name)
            self.submit(job.request, retries=job.retries + 1)
            return None
        record = self.store.trial(name)
        if record is not None:
            self.store.fail_trial(record.trial_id, reason)
        logger.error("%s failed: %s", name, reason)
        return self._collect(name)

    def _log_dir(self, job_id: str | None) -> Path:
        """The folder of a job's submitit logs (``<log_folder>/<job id>``)."""
        return RunLayout(self.run_dir).slurm_logs(self.config.log_folder) / (job_id or "")

    def _error_log(self, job_id: str | None) -> str:
        if job_id is None:
            return ""
        from scinas.execution.local import log_tail

        for path in sorted(self._log_dir(job_id).glob("*.err")):
            tail = log_tail(path)
            if tail and ("Error" in tail or "error" in tail):
                return tail
        return ""

    def reattach(self, request: TrialRequest, record: TrialRecord) -> bool:
        """Follow the trial's job again if it is still queued or running, or collect its result."""
        job_id = record.extra.get("slurm_job_id")
        journal = RunLayout(self.run_dir).trial(request.name).journal
        if job_id is None or self.free < 1:
            return False
        job_id = str(job_id)
        live = job_states([job_id])
        if JournalReader.ends_final(journal) or live is None or job_id in live:
            retries = int(record.extra.get("slurm_retries", 0))
            self._running[request.name] = _Job(request, job_id, JournalReader(journal, request.name), retries)
            logger.info("%s: reattached to Slurm job %s", request.name, job_id)
            return True
        return False

    def shutdown(self) -> None:
        """Leave the jobs running: a resumed run reattaches to them (``scancel`` them to stop)."""
        for name, job in self._running.items():
            job.reader.ingest(self.store)
            logger.info("%s: Slurm job %s left running", name, job.job_id)
        self._running.clear()


@EXECUTORS.register("slurm")
class SlurmKind(ExecutorKind):
    """``executor = "slurm"``: each trial a Slurm job; ``[X.execution.slurm]`` is :class:`SlurmConfig`."""

    Options = SlurmConfig

    @classmethod
    def check(cls, experiment: ExperimentConfig, options: SlurmConfig) -> None:
        check_slurm(experiment.execution, options)

    @classmethod
    def create(cls, context: ExecutionContext, options: SlurmConfig) -> Executor:
        execution = context.experiment.execution
        return SlurmExecutor(context.store, context.run_dir, context.experiment.name, context.cache_root, options,
                             jobs=execution.parallel_trials,
                             verbose=2 if context.verbose is None else context.verbose)
