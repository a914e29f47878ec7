"""Normalisation statistics: exact against NumPy, cached, and carried by Keras layers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from scinas.data import statistics as statistics_module
from scinas.data.base import NormalizationConfig
from scinas.data.cache import ensure_cache
from scinas.data.pipeline import PreparedDataset
from scinas.data.statistics import (
    NormalizationStatistics,
    compute_statistics,
    load_or_compute_statistics,
    statistics_path,
)
from scinas.errors import DataError

MakeGenerator = Callable[..., Any]  # the fixture of conftest.py


def _numpy_statistics(values: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    values = values.astype(np.float64)
    axis: Any = {"feature": 0, "channel": (0, 1), "global": None}[mode]
    mean, std = values.mean(axis=axis), values.std(axis=axis)
    return mean, np.where(std <= 1e-6 * np.maximum(1.0, np.abs(mean)), 1.0, std)


@pytest.mark.parametrize("mode", ["feature", "channel", "global"])
def test_input_statistics_equal_numpy_on_the_training_split(make_generator: MakeGenerator, cache_root: Path,
                                                           mode: str) -> None:
    data = PreparedDataset.prepare(make_generator(inputs=mode), cache_root, progress=False)
    x, y = data.arrays("train")
    mean, std = _numpy_statistics(x, mode)
    stats = data.statistics
    assert stats.inputs == mode and stats.n_samples == 30 == len(x)
    assert stats.input_mean.shape == mean.shape
    np.testing.assert_allclose(stats.input_mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.input_std, std, rtol=1e-12)
    np.testing.assert_allclose(stats.target_mean, y.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.target_std, y.astype(np.float64).std(axis=0), rtol=1e-12)
    # the validation and test samples played no part
    everything = np.concatenate([x, data.arrays("validation")[0], data.arrays("test")[0]])
    assert not np.allclose(stats.input_mean, _numpy_statistics(everything, mode)[0])


def test_constant_elements_are_centred_not_scaled(make_generator: MakeGenerator, cache_root: Path) -> None:
    stats = PreparedDataset.prepare(make_generator(), cache_root, progress=False).statistics
    assert stats.input_mean[-1, -1] == 5.0 and stats.input_std[-1, -1] == 1.0
    assert np.all(stats.input_std[:-1] > 0.5)
    normalized = stats.normalize_inputs(np.full((1, 4, 2), 5.0, np.float32)).numpy()
    assert normalized[0, -1, -1] == 0.0


def test_none_modes_are_identities(make_generator: MakeGenerator, cache_root: Path) -> None:
    stats = PreparedDataset.prepare(make_generator(inputs="none", targets="none"), cache_root,
                                    progress=False).statistics
    x = np.arange(8, dtype=np.float32).reshape(1, 4, 2)
    assert np.array_equal(stats.normalize_inputs(x).numpy(), x)
    assert np.array_equal(stats.normalize_targets(x).numpy(), x)
    assert stats.target_output_layer() is None
    assert np.array_equal(np.asarray(stats.input_layer()(x)), x)


@pytest.mark.parametrize("n", [1, 13, 29])
def test_statistics_of_the_first_n_training_samples(make_generator: MakeGenerator, cache_root: Path, n: int) -> None:
    data = PreparedDataset.prepare(make_generator(), cache_root, stats_samples=n, progress=False)
    x, _ = data.arrays("train")
    assert data.statistics.n_samples == n
    mean, std = _numpy_statistics(x[:n], "feature")
    np.testing.assert_allclose(data.statistics.input_mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(data.statistics.input_std, std, rtol=1e-12)
    assert statistics_path(data.cache, NormalizationConfig("feature", "feature"), n).exists()


def test_small_chunks_merge_exactly(make_generator: MakeGenerator, cache_root: Path) -> None:
    generator = make_generator(inputs="channel", n_samples=200, n_shards=7, scale=1e3)
    cache = ensure_cache(generator, cache_root, progress=False)
    stats = compute_statistics(cache, 150, generator.normalization, chunk_samples=4)
    x, y = cache.read_range(0, 150)
    mean, std = _numpy_statistics(x, "channel")
    np.testing.assert_allclose(stats.input_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(stats.input_std, std, rtol=1e-12)
    np.testing.assert_allclose(stats.target_std, y.astype(np.float64).std(axis=0), rtol=1e-12)


def test_invalid_stats_samples(make_generator: MakeGenerator, cache_root: Path,
                               caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(DataError, match="use_stats_of = 0"):
        PreparedDataset.prepare(make_generator(), cache_root, stats_samples=0, progress=False)
    with caplog.at_level(logging.WARNING):
        data = PreparedDataset.prepare(make_generator(), cache_root, stats_samples=1000, progress=False)
    assert data.statistics.n_samples == 30 and "exceeds the 30 training samples" in caplog.text


def test_statistics_are_cached_and_reused(make_generator: MakeGenerator, cache_root: Path,
                                          monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    first = PreparedDataset.prepare(make_generator(), cache_root, progress=False).statistics
    calls: list[int] = []
    real = statistics_module.compute_statistics

    def counting(*args: Any, **kwargs: Any) -> NormalizationStatistics:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(statistics_module, "compute_statistics", counting)
    data = PreparedDataset.prepare(make_generator(), cache_root, progress=False)
    assert calls == []
    np.testing.assert_array_equal(data.statistics.input_std, first.input_std)
    np.testing.assert_array_equal(data.statistics.target_mean, first.target_mean)

    PreparedDataset.prepare(make_generator(inputs="global"), cache_root, progress=False)  # another mode
    assert calls == [1]
    path = statistics_path(data.cache, NormalizationConfig("feature", "feature"), 30)
    path.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        again = load_or_compute_statistics(data.cache, 30, NormalizationConfig("feature", "feature"))
    assert calls == [1, 1] and "recomputing" in caplog.text
    np.testing.assert_array_equal(again.input_mean, first.input_mean)
    assert NormalizationStatistics.load(path).n_samples == 30


def test_save_load_round_trip(tmp_path: Path) -> None:
    stats = NormalizationStatistics("channel", "feature", np.array([1.0, -2.0]), np.array([0.5, 3.0]),
                                    np.array([4.0, 5.0, 6.0]), np.array([1.0, 2.0, 0.25]), n_samples=17)
    stats.save(tmp_path / "n.npz")
    loaded = NormalizationStatistics.load(tmp_path / "n.npz")
    assert (loaded.inputs, loaded.targets, loaded.n_samples) == ("channel", "feature", 17)
    for name in ("input_mean", "input_std", "target_mean", "target_std"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(stats, name))
    assert [p.name for p in tmp_path.iterdir()] == ["n.npz"]
    with pytest.raises(DataError, match="cannot read"):
        NormalizationStatistics.load(tmp_path / "missing.npz")


def test_normalize_denormalize_round_trip(make_generator: MakeGenerator, cache_root: Path) -> None:
    data = PreparedDataset.prepare(make_generator(), cache_root, progress=False)
    stats = data.statistics
    _, y = data.arrays("test")
    normalized = stats.normalize_targets(y)
    np.testing.assert_allclose(stats.denormalize_targets(normalized).numpy(), y, rtol=1e-5, atol=1e-5)
    _, y_train = data.arrays("train", normalize=True)
    np.testing.assert_allclose(y_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y_train.std(axis=0), 1.0, atol=1e-5)


@pytest.mark.parametrize("mode", ["feature", "channel", "global", "none"])
def test_layers_match_the_ops_and_survive_a_keras_file(make_generator: MakeGenerator, cache_root: Path,
                                                       tmp_path: Path, mode: str) -> None:
    data = PreparedDataset.prepare(make_generator(inputs=mode), cache_root, progress=False)
    stats = data.statistics
    x, _ = data.arrays("validation")
    np.testing.assert_allclose(np.asarray(stats.input_layer()(x)), stats.normalize_inputs(x).numpy(),
                               rtol=1e-6, atol=1e-6)

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(4, 2))
    hidden = keras.layers.Dense(3)(keras.layers.Flatten()(stats.input_layer()(inputs)))
    output_layer = stats.target_output_layer()
    assert output_layer is not None
    model = keras.Model(inputs, output_layer(hidden))
    expected = model.predict(x, verbose=0)
    raw = keras.Model(inputs, hidden).predict(x, verbose=0)
    np.testing.assert_allclose(expected, stats.denormalize_targets(raw).numpy(), rtol=1e-5, atol=1e-5)

    model.save(tmp_path / "m.keras")
    keras.backend.clear_session()
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_ops_work_inside_a_traced_function(make_generator: MakeGenerator, cache_root: Path) -> None:
    stats = PreparedDataset.prepare(make_generator(inputs="channel"), cache_root, progress=False).statistics
    x = np.ones((2, 4, 2), np.float32)

    traced = tf.function(stats.normalize_inputs)
    np.testing.assert_allclose(traced(x).numpy(), (x - stats.input_mean) / stats.input_std, rtol=1e-6)
