"""The fluorescence-cells generator: conformance, exact masks, determinism, the cache and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from scinas.config.reader import Table
from scinas.data.base import GENERATORS, ShapeConfig
from scinas.data.cache import ensure_cache
from scinas.data.microscopy import CLASS_NAMES, FluorescenceCellsGenerator, FluorescenceParameters, draw_cells
from scinas.errors import ConfigError
from scinas.testing.generators import check_generator


def _generator(n_samples: int = 12, n_shards: int = 3, seed: int = 1, **parameters: Any) -> FluorescenceCellsGenerator:
    p = FluorescenceCellsGenerator.parse_parameters(Table({"size": [32, 32], **parameters}, file="data.toml",
                                                          path="c.parameters"))
    return FluorescenceCellsGenerator("cells", p, ShapeConfig(seed, n_samples, n_shards, 4, 8, (0.5, 0.25, 0.25)))


def test_the_generator_conforms_and_is_registered() -> None:
    assert GENERATORS.get("fluorescence_cells") is FluorescenceCellsGenerator
    check_generator(_generator())
    info = _generator().info()
    assert info.task == "segmentation" and info.n_classes == 3 and info.target_names == CLASS_NAMES
    assert info.input_shape == (32, 32, 1) and info.target_shape == (32, 32)


def test_masks_are_exact_class_maps_with_nuclei_inside_cells() -> None:
    p = FluorescenceParameters(size=(48, 40), cells=(2, 5), blur=0.0, photons=1e6, background=0.0, gradient=0.0,
                               texture=0.0, channels=2)
    rng = np.random.default_rng(3)
    for _ in range(10):
        x, y = draw_cells(p, rng)
        assert x.shape == (48, 40, 2) and y.shape == (48, 40) and x.dtype == y.dtype == np.float32
        assert set(np.unique(y)) <= {0.0, 1.0, 2.0} and (y == 2).any()
        # without blur, background or noise the stains are exactly the mask's regions
        assert np.all((x[:, :, 0] > 0) == (y > 0))
        assert np.all((x[:, :, 1] > 0) == (y == 2))
        # nuclei lie inside their cells: each nucleus region is surrounded by cell, hardly by background
        ring = ndimage.binary_dilation(y == 2, iterations=2) & (y != 2)
        assert (y[ring] == 1).mean() > 0.8


def test_noise_blur_and_gradient_change_the_image_not_the_mask() -> None:
    clean = FluorescenceParameters(size=(32, 32), blur=0.0, photons=1e6, gradient=0.0, texture=0.0)
    noisy = FluorescenceParameters(size=(32, 32), blur=1.5, photons=20.0, gradient=0.5, texture=0.5)
    x_clean, y_clean = draw_cells(clean, np.random.default_rng(5))
    x_noisy, y_noisy = draw_cells(noisy, np.random.default_rng(5))
    np.testing.assert_array_equal(y_clean, y_noisy)
    assert not np.allclose(x_clean, x_noisy)
    # shot noise: values are whole photon counts divided by the photons per unit intensity
    counts = x_noisy * 20.0
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)
    # the gradient lifts the background unevenly
    background = x_noisy[y_noisy == 0]
    assert background.std() > 0.05


def test_deterministic_per_seed_and_cached(tmp_path: Path) -> None:
    a, b, c = _generator(seed=4), _generator(seed=4), _generator(seed=5)
    xa, ya = a.generate_shard(1, 4, a.shard_rng(1))
    xb, yb = b.generate_shard(1, 4, b.shard_rng(1))
    xc, _ = c.generate_shard(1, 4, c.shard_rng(1))
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(xa, xc)
    cache = ensure_cache(a, tmp_path, progress=False)
    x, y = cache.read_range(0, 12)
    assert x.shape == (12, 32, 32, 1) and y.shape == (12, 32, 32)
    assert ensure_cache(b, tmp_path, progress=False).directory == cache.directory
    assert a.fingerprint() != _generator(seed=4, photons=50.0).fingerprint()


@pytest.mark.parametrize(("table", "key", "message"), [
    ({"size": [32, 31.5]}, "size", "whole numbers"),
    ({"size": [4, 32]}, "size", ">= 8"),
    ({"cells": [5, 2]}, "cells", "above the upper end"),
    ({"cells": [0, 0]}, "cells", "no image would hold a cell"),
    ({"cell_radius": [2.0, 80.0]}, "cell_radius", "exceeds the image"),
    ({"nucleus_scale": [0.3, 1.2]}, "nucleus_scale", "smaller than its cell"),
    ({"photons": 0}, "photons", "> 0"),
    ({"channels": 3}, "channels", "[1, 2]"),
    ({"colour": 1}, "colour", "unknown key"),
])
def test_bad_parameters_name_their_key(table: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        FluorescenceCellsGenerator.parse_parameters(Table(table, file="data.toml", path="c.parameters"))
    text = str(caught.value)
    assert f"[c.parameters] {key}" in text and message in text
