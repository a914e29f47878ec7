"""One trial as a self-contained task, and the code that trains it in any process.

:func:`train_recorded` trains a request and turns the failures a trial may have (NaN loss, out
of memory, a model that cannot be built, bad shapes) into a failed record with its reason; the
inline executor calls it with the run store, workers with a :class:`~.journal.TrialJournal`.

:class:`WorkerTask` is what a worker needs to train one trial away from the coordinator: the
run folder (its resolved ``configurations.toml``/``data.toml``), the dataset cache, the request,
and the trial's record in the store.  :func:`run_task` trains it, writing the journal; the local
executor runs it in a fresh ``python -m scinas.execution.worker`` process, the Slurm executor in
a job (through submitit, whose job runs :func:`run_task_file`).

The task is written into the trial folder as JSON (``trials/<trial>/task.json``, mode 0600),
never as a pickle: on a cluster the run folder sits on a shared file system, and unpickling a
file runs whatever code it names.  A JSON task holds data only; the architecture is rebuilt from
its JSON form (a cell) or from the run's own ``[X.structure]`` (a layer stack) and must match
the trial's recorded text, so a task edited to train something else is refused.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scinas.atomic import write_bytes_atomic
from scinas.errors import ConfigError, ScinasError, TrialFailed
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.search_space.architecture import Architecture, CellArchitecture, LayerStackArchitecture
from scinas.store import TrialPhase, TrialRecord, TrialStatus
from scinas.store.layout import RunLayout, TrialLayout
from scinas.store.records import current_trial_fields, format_time, parse_time
from scinas.training.callbacks import TrialStore
from scinas.training.trainer import Trainer

__all__ = ["TASK_FILE", "TaskFileError", "WorkerTask", "limit_threads", "placement", "run_task", "run_task_file",
           "train_recorded"]

logger = logging.getLogger(__name__)

#: The task file's name in the trial folder.
TASK_FILE = TrialLayout(Path()).task.name
_FORMAT = 1


class TaskFileError(ScinasError):
    """A task file that is not a scinas worker task (unreadable, malformed, or not this trial's)."""


def train_recorded(trainer: Trainer, store: TrialStore, request: TrialRequest, directory: Path) -> TrialOutcome:
    """Train ``request`` into ``directory``; a failure is recorded in ``store`` with its reason."""
    import keras
    import tensorflow as tf

    reason: str | None = None
    try:
        return trainer.train(request, directory)
    except TrialFailed as exc:
        reason = exc.reason
    except tf.errors.ResourceExhaustedError as exc:
        reason = f"out of memory: {exc.message.splitlines()[0] if exc.message else exc}"
    except MemoryError as exc:
        reason = f"out of memory: {exc}" if str(exc) else "out of memory"
    except ConfigError as exc:
        reason = f"the model could not be built: {exc}"
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    finally:
        keras.backend.clear_session()
    record = store.trial(request.name)
    if record is not None:
        store.fail_trial(record.trial_id, reason or "unknown failure")
    logger.error("%s failed: %s", request.name, reason)
    return TrialOutcome(request.name, completed=False)


@dataclass(frozen=True)
class WorkerTask:
    """Everything needed to train one trial in another process (written as JSON into the trial folder)."""

    run_dir: Path
    experiment: str
    cache_root: Path
    request: TrialRequest
    record: TrialRecord
    executor: str
    threads: int | None = None
    verbose: int = 2

    @property
    def trial_dir(self) -> Path:
        return RunLayout(self.run_dir).trial(self.request.name).root

    @property
    def journal_path(self) -> Path:
        return TrialLayout(self.trial_dir).journal

    def to_json(self) -> dict[str, Any]:
        """Plain data: paths, names, the architecture's JSON, the trial's record."""
        record = {**asdict(self.record), "status": self.record.status.value, "phase": self.record.phase.value,
                  "started_at": format_time(self.record.started_at),
                  "finished_at": format_time(self.record.finished_at)}
        return {"format": _FORMAT, "run_dir": str(self.run_dir), "experiment": self.experiment,
                "cache_root": str(self.cache_root), "trial": self.request.name,
                "architecture": self.request.architecture.to_json(), "record": record,
                "executor": self.executor, "threads": self.threads, "verbose": self.verbose}

    def save(self, path: Path) -> None:
        """Write the task atomically, readable by its owner only (read back by :meth:`load`)."""
        write_bytes_atomic(path, json.dumps(self.to_json(), indent=1).encode("utf-8"), mode=0o600)

    @staticmethod
    def load(path: Path) -> WorkerTask:
        """The task written by :meth:`save`; the architecture is rebuilt and checked (module docstring).

        Raises:
            TaskFileError: the file is not JSON, lacks a field, or names an architecture that
                does not match the trial's recorded one.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != _FORMAT:
                raise TaskFileError(f"{path} is not a scinas worker task (format {_FORMAT})")
            fields = current_trial_fields(data["record"])  # a task written before a field was renamed
            record = TrialRecord(**{**fields, "status": TrialStatus(fields["status"]),
                                    "phase": TrialPhase(fields["phase"]),
                                    "started_at": parse_time(fields["started_at"]),
                                    "finished_at": parse_time(fields["finished_at"])})
            run_dir = Path(str(data["run_dir"]))
            experiment = str(data["experiment"])
            name = str(data["trial"])
            if record.name != name:
                raise TaskFileError(f"{path}: the task names trial {name} but carries the record of {record.name}")
            architecture = _architecture(data["architecture"], run_dir, experiment)
            if architecture.to_text() != record.architecture:
                raise TaskFileError(f"{path}: the task's architecture {architecture.to_text()} is not the one "
                                    f"on record for trial {name} ({record.architecture})")
            threads = data["threads"]
            return WorkerTask(run_dir, experiment, Path(str(data["cache_root"])), TrialRequest(name, architecture),
                              record, str(data["executor"]), threads=None if threads is None else int(threads),
                              verbose=int(data["verbose"]))
        except TaskFileError:
            raise
        except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:
            raise TaskFileError(f"{path} is not a readable scinas worker task: {type(exc).__name__}: {exc}") from exc


def _architecture(data: Any, run_dir: Path, experiment: str) -> Architecture:
    """The architecture of a task's JSON: a cell from its JSON, a layer stack from the run's config."""
    if not isinstance(data, dict):
        raise TaskFileError(f"the task's architecture is not a JSON object: {data!r:.80}")
    kind = data.get("kind")
    if kind == "cell":
        return CellArchitecture.from_json(data)
    if kind == "darts":
        from scinas.search_space.darts_architecture import DartsArchitecture

        return DartsArchitecture.from_json(data)
    if kind == "layer_stack":
        from scinas.config.experiment import parse_experiment
        from scinas.config.loading import load_config
        from scinas.config.structure import LayersStructure

        structure = parse_experiment(load_config(run_dir), experiment).structure
        if not isinstance(structure, LayersStructure):
            raise TaskFileError(f"the task trains a layer stack but experiment {experiment} in {run_dir} has none")
        return LayerStackArchitecture(structure.layers)
    raise TaskFileError(f"a worker cannot rebuild an architecture of kind {kind!r} from JSON "
                        "(cell, darts and layer_stack are known); train it with executor = \"inline\"")


def placement(executor: str, trainer: Trainer) -> dict[str, object]:
    """What ``extra`` records about where a trial ran: executor, host, process and device."""
    host = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    return {"executor": executor, "host": host, "worker_pid": os.getpid(),
            "device": trainer.distribution.device()}


def limit_threads(threads: int | None) -> None:
    """At most ``threads`` TensorFlow threads in this process (before TensorFlow runs anything)."""
    if threads is None:
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))


def run_task_file(path: str) -> str:
    """Load the JSON task at ``path`` and train it: what a Slurm job runs (see :func:`run_task`).

    A bug (anything :func:`run_task` raises) ends the job's process with status
    :data:`~scinas.execution.journal.EXIT_BUG`, after its ``internal_error`` journal line; the
    traceback goes to the job's error log.
    """
    from scinas.execution.journal import EXIT_BUG

    task = WorkerTask.load(Path(path))
    try:
        return run_task(task)
    except Exception:
        logger.exception("%s: stopped on an unexpected error (a bug, not a failed trial)", task.request.name)
        raise SystemExit(EXIT_BUG) from None


def run_task(task: WorkerTask) -> str:
    """Train ``task`` in this process, journaling into its trial folder; returns the final status.

    The experiment is read back from the run folder's resolved configuration and the dataset
    from the coordinator's cache (already built: nothing is generated again).  The failures a
    trial can cause are a ``fail`` line (:func:`train_recorded` tells them apart, as in the
    coordinating process); anything else raised is a bug in scinas: it is written to the
    journal as an ``internal_error`` line with its traceback and raised again.
    """
    from scinas.config.experiment import parse_experiment
    from scinas.config.loading import load_config
    from scinas.data.pipeline import PreparedDataset
    from scinas.data.spec import build_generator
    from scinas.execution.journal import TrialJournal

    journal = TrialJournal(task.journal_path, task.record)
    try:
        limit_threads(task.threads)
        raw = load_config(task.run_dir)
        table = raw.experiment_table(task.experiment)
        generator = build_generator(raw, str(table["dataset"]["training"]))
        rank = len(generator.info().input_shape) - 1
        config = parse_experiment(raw, task.experiment, rank=rank if rank in (1, 2) else None)
        dataset = PreparedDataset.prepare(generator, task.cache_root, stats_samples=config.dataset.use_stats_of,
                                          progress=False)
        trainer = Trainer(config, dataset, journal, verbose=task.verbose)
        journal.update_trial(task.record.trial_id, extra=placement(task.executor, trainer))
        outcome = train_recorded(trainer, journal, task.request, task.trial_dir)
    except Exception as exc:
        journal.internal_error(exc)
        raise
    finally:
        journal.close()
    return "completed" if outcome.completed else "failed"
