"""Keras callbacks of the training spine: epoch records, resumable checkpoints, periodic
saves with evaluation of every split, NaN guard and resumable early stopping.

Order matters: Keras calls callbacks in list order, so :class:`ResumableEarlyStopping` and
:class:`EpochRecorder` come before :class:`ResumeCheckpoint` (its state must include theirs).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np

from scinas.atomic import atomic_path, write_json_atomic
from scinas.interrupt import check_interrupt
from scinas.store import EpochRecord, TrialRecord

__all__ = [
    "EpochRecorder",
    "InterruptCheck",
    "IntervalSaver",
    "MainHeadAliases",
    "NaNGuard",
    "ResumableEarlyStopping",
    "ResumeCheckpoint",
    "TrialStore",
    "atomic_save_model",
    "main_head_aliases",
]

logger = logging.getLogger(__name__)


class TrialStore(Protocol):
    """What training writes and reads of a trial: the subset of :class:`~scinas.store.RunStore` the
    trainer and its callbacks use.  The run store itself in the coordinating process; a per-trial
    journal (:class:`scinas.execution.journal.TrialJournal`) in a worker process."""

    def start_trial(self, name: str, *, architecture: str, architecture_json: str | None = None,
                    number: int | None = None) -> TrialRecord: ...

    def trial(self, name_or_id: str | int) -> TrialRecord | None: ...

    def update_trial(self, trial_id: int, **fields: object) -> None: ...

    def complete_trial(self, trial_id: int, **fields: object) -> None: ...

    def fail_trial(self, trial_id: int, reason: str, **fields: object) -> None: ...

    def record_epoch(self, record: EpochRecord) -> None: ...

    def epochs(self, trial_id: int) -> list[EpochRecord]: ...

    def truncate_epochs(self, trial_id: int, after: int) -> None: ...

    def record_metrics(self, trial_id: int, split: str, values: Mapping[str, float], *,
                       epoch: int | None = None) -> None: ...


def _float_logs(logs: Mapping[str, Any] | None) -> dict[str, float]:
    return {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}


def main_head_aliases(logs: dict[str, Any], head: str = "output") -> dict[str, Any]:
    """Add ``r_squared`` for ``output_r_squared`` (and ``val_...``) in place, unless taken.

    A multi-output model logs its metrics per head (``output_r_squared``); the aliases let
    ``val_r_squared`` mean the final head's value whatever the number of heads, so early
    stopping, the store and searches see the same names as for one-output models.
    """
    prefix = f"{head}_"
    for key in list(logs):
        for stem in ("", "val_"):
            if key.startswith(stem + prefix):
                alias = stem + key[len(stem + prefix):]
                logs.setdefault(alias, logs[key])
    return logs


class MainHeadAliases(keras.callbacks.Callback):
    """Applies :func:`main_head_aliases` to every epoch's logs; must be the first callback."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            main_head_aliases(logs)


def atomic_save_model(model: keras.Model, path: Path) -> None:
    """Save a ``.keras`` file so that a crash never leaves a truncated one behind."""
    with atomic_path(path) as temporary:
        model.save(temporary)


class EpochRecorder(keras.callbacks.Callback):
    """Writes one :class:`EpochRecord` per finished epoch into the run store.

    ``annotate(epoch)`` (1-based) may add fields of the record, e.g. the learning-curve
    prediction of :class:`~scinas.training.early_termination.LearningCurveTermination`, which must
    then run before this callback.
    """

    def __init__(self, store: TrialStore, trial_id: int,
                 annotate: Callable[[int], Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        self.store = store
        self.trial_id = trial_id
        self.annotate = annotate
        self._started = 0.0
        self.train_time_s = 0.0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        elapsed = time.perf_counter() - self._started
        self.train_time_s += elapsed
        values = _float_logs(logs)
        learning_rate = None
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            try:
                learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            except (TypeError, ValueError):
                learning_rate = None
        extra = dict(self.annotate(epoch + 1)) if self.annotate is not None else {}
        self.store.record_epoch(EpochRecord(
            trial_id=self.trial_id, epoch=epoch + 1, metrics=values,
            loss=values.get("loss"), val_loss=values.get("val_loss"),
            epoch_time_s=elapsed, learning_rate=learning_rate, **extra))


class InterruptCheck(keras.callbacks.Callback):
    """Answers an interrupt that Python dropped (see :mod:`scinas.interrupt`) at the next batch.

    It uses the batch *begin* hooks, which Keras always calls in the training thread, so it does
    not stop Keras from dispatching the batch-end hooks asynchronously.
    """

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        check_interrupt()

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        check_interrupt()

    def on_test_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        check_interrupt()


class NaNGuard(keras.callbacks.Callback):
    """Stops training as soon as the loss is not finite and remembers why."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.reason is None:
            self.reason = f"loss became {float(loss)} at epoch {self._epoch + 1}, batch {batch + 1}"
            self.model.stop_training = True


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras early stopping whose progress (wait, best, best weights) survives a restart."""

    def __init__(self, *args: Any, state_dir: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state_dir = state_dir
        self._restored: dict[str, Any] | None = None

    def restore(self, state: dict[str, Any]) -> None:
        self._restored = state

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        state, self._restored = self._restored, None
        if not state:
            return
        self.wait = int(state["wait"])
        self.best = state["best"]
        self.best_epoch = int(state["best_epoch"])
        weights = self.state_dir / "best_weights.npz"
        if self.restore_best_weights and weights.exists():
            with np.load(weights, allow_pickle=False) as archive:
                self.best_weights = [archive[f"w{i}"] for i in range(len(archive.files))]

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        previous = self.best_epoch
        super().on_epoch_end(epoch, logs)
        if self.restore_best_weights and self.best_weights is not None and (
                self.best_epoch != previous or not (self.state_dir / "best_weights.npz").exists()):
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.state_dir / "best_weights.npz") as temporary:
                np.savez(temporary, **{f"w{i}": w for i, w in enumerate(self.best_weights)})

    def state(self) -> dict[str, Any]:
        best = None if self.best is None else float(self.best)
        return {"wait": self.wait, "best": best, "best_epoch": self.best_epoch}


class ResumeCheckpoint(keras.callbacks.Callback):
    """After every epoch: the whole model (optimizer state included) and a small state file.

    ``state.json`` names the last finished epoch; the run store's epochs after it are dropped
    when a trial resumes, so store and checkpoint always agree.
    """

    def __init__(self, directory: Path, extra_state: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.directory = directory
        self.extra_state = extra_state

    @property
    def model_path(self) -> Path:
        return self.directory / "last.keras"

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"

    def load_state(self) -> dict[str, Any] | None:
        if not (self.model_path.exists() and self.state_path.exists()):
            return None
        try:
            state: dict[str, Any] = json.loads(self.state_path.read_text())
        except (OSError, json.JSONDecodeError):
            logger.warning("ignoring an unreadable checkpoint state in %s", self.directory)
            return None
        return state

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        atomic_save_model(self.model, self.model_path)
        state = {"epoch": epoch + 1, **(self.extra_state() if self.extra_state else {})}
        write_json_atomic(self.state_path, state, indent=None)


class IntervalSaver(keras.callbacks.Callback):
    """Every ``interval`` epochs: save the model and record the metrics of every split."""

    def __init__(self, interval: int, directory: Path, store: TrialStore, trial_id: int,
                 evaluate: Callable[[keras.Model], dict[str, dict[str, float]]]) -> None:
        super().__init__()
        self.interval = interval
        self.directory = directory
        self.store = store
        self.trial_id = trial_id
        self.evaluate = evaluate

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        number = epoch + 1
        if self.interval <= 0 or number % self.interval:
            return
        atomic_save_model(self.model, self.directory / f"epoch-{number:04d}.keras")
        for split, values in self.evaluate(self.model).items():
            self.store.record_metrics(self.trial_id, split, values, epoch=number)
        logger.info("saved the model and metrics of every split at epoch %d", number)
