"""Parametric learning-curve families, selected by name (``curve = "..."`` in TOML).

Every family describes a curve that rises towards an asymptote as the epoch ``x`` grows, in
*score space*: larger is better, and the values lie in a plausible range ``[low, high]``
(``[0, 100]`` for an accuracy in percent; see :mod:`scinas.predictors.learning_curve` for how
fractions, percentages and minimised metrics are brought there).  A family knows its formula,
its parameter names, a data-driven initial guess and its bounds, both expressed through that
range so that one definition serves accuracies and losses alike.

The default, ``shifted_exponential`` (``a - b**(c - x)``), is the A4NN function; for the percent
range its bounds are exactly ``a ∈ [0.5, 200]``, ``b ∈ [1, ∞)``, ``c ∈ [0, ∞)``.

Example::

    family = CURVE_FAMILIES.get("power_law")
    family.formula                       # 'a - b * x**(-c)'
    family(np.arange(1, 26), 90.0, 40.0, 0.8)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scinas.configurable import Configurable
from scinas.registry import Registry

__all__ = ["CURVE_FAMILIES", "DEFAULT_CURVE", "CurveFamily", "CurveRange"]

DEFAULT_CURVE = "shifted_exponential"
"""The family used when ``curve`` is not given: the A4NN seed's ``a - b**(c - x)``."""

_INF = math.inf


@dataclass(frozen=True)
class CurveRange:
    """The plausible range ``[low, high]`` of score-space values that bounds are built from."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.high > self.low):
            raise ValueError(f"a curve range needs finite low < high, got [{self.low}, {self.high}]")

    @property
    def span(self) -> float:
        return self.high - self.low

    def asymptote_bounds(self) -> tuple[float, float]:
        """Where an asymptote may lie: ``[low + span/200, low + 2·span]`` (``[0.5, 200]`` for percent)."""
        return self.low + self.span / 200.0, self.low + 2.0 * self.span

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


Model = Callable[..., np.ndarray]
Guess = Callable[[np.ndarray, np.ndarray, CurveRange], tuple[float, ...]]
Bounds = Callable[[CurveRange], tuple[tuple[float, ...], tuple[float, ...]]]


@dataclass(frozen=True)
class CurveFamily(Configurable):
    """One parametric family: ``model(x, *parameters)`` with its guess and bounds.

    ``initial(x, y, range)`` returns a starting point inside ``bounds(range)`` (it is clipped
    into them anyway); ``bounds(range)`` returns ``(lower, upper)`` tuples, one entry per
    parameter, for :func:`scipy.optimize.curve_fit`.
    """

    name: str
    formula: str
    parameters: tuple[str, ...]
    model: Model
    initial: Guess
    bounds: Bounds

    def __call__(self, x: np.ndarray | float, *parameters: float) -> np.ndarray:
        return np.asarray(self.model(np.asarray(x, dtype=np.float64), *parameters), dtype=np.float64)

    def start(self, x: np.ndarray, y: np.ndarray, value_range: CurveRange) -> np.ndarray:
        """The initial guess, clipped strictly inside the bounds (``curve_fit`` requires it)."""
        lower, upper = (np.asarray(b, dtype=np.float64) for b in self.bounds(value_range))
        guess = np.asarray(self.initial(x, y, value_range), dtype=np.float64)
        margin = np.where(np.isfinite(upper - lower), (upper - lower) * 1e-6, 1e-6)
        return np.clip(guess, lower + margin, upper - margin)


#: The learning-curve families by the name used in TOML.
CURVE_FAMILIES: Registry[CurveFamily] = Registry("learning-curve family")


def _register(family: CurveFamily) -> CurveFamily:
    return CURVE_FAMILIES.register(family.name)(family)


def _asymptote_guess(y: np.ndarray, value_range: CurveRange) -> float:
    """A little above the best value seen: where a still-rising curve is heading."""
    best, worst = float(np.max(y)), float(np.min(y))
    return best + max(0.1 * (best - worst), 0.01 * value_range.span)


# -- a - b**(c - x) (A4NN) ------------------------------------------------------------------------
def _shifted_exponential(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - np.power(b, c - x)


def _shifted_exponential_guess(x: np.ndarray, y: np.ndarray, value_range: CurveRange) -> tuple[float, ...]:
    a = _asymptote_guess(y, value_range)
    b = math.e ** 0.5
    # choose c so that the curve passes through the first point: b**(c - x0) = a - y0
    gap = max(a - float(y[0]), 1e-6)
    c = float(x[0]) + math.log(gap) / math.log(b)
    return a, b, max(c, 0.0)


_register(CurveFamily(
    "shifted_exponential", "a - b**(c - x)", ("a", "b", "c"), _shifted_exponential, _shifted_exponential_guess,
    lambda r: ((r.asymptote_bounds()[0], 1.0, 0.0), (r.asymptote_bounds()[1], _INF, _INF))))


# -- a - b * exp(-c * x) --------------------------------------------------------------------------
def _exponential(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.exp(-c * x)


def _exponential_guess(x: np.ndarray, y: np.ndarray, value_range: CurveRange) -> tuple[float, ...]:
    a = _asymptote_guess(y, value_range)
    c = 0.3
    return a, max(a - float(y[0]), 1e-6) * math.exp(c * float(x[0])), c


_register(CurveFamily(
    "exponential", "a - b * exp(-c * x)", ("a", "b", "c"), _exponential, _exponential_guess,
    lambda r: ((r.asymptote_bounds()[0], 0.0, 0.0), (r.asymptote_bounds()[1], _INF, 20.0))))


# -- a - b * x**(-c) (pow3) -----------------------------------------------------------------------
def _power_law(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return np.asarray(a - b * np.power(x, -c), dtype=np.float64)


def _power_law_guess(x: np.ndarray, y: np.ndarray, value_range: CurveRange) -> tuple[float, ...]:
    a = _asymptote_guess(y, value_range)
    c = 0.5
    return a, max(a - float(y[0]), 1e-6) * float(x[0]) ** c, c


_register(CurveFamily(
    "power_law", "a - b * x**(-c)", ("a", "b", "c"), _power_law, _power_law_guess,
    lambda r: ((r.asymptote_bounds()[0], 0.0, 0.0), (r.asymptote_bounds()[1], _INF, 20.0))))


# -- a + b * log(x) -------------------------------------------------------------------------------
def _logarithmic(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.asarray(a + b * np.log(x), dtype=np.float64)


def _logarithmic_guess(x: np.ndarray, y: np.ndarray, value_range: CurveRange) -> tuple[float, ...]:
    logs = np.log(x)
    spread = float(logs[-1] - logs[0])
    b = max((float(y[-1]) - float(y[0])) / spread, 0.0) if spread > 0 else 0.0
    return float(y[0]) - b * float(logs[0]), b


_register(CurveFamily(
    "logarithmic", "a + b * log(x)", ("a", "b"), _logarithmic, _logarithmic_guess,
    lambda r: ((r.low - 10.0 * r.span, 0.0), (r.asymptote_bounds()[1], _INF))))


# -- a - (a - d) * exp(-(k * x)**delta) (Weibull) -------------------------------------------------
def _weibull(x: np.ndarray, a: float, d: float, k: float, delta: float) -> np.ndarray:
    return np.asarray(a - (a - d) * np.exp(-np.power(k * x, delta)), dtype=np.float64)


def _growth_guess(x: np.ndarray, y: np.ndarray, value_range: CurveRange) -> tuple[float, ...]:
    a = _asymptote_guess(y, value_range)
    d = float(y[0]) - 0.5 * max(float(y[-1]) - float(y[0]), 0.01 * value_range.span)
    return a, d, 1.0 / max(float(np.median(x)), 1.0), 1.0


def _growth_bounds(r: CurveRange) -> tuple[tuple[float, ...], tuple[float, ...]]:
    low_a, high_a = r.asymptote_bounds()
    return (low_a, r.low - 10.0 * r.span, 1e-6, 0.05), (high_a, r.high, _INF, 10.0)


_register(CurveFamily(
    "weibull", "a - (a - d) * exp(-(k * x)**delta)", ("a", "d", "k", "delta"), _weibull, _growth_guess,
    _growth_bounds))


# -- a - (a - d) / (1 + (k * x)**delta) (Morgan–Mercer–Flodin) ------------------------------------
def _mmf(x: np.ndarray, a: float, d: float, k: float, delta: float) -> np.ndarray:
    return np.asarray(a - (a - d) / (1.0 + np.power(k * x, delta)), dtype=np.float64)


_register(CurveFamily(
    "mmf", "a - (a - d) / (1 + (k * x)**delta)", ("a", "d", "k", "delta"), _mmf, _growth_guess, _growth_bounds))

