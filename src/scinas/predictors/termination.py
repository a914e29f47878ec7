"""The learning-curve early-termination rule, without Keras: history in, verdict out.

:class:`CurveTermination` is fed the monitored value after every epoch.  From epoch
``min_epochs`` on it fits the configured curve family to the history's tail (from the end of
the steepest rise, at most the last ``fit_window`` epochs; see
:func:`~scinas.predictors.learning_curve.tail_start`) and predicts the value at the last epoch
of the budget; the trial has *converged* when the last ``window`` predictions all succeeded
and lie within ``tolerance`` of their median (in score space: points of percent for fractions
and percentages).  A failed fit leaves a gap that breaks the window, so
the rule never stops on one.  The earliest stop is epoch ``min_epochs + window - 1``.

Its decisions depend on the history alone, so replaying recorded curves through it gives what
training with it would have given (``benchmarks/early_termination.py`` does that), and a resumed
trial continues exactly by :meth:`CurveTermination.restore`-ing the stored history.

Example::

    rule = CurveTermination(EarlyTerminationConfig(monitor="val_accuracy"), target_epoch=25)
    for value in curve:
        verdict = rule.observe(value)
        if verdict.converged:
            break
    rule.summary(measured=curve[-1]).estimate     # the prediction, since it converged
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from scinas.predictors.curve_families import CURVE_FAMILIES
from scinas.predictors.learning_curve import CurveFit, ScoreSpace, fit_curve, fit_ensemble, tail_start

if TYPE_CHECKING:  # the configuration loads the operators, hence Keras: not needed to fit curves
    from scinas.config.experiment import EarlyTerminationConfig

__all__ = ["CurveTermination", "EpochVerdict", "TerminationSummary"]


@dataclass(frozen=True)
class EpochVerdict:
    """What the rule says after one epoch (``epoch`` 1-based).

    ``prediction`` is in the monitored metric's units (``None`` before ``min_epochs`` and when the
    fit failed); ``fit`` is the fit behind it (``None`` when none was tried).
    """

    epoch: int
    value: float
    prediction: float | None
    converged: bool
    fit: CurveFit | None = None

    @property
    def fit_time_s(self) -> float | None:
        return None if self.fit is None else self.fit.fit_time_s


@dataclass(frozen=True)
class TerminationSummary:
    """A trial's result under the rule: ``estimate`` is the prediction if it converged, else ``measured``.

    It is an estimate of the monitored metric at the budget's last epoch, unsigned and in the metric's
    units; a search turns it into a fitness (signed, larger is better) when it watches the score.
    """

    monitor: str
    curve: str
    estimate: float | None
    measured: float | None
    converged_epoch: int | None
    curve_parameters: Mapping[str, float] = field(default_factory=dict)

    def as_fields(self) -> dict[str, Any]:
        """The run store's trial fields (see :data:`scinas.store.TRIAL_FIELDS`)."""
        return {"monitor": self.monitor, "curve": self.curve, "estimate": self.estimate, "measured": self.measured,
                "converged_epoch": self.converged_epoch,
                "curve_parameters": dict(self.curve_parameters) if self.curve_parameters else None}


class CurveTermination:
    """The rule for one trial; see the module docstring.

    ``ensemble`` (family names) replaces the one ``settings.curve`` by the fit-quality-weighted
    average of those families (:func:`~scinas.predictors.learning_curve.fit_ensemble`); with
    ``max_band`` > 0 the rule also waits until the ensemble's uncertainty band (score-space
    points) is at most that wide before it stops.
    """

    def __init__(self, settings: EarlyTerminationConfig, target_epoch: int, *, ensemble: Sequence[str] = (),
                 max_band: float = 0.0) -> None:
        if target_epoch < 1:
            raise ValueError(f"the target epoch is the budget's last epoch (>= 1), got {target_epoch}")
        if settings.window < 2 or settings.min_epochs < 1 or not settings.tolerance > 0:
            raise ValueError("early termination needs window >= 2, min_epochs >= 1 and tolerance > 0, got "
                             f"{settings.window}, {settings.min_epochs}, {settings.tolerance}")
        self.settings = settings
        self.family = CURVE_FAMILIES.get(settings.curve)
        self.ensemble = tuple(CURVE_FAMILIES.get(name) for name in ensemble)
        if max_band < 0 or (max_band > 0 and not self.ensemble):
            raise ValueError(f"max_band is >= 0 and needs an ensemble, got {max_band} with {len(self.ensemble)} "
                             "families")
        self.max_band = float(max_band)
        self.target_epoch = int(target_epoch)
        self.maximize = settings.maximize
        self.values: list[float] = []
        self.predictions: list[float | None] = []
        self.last_fit: CurveFit | None = None
        self.converged_epoch: int | None = None
        self._estimate: float | None = None

    # ------------------------------------------------------------------ state

    @property
    def epoch(self) -> int:
        """Epochs seen so far."""
        return len(self.values)

    @property
    def converged(self) -> bool:
        return self.converged_epoch is not None

    @property
    def curve_name(self) -> str:
        """The family fitted (``"ensemble"`` for an average of several)."""
        return "ensemble" if self.ensemble else self.family.name

    def space(self) -> ScoreSpace:
        """The score space of the history so far (``scale = "auto"`` looks at the values)."""
        return ScoreSpace.resolve(self.settings.scale, self.settings.monitor, self.maximize, self.values)

    def restore(self, values: Sequence[float], predictions: Sequence[float | None]) -> None:
        """Continue after ``len(values)`` epochs with the stored history (a resumed trial).

        The predictions are taken as stored; the last fit is recomputed (deterministic) so its
        parameters are known even if the trial converged at the last stored epoch.
        """
        if len(values) != len(predictions):
            raise ValueError(f"{len(values)} values but {len(predictions)} predictions")
        self.values = [float(v) for v in values]
        self.predictions = [None if p is None or not math.isfinite(p) else float(p) for p in predictions]
        self.converged_epoch, self._estimate, self.last_fit = None, None, None
        if self.epoch >= self.settings.min_epochs:
            self.last_fit = self._fit()
        if self._agrees():
            self.converged_epoch = self.epoch
            self._estimate = self.predictions[-1]

    def observe(self, value: float) -> EpochVerdict:
        """Record the monitored ``value`` of the next epoch and decide."""
        self.values.append(float(value))
        epoch = self.epoch
        fit: CurveFit | None = None
        prediction: float | None = None
        if epoch >= self.settings.min_epochs:
            fit = self._fit()
            self.last_fit = fit
            if fit.success and fit.prediction is not None:
                prediction = self.space().from_score(fit.prediction)
        self.predictions.append(prediction)
        converged = self._agrees()
        if converged and self.converged_epoch is None:
            self.converged_epoch = epoch
            self._estimate = prediction
        return EpochVerdict(epoch, float(value), prediction, converged, fit)

    def summary(self, measured: float | None) -> TerminationSummary:
        """The trial's estimate and curve fields, given the ``measured`` value of the monitored metric."""
        if measured is not None and not math.isfinite(measured):
            measured = None
        estimate = self._estimate if self.converged else measured
        parameters = dict(self.last_fit.parameters) if self.last_fit is not None and self.last_fit.success else {}
        return TerminationSummary(self.settings.monitor, self.curve_name, estimate, measured, self.converged_epoch,
                                  parameters)

    # ------------------------------------------------------------------ internals

    def _fit(self) -> CurveFit:
        values = np.asarray(self.values, dtype=np.float64)
        epochs = np.arange(1, values.size + 1, dtype=np.float64)
        space = self.space()
        if not math.isfinite(values[-1]):
            return fit_curve(epochs, values, self.target_epoch, family=self.family)  # fails: non-finite
        keep = np.isfinite(values)
        scores = space.to_score(values[keep])
        bounds_range, valid_range = space.ranges(scores)
        if self.ensemble:
            start = tail_start(scores, skip_lag=self.settings.skip_lag, fit_window=self.settings.fit_window,
                               min_points=max(len(family.parameters) for family in self.ensemble))
            return fit_ensemble(epochs[keep][start:], scores[start:], self.target_epoch, families=self.ensemble,
                                value_range=bounds_range, valid_range=valid_range)
        start = tail_start(scores, skip_lag=self.settings.skip_lag, fit_window=self.settings.fit_window,
                           min_points=len(self.family.parameters))
        return fit_curve(epochs[keep][start:], scores[start:], self.target_epoch, family=self.family,
                         value_range=bounds_range, valid_range=valid_range)

    def _agrees(self) -> bool:
        """The last ``window`` predictions exist and lie within ``tolerance`` of their median."""
        window = self.predictions[-self.settings.window:]
        if len(window) < self.settings.window or any(p is None for p in window):
            return False
        if self.max_band > 0 and (self.last_fit is None or self.last_fit.band is None
                                  or self.last_fit.band > self.max_band):
            return False
        scores = self.space().to_score([p for p in window if p is not None])
        return bool(np.max(np.abs(scores - np.median(scores))) <= self.settings.tolerance + 1e-12)
