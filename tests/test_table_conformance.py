"""Every registered class owns its TOML table (the registries drive the suite: a new registration is checked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from scinas.configurable import Configurable, option
from scinas.testing.tables import check_table, registered


@pytest.mark.parametrize(("kind", "name", "cls"), registered(), ids=lambda v: v if isinstance(v, str) else "")
def test_registered_tables_round_trip(kind: str, name: str, cls: Any) -> None:
    check_table(cls, name=f"{kind} {name}")


def test_the_suite_catches_an_option_that_does_not_round_trip() -> None:
    class Lossy(Configurable):
        @dataclass(frozen=True)
        class Options:
            size: int = option(2, minimum=1, doc="a size")

        @classmethod
        def from_table(cls, table: Any) -> Any:
            table.any("size", None)
            table.finish()
            return cls.Options()  # forgets what the table said

    with pytest.raises(AssertionError, match="size = 3 was read as its default"):
        check_table(Lossy)


def test_the_suite_catches_an_undocumented_option() -> None:
    class Quiet(Configurable):
        @dataclass(frozen=True)
        class Options:
            size: int = option(2, doc="")

    with pytest.raises(AssertionError, match="option size has no doc"):
        check_table(Quiet)


def test_the_shipped_predictors_declare_their_hyperparameters() -> None:
    import dataclasses

    predictors = {name: cls for kind, name, cls in registered() if kind == "predictor"}
    assert {"gin", "svr"} <= set(predictors)
    assert {f.name for f in dataclasses.fields(predictors["gin"].Options)} >= {"epochs", "ensemble", "learning_rate"}
    assert {f.name for f in dataclasses.fields(predictors["svr"].Options)} >= {"n_iter", "folds"}


def test_every_registry_is_covered() -> None:
    kinds = {kind for kind, _, _ in registered()}
    assert kinds == {"strategy", "predictor", "prior", "tracker", "executor", "model generator", "operator family",
                     "learning-curve family", "stopper"}
    assert {name for kind, name, _ in registered() if kind == "strategy"} >= {"popnas", "pnas", "pareto", "random",
                                                                              "evolution"}
