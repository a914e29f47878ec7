"""Learning-curve early termination as a Keras callback (``[X.training.early_termination]``).

After every epoch :class:`LearningCurveTermination` hands the monitored value to the pure rule
:class:`~scinas.predictors.termination.CurveTermination` (fit the curve, predict the value at
the budget's last epoch, converge when the last ``window`` predictions agree) and stops training
once it converged.  :class:`~scinas.training.callbacks.EpochRecorder` writes each epoch's
prediction, verdict, curve family and fit time through :meth:`LearningCurveTermination.epoch_fields`,
so the callback must come before the recorder in the callback list.

A resumed trial continues the rule from the stored epochs (:meth:`LearningCurveTermination.restore`):
the same values give the same fits, so it ends exactly as an uninterrupted one would.

Example::

    termination = LearningCurveTermination(experiment.training.early_termination, target_epoch=25)
    recorder = EpochRecorder(store, trial_id, annotate=termination.epoch_fields)
    model.fit(..., callbacks=[termination, recorder])
    termination.summary(measured=final_val_accuracy).estimate
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import keras

from scinas.config.experiment import EarlyTerminationConfig
from scinas.predictors.termination import CurveTermination, EpochVerdict, TerminationSummary
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

    def __init__(self, settings: EarlyTerminationConfig, target_epoch: int) -> None:
        super().__init__()
        self.settings = settings
        self.rule = CurveTermination(settings, target_epoch)
        self._verdicts: dict[int, EpochVerdict] = {}
        self._warned = False

    @property
    def converged(self) -> bool:
        return self.rule.converged

    def restore(self, epochs: Sequence[EpochRecord]) -> None:
        """Continue after the stored ``epochs`` (1..k; a missing epoch counts as a failed one)."""
        last = max((record.epoch for record in epochs), default=0)
        by_epoch = {record.epoch: record for record in epochs}
        values: list[float] = []
        predictions: list[float | None] = []
        for number in range(1, last + 1):
            record = by_epoch.get(number)
            values.append(math.nan if record is None else record.metrics.get(self.settings.monitor, math.nan))
            predictions.append(None if record is None else record.prediction)
        self.rule.restore(values, predictions)
        if self.rule.converged:
            logger.info("early termination: the stored history had converged at epoch %d", last)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        number = epoch + 1
        if self.rule.epoch != epoch:  # pragma: no cover - the trainer restores the history first
            logger.warning("early termination saw epoch %d after %d recorded epochs; its history is incomplete",
                           number, self.rule.epoch)
        raw = (logs or {}).get(self.settings.monitor)
        if raw is None and not self._warned:
            self._warned = True
            logger.warning("early termination monitors %s, which training did not log (logged: %s)",
                           self.settings.monitor, ", ".join(sorted(logs or {})))
        value = math.nan if raw is None else float(raw)
        verdict = self.rule.observe(value)
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
            return {"curve": self.rule.family.name}
        return {"prediction": verdict.prediction, "converged": verdict.converged, "curve": self.rule.family.name,
                "prediction_time_s": verdict.fit_time_s}

    def summary(self, measured: float | None) -> TerminationSummary:
        """The trial's estimate and curve fields (see :meth:`CurveTermination.summary`)."""
        return self.rule.summary(measured)
