"""``stopper = "curve"`` (the default): the learning-curve rule of :mod:`scinas.predictors.termination`.

Stop a trial once the last ``window`` predictions of its score at the budget's last epoch agree
within ``tolerance``; the prediction stands in as its estimate.  Its own keys choose an
ensemble of curve families instead of the one ``curve``::

    [A.training.early_termination]
    ensemble = ["shifted_exponential", "power_law", "mmf", "weibull"]   # BIC-weighted average
    max_band = 2.0        # and stop only when the ensemble's uncertainty band is within ±2 points
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scinas.config.experiment import EarlyTerminationConfig
from scinas.configurable import option
from scinas.errors import ConfigError
from scinas.predictors.curve_families import CURVE_FAMILIES
from scinas.predictors.termination import CurveTermination, EpochVerdict, TerminationSummary
from scinas.stoppers.base import STOPPERS, FrontPoint, Stopper

__all__ = ["CurveStopper"]


@STOPPERS.register("curve")
class CurveStopper(Stopper):
    """The learning-curve rule for one trial; see the module docstring."""

    @dataclass(frozen=True)
    class Options:
        ensemble: tuple[str, ...] = option((), doc="curve families averaged by fit quality (BIC weights) "
                                                   "instead of the one `curve`; empty: `curve` alone")
        max_band: float = option(0.0, minimum=0.0, doc="with an ensemble, stop only when its uncertainty band "
                                                       "(points) is at most this wide; 0: no band check")

        def check(self) -> None:
            for index, name in enumerate(self.ensemble):
                if name not in CURVE_FAMILIES:
                    raise ConfigError(f"unknown learning-curve family; known: {', '.join(CURVE_FAMILIES.names())}",
                                      path=f"ensemble[{index}]", value=name)
            if len(set(self.ensemble)) != len(self.ensemble):
                raise ConfigError("a family is listed twice", path="ensemble", value=list(self.ensemble))
            if len(self.ensemble) == 1:
                raise ConfigError("an ensemble averages at least two families", path="ensemble",
                                  value=list(self.ensemble), fix="name more families, or set `curve` instead")
            if self.max_band > 0 and not self.ensemble:
                raise ConfigError("max_band needs an ensemble (a single family has no band)", path="max_band",
                                  value=self.max_band, fix="add ensemble = [...] or remove max_band")

    def __init__(self, settings: EarlyTerminationConfig, target_epoch: int, options: Any = None, *,
                 front: Sequence[FrontPoint] = ()) -> None:
        super().__init__(settings, target_epoch, options, front=front)
        self.rule = CurveTermination(settings, target_epoch, ensemble=self.options.ensemble,
                                     max_band=self.options.max_band)
        self.epoch_times: list[float | None] = []

    @property
    def epoch(self) -> int:
        return self.rule.epoch

    @property
    def converged_epoch(self) -> int | None:
        return self.rule.converged_epoch

    @property
    def curve_name(self) -> str:
        return self.rule.curve_name

    def observe(self, value: float, epoch_time_s: float | None = None) -> EpochVerdict:
        self.epoch_times.append(epoch_time_s)
        return self.rule.observe(value)

    def restore(self, values: Sequence[float], predictions: Sequence[float | None],
                epoch_times: Sequence[float | None] = ()) -> None:
        self.epoch_times = list(epoch_times) + [None] * (len(values) - len(epoch_times))
        self.rule.restore(values, predictions)

    def summary(self, measured: float | None) -> TerminationSummary:
        return self.rule.summary(measured)
