"""One trial as a self-contained task, and the code that trains it in any process.

:func:`train_recorded` trains a request and turns the failures a trial may have (NaN loss, out
of memory, a model that cannot be built, bad shapes) into a failed record with its reason; the
inline executor calls it with the run store, workers with a :class:`~.journal.TrialJournal`.

:class:`WorkerTask` is what a worker needs to train one trial away from the coordinator: the
run folder (its resolved ``configurations.toml``/``data.toml``), the dataset cache, the request,
and the trial's record in the store.  :func:`run_task` trains it, writing the journal; the local
executor runs it in a fresh ``python -m scinas.execution.worker`` process, the Slurm executor in
a job (through submitit).
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from dataclasses import dataclass
from pathlib import Path

from scinas.atomic import write_bytes_atomic
from scinas.errors import ConfigError, TrialFailed
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.store import TrialRecord
from scinas.store.layout import RunLayout, TrialLayout
from scinas.training.callbacks import TrialStore
from scinas.training.trainer import Trainer

__all__ = ["WorkerTask", "limit_threads", "placement", "run_task", "train_recorded"]

logger = logging.getLogger(__name__)


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
    """Everything needed to train one trial in another process (pickled into the trial folder)."""

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

    def save(self, path: Path) -> None:
        """Write the task atomically (read back by :meth:`load` in the worker)."""
        write_bytes_atomic(path, pickle.dumps(self))

    @staticmethod
    def load(path: Path) -> WorkerTask:
        """The task written by :meth:`save` (a file the coordinator of this run wrote)."""
        task = pickle.loads(path.read_bytes())  # written by this run's coordinator
        if not isinstance(task, WorkerTask):
            raise TypeError(f"{path} does not hold a scinas worker task")
        return task


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


def run_task(task: WorkerTask) -> str:
    """Train ``task`` in this process, journaling into its trial folder; returns the final status.

    The experiment is read back from the run folder's resolved configuration and the dataset
    from the coordinator's cache (already built: nothing is generated again).
    """
    from scinas.config.experiment import parse_experiment
    from scinas.config.loading import load_config
    from scinas.data.pipeline import PreparedDataset
    from scinas.data.spec import build_generator
    from scinas.execution.journal import TrialJournal

    limit_threads(task.threads)
    raw = load_config(task.run_dir)
    table = raw.experiment_table(task.experiment)
    generator = build_generator(raw, str(table["dataset"]["training"]))
    rank = len(generator.info().input_shape) - 1
    config = parse_experiment(raw, task.experiment, rank=rank if rank in (1, 2) else None)
    dataset = PreparedDataset.prepare(generator, task.cache_root, stats_samples=config.dataset.use_stats_of,
                                      progress=False)
    journal = TrialJournal(task.journal_path, task.record)
    try:
        trainer = Trainer(config, dataset, journal, verbose=task.verbose)
        journal.update_trial(task.record.trial_id, extra=placement(task.executor, trainer))
        outcome = train_recorded(trainer, journal, task.request, task.trial_dir)
    finally:
        journal.close()
    return "completed" if outcome.completed else "failed"
