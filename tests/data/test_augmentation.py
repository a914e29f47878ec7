"""Training-split augmentation: each transform on its own, seeding, and a new draw every epoch."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from scinas.config.reader import Table
from scinas.data.augmentation import AugmentationConfig, augment_batches
from scinas.errors import ConfigError


def _images(n: int = 16, size: int = 6) -> np.ndarray:
    """Distinct, strictly positive pixels: every moved or zeroed pixel is detectable."""
    return (np.arange(n * size * size, dtype=np.float32).reshape(n, size, size, 1) + 1.0)


def _run(config: AugmentationConfig, images: np.ndarray, seed: int = 3, epochs: int = 1) -> list[np.ndarray]:
    labels = np.arange(len(images), dtype=np.float32)
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    augmented = augment_batches(batches, config, seed)
    out = []
    for _ in range(epochs):
        xs, ys = zip(*augmented.as_numpy_iterator(), strict=True)
        np.testing.assert_array_equal(np.concatenate(ys), labels)  # targets pass through untouched
        out.append(np.concatenate(xs))
    return out


def test_horizontal_flip_mirrors_some_images_and_keeps_the_others() -> None:
    images = _images()
    (x,) = _run(AugmentationConfig(flip="horizontal"), images)
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(x, images, strict=True)]
    kept = [np.array_equal(a, b) for a, b in zip(x, images, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 0 < sum(mirrored) < len(images)


def test_vertical_flip_mirrors_rows() -> None:
    images = _images()
    (x,) = _run(AugmentationConfig(flip="vertical"), images)
    assert all(np.array_equal(a, b) or np.array_equal(a, b[::-1]) for a, b in zip(x, images, strict=True))
    assert any(np.array_equal(a, b[::-1]) for a, b in zip(x, images, strict=True))


def test_crop_shifts_by_at_most_the_padding_and_fills_with_zeros() -> None:
    images = _images(size=8)
    (x,) = _run(AugmentationConfig(crop_padding=2), images)
    assert x.shape == images.shape
    shifted = 0
    for a, b in zip(x, images, strict=True):
        padded = np.pad(b[:, :, 0], 2)
        offsets = [(r, c) for r in range(5) for c in range(5) if np.array_equal(a[:, :, 0], padded[r:r + 8, c:c + 8])]
        assert offsets, "a crop must be a window of the zero-padded image"
        shifted += offsets[0] != (2, 2)
    assert shifted > len(images) // 2


def test_cutout_zeroes_one_square_of_at_most_the_size() -> None:
    images = _images(size=8)
    (x,) = _run(AugmentationConfig(cutout=3), images)
    for a, b in zip(x, images, strict=True):
        zero = a[:, :, 0] == 0
        rows, columns = np.flatnonzero(zero.any(axis=1)), np.flatnonzero(zero.any(axis=0))
        assert 0 < zero.sum() <= 9 and len(rows) <= 3 and len(columns) <= 3
        assert zero.sum() == len(rows) * len(columns)  # a (clipped) rectangle
        np.testing.assert_array_equal(a[:, :, 0][~zero], b[:, :, 0][~zero])


def test_seeded_reproducible_and_new_every_epoch() -> None:
    config = AugmentationConfig(flip="both", crop_padding=1, cutout=2)
    images = _images()
    first, second = _run(config, images, seed=5, epochs=2)
    again, _ = _run(config, images, seed=5, epochs=2)
    (other,) = _run(config, images, seed=6)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second) and not np.array_equal(first, other)


def test_config_parsing() -> None:
    assert AugmentationConfig.parse(Table({"flip": "none"}, file="data.toml", path="d.augmentation")) is None
    parsed = AugmentationConfig.parse(Table({"crop_padding": 4, "cutout": 8}, file="data.toml", path="d.augmentation"))
    assert parsed == AugmentationConfig("none", 4, 8)
    with pytest.raises(ConfigError, match=r"\[d.augmentation\] cutout = -1"):
        AugmentationConfig.parse(Table({"cutout": -1}, file="data.toml", path="d.augmentation"))
    with pytest.raises(ConfigError, match="rotate"):
        AugmentationConfig.parse(Table({"rotate": 10}, file="data.toml", path="d.augmentation"))
