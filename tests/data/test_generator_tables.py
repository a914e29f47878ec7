"""Every dataset generator owns its ``[d.parameters]`` table.

Driven from the registry (each generator's example table round-trips, so a new registration is
checked), and on the shipped datasets too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.data.base import GENERATORS
from scinas.data.michaelis_menten import MichaelisMentenGenerator
from scinas.data.spec import build_generator
from scinas.errors import ConfigError
from scinas.testing.tables import check_generator_table, registered_generators

CONFIG = Path(__file__).resolve().parents[2] / "config"
RAW = load_config(CONFIG)


@pytest.mark.parametrize(("name", "cls"), registered_generators(), ids=lambda v: v if isinstance(v, str) else "")
def test_registered_generators_round_trip_their_example(name: str, cls: Any, tmp_path: Path) -> None:
    check_generator_table(cls, tmp_path, name=f"dataset generator {name}")


def test_every_shipped_generator_is_driven_from_the_registry() -> None:
    assert {name for name, _ in registered_generators()} >= {"images", "michaelis_menten", "time_series", "xfel",
                                                              "xfel_images"}


class _Forgetful(MichaelisMentenGenerator):
    """Writes its parameters back without ``n_times``."""

    @classmethod
    def parameters_table(cls, parameters: Any) -> dict[str, Any]:
        table = super().parameters_table(parameters)
        table.pop("n_times")
        return table

    @classmethod
    def example_table(cls, folder: Path) -> dict[str, Any]:
        return {**super().example_table(folder), "n_times": 11}


class _NoExample(MichaelisMentenGenerator):
    """Has required parameters but gives no example table."""

    @classmethod
    def example_table(cls, folder: Path) -> dict[str, Any]:
        return {}


def test_a_generator_registered_later_is_checked(tmp_path: Path) -> None:
    GENERATORS.register("forgetful")(_Forgetful)
    try:
        found = dict(registered_generators())
        assert found["forgetful"] is _Forgetful
        with pytest.raises(AssertionError, match="do not round-trip"):
            check_generator_table(found["forgetful"], tmp_path, name="forgetful")
    finally:
        GENERATORS.unregister("forgetful")
    with pytest.raises(AssertionError, match="example_table"):
        check_generator_table(_NoExample, tmp_path)


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
