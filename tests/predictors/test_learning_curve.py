"""Curve families and fits: known parameters are recovered, bad fits come back as failures."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.errors import ConfigError
from scinas.predictors.curve_families import CURVE_FAMILIES, DEFAULT_CURVE, CurveFamily, CurveRange
from scinas.predictors.learning_curve import PERCENT_RANGE, ScoreSpace, fit_curve, tail_start

EPOCHS = np.arange(1, 26, dtype=np.float64)

#: Known parameters per family, giving accuracy-like curves in percent over 25 epochs.
TRUTH: dict[str, tuple[float, ...]] = {
    "shifted_exponential": (90.0, 1.5, 8.0),
    "exponential": (90.0, 40.0, 0.3),
    "power_law": (90.0, 40.0, 0.8),
    "logarithmic": (40.0, 12.0),
    "weibull": (90.0, 20.0, 0.2, 1.3),
    "mmf": (90.0, 20.0, 0.25, 1.5),
}


def test_every_registered_family_is_covered_and_well_formed() -> None:
    assert set(CURVE_FAMILIES.names()) == set(TRUTH)
    assert DEFAULT_CURVE in CURVE_FAMILIES
    for name in CURVE_FAMILIES.names():
        family = CURVE_FAMILIES.get(name)
        lower, upper = family.bounds(PERCENT_RANGE)
        assert len(lower) == len(upper) == len(family.parameters) == len(TRUTH[name])
        assert all(low < high for low, high in zip(lower, upper, strict=True))
        assert family.formula


def test_the_default_family_has_the_a4nn_bounds_in_percent() -> None:
    lower, upper = CURVE_FAMILIES.get(DEFAULT_CURVE).bounds(PERCENT_RANGE)
    assert lower == (0.5, 1.0, 0.0) and upper == (200.0, np.inf, np.inf)


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_each_family_recovers_known_parameters(name: str) -> None:
    family = CURVE_FAMILIES.get(name)
    values = family(EPOCHS, *TRUTH[name])
    fit = fit_curve(EPOCHS, values, 25, family=name)
    assert fit.success and fit.reason is None and fit.family == name and fit.n_points == 25
    assert list(fit.parameters) == list(family.parameters)
    assert list(fit.parameters.values()) == pytest.approx(TRUTH[name], rel=1e-3)
    assert fit.prediction == pytest.approx(float(family(25.0, *TRUTH[name])), abs=1e-3)
    assert fit.fit_time_s > 0


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_each_family_predicts_the_end_from_a_noisy_beginning(name: str) -> None:
    family = CURVE_FAMILIES.get(name)
    values = family(EPOCHS, *TRUTH[name]) + np.random.default_rng(0).normal(0.0, 0.2, EPOCHS.size)
    fit = fit_curve(EPOCHS[:12], values[:12], 25, family=name)
    assert fit.success
    assert fit.prediction == pytest.approx(float(family(25.0, *TRUTH[name])), abs=3.0)


def test_too_few_points_is_a_failed_fit() -> None:
    fit = fit_curve([1, 2], [50.0, 60.0], 25)
    assert not fit.success and fit.prediction is None and "at least" in (fit.reason or "")
    fit = fit_curve([1, 2, 3], [50.0, 60.0, 65.0], 25, family="weibull")
    assert not fit.success and "4 parameters" in (fit.reason or "")


def test_non_finite_history_is_a_failed_fit() -> None:
    fit = fit_curve([1, 2, 3, 4], [50.0, float("nan"), 65.0, 70.0], 25)
    assert not fit.success and "non-finite" in (fit.reason or "")
    fit = fit_curve([1, 2, 3], [50.0, 60.0], 25)
    assert not fit.success and "3 epochs but 2 values" in (fit.reason or "")


def test_a_diverging_prediction_is_a_failed_fit_with_its_parameters() -> None:
    # a steep straight rise: the logarithmic fit lands far above 100 points at epoch 25
    fit = fit_curve([1, 2, 3, 4, 5], [10.0, 40.0, 60.0, 80.0, 95.0], 200, family="logarithmic")
    assert not fit.success and fit.prediction is None
    assert "outside the plausible range" in (fit.reason or "")
    assert set(fit.parameters) == {"a", "b"}


def test_an_optimiser_exception_is_a_failed_fit() -> None:
    def explode(x: np.ndarray, a: float) -> np.ndarray:
        raise ValueError("boom")

    broken = CurveFamily("broken", "?", ("a",), explode, lambda x, y, r: (50.0,), lambda r: ((0.0,), (100.0,)))
    fit = fit_curve([1, 2, 3], [1.0, 2.0, 3.0], 10, family=broken)
    assert not fit.success and "the optimiser failed: boom" in (fit.reason or "")


def test_overflowing_curves_never_raise() -> None:
    # Far-off target and a jumping history: every family returns a consistent CurveFit, none raises.
    values = np.array([1.0, 1.0, 99.0, 99.0, 1.0, 99.0])
    fits = {name: fit_curve(np.arange(1, 7), values, 10**6, family=name) for name in CURVE_FAMILIES.names()}
    for name, fit in fits.items():
        assert fit.family == name and fit.n_points == 6 and fit.target_epoch == 10**6
        if fit.success:
            assert fit.reason is None and fit.prediction is not None and 0.0 <= fit.prediction <= 100.0
        else:
            assert fit.prediction is None and fit.reason
    # a saturating family settles inside the range; the unbounded logarithm leaves it and fails
    assert fits[DEFAULT_CURVE].success
    assert not fits["logarithmic"].success and "outside the plausible range" in (fits["logarithmic"].reason or "")


def test_an_unknown_family_is_a_config_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown learning-curve family; known: exponential") as info:
        fit_curve([1, 2, 3], [1.0, 2.0, 3.0], 10, family="weibul")
    assert 'did you mean "weibull"' in str(info.value)


def test_score_space_scales_and_mirrors() -> None:
    assert ScoreSpace.resolve("auto", "val_accuracy", True, [0.2, 0.9]).scale == "fraction"
    assert ScoreSpace.resolve("auto", "val_accuracy", True, [20.0, 90.0]).scale == "percent"
    assert ScoreSpace.resolve("auto", "val_r_squared", True, [-3.0, 0.5]).scale == "fraction"
    assert ScoreSpace.resolve("auto", "val_loss", False, [2.3, 0.5]).scale == "raw"
    error_rate = ScoreSpace("fraction", maximize=False)
    assert error_rate.to_score([0.25]).tolist() == [75.0] and error_rate.from_score(75.0) == 0.25
    loss = ScoreSpace("raw", maximize=False)
    assert loss.to_score([0.5]).tolist() == [-0.5] and loss.from_score(-0.5) == 0.5
    bounds, valid = loss.ranges(np.array([-2.0, -1.0]))
    assert (bounds.low, bounds.high, valid.low, valid.high) == (-3.0, 0.0, -4.0, 1.0)
    assert ScoreSpace("percent", True).ranges(np.array([10.0])) == (PERCENT_RANGE, PERCENT_RANGE)
    with pytest.raises(ValueError, match="unknown scale"):
        ScoreSpace.resolve("percentage", "val_accuracy", True, [])
    with pytest.raises(ValueError, match="low < high"):
        CurveRange(1.0, 1.0)


def test_the_tail_starts_after_the_steepest_rise() -> None:
    s_shaped = [12.0, 13.5, 48.0, 80.0, 88.0, 91.0]  # the steepest rise is 13.5 -> 48.0
    assert tail_start(s_shaped, skip_lag=True, fit_window=0, min_points=3) == 2
    assert tail_start(s_shaped, skip_lag=False, fit_window=0, min_points=3) == 0  # the seed: every epoch
    concave = list(90.0 - 40.0 * np.exp(-0.3 * EPOCHS))
    assert tail_start(concave, skip_lag=True, fit_window=0, min_points=3) == 1  # its steepest rise is the first


def test_the_fit_window_keeps_the_latest_epochs_and_enough_points() -> None:
    concave = list(90.0 - 40.0 * np.exp(-0.3 * EPOCHS))
    assert tail_start(concave, skip_lag=True, fit_window=8, min_points=3) == 25 - 8
    assert tail_start(concave[:5], skip_lag=True, fit_window=8, min_points=3) == 1
    assert tail_start(concave[:5], skip_lag=False, fit_window=8, min_points=3) == 0
    # a late steepest rise never leaves fewer than min_points values
    late = [10.0] * 9 + [60.0]
    assert tail_start(late, skip_lag=True, fit_window=0, min_points=3) == 7
    assert tail_start(late, skip_lag=True, fit_window=2, min_points=4) == 6
    assert tail_start([], skip_lag=True, fit_window=8, min_points=3) == 0
    assert tail_start([5.0, np.nan, 7.0, 30.0], skip_lag=True, fit_window=0, min_points=1) == 3
