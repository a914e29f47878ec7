"""Fresh training samples every epoch: new, seeded, counted; validation and test fixed; bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.data.base import NormalizationConfig, ShapeConfig
from scinas.data.fresh import CHUNK
from scinas.data.pipeline import PreparedDataset
from scinas.data.spec import build_generator
from scinas.data.xfel import XfelGenerator
from scinas.errors import ConfigError

from .xfel_fixtures import parameters


def _dataset(folder: Path, *, fresh_samples: int = 0, seed: int = 4) -> PreparedDataset:
    shape = ShapeConfig.parse(
        Table(
            {
                "seed": seed,
                "n_samples": 16,
                "batch_size": 8,
                "splits": [0.5, 0.25, 0.25],
                "fresh_training": True,
                "fresh_training_samples": fresh_samples,
            },
            file="data.toml",
            path="x.shape",
        )
    )
    generator = XfelGenerator("x", parameters(folder / "molecules"), shape, NormalizationConfig("global", "none"))
    return PreparedDataset.prepare(generator, folder / "cache", progress=False)


def _epoch(data: PreparedDataset, **options: object) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*data.split("train", **options).as_numpy_iterator(), strict=True)  # type: ignore[arg-type]
    return np.concatenate(xs), np.concatenate(ys)


def test_every_epoch_draws_new_training_samples_and_keeps_the_others(tmp_path: Path) -> None:
    n_fresh = CHUNK + 20  # two chunks, the second partial
    data = _dataset(tmp_path, fresh_samples=n_fresh)
    train = data.split("train")
    assert int(train.cardinality()) == -(-n_fresh // 8)
    first, second = (np.concatenate([x for x, _ in train.as_numpy_iterator()]) for _ in range(2))
    x, y = _epoch(data)
    assert first.shape == second.shape == x.shape == (n_fresh, 33, 33, 1)
    assert not np.allclose(first, second)
    cached = data.arrays("train", normalize=True)[0]
    assert not any(np.allclose(image, c) for image in first[:20] for c in cached)  # not the cached patterns
    assert set(np.unique(y)) == {0.0, 1.0} and abs(float(y.mean()) - 0.5) < 0.1
    for split in ("validation", "test"):  # fixed and cached, the same every time
        batches = [np.concatenate([x for x, _ in data.split(split).as_numpy_iterator()]) for _ in range(2)]
        np.testing.assert_array_equal(batches[0], batches[1])
        np.testing.assert_allclose(batches[0], data.arrays(split, normalize=True)[0], atol=1e-5)


def test_seeded_and_default_size(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    x, _ = _epoch(data, seed=9)
    again, _ = _epoch(data, seed=9)
    other, _ = _epoch(data, seed=10)
    assert len(x) == data.size("train") == 8  # default: the training split's size
    np.testing.assert_array_equal(x, again)
    assert not np.allclose(x, other)
    repeated = data.split("train", repeat=True, drop_remainder=True)
    assert int(repeated.cardinality()) == -1  # infinite
    assert len(list(repeated.take(3).as_numpy_iterator())) == 3


def test_the_statistics_still_normalise_the_fresh_samples(tmp_path: Path) -> None:
    data = _dataset(tmp_path, fresh_samples=400)
    x, _ = _epoch(data)
    assert abs(float(x.mean())) < 0.3 and 0.7 < float(x.std()) < 1.3


def _write(folder: Path, data: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "configurations.toml").write_text("")
    (folder / "data.toml").write_text(textwrap.dedent(data))
    return folder


def test_fresh_data_on_files_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((12, 4, 4, 1), np.float32), y=np.arange(12) % 2)
    folder = _write(
        tmp_path / "c",
        f"""
        [files]
        generator = "images"
        [files.parameters]
        source = "npz"
        path = "{tmp_path / "a.npz"}"
        [files.shape]
        fresh_training = true
    """,
    )
    with pytest.raises(ConfigError, match=r"\[files.shape\] fresh_training = true: this dataset is read from files"):
        build_generator(load_config(folder), "files")


def test_fresh_samples_without_fresh_training_is_an_error() -> None:
    table = Table({"n_samples": 10, "fresh_training_samples": 100}, file="data.toml", path="x.shape")
    with pytest.raises(ConfigError, match=r"\[x.shape\] fresh_training_samples"):
        ShapeConfig.parse(table)
    with pytest.raises(ConfigError, match=r"\[x.shape\] fresh_training_samples = -1"):
        ShapeConfig.parse(
            Table(
                {"n_samples": 10, "fresh_training": True, "fresh_training_samples": -1},
                file="data.toml",
                path="x.shape",
            )
        )
