"""Diffraction augmentation: turns about the beam, Friedel reflections, the circular support, bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.data.augmentation import AugmentationConfig
from scinas.data.diffraction_augmentation import (
    DiffractionAugmentation,
    augment_diffraction,
    circular_support,
    mask_outside_support,
)
from scinas.data.pipeline import PreparedDataset
from scinas.data.spec import build_generator
from scinas.errors import ConfigError

from .xfel_fixtures import write_molecules


def _run(config: DiffractionAugmentation, images: np.ndarray, seed: int = 3, epochs: int = 1) -> list[np.ndarray]:
    labels = np.arange(len(images), dtype=np.float32)
    augmented = augment_diffraction(tf.data.Dataset.from_tensor_slices((images, labels)).batch(8), config, seed)
    out = []
    for _ in range(epochs):
        xs, ys = zip(*augmented.as_numpy_iterator(), strict=True)
        np.testing.assert_array_equal(np.concatenate(ys), labels)  # labels pass through untouched
        out.append(np.concatenate(xs))
    return out


def _radius(image: np.ndarray) -> float:
    """The intensity-weighted distance of an image's light from its centre."""
    side = image.shape[0]
    steps = np.arange(side) - (side - 1) / 2
    radius = np.hypot(steps[:, None], steps[None, :])
    return float((image[:, :, 0] * radius).sum() / image.sum())


def test_circular_support_is_the_inscribed_disc() -> None:
    mask = circular_support(9)
    assert mask[4, 4] and mask[4, 0] and mask[0, 4] and mask[8, 4]
    assert not mask[0, 0] and not mask[8, 8] and not mask[1, 0]
    np.testing.assert_array_equal(mask, mask.T)
    images = np.ones((2, 9, 9, 1), np.float32)
    masked = mask_outside_support(images)
    assert masked.dtype == np.float32 and masked[:, :, :, 0].sum() == 2 * mask.sum()


def test_rotation_turns_a_spot_about_the_centre_and_keeps_its_radius() -> None:
    images = np.zeros((16, 21, 21, 1), np.float32)
    images[:, 9:12, 16:19] = 3.0  # a 3x3 spot 7 pixels right of the centre
    (x,) = _run(DiffractionAugmentation(rotation=True), images)
    angles = []
    for image in x:
        assert set(np.unique(image)) <= {0.0, 3.0}  # nearest pixels: no blended value
        # a turned 3x3 square (area 9, perimeter 12) covers 9 +- 6 pixel centres at most
        assert 3 < (image > 0).sum() < 15
        assert _radius(image) == pytest.approx(7.0, abs=0.6)
        rows, columns = np.unravel_index(np.argmax(image[:, :, 0]), (21, 21))
        angles.append(np.arctan2(rows - 10, columns - 10))
    assert np.ptp(angles) > 2.0  # the angles differ from image to image
    np.testing.assert_array_equal(x[:, 10, 10], 0.0)


def test_rotation_keeps_the_centre_pixel_and_a_disc_in_place() -> None:
    side = 15
    disc = circular_support(side).astype(np.float32)[None, :, :, None].repeat(8, axis=0)
    (x,) = _run(DiffractionAugmentation(rotation=True), disc)
    inner = np.zeros((side, side), bool)
    steps = np.arange(side) - 7
    inner[np.hypot(steps[:, None], steps[None, :]) <= 5] = True
    np.testing.assert_allclose(x[:, inner, 0], 1.0, atol=1e-5)  # rotation-invariant inside
    assert (x[:, ~circular_support(side), 0] == 0).all()  # nothing is brought in from the corners


def test_friedel_reflects_through_the_centre_or_mirrors() -> None:
    images = np.arange(16 * 7 * 7, dtype=np.float32).reshape(16, 7, 7, 1) + 1.0
    (x,) = _run(DiffractionAugmentation(friedel=True), images)
    seen = set()
    for a, b in zip(x, images, strict=True):
        forms = {"same": b, "point": b[::-1, ::-1], "mirror": b[:, ::-1], "mirror_point": b[::-1, :]}
        match = [name for name, form in forms.items() if np.array_equal(a, form)]
        assert len(match) == 1
        seen.add(match[0])
    assert len(seen) >= 3


def test_seeded_and_new_every_epoch() -> None:
    config = DiffractionAugmentation(rotation=True, friedel=True)
    images = np.random.default_rng(0).uniform(size=(8, 11, 11, 1)).astype(np.float32)
    first, second = _run(config, images, seed=4, epochs=2)
    again, _ = _run(config, images, seed=4, epochs=2)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, second)


def test_keys_parse_and_write_back() -> None:
    table = Table({"rotation": True, "friedel": False}, file="data.toml", path="x.augmentation")
    parsed = AugmentationConfig.parse(table)
    assert parsed is not None and parsed.diffraction == DiffractionAugmentation(rotation=True)
    assert parsed.diffraction.to_table() == {"rotation": True} and not parsed.image_active
    assert AugmentationConfig.parse(Table({"friedel": False}, file="d", path="x.augmentation")) is None
    with pytest.raises(ConfigError, match=r"\[x.augmentation\] rotation"):
        AugmentationConfig.parse(Table({"rotation": 90}, file="d", path="x.augmentation"))


def _write(folder: Path, data: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "configurations.toml").write_text("")
    (folder / "data.toml").write_text(textwrap.dedent(data))
    return folder


def test_rotation_on_series_names_the_key(tmp_path: Path) -> None:
    shipped = (Path(__file__).parents[2] / "config" / "data.toml").read_text()
    folder = _write(tmp_path / "c", shipped + "\n[dtest.augmentation]\nrotation = true\n")
    with pytest.raises(ConfigError, match=r"\[dtest.augmentation\] rotation") as info:
        build_generator(load_config(folder), "dtest")
    assert "does not augment" in str(info.value)
    table = Table({"rotation": True}, file="data.toml", path="s.augmentation")
    with pytest.raises(ConfigError, match=r"\[s.augmentation\] rotation = true: .*series of shape \[50, 3\]"):
        DiffractionAugmentation(rotation=True).check(table, (50, 3))


def test_rotation_on_non_square_images_names_the_key(tmp_path: Path) -> None:
    np.savez(tmp_path / "wide.npz", x=np.zeros((12, 6, 9, 1), np.float32), y=np.arange(12) % 2)
    folder = _write(
        tmp_path / "c",
        f"""
        [wide]
        generator = "images"
        [wide.parameters]
        source = "npz"
        path = "{tmp_path / "wide.npz"}"
        [wide.augmentation]
        friedel = true
        rotation = true
    """,
    )
    with pytest.raises(ConfigError, match=r"\[wide.augmentation\] rotation") as info:
        build_generator(load_config(folder), "wide")
    assert "square" in str(info.value) and "6x9" in str(info.value)


def test_rotation_masks_every_split_and_turns_training_patterns(tmp_path: Path) -> None:
    molecules = [str(p) for p in write_molecules(tmp_path / "molecules")]
    folder = _write(
        tmp_path / "c",
        f"""
        [x]
        generator = "xfel"
        [x.parameters]
        conformations = {molecules!r}
        n_pixels = 17
        pixel_size = 4.5e-3
        beam_stop_radius = 2
        beam_intensity = 1e17
        [x.shape]
        seed = 2
        n_samples = 24
        batch_size = 12
        splits = [0.5, 0.25, 0.25]
        shuffle_buffer_size = 0
        [x.normalization]
        inputs = "none"
        [x.augmentation]
        rotation = true
    """,
    )
    generator = build_generator(load_config(folder), "x")
    data = PreparedDataset.prepare(generator, tmp_path / "cache", progress=False)
    outside = ~circular_support(17)
    raw, _ = data.cache.read_range(0, 24)
    assert raw[:, outside].sum() > 0  # the simulated corners do receive photons
    for split in ("train", "validation", "test"):
        x = np.concatenate([x for x, _ in data.split(split, shuffle=False).as_numpy_iterator()])
        assert (x[:, outside] == 0).all()
        assert (data.arrays(split)[0][:, outside] == 0).all()
    plain = np.concatenate([x for x, _ in data.split("train", shuffle=False, augment=False).as_numpy_iterator()])
    turned = np.concatenate([x for x, _ in data.split("train", shuffle=False).as_numpy_iterator()])
    np.testing.assert_array_equal(plain, mask_outside_support(raw[:12]))
    assert not np.allclose(plain, turned)
    # a turn about the beam moves photons around rings, not across them: the mean radius stays
    for a, b in zip(plain, turned, strict=True):
        assert _radius(b) == pytest.approx(_radius(a), rel=0.15)
        assert set(np.unique(b)) <= set(np.unique(a))  # only photon counts the pattern holds
