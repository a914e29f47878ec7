"""The bilevel DARTS optimisation: the second-order α gradient against finite differences, the
updates of both levels, the cosine schedule and an exact save/restore."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.data.base import DatasetInfo
from scinas.models.supernet import Supernet, SupernetSettings
from scinas.training.bilevel import BilevelSearch, BilevelSettings

INFO = DatasetInfo("tiny", "classification", (4, 4, 1), (), {"train": 8}, n_classes=3)
# tanh: a smooth network, so that finite differences never straddle a ReLU's kink
SETTINGS = SupernetSettings(operators=("identity", "3x3 dconv", "3x3 avgpool"), layers=3, nodes=1, filters=2,
                            activation="tanh")


@pytest.fixture
def float64() -> Iterator[None]:
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(before)


def _batches(seed: int, n: int = 6) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2 * n, 4, 4, 1)).astype(keras.config.floatx())
    y = rng.integers(3, size=2 * n)
    return (x[:n], y[:n]), (x[n:], y[n:])


def _search(order: int, seed: int = 0, hessian_epsilon: float = 0.01) -> BilevelSearch:
    keras.utils.set_random_seed(seed)
    model = Supernet(SETTINGS, INFO, seed=seed)
    settings = BilevelSettings(epochs=4, order=order, learning_rate=0.1, hessian_epsilon=hessian_epsilon)
    return BilevelSearch(model, keras.losses.SparseCategoricalCrossentropy(), settings, compiled=False)


@pytest.mark.slow
def test_the_second_order_gradient_matches_finite_differences(float64: None) -> None:
    """The exact gradient of the unrolled validation loss, by central differences on every α entry.

    The Hessian-vector product's own difference step is made small here (r = 1e-4 in float64);
    DARTS' r = 0.01 (the default, for float32) is only an approximation, and on a network this
    small a coarse one."""
    search = _search(order=2, hessian_epsilon=1e-4)
    (xt, yt), (xv, yv) = _batches(0)
    search.train_epoch(0, [((xt, yt), (xv, yv))])  # one real step: the momentum is no longer zero
    model = search.model
    learning_rate = 0.1

    def unrolled_validation_loss() -> float:
        """L_val(w'(α), α) with w' the next SGD step, computed directly (the weights restored)."""
        saved = [np.array(w.numpy()) for w in model.network_weights]
        for weight, value in zip(model.network_weights, search.virtual_weights(xt, yt, learning_rate), strict=True):
            weight.assign(value)
        loss = float(search.loss_of(xv, yv))
        for weight, value in zip(model.network_weights, saved, strict=True):
            weight.assign(value)
        return loss

    analytic = [np.asarray(g) for g in search.architecture_gradients(xt, yt, xv, yv, learning_rate)]
    first_order = [np.asarray(g) for g in search._alpha_gradients(xv, yv)]
    step = 1e-5
    for alpha, gradient, first in zip(model.architecture_weights, analytic, first_order, strict=True):
        base = np.array(alpha.numpy())
        numeric = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            for sign in (1.0, -1.0):
                moved = base.copy()
                moved[index] += sign * step
                alpha.assign(moved)
                numeric[index] += sign * unrolled_validation_loss() / (2 * step)
            alpha.assign(base)
        scale = np.abs(numeric).max()
        assert scale > 0
        assert np.abs(gradient - numeric).max() < 1e-3 * scale + 1e-7
        # the unrolled term matters here: the first-order gradient is measurably different
        assert np.abs(first - numeric).max() > 10 * np.abs(gradient - numeric).max()
    # and the finite-difference product converges as its step shrinks
    exact = np.asarray(search.architecture_gradients(xt, yt, xv, yv, learning_rate)[0])
    search.settings = dataclasses.replace(search.settings, hessian_epsilon=0.01)
    rough = np.asarray(search.architecture_gradients(xt, yt, xv, yv, learning_rate)[0])
    assert np.abs(rough - exact).max() > np.abs(exact - analytic[0]).max()


def test_both_levels_move_and_the_learning_rate_follows_the_cosine() -> None:
    settings = BilevelSettings(epochs=4)
    assert settings.learning_rate_at(0) == pytest.approx(0.025) and settings.learning_rate_at(4) == pytest.approx(0.001)
    assert settings.learning_rate_at(2) == pytest.approx(0.013)
    search = _search(order=1)
    batches = [_batches(1), _batches(2)]
    search.build(batches[0][0][0])
    alpha = np.array(search.model.alpha_normal.numpy())
    head = np.array(search.model.head.kernel.numpy())
    search.train_epoch(1, batches)
    assert float(search.weight_optimizer.learning_rate.numpy()) == pytest.approx(search.settings.learning_rate_at(1))
    assert not np.allclose(search.model.alpha_normal.numpy(), alpha)
    assert not np.allclose(search.model.head.kernel.numpy(), head)
    assert int(search.arch_optimizer.iterations.numpy()) == 2 == int(search.weight_optimizer.iterations.numpy())


def test_a_saved_search_continues_exactly(tmp_path: Path) -> None:
    batches = [_batches(3), _batches(4)]
    straight = _search(order=1, seed=5)
    for epoch in range(2):
        straight.train_epoch(epoch, batches)

    first = _search(order=1, seed=5)
    first.train_epoch(0, batches)
    first.save(tmp_path / "state", extra={"epoch": 1})
    resumed = _search(order=1, seed=7)  # other initial α: everything must come from the saved state
    assert resumed.load(tmp_path / "state", batches[0][0][0]) == {"epoch": 1}
    resumed.train_epoch(1, batches)
    for a, b in zip(straight.model.architecture_weights, resumed.model.architecture_weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(straight.model.network_weights, resumed.model.network_weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
