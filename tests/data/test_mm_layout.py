"""The Michaelis–Menten inputs as a series (length n_times, one channel per component) for 1D models."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.config.reader import Table
from scinas.data.base import ShapeConfig
from scinas.data.michaelis_menten import MichaelisMentenGenerator, MichaelisMentenParameters
from scinas.errors import ConfigError
from scinas.testing.generators import check_generator

_RANGES = {"k1_min": 0.01, "k1_max": 0.05, "k2_min": 0.01, "k2_max": 0.05, "k3_min": 0.01, "k3_max": 0.05,
           "E0_min": 0.1, "E0_max": 0.3, "S0_min": 0.1, "S0_max": 0.3, "spectra_min": -1, "spectra_max": 1,
           "amplitude_min": 0.2, "amplitude_max": 0.8, "n_times": 41, "t_max": 40.0}


def _generator(layout: str) -> MichaelisMentenGenerator:
    table = Table({**_RANGES, "layout": layout}, file="d.toml", path="m.parameters")
    parameters = MichaelisMentenParameters.parse(table)
    return MichaelisMentenGenerator("m", parameters, ShapeConfig(3, 24, 2, 8, 8, (0.5, 0.25, 0.25)))


def test_series_layout_holds_the_same_values_as_the_image_layout() -> None:
    image, series = _generator("image"), _generator("series")
    assert image.info().input_shape == (41, 3, 1)
    assert series.info().input_shape == (41, 3)
    x_image, y_image = image.generate_shard(0, 12, image.shard_rng(0))
    x_series, y_series = series.generate_shard(0, 12, series.shard_rng(0))
    assert x_series.shape == (12, 41, 3)
    np.testing.assert_array_equal(x_series, x_image[..., 0])
    np.testing.assert_array_equal(y_series, y_image)
    assert image.fingerprint() != series.fingerprint()


def test_series_layout_passes_the_conformance_suite() -> None:
    check_generator(_generator("series"))


def test_unknown_layout_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"layout.*(image|series)"):
        MichaelisMentenParameters.parse(Table({**_RANGES, "layout": "sequence"}, file="d.toml", path="m.parameters"))
