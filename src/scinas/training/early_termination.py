"""Learning-curve early termination as a Keras callback (``[X.training.early_termination]``).

After every epoch :class:`LearningCurveTermination` hands the monitored value to the pure rule
:class:`~scinas.predictors.termination.CurveTermination` (fit the curve, predict the value at
the budget's last epoch, converge when the last ``window`` predictions agree) and stops training
once it converged.  :class:`~scinas.training.callbacks.EpochRecorder` writes each epoch's
prediction, verdict, curve family and fit time through :meth:`LearningCurveTermination.epoch_fields`,
so the callback must come before the recorder in the callback list.

A resumed trial continues the rule from the stored epochs (:meth:`LearningCurveTermination.restore`):
the same values give the same fits, so it ends exactly as an uninterrupted one would.

The deciding class is the configured stopper (:mod:`scinas.stoppers`).  A stopper that raises is
a bug in it, never the trial's fault: the callback logs a warning, stops consulting it (the
trial trains its whole budget and is judged by its measured value) and calls ``on_error``, with
which the trainer switches early termination off for the rest of the run.

Example::

    termination = LearningCurveTermination(experiment.training.early_termination, target_epoch=25)
    recorder = EpochRecorder(store, trial_id, annotate=termination.epoch_fields)
    model.fit(..., callbacks=[termination, recorder])
    termination.summary(measured=final_val_accuracy).estimate
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from scinas.config.experiment import EarlyTerminationConfig
from scinas.predictors.termination import EpochVerdict, TerminationSummary
from scinas.stoppers import FrontPoint, Stopper, make_stopper
from scinas.store import EpochRecord

__all__ = ["LearningCurveTermination", "measured_value"]

logger = logging.getLogger(__name__)


def measured_value(monitor: str, results: Mapping[str, Mapping[str, float]]) -> float | None:
    """The final evaluation of ``monitor``: ``val_x`` is ``x`` on the validation split, else the train split."""
    split, name = ("validation", monitor[len("val_"):]) if monitor.startswith("val_") else ("train", monitor)
    value = results.get(split, {}).get(name)
    return None if value is None or not math.isfinite(value) else float(value)


class LearningCurveTermination(keras.callbacks.Callback):
    """Stops a trial once its learning curve's prediction has settled; see the module docstring."""

    def __init__(self, settings: EarlyTerminationConfig, target_epoch: int, *, front: Sequence[FrontPoint] = (),
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.rule: Stopper = make_stopper(settings, target_epoch, front=front)
        self.on_error = on_error
        self.failed: str | None = None
        self._verdicts: dict[int, EpochVerdict] = {}
        self._warned = False
        self._started = 0.0

    @property
    def converged(self) -> bool:
        return self.failed is None and self.rule.converged

    def _fail(self, exc: Exception, when: str) -> None:
        """Stop consulting a stopper that raised (see the module docstring)."""
        self.failed = f"{type(exc).__name__}: {exc}"
        logger.warning("early termination is switched off for this run: the %r stopper raised while %s (%s); "
                       "the trial trains its whole budget", self.settings.stopper, when, self.failed)
        if self.on_error is not None:
            self.on_error(exc)

    def restore(self, epochs: Sequence[EpochRecord]) -> None:
        """Continue after the stored ``epochs`` (1..k; a missing epoch counts as a failed one)."""
        last = max((record.epoch for record in epochs), default=0)
        by_epoch = {record.epoch: record for record in epochs}
        values: list[float] = []
        predictions: list[float | None] = []
        times: list[float | None] = []
        for number in range(1, last + 1):
            record = by_epoch.get(number)
            values.append(math.nan if record is None else record.metrics.get(self.settings.monitor, math.nan))
            predictions.append(None if record is None else record.prediction)
            times.append(None if record is None else record.epoch_time_s)
        try:
            self.rule.restore(values, predictions, times)
        except Exception as exc:  # a bug in the stopper: never the trial's failure
            self._fail(exc, "restoring the stored epochs")
            return
        if self.rule.converged:
            logger.info("early termination: the stored history had converged at epoch %d", last)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        number = epoch + 1
        if self.failed is not None:
            return
        elapsed = time.perf_counter() - self._started if self._started else None
        if self.rule.epoch != epoch:  # pragma: no cover - the trainer restores the history first
            logger.warning("early termination saw epoch %d after %d recorded epochs; its history is incomplete",
                           number, self.rule.epoch)
        raw = (logs or {}).get(self.settings.monitor)
        if raw is None and not self._warned:
            self._warned = True
            logger.warning("early termination monitors %s, which training did not log (logged: %s)",
                           self.settings.monitor, ", ".join(sorted(logs or {})))
        value = math.nan if raw is None else float(raw)
        try:
            verdict = self.rule.observe(value, elapsed)
        except Exception as exc:  # a bug in the stopper: never the trial's failure
            self._fail(exc, f"judging epoch {number}")
            return
        self._verdicts[number] = verdict
        if verdict.fit is not None and not verdict.fit.success:
            logger.debug("epoch %d: the %s fit failed: %s", number, verdict.fit.family, verdict.fit.reason)
        if verdict.converged and self.rule.converged_epoch == verdict.epoch:
            logger.info("early termination at epoch %d of %d: %s is predicted to reach %.6g", number,
                        self.rule.target_epoch, self.settings.monitor, verdict.prediction)
            if self.model is not None:
                self.model.stop_training = True

    def epoch_fields(self, epoch: int) -> dict[str, Any]:
        """The :class:`~scinas.store.EpochRecord` fields of 1-based ``epoch``: prediction, verdict, curve, fit time."""
        verdict = self._verdicts.get(epoch)
        if verdict is None:
            return {"curve": self.rule.curve_name}
        return {"prediction": verdict.prediction, "converged": verdict.converged, "curve": self.rule.curve_name,
                "prediction_time_s": verdict.fit_time_s}

    def summary(self, measured: float | None) -> TerminationSummary:
        """The trial's estimate and curve fields (see :meth:`CurveTermination.summary`); after a
        stopper failure, the measured value with no curve fields."""
        if self.failed is None:
            try:
                return self.rule.summary(measured)
            except Exception as exc:  # a bug in the stopper: never the trial's failure
                self._fail(exc, "summing the trial up")
        measured = measured if measured is not None and math.isfinite(measured) else None
        return TerminationSummary(self.settings.monitor, self.settings.curve, measured, measured, None)
