"""Data-free priors: values checked by hand on tiny networks, failures recorded per candidate."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import pytest

from scinas.priors import PRIORS, FlopsPrior, ParamsPrior, PriorUnavailable, SynflowPrior, score_architectures
from scinas.search.nasbench201 import EDGES, NB201Architecture, NB201Domain

W1 = np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32)
W2 = np.array([[-3.0], [0.5]], dtype=np.float32)


def _two_layers() -> keras.Model:
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(2, use_bias=False)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False)(hidden))
    model.layers[1].kernel.assign(W1)
    model.layers[2].kernel.assign(W2)
    return model


def test_synflow_matches_the_hand_computation() -> None:
    # |W1| = [[.5, 1], [2, .25]], |W2| = [3, .5]; h = 1ᵀ|W1| = [2.5, 1.25]; R = h·|W2| = 8.125.
    # Σ|W1_ij|·|W2_j| = (.5 + 2)·3 + (1 + .25)·.5 = 8.125 and Σ h_j·|W2_j| = 8.125: the score is 16.25.
    model = _two_layers()
    assert SynflowPrior(log_scale=False).score(model) == pytest.approx(16.25, rel=1e-6)
    assert SynflowPrior().score(model) == pytest.approx(math.log10(16.25), rel=1e-6)
    # the weights are restored, signs included
    np.testing.assert_array_equal(model.layers[1].kernel.numpy(), W1)
    np.testing.assert_array_equal(model.layers[2].kernel.numpy(), W2)


def test_synflow_of_a_network_that_carries_no_signal_is_unavailable() -> None:
    model = _two_layers()
    model.layers[2].kernel.assign(np.zeros((2, 1), np.float32))
    with pytest.raises(PriorUnavailable, match="no signal"):
        SynflowPrior().score(model)
    assert SynflowPrior(log_scale=False).score(model) == 0.0


def test_params_and_flops_count_by_hand() -> None:
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 3·3·2·4 + 4 weights; 8·8·(3·3·2)·4 MACs
    x = keras.layers.BatchNormalization()(x)  # 4·2 trainable + 4·2 statistics; 8·8·4 ops
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))  # 4·3 + 3 weights; 12 MACs
    assert ParamsPrior().score(model) == 76 + 8 + 15
    assert ParamsPrior(trainable_only=False).score(model) == 76 + 16 + 15
    assert FlopsPrior().score(model) == 8 * 8 * 18 * 4 + 8 * 8 * 4 + 12


class _Scale(keras.layers.Layer):
    """A layer with a weight and no FLOP rule."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(1,), initializer="ones")

    def call(self, x: Any) -> Any:
        return x * self.scale


def test_a_layer_without_a_flop_count_makes_the_prior_unavailable_or_counts_zero() -> None:
    inputs = keras.Input((3,))
    model = keras.Model(inputs, _Scale()(keras.layers.Dense(2)(inputs)))
    with pytest.raises(PriorUnavailable, match="no FLOP count for a _Scale layer"):
        FlopsPrior().score(model)
    assert FlopsPrior(unknown_layers="ignore").score(model) == 6


def test_a_candidate_whose_prior_cannot_be_computed_is_recorded_and_the_others_are_scored() -> None:
    def build(kind: str) -> keras.Model:
        inputs = keras.Input((3,))
        if kind == "broken":
            raise ValueError("this cell has no network")
        hidden = keras.layers.Dense(4 if kind == "wide" else 2)(inputs)
        return keras.Model(inputs, _Scale()(hidden) if kind == "odd" else hidden)

    scores = score_architectures(FlopsPrior(), build, ["wide", "broken", "odd", "narrow"])
    np.testing.assert_array_equal(scores.values[[0, 3]], [12.0, 6.0])
    assert np.isnan(scores.values[1]) and np.isnan(scores.values[2])
    assert list(scores.computed) == [True, False, False, True]
    assert "does not build" in scores.failures[1] and "this cell has no network" in scores.failures[1]
    assert "PriorUnavailable" in scores.failures[2]


@pytest.mark.slow  # builds seven Keras networks
def test_the_nas_bench_201_network_orders_cells_by_capacity() -> None:
    domain = NB201Domain()
    convs = NB201Architecture(("nor_conv_3x3",) * len(EDGES))
    empty = NB201Architecture(("none",) * len(EDGES))
    mixed = NB201Architecture(("skip_connect", "none", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3"))
    params = {cell: ParamsPrior().score(domain.network(cell)) for cell in (convs, empty, mixed)}
    assert params[convs] > params[mixed] > params[empty]
    flops = {cell: FlopsPrior().score(domain.network(cell)) for cell in (convs, mixed)}
    assert flops[convs] > flops[mixed]
    assert SynflowPrior().score(domain.network(convs)) > SynflowPrior().score(domain.network(mixed))
    # random weights come from a seeded generator: the same cell scores the same
    assert SynflowPrior().score(domain.network(mixed)) == SynflowPrior().score(domain.network(mixed))
    scores = score_architectures(SynflowPrior(), domain.network, [empty])
    assert "no signal" in scores.failures[0]


def test_the_registry_lists_the_priors() -> None:
    assert {"params", "flops", "synflow"} <= set(PRIORS.names())
