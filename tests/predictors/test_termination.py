"""The early-termination rule on synthetic learning curves."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from scinas.config.experiment import EarlyTerminationConfig
from scinas.predictors.termination import CurveTermination, EpochVerdict

BUDGET = 25
EPOCHS = np.arange(1, BUDGET + 1, dtype=np.float64)
ACCURACY = 0.9 - 0.5 * np.exp(-0.4 * EPOCHS)          # a fraction, saturating at 0.9
LOSS = 0.3 + 2.0 * np.exp(-0.4 * EPOCHS)              # minimised, saturating at 0.3

DEFAULT = EarlyTerminationConfig(monitor="val_accuracy")
SEED = dataclasses.replace(DEFAULT, skip_lag=False, fit_window=0)  # the A4NN rule: fit every epoch
# flat for a few epochs, then a steep rise to a plateau: what small CNNs with batch normalisation show
S_SHAPED = 0.12 + 0.86 / (1.0 + np.exp(-0.9 * (EPOCHS - 7.0)))


def _run(settings: EarlyTerminationConfig, values: np.ndarray | list[float]) -> tuple[CurveTermination,
                                                                                     list[EpochVerdict]]:
    rule = CurveTermination(settings, BUDGET)
    verdicts = []
    for value in values:
        verdicts.append(rule.observe(float(value)))
        if rule.converged:
            break
    return rule, verdicts


def test_a_saturating_curve_converges_on_a_good_prediction() -> None:
    rule, verdicts = _run(DEFAULT, ACCURACY)
    assert rule.converged and rule.converged_epoch == len(verdicts) < BUDGET
    last = verdicts[-1]
    assert last.converged and last.prediction is not None and last.fit is not None and last.fit.success
    assert last.prediction == pytest.approx(ACCURACY[-1], abs=0.01)  # within one point
    summary = rule.summary(measured=float(ACCURACY[len(verdicts) - 1]))
    assert summary.estimate == last.prediction and summary.converged_epoch == rule.converged_epoch
    assert set(summary.curve_parameters) == {"a", "b", "c"} and summary.curve == "shifted_exponential"
    fields = summary.as_fields()
    assert fields["monitor"] == "val_accuracy" and fields["measured"] == pytest.approx(ACCURACY[len(verdicts) - 1])


@pytest.mark.parametrize(("min_epochs", "window"), [(4, 3), (7, 2), (1, 5)])
def test_no_prediction_before_min_epochs_and_no_stop_before_the_window_fills(min_epochs: int, window: int) -> None:
    settings = dataclasses.replace(DEFAULT, min_epochs=min_epochs, window=window, tolerance=50.0)
    rule, verdicts = _run(settings, ACCURACY)
    for verdict in verdicts[: min_epochs - 1]:
        assert verdict.prediction is None and verdict.fit is None and not verdict.converged
    assert rule.converged_epoch is not None and rule.converged_epoch >= max(min_epochs, 3) + window - 1


def test_a_failed_fit_breaks_the_agreement_window() -> None:
    clean, _ = _run(DEFAULT, ACCURACY)
    assert clean.converged_epoch is not None
    stop = clean.converged_epoch
    broken = ACCURACY.copy()
    broken[stop - 1] = math.nan  # the monitored value is missing at the epoch it would have stopped
    rule, verdicts = _run(DEFAULT, broken)
    failed = verdicts[stop - 1]
    assert failed.prediction is None and failed.fit is not None and not failed.fit.success
    assert not failed.converged
    assert rule.converged_epoch is not None and rule.converged_epoch >= stop + DEFAULT.window


def test_diverging_fits_never_stop_a_trial() -> None:
    # a straight line up: the logarithmic curve overshoots 100 points by the far target every time
    line = 0.1 + 0.07 * EPOCHS[:12]
    settings = dataclasses.replace(DEFAULT, curve="logarithmic", tolerance=1e6)
    rule = CurveTermination(settings, 10_000)
    verdicts = [rule.observe(float(v)) for v in line]
    assert not rule.converged and all(v.prediction is None for v in verdicts)
    assert all(v.fit is not None and "plausible range" in (v.fit.reason or "") for v in verdicts[3:])
    assert rule.summary(measured=0.97).estimate == 0.97  # not converged: the measured value


def test_a_curve_that_keeps_moving_does_not_converge() -> None:
    zigzag = 0.5 + 0.3 * (np.arange(BUDGET) % 2)
    rule, _ = _run(DEFAULT, zigzag)
    assert not rule.converged
    summary = rule.summary(measured=0.8)
    assert summary.estimate == summary.measured == 0.8 and summary.converged_epoch is None


def test_percent_and_fraction_give_the_same_decisions() -> None:
    fraction, fraction_verdicts = _run(DEFAULT, ACCURACY)
    percent, percent_verdicts = _run(DEFAULT, ACCURACY * 100)
    assert percent.converged_epoch == fraction.converged_epoch
    for a, b in zip(fraction_verdicts, percent_verdicts, strict=True):
        assert (a.prediction is None) == (b.prediction is None)
        if a.prediction is not None and b.prediction is not None:
            assert b.prediction == pytest.approx(100 * a.prediction, rel=1e-6)
    explicit, _ = _run(dataclasses.replace(DEFAULT, scale="percent"), ACCURACY * 100)
    assert explicit.converged_epoch == fraction.converged_epoch


def test_the_tolerance_is_in_points_of_percent() -> None:
    slow = 0.9 - 0.5 * EPOCHS ** -0.7  # not of the fitted family: the predictions drift for a while
    tight, tight_verdicts = _run(dataclasses.replace(DEFAULT, tolerance=0.05), slow)
    loose, _ = _run(dataclasses.replace(DEFAULT, tolerance=5.0), slow)
    assert loose.converged_epoch is not None
    assert tight.converged_epoch is None or loose.converged_epoch < tight.converged_epoch
    window = [v.prediction for v in tight_verdicts[loose.converged_epoch - 3: loose.converged_epoch]]
    spread = 100 * (max(p or 0 for p in window) - min(p or 0 for p in window))
    assert 0.1 < spread <= 10.0  # in points: more than the tight tolerance allows, within the loose one


def test_a_minimised_loss_converges_on_the_raw_scale() -> None:
    settings = EarlyTerminationConfig(monitor="val_loss", mode="min", tolerance=0.01)
    rule, verdicts = _run(settings, LOSS)
    assert rule.space().scale == "raw" and not rule.maximize
    assert rule.converged and verdicts[-1].prediction == pytest.approx(LOSS[-1], abs=0.02)
    assert rule.converged_epoch is not None and rule.converged_epoch < BUDGET


def test_a_minimised_fraction_is_mirrored_like_an_accuracy() -> None:
    accuracy, accuracy_verdicts = _run(DEFAULT, ACCURACY)
    errors, error_verdicts = _run(EarlyTerminationConfig(monitor="val_error", mode="min", scale="fraction"),
                                  1.0 - ACCURACY)
    assert errors.converged_epoch == accuracy.converged_epoch
    assert error_verdicts[-1].prediction == pytest.approx(1.0 - (accuracy_verdicts[-1].prediction or 0), abs=1e-6)


def test_mode_auto_follows_the_metric_name() -> None:
    assert CurveTermination(EarlyTerminationConfig(monitor="val_loss", mode="auto"), BUDGET).maximize is False
    assert CurveTermination(EarlyTerminationConfig(monitor="val_accuracy", mode="auto"), BUDGET).maximize is True
    with pytest.raises(ValueError, match="direction"):
        CurveTermination(EarlyTerminationConfig(monitor="val_custom", mode="auto"), BUDGET)


def test_invalid_settings_are_refused() -> None:
    for bad in ({"window": 1}, {"min_epochs": 0}, {"tolerance": 0.0}):
        with pytest.raises(ValueError, match="window >= 2"):
            CurveTermination(dataclasses.replace(DEFAULT, **bad), BUDGET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target epoch"):
        CurveTermination(DEFAULT, 0)


@pytest.mark.parametrize("interrupted_after", [3, 4, 5, 6])
def test_restoring_the_history_continues_exactly(interrupted_after: int) -> None:
    noisy = ACCURACY + np.random.default_rng(1).normal(0.0, 0.004, BUDGET)
    whole, verdicts = _run(DEFAULT, noisy)
    resumed = CurveTermination(DEFAULT, BUDGET)
    resumed.restore(noisy[:interrupted_after].tolist(), [v.prediction for v in verdicts[:interrupted_after]])
    assert resumed.epoch == interrupted_after
    continued = []
    while not resumed.converged:
        continued.append(resumed.observe(float(noisy[resumed.epoch])))
    assert resumed.converged_epoch == whole.converged_epoch
    assert [v.prediction for v in continued] == [v.prediction for v in verdicts[interrupted_after:]]
    assert resumed.summary(0.0) == whole.summary(0.0)


def test_restoring_a_converged_history_keeps_the_verdict_and_the_parameters() -> None:
    whole, verdicts = _run(DEFAULT, ACCURACY)
    restored = CurveTermination(DEFAULT, BUDGET)
    restored.restore(ACCURACY[: len(verdicts)].tolist(), [v.prediction for v in verdicts])
    assert restored.converged and restored.converged_epoch == whole.converged_epoch
    assert restored.summary(0.5) == whole.summary(0.5)
    with pytest.raises(ValueError, match="predictions"):
        restored.restore([0.1, 0.2], [None])


def test_an_s_shaped_start_is_left_out_of_the_fit() -> None:
    rule, verdicts = _run(DEFAULT, S_SHAPED)
    assert rule.converged and rule.converged_epoch is not None and rule.converged_epoch < BUDGET
    assert verdicts[-1].prediction == pytest.approx(S_SHAPED[-1], abs=0.005)  # within half a point
    last = verdicts[-1].fit
    assert last is not None and last.n_points == DEFAULT.fit_window  # only the latest epochs were fitted
    # the whole history (the seed's rule) cannot be followed by a one-bend curve: no stop at all
    seed, seed_verdicts = _run(SEED, S_SHAPED)
    assert not seed.converged
    assert all(v.fit is None or v.fit.n_points == v.epoch for v in seed_verdicts)


def test_the_seed_settings_fit_every_epoch() -> None:
    rule, verdicts = _run(SEED, ACCURACY)
    assert rule.converged
    assert [v.fit.n_points for v in verdicts if v.fit is not None] == list(range(SEED.min_epochs, len(verdicts) + 1))
    assert verdicts[-1].prediction == pytest.approx(ACCURACY[-1], abs=0.01)
