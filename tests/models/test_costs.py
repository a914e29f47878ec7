"""Cost measures: FLOPs against hand counts, latency without tracing time, the TOML table."""

from __future__ import annotations

import time
from typing import Any

import keras
import pytest

from scinas.config.experiment import CostConfig
from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.models.costs import count_flops, measure_costs, measure_latency


def _conv_dense(channels: int = 3) -> keras.Model:
    inputs = keras.Input((8, 8, channels))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(2, use_bias=False)(x)
    return keras.Model(inputs, outputs)


def test_flops_match_the_hand_count_per_sample() -> None:
    conv = 2 * 8 * 8 * (3 * 3 * 3) * 4
    dense = 2 * (8 * 8 * 4) * 2
    assert count_flops(_conv_dense()) == conv + dense


def test_flops_scale_with_the_input_channels() -> None:
    assert count_flops(_conv_dense(6)) - count_flops(_conv_dense(3)) == 2 * 8 * 8 * 9 * 3 * 4


def test_flops_of_a_1d_model() -> None:
    inputs = keras.Input((20, 2))
    x = keras.layers.Conv1D(3, 5, padding="same", use_bias=False)(inputs)
    outputs = keras.layers.GlobalAveragePooling1D()(x)
    flops = count_flops(keras.Model(inputs, outputs))
    assert flops >= 2 * 20 * 5 * 2 * 3


class _SlowToTrace(keras.layers.Layer):
    """Sleeps in Python: that runs once, while the function is traced, never in the graph."""

    def call(self, inputs: Any) -> Any:
        time.sleep(0.5)
        return inputs * 2.0


def test_latency_excludes_tracing_and_is_a_median() -> None:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, _SlowToTrace()(inputs))
    latency = measure_latency(model, batch_size=3, warmup=0, repeats=5)
    assert 0 < latency < 0.25


def test_measure_costs_respects_switches() -> None:
    model = _conv_dense()
    everything = measure_costs(model, CostConfig(latency_repeats=3))
    assert everything.params == model.count_params()
    assert everything.flops is not None and everything.flops > 0
    assert everything.latency_s is not None and everything.latency_s > 0
    nothing = measure_costs(model, CostConfig(flops=False, latency=False))
    assert nothing.as_fields() == {"params": model.count_params(), "flops": None, "latency_s": None}


def test_cost_config_parse_and_errors() -> None:
    config = CostConfig.parse(Table({"latency_batch_size": 16, "flops": False}, file="c.toml", path="A.costs"))
    assert config == CostConfig(flops=False, latency_batch_size=16)
    with pytest.raises(ConfigError, match=r"A\.costs.*latency_repeats"):
        CostConfig.parse(Table({"latency_repeats": 0}, file="c.toml", path="A.costs"))
    with pytest.raises(ConfigError, match="latency_batch"):
        CostConfig.parse(Table({"latency_batchsize": 4}, file="c.toml", path="A.costs"))
