"""PreparedDataset: exact disjoint splits, seeded shuffling, batching, repetition, normalisation."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from scinas.data.base import SPLITS, DatasetInfo
from scinas.data.pipeline import PreparedDataset
from scinas.errors import DataError

MakeGenerator = Callable[..., Any]  # the fixture of conftest.py


def _tags(dataset: tf.data.Dataset) -> list[int]:
    """The global indices of one pass over ``dataset`` (target column 0, un-normalised)."""
    return [int(t) for _, y in dataset.as_numpy_iterator() for t in y[:, 0]]


@pytest.fixture
def data(make_generator: MakeGenerator, cache_root: Path) -> PreparedDataset:
    return PreparedDataset.prepare(make_generator(), cache_root, progress=False)


def test_prepare_reuses_the_cache(make_generator: MakeGenerator, cache_root: Path, data: PreparedDataset) -> None:
    again = make_generator()
    second = PreparedDataset.prepare(again, cache_root, progress=False)
    assert again.calls == []
    assert second.cache_dir == data.cache_dir and second.cache_dir.parent == cache_root
    assert isinstance(second.info, DatasetInfo) and second.info.input_shape == (4, 2)
    assert "train=30" in repr(second)


def test_splits_are_exact_disjoint_and_ordered(data: PreparedDataset) -> None:
    sizes = {name: data.size(name) for name in SPLITS}
    assert sizes == data.info.split_sizes == {"train": 30, "validation": 10, "test": 10}
    expected = {"train": range(30), "validation": range(30, 40), "test": range(40, 50)}
    for name in SPLITS:
        x, y = data.arrays(name)
        assert y[:, 0].tolist() == list(expected[name])
        assert x.shape == (sizes[name], 4, 2) and x.dtype == np.float32
        streamed = data.split(name, shuffle=False, normalize=False)
        assert _tags(streamed) == list(expected[name])
        batches = list(streamed.as_numpy_iterator())
        assert np.array_equal(np.concatenate([b[0] for b in batches]), x)
    # the evaluation splits are deterministic by default
    assert _tags(data.split("validation", normalize=False)) == list(range(30, 40))


def test_uneven_splits_across_many_shards(make_generator: MakeGenerator, cache_root: Path) -> None:
    data = PreparedDataset.prepare(make_generator(n_samples=37, n_shards=5, splits=(0.5, 0.3, 0.2)),
                                   cache_root, progress=False)
    tags = [data.arrays(name)[1][:, 0].tolist() for name in SPLITS]
    assert [len(t) for t in tags] == [19, 11, 7]
    assert list(itertools.chain(*tags)) == list(range(37))
    assert sorted(_tags(data.split("train", normalize=False))) == list(range(19))


def test_training_shuffle_is_seeded_and_changes_between_epochs(data: PreparedDataset) -> None:
    train = data.split("train", normalize=False, seed=5)
    first, second = _tags(train), _tags(train)
    assert sorted(first) == sorted(second) == list(range(30))
    assert first != second and first != list(range(30))
    replay = data.split("train", normalize=False, seed=5)
    assert _tags(replay) == first and _tags(replay) == second
    assert _tags(data.split("train", normalize=False, seed=6)) != first


def test_shuffle_options(make_generator: MakeGenerator, cache_root: Path, data: PreparedDataset) -> None:
    assert _tags(data.split("train", shuffle=False, normalize=False)) == list(range(30))
    shuffled_test = _tags(data.split("test", shuffle=True, normalize=False, seed=1))
    assert sorted(shuffled_test) == list(range(40, 50))
    unbuffered = PreparedDataset.prepare(make_generator(shuffle_buffer_size=0), cache_root, progress=False)
    assert sorted(_tags(unbuffered.split("train", normalize=False))) == list(range(30))


def test_batch_size_default_and_override(data: PreparedDataset) -> None:
    default = [len(y) for _, y in data.split("train").as_numpy_iterator()]
    assert default == [8, 8, 8, 6]
    assert data.split("train").cardinality() == 4  # known to Keras before the first epoch
    override = [len(y) for _, y in data.split("train", batch_size=7).as_numpy_iterator()]
    assert override == [7, 7, 7, 7, 2]
    dropped = data.split("train", batch_size=7, drop_remainder=True)
    assert dropped.element_spec[0].shape.as_list() == [7, 4, 2]
    assert [len(y) for _, y in dropped.as_numpy_iterator()] == [7, 7, 7, 7]
    with pytest.raises(DataError, match="batch_size"):
        data.split("train", batch_size=0)


def test_repeat_streams_reshuffled_epochs(data: PreparedDataset) -> None:
    stream = data.split("train", batch_size=10, repeat=True, normalize=False, seed=2)
    tags = [int(t) for _, y in stream.take(9).as_numpy_iterator() for t in y[:, 0]]
    assert len(tags) == 90
    counts = np.bincount(tags, minlength=30)
    assert counts.min() >= 2 and counts.max() <= 4  # epochs overlap only inside the shuffle buffer
    assert stream.cardinality() == tf.data.INFINITE_CARDINALITY
    evaluation = data.split("test", batch_size=4, repeat=True, normalize=False)
    tags = [int(t) for _, y in evaluation.take(4).as_numpy_iterator() for t in y[:, 0]]
    assert tags == [*range(40, 50), *range(40, 46)]


def test_normalised_batches_use_the_training_statistics(data: PreparedDataset) -> None:
    x, y = data.arrays("validation", normalize=True)
    batches = list(data.split("validation").as_numpy_iterator())
    np.testing.assert_allclose(np.concatenate([b[0] for b in batches]), x, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([b[1] for b in batches]), y, rtol=1e-6, atol=1e-6)
    raw_x, _ = data.arrays("validation")
    np.testing.assert_allclose(x, (raw_x - data.statistics.input_mean) / data.statistics.input_std, rtol=1e-5,
                               atol=1e-5)


def test_unknown_split_names_the_valid_ones(data: PreparedDataset) -> None:
    for call in (lambda: data.split("valid"), lambda: data.arrays("tests"), lambda: data.size("dev")):
        with pytest.raises(DataError, match="valid splits: train, validation, test"):
            call()


def test_an_empty_split_is_an_empty_dataset(make_generator: MakeGenerator, cache_root: Path) -> None:
    data = PreparedDataset.prepare(make_generator(splits=(0.8, 0.2, 0.0)), cache_root, progress=False)
    assert data.size("test") == 0
    assert list(data.split("test").as_numpy_iterator()) == []
    assert data.arrays("test")[0].shape == (0, 4, 2)


def test_a_model_trains_on_the_splits(data: PreparedDataset) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(data.split("train"), validation_data=data.split("validation"), epochs=2,
                        shuffle=False, verbose=0)
    assert len(history.history["val_loss"]) == 2 and np.isfinite(history.history["loss"]).all()
