"""Fitting a learning curve and predicting the score at the end of the training budget.

:func:`fit_curve` fits one :class:`~scinas.predictors.curve_families.CurveFamily` to a metric's
history with :func:`scipy.optimize.curve_fit` (bounded, trust-region reflective) and evaluates it
at the target epoch.  It never raises for a bad fit: an optimiser that gives up, non-finite
parameters or predictions, or a prediction outside the plausible range (a diverging curve) come
back as a :class:`CurveFit` with ``success = False`` and the reason.

The fit works in *score space* (larger is better, within a plausible range);
:class:`ScoreSpace` maps a monitored metric there and back:

* ``fraction``: values in [0, 1] (Keras accuracy), fitted as percentages (×100);
* ``percent``: values in [0, 100], fitted as they are;
* ``raw``: any values (losses, errors), fitted as they are, with a range taken from the data;
* ``auto``: ``fraction`` or ``percent`` for a known score (accuracy, AUC, R², ...) depending on
  whether every value so far is at most 1, else ``raw``.

A minimised metric is mirrored: ``100 - p`` on the bounded scales (an error rate becomes an
accuracy), ``-v`` on the raw one.  Tolerances are differences in score space, so in points of
percent on the bounded scales and in the metric's own units on the raw scale.

Which part of the history is fitted is :func:`tail_start`'s choice: small networks' validation
curves often start S-shaped (flat for a few epochs while, e.g., batch-normalisation statistics
catch up, then a steep rise), which no one-bend family can follow, and a long history makes the
fit follow the fast early phase rather than the slow late one the prediction is about.

Example::

    fit = fit_curve([1, 2, 3, 4, 5], [61.0, 72.5, 78.9, 82.0, 84.1], target_epoch=25)
    fit.success, round(fit.prediction, 1), fit.parameters      # True, 88.0, {'a': ..., ...}
    tail_start([12.0, 13.5, 48.0, 80.0, 88.0, 91.0], skip_lag=True, fit_window=8, min_points=3)  # 2
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scinas.config.search import metric_direction
from scinas.predictors.curve_families import CURVE_FAMILIES, DEFAULT_CURVE, CurveFamily, CurveRange

__all__ = ["PERCENT_RANGE", "SCALES", "CurveFit", "ScoreSpace", "fit_curve", "fit_ensemble", "tail_start"]

#: The plausible range of a score in percent (and of every bounded scale in score space).
PERCENT_RANGE = CurveRange(0.0, 100.0)

#: The values ``scale`` accepts.
SCALES: tuple[str, ...] = ("auto", "fraction", "percent", "raw")

_MAX_EVALUATIONS = 4000


@dataclass(frozen=True)
class CurveFit:
    """The outcome of one fit.

    ``prediction`` is the fitted curve at ``target_epoch``, in the units of the fitted values
    (``None`` when the fit failed); ``parameters`` maps parameter names to values (empty when the
    optimiser produced nothing usable); ``reason`` says why a fit failed.
    """

    family: str
    target_epoch: int
    n_points: int
    success: bool
    prediction: float | None = None
    parameters: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None
    fit_time_s: float = 0.0
    band: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family, "target_epoch": self.target_epoch, "n_points": self.n_points,
                "success": self.success, "prediction": self.prediction, "parameters": dict(self.parameters),
                "reason": self.reason, "fit_time_s": self.fit_time_s, "band": self.band}


def _family(family: str | CurveFamily) -> CurveFamily:
    return family if isinstance(family, CurveFamily) else CURVE_FAMILIES.get(family)


def fit_curve(epochs: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, target_epoch: int, *,
              family: str | CurveFamily = DEFAULT_CURVE, value_range: CurveRange = PERCENT_RANGE,
              valid_range: CurveRange | None = None, max_evaluations: int = _MAX_EVALUATIONS) -> CurveFit:
    """Fit ``family`` to ``values`` at ``epochs`` (1-based) and predict the value at ``target_epoch``.

    ``value_range`` is what the family's bounds are built from, ``valid_range`` (default: the
    same) where the prediction must land for the fit to count.  Raises only for an unknown family
    name (a :class:`~scinas.errors.ConfigError` listing the known ones).
    """
    curve = _family(family)
    valid = valid_range or value_range
    started = time.perf_counter()
    x = np.asarray(epochs, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()

    def failed(reason: str, parameters: Mapping[str, float] | None = None) -> CurveFit:
        return CurveFit(curve.name, int(target_epoch), int(x.size), False, None, dict(parameters or {}), reason,
                        time.perf_counter() - started)

    if x.shape != y.shape:
        return failed(f"{x.size} epochs but {y.size} values")
    if x.size < len(curve.parameters):
        return failed(f"{curve.name} has {len(curve.parameters)} parameters and needs at least as many points, "
                      f"got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return failed("the history holds non-finite values")
    if np.any(x <= 0):
        return failed("epochs are numbered from 1")
    from scipy.optimize import OptimizeWarning, curve_fit  # here: seconds to import; drawing a fit needs none

    lower, upper = curve.bounds(value_range)
    try:
        start = curve.start(x, y, value_range)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            fitted, _ = curve_fit(curve.model, x, y, p0=start, bounds=(lower, upper), method="trf",
                                  max_nfev=max_evaluations)
    except (RuntimeError, ValueError, FloatingPointError, OverflowError, ZeroDivisionError,
            np.linalg.LinAlgError) as exc:
        return failed(f"the optimiser failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}")
    parameters = {name: float(value) for name, value in zip(curve.parameters, fitted, strict=True)}
    if not all(math.isfinite(value) for value in parameters.values()):
        return failed("the fitted parameters are not finite", parameters)
    with np.errstate(all="ignore"):
        prediction = float(curve(np.asarray([float(target_epoch)]), *fitted)[0])
    if not math.isfinite(prediction):
        return failed(f"the curve diverges: f({target_epoch}) = {prediction}", parameters)
    if not valid.contains(prediction):
        return failed(f"the prediction {prediction:.6g} is outside the plausible range "
                      f"[{valid.low:.6g}, {valid.high:.6g}]", parameters)
    return CurveFit(curve.name, int(target_epoch), int(x.size), True, prediction, parameters, None,
                    time.perf_counter() - started)


def fit_ensemble(epochs: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, target_epoch: int, *,
                 families: Sequence[str | CurveFamily], value_range: CurveRange = PERCENT_RANGE,
                 valid_range: CurveRange | None = None) -> CurveFit:
    """Fit every one of ``families`` and average their predictions, weighted by fit quality.

    Each successful fit is weighted by ``exp(-BIC / 2)`` (relative to the best; BIC = n ln(RSS/n)
    + k ln n, so a family with more parameters must fit better to weigh more).  The prediction
    is the weighted mean; ``band`` is ``sqrt(spread² + σ²)``: the weighted standard deviation of
    the families' predictions plus the best fit's residual standard deviation, an uncertainty in
    the units of the values.  ``parameters`` maps each family that succeeded to its weight.  It
    fails only when every family failed (the reasons joined).
    """
    started = time.perf_counter()
    x = np.asarray(epochs, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    fits: list[tuple[str, float, float, float]] = []  # family, prediction, bic, rss/n
    reasons: list[str] = []
    for item in families:
        curve = _family(item)
        fit = fit_curve(x, y, target_epoch, family=curve, value_range=value_range, valid_range=valid_range)
        if not fit.success or fit.prediction is None:
            reasons.append(f"{curve.name}: {fit.reason}")
            continue
        with np.errstate(all="ignore"):
            residual = curve(x, *fit.parameters.values()) - y
        mse = max(float(np.mean(residual ** 2)), 1e-12)
        k = len(curve.parameters)
        fits.append((curve.name, fit.prediction, x.size * math.log(mse) + k * math.log(max(x.size, 2)), mse))
    if not fits:
        return CurveFit("ensemble", int(target_epoch), int(x.size), False, None, {}, "; ".join(reasons),
                        time.perf_counter() - started)
    best = min(bic for _, _, bic, _ in fits)
    weights = np.asarray([math.exp(-0.5 * (bic - best)) for _, _, bic, _ in fits])
    weights /= weights.sum()
    predictions = np.asarray([prediction for _, prediction, _, _ in fits])
    mean = float(np.dot(weights, predictions))
    spread = float(np.dot(weights, (predictions - mean) ** 2))
    sigma2 = min(mse for *_, mse in fits)
    return CurveFit("ensemble", int(target_epoch), int(x.size), True, mean,
                    {name: float(w) for (name, *_), w in zip(fits, weights, strict=True)}, None,
                    time.perf_counter() - started, band=math.sqrt(spread + sigma2))


def tail_start(scores: Sequence[float] | np.ndarray, *, skip_lag: bool, fit_window: int, min_points: int) -> int:
    """The index of the first of ``scores`` (score space, larger is better) that a fit should use.

    With ``skip_lag`` the fit starts at the value that ended the steepest one-step rise, leaving
    out a flat or slow start; with ``fit_window`` > 0 it keeps at most the last ``fit_window``
    values.  Either way at least ``min_points`` values (as many as are there) remain.
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    n = values.size
    start = 0
    if skip_lag and n >= 2:
        with np.errstate(invalid="ignore"):
            rises = np.diff(values)
        if np.any(np.isfinite(rises)):
            start = int(np.nanargmax(np.where(np.isfinite(rises), rises, -np.inf))) + 1
    if fit_window > 0:
        start = max(start, n - fit_window)
    return max(0, min(start, n - max(min_points, 1)))


@dataclass(frozen=True)
class ScoreSpace:
    """How a monitored metric maps to score space (see the module docstring).

    ``scale`` is resolved (``fraction``, ``percent`` or ``raw``); build one with :meth:`resolve`.
    """

    scale: str
    maximize: bool

    def __post_init__(self) -> None:
        if self.scale not in SCALES[1:]:
            raise ValueError(f"a resolved scale is one of {', '.join(SCALES[1:])}, got {self.scale!r}")

    @classmethod
    def resolve(cls, scale: str, monitor: str, maximize: bool, values: Sequence[float] | np.ndarray) -> ScoreSpace:
        """The space for ``values`` of ``monitor`` under ``scale`` (``auto`` looks at metric and values)."""
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
        if scale != "auto":
            return cls(scale, maximize)
        if metric_direction(monitor) is not True:
            return cls("raw", maximize)
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        return cls("fraction" if finite.size == 0 or float(np.max(finite)) <= 1.0 else "percent", maximize)

    @property
    def bounded(self) -> bool:
        return self.scale != "raw"

    @property
    def factor(self) -> float:
        """Score-space units per metric unit (100 for a fraction)."""
        return 100.0 if self.scale == "fraction" else 1.0

    def to_score(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Metric values in score space (larger is better)."""
        points = np.asarray(values, dtype=np.float64) * self.factor
        if self.maximize:
            return points
        return PERCENT_RANGE.high - points if self.bounded else -points

    def from_score(self, score: float) -> float:
        """A score-space value back in the metric's units."""
        points = score if self.maximize else (PERCENT_RANGE.high - score if self.bounded else -score)
        return float(points / self.factor)

    def ranges(self, scores: np.ndarray) -> tuple[CurveRange, CurveRange]:
        """(range the bounds are built from, range a prediction must land in) for these scores.

        Bounded scales use [0, 100] for both (the A4NN rule: a valid prediction lies in 0..100);
        the raw scale takes them from the data: ``d`` the spread of the values seen,
        bounds over ``[min - d, max + d]``, predictions valid within ``[min - 2d, max + 2d]``.
        """
        if self.bounded:
            return PERCENT_RANGE, PERCENT_RANGE
        finite = scores[np.isfinite(scores)]
        if finite.size == 0:
            return PERCENT_RANGE, PERCENT_RANGE
        low, high = float(np.min(finite)), float(np.max(finite))
        spread = max(high - low, 1e-6 * max(1.0, abs(high), abs(low)))
        return CurveRange(low - spread, high + spread), CurveRange(low - 2 * spread, high + 2 * spread)
