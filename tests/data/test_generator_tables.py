"""Every dataset generator owns its ``[d.parameters]`` table: each shipped dataset's table round-trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.data.base import GENERATORS
from scinas.data.spec import build_generator
from scinas.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config"
RAW = load_config(CONFIG)


@pytest.mark.parametrize("dataset", sorted(RAW.datasets))
def test_shipped_parameters_round_trip(dataset: str) -> None:
    try:
        generator = build_generator(RAW, dataset)
    except ConfigError as exc:  # an optional source (aeon, tfds) absent here
        pytest.skip(str(exc))
    cls: Any = type(generator)
    table = generator.to_table()
    again = cls.from_table(Table(table, file="data.toml", path=f"{dataset}.parameters"))
    assert again == generator.parameters
    assert cls.parameters_table(again) == table


def test_every_generator_has_a_shipped_dataset() -> None:
    used = {entry["generator"] for entry in RAW.datasets.values()}
    assert set(GENERATORS.names()) <= used | {"xfel_images"}, "add a shipped example of each generator"
