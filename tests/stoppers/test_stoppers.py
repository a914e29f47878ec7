"""Stoppers: registered classes that own their keys, the ensemble fit, Pareto dominance, and a
stopper that raises never failing a trial."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from scinas.config.experiment import EarlyTerminationConfig
from scinas.config.reader import Table
from scinas.config.search import SearchConfig
from scinas.errors import ConfigError
from scinas.predictors.learning_curve import fit_curve, fit_ensemble
from scinas.predictors.termination import CurveTermination, EpochVerdict, TerminationSummary
from scinas.stoppers import STOPPERS, FrontPoint, make_stopper, resolve_stopper
from scinas.stoppers.base import Stopper
from scinas.stoppers.curve import CurveStopper
from scinas.stoppers.pareto import ParetoStopper, predicted_cost
from scinas.training.early_termination import LearningCurveTermination

BUDGET = 25
SETTINGS = EarlyTerminationConfig(monitor="val_accuracy", mode="max")


def _curve(asymptote: float, rate: float = 0.35, start: float = 0.1) -> list[float]:
    """A smooth accuracy curve (fraction) rising from ``start`` towards ``asymptote``."""
    return [asymptote - (asymptote - start) * math.exp(-rate * epoch) for epoch in range(1, BUDGET + 1)]


def test_the_shipped_stoppers_are_registered() -> None:
    assert {"curve", "pareto"} <= set(STOPPERS.names())
    assert STOPPERS.get("pareto").needs_front and not STOPPERS.get("curve").needs_front


def test_the_curve_stopper_is_the_learning_curve_rule() -> None:
    values = _curve(0.9)
    stopper = make_stopper(SETTINGS, BUDGET)
    rule = CurveTermination(SETTINGS, BUDGET)
    for value in values:
        mine, theirs = stopper.observe(value, 1.0), rule.observe(value)
        assert mine.prediction == theirs.prediction and mine.converged == theirs.converged
        if stopper.converged:
            break
    assert stopper.converged_epoch == rule.converged_epoch is not None
    assert stopper.summary(values[stopper.epoch - 1]) == rule.summary(values[rule.epoch - 1])


def test_an_ensemble_weights_families_by_fit_quality() -> None:
    epochs = np.arange(1, 11, dtype=float)
    values = 90.0 - 60.0 * np.exp(-0.4 * epochs)  # exactly an exponential: that family fits best
    fit = fit_ensemble(epochs, values, 25, families=("exponential", "power_law", "logarithmic"))
    assert fit.success and fit.family == "ensemble"
    assert sum(fit.parameters.values()) == pytest.approx(1.0)
    assert fit.parameters["exponential"] > 0.9
    assert fit.prediction == pytest.approx(90.0, abs=0.5)
    assert fit.band is not None and 0 <= fit.band < 1.0
    # noisy and ambiguous: the families disagree and the band widens
    noisy = values + np.random.default_rng(0).normal(0, 3, values.size)
    wide = fit_ensemble(epochs, noisy, 25, families=("exponential", "power_law", "logarithmic"))
    assert wide.band is not None and wide.band > fit.band


def test_an_ensemble_fails_only_when_every_family_fails() -> None:
    fit = fit_ensemble([1.0, 2.0], [10.0, 20.0], 25, families=("weibull", "mmf"))
    assert not fit.success and "weibull" in (fit.reason or "") and "mmf" in (fit.reason or "")
    single = fit_curve([1.0, 2.0], [10.0, 20.0], 25, family="weibull")
    assert single.band is None


def test_max_band_holds_a_trial_until_the_ensemble_agrees() -> None:
    values = [v + 0.02 * math.sin(3 * i) for i, v in enumerate(_curve(0.8, rate=0.2))]
    options = {"ensemble": ["shifted_exponential", "power_law"]}
    loose = make_stopper(dataclasses.replace(SETTINGS, tolerance=20.0, options=options), BUDGET)
    strict = make_stopper(dataclasses.replace(SETTINGS, tolerance=20.0, options={**options, "max_band": 0.01}),
                          BUDGET)
    for value in values[:12]:
        loose.observe(value)
        strict.observe(value)
    assert loose.converged and loose.curve_name == "ensemble"
    assert not strict.converged  # a band of 0.01 points is never reached on a wobbling curve


def test_predicted_cost_is_elapsed_plus_the_median_later_epoch_times_remaining() -> None:
    assert predicted_cost([10.0, 1.0, 3.0, 2.0], 10) == pytest.approx(16.0 + 2.0 * 6)
    assert predicted_cost([4.0], 5) == pytest.approx(4.0 * 5)
    assert predicted_cost([None, None], 5) is None
    assert predicted_cost([1.0] * 5, 5) == pytest.approx(5.0)


def _pareto(front: Sequence[FrontPoint], **options: Any) -> Stopper:
    settings = dataclasses.replace(SETTINGS, stopper="pareto", tolerance=0.01, options=options)
    return make_stopper(settings, BUDGET, front=front)


def test_a_dominated_trial_stops_before_its_curve_converges() -> None:
    slow = [0.5 - 0.4 * math.exp(-0.08 * e) + 0.01 * math.sin(e) for e in range(1, BUDGET + 1)]
    alone = _pareto([])
    for value in slow:
        alone.observe(value, 1.0)
        if alone.converged:
            break
    dominated = _pareto([FrontPoint(0.95, 20.0)])
    for value in slow:
        verdict = dominated.observe(value, 1.0)
        if dominated.converged:
            break
    assert dominated.converged and verdict.converged
    assert dominated.converged_epoch is not None
    assert alone.converged_epoch is None or dominated.converged_epoch < alone.converged_epoch
    summary = dominated.summary(measured=slow[dominated.epoch - 1])
    assert summary.converged_epoch == dominated.converged_epoch and summary.estimate == verdict.prediction


@pytest.mark.parametrize("front", [
    [FrontPoint(0.95, 20.0)],      # better but dearer than this trial's 25 s: not dominated in cost
    [FrontPoint(0.52, 10.0)],      # cheaper but within the margin of the predicted score
])
def test_a_trial_the_front_does_not_dominate_by_the_margin_goes_on(front: list[FrontPoint]) -> None:
    slow = [0.5 - 0.4 * math.exp(-0.08 * e) + 0.01 * math.sin(e) for e in range(1, BUDGET + 1)]
    stopper = _pareto(front, margin=5.0) if front[0].value < 0.6 else _pareto(front)
    for value in slow[:8]:
        stopper.observe(value, 0.5 if front[0].cost_s == 20.0 else 1.0)
    assert stopper.dominated_epoch is None  # type: ignore[attr-defined]


def test_a_resumed_pareto_stopper_continues_as_an_uninterrupted_one() -> None:
    slow = [0.5 - 0.4 * math.exp(-0.08 * e) for e in range(1, BUDGET + 1)]
    front = [FrontPoint(0.95, 20.0)]
    whole = _pareto(front)
    verdicts = []
    for value in slow:
        verdicts.append(whole.observe(value, 1.0))
        if whole.converged:
            break
    assert whole.converged
    resumed = _pareto(front)
    resumed.restore(slow[:whole.epoch], [v.prediction for v in verdicts], [1.0] * whole.epoch)
    assert resumed.converged_epoch == whole.converged_epoch
    assert resumed.summary(slow[whole.epoch - 1]) == whole.summary(slow[whole.epoch - 1])


def test_the_pareto_stopper_checks_its_search() -> None:
    settings = dataclasses.replace(SETTINGS, stopper="pareto", path="A.training.early_termination",
                                   file="configurations.toml")
    with pytest.raises(ConfigError, match=r"has no \[X.search\]"):
        resolve_stopper(settings, None)
    with pytest.raises(ConfigError) as info:
        resolve_stopper(settings, SearchConfig(score="r_squared"))
    assert '[A.training.early_termination] monitor = "val_accuracy": the pareto stopper\'s front is in the ' \
           "search's score (r_squared)" in str(info.value)
    cls, options = resolve_stopper(settings, SearchConfig(score="accuracy"))
    assert cls is ParetoStopper and options.margin == 1.0


def test_options_round_trip_through_their_table() -> None:
    table = {"ensemble": ["mmf", "weibull"], "max_band": 2.0, "margin": 0.5, "cost_margin": 0.1}
    options = ParetoStopper.from_table(Table(dict(table), file="c.toml", path="A.training.early_termination"))
    assert ParetoStopper(SETTINGS, BUDGET, options).to_table() == table
    with pytest.raises(ConfigError, match=r"cost_margin = 1.5: expected a number in \[0.0, 0.99\]"):
        ParetoStopper.from_table(Table({"cost_margin": 1.5}, file="c.toml", path="A.training.early_termination"))
    with pytest.raises(ConfigError, match="an ensemble averages at least two families"):
        CurveStopper.from_table(Table({"ensemble": ["mmf"]}, file="c.toml", path="A.training.early_termination"))


# --------------------------------------------------------------------------- a stopper that raises


class _Broken(CurveStopper):
    """Raises at its ``fail_at``-th epoch (a bug in a user's stopper)."""

    fail_at = 3

    def observe(self, value: float, epoch_time_s: float | None = None) -> EpochVerdict:
        if self.epoch + 1 >= self.fail_at:
            raise ZeroDivisionError("a bug in the stopper")
        return super().observe(value, epoch_time_s)


@pytest.fixture
def broken() -> Iterator[EarlyTerminationConfig]:
    STOPPERS.register("broken")(_Broken)
    try:
        yield dataclasses.replace(SETTINGS, stopper="broken")
    finally:
        STOPPERS.unregister("broken")


def test_a_stopper_that_raises_switches_itself_off_and_never_stops_the_trial(
        broken: EarlyTerminationConfig, caplog: pytest.LogCaptureFixture) -> None:
    errors: list[BaseException] = []
    callback = LearningCurveTermination(broken, BUDGET, on_error=errors.append)
    values = _curve(0.9)
    with caplog.at_level(logging.WARNING, logger="scinas.training.early_termination"):
        for epoch, value in enumerate(values):
            callback.on_epoch_begin(epoch)
            callback.on_epoch_end(epoch, {"val_accuracy": value})  # never raises
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)
    assert callback.failed == "ZeroDivisionError: a bug in the stopper" and not callback.converged
    assert "early termination is switched off for this run: the 'broken' stopper raised while judging epoch 3" \
        in caplog.text
    summary = callback.summary(measured=values[-1])
    assert summary == TerminationSummary("val_accuracy", SETTINGS.curve, values[-1], values[-1], None)
    assert callback.epoch_fields(3) == {"curve": "shifted_exponential"}  # no verdict recorded after the failure
