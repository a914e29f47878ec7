"""``stopper = "pareto"``: multi-objective termination, the learning-curve rule plus Pareto dominance.

A search that minimises time keeps a Pareto front of (score, cost).  A trial whose *predicted*
point at the end of its budget is already dominated by that front, by a margin, cannot join it:
this stopper stops it then, and its prediction stands in as its estimate.  The predicted point
is the learning curve's prediction of the score at the budget's last epoch (the ``curve`` rule's
fit, ensemble included) and the predicted cost ``elapsed + t × remaining epochs``, with ``t``
the median epoch time after the first (the first holds the graph tracing).  The front is that
of the search's completed trials (their estimates and their costs counted the same way,
:func:`predicted_cost`), given when the trial starts.  It is dominated when some front point
scores at least ``margin`` points more and costs at most ``1 - cost_margin`` times as much, at
each of the last ``window`` epochs (each with a successful prediction).  A trial whose curve
converges first stops as under ``curve``.

    [A.training.early_termination]
    stopper = "pareto"
    margin = 1.0          # points of score (the metric's units on the raw scale)
    cost_margin = 0.0     # a fraction: 0.1 = the front point must be 10 % cheaper too

It needs a search, and ``monitor`` must be the search's score (the front is in its units).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scinas.config.experiment import EarlyTerminationConfig
from scinas.configurable import option
from scinas.errors import ConfigError
from scinas.predictors.termination import EpochVerdict, TerminationSummary
from scinas.stoppers.base import STOPPERS, FrontPoint
from scinas.stoppers.curve import CurveStopper

if TYPE_CHECKING:
    from scinas.config.search import SearchConfig

__all__ = ["ParetoStopper", "predicted_cost"]


def predicted_cost(epoch_times: Sequence[float | None], target_epoch: int) -> float | None:
    """``elapsed + t × remaining``: the time a trial's whole budget takes, from its first epochs' times.

    ``t`` is the median of the known epoch times after the first (of the first alone when only
    one is known); ``None`` when no time is known.
    """
    known = [t for t in epoch_times if t is not None and math.isfinite(t)]
    if not known:
        return None
    later = [t for t in epoch_times[1:] if t is not None and math.isfinite(t)]
    per_epoch = statistics.median(later) if later else known[0]
    remaining = max(int(target_epoch) - len(epoch_times), 0)
    return float(sum(known) + per_epoch * remaining)


@STOPPERS.register("pareto")
class ParetoStopper(CurveStopper):
    """Stops a trial whose predicted (score, cost) is dominated by the front; see the module docstring."""

    needs_front = True

    @dataclass(frozen=True)
    class Options(CurveStopper.Options):
        margin: float = option(1.0, minimum=0.0, doc="points of score by which a front point must beat the "
                                                     "trial's predicted score (metric units on the raw scale)")
        cost_margin: float = option(0.0, minimum=0.0, maximum=0.99,
                                    doc="fraction by which a front point must also be cheaper than the trial's "
                                        "predicted cost")

    def __init__(self, settings: EarlyTerminationConfig, target_epoch: int, options: Any = None, *,
                 front: Sequence[FrontPoint] = ()) -> None:
        super().__init__(settings, target_epoch, options, front=front)
        self.dominated: list[bool] = []
        self.dominated_epoch: int | None = None
        self._dominated_estimate: float | None = None

    @classmethod
    def check(cls, settings: EarlyTerminationConfig, search: SearchConfig | None) -> None:
        path = f"{settings.path}.stopper" if settings.path else "stopper"
        if search is None:
            raise ConfigError("the pareto stopper compares trials with the search's front, and this experiment "
                              "has no [X.search]", path=path, value="pareto", fix='use stopper = "curve"')
        if settings.monitor not in (search.score, f"val_{search.score}"):
            raise ConfigError(f"the pareto stopper's front is in the search's score ({search.score}), but the "
                              "monitored metric is another one",
                              path=f"{settings.path}.monitor" if settings.path else "monitor",
                              value=settings.monitor, fix=f'monitor = "val_{search.score}"')

    @property
    def converged_epoch(self) -> int | None:
        epochs = [e for e in (self.rule.converged_epoch, self.dominated_epoch) if e is not None]
        return min(epochs) if epochs else None

    def is_dominated(self, prediction: float | None) -> bool:
        """Whether the predicted point (``prediction`` in metric units, cost from the epoch times) is dominated."""
        cost = predicted_cost(self.epoch_times, self.target_epoch)
        if prediction is None or cost is None or not self.front:
            return False
        space = self.rule.space()
        score = float(space.to_score([prediction])[0])
        margin = self.options.margin
        limit = cost * (1.0 - self.options.cost_margin)
        return any(float(space.to_score([point.value])[0]) >= score + margin and point.cost_s <= limit
                   for point in self.front)

    def observe(self, value: float, epoch_time_s: float | None = None) -> EpochVerdict:
        verdict = super().observe(value, epoch_time_s)
        self.dominated.append(self.is_dominated(verdict.prediction))
        window = self.settings.window
        if (self.converged_epoch is None and len(self.dominated) >= window and all(self.dominated[-window:])):
            self.dominated_epoch = verdict.epoch
            self._dominated_estimate = verdict.prediction
        if self.dominated_epoch == verdict.epoch:
            return dataclasses.replace(verdict, converged=True)
        return verdict

    def restore(self, values: Sequence[float], predictions: Sequence[float | None],
                epoch_times: Sequence[float | None] = ()) -> None:
        super().restore(values, predictions, epoch_times)
        self.dominated, self.dominated_epoch, self._dominated_estimate = [], None, None
        times = list(self.epoch_times)
        for index, prediction in enumerate(self.rule.predictions):
            self.epoch_times = times[:index + 1]
            self.dominated.append(self.is_dominated(prediction))
        self.epoch_times = times
        window = self.settings.window
        if not self.rule.converged and len(self.dominated) >= window and all(self.dominated[-window:]):
            self.dominated_epoch = self.epoch
            self._dominated_estimate = self.rule.predictions[-1]

    def summary(self, measured: float | None) -> TerminationSummary:
        summary = self.rule.summary(measured)
        if self.dominated_epoch is not None and not self.rule.converged and self._dominated_estimate is not None:
            return dataclasses.replace(summary, estimate=self._dominated_estimate, converged_epoch=self.dominated_epoch)
        return summary
