"""Each default is declared once (on the dataclass the parser fills), and every parsed field is used."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from scinas.config.experiment import EarlyTerminationConfig, parse_experiment
from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.config.search import FinalConfig, SearchConfig, SelectionConfig, parse_search
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter

SOURCE = Path(__file__).resolve().parents[2] / "src" / "scinas"


def test_a_search_table_without_optional_keys_takes_the_declared_defaults() -> None:
    search = parse_search(Table({"search": {}}, file="configurations.toml", path="A"))
    assert dataclasses.replace(search, file="", path="") == SearchConfig()
    assert (search.strategy, search.score, search.costs, search.budget) == ("popnas", "accuracy", ("time",), None)


def test_early_termination_defaults_match_the_parser(write_config: ConfigWriter) -> None:
    experiments = TINY_EXPERIMENTS.replace("epochs = 2", "epochs = 2\nearly_termination = true")
    parsed = parse_experiment(load_config(write_config(experiments)), "T").training.early_termination
    assert parsed is not None
    declared = EarlyTerminationConfig()
    assert dataclasses.replace(parsed, mode=declared.mode, file="", path="") == declared
    assert parsed.maximize == declared.maximize  # "auto" resolved by the parser means the same


def _attributes_read_outside_config() -> set[str]:
    names: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if path.parent.name == "config":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names


@pytest.mark.parametrize("config_type", [EarlyTerminationConfig, SearchConfig, SelectionConfig, FinalConfig],
                         ids=lambda t: t.__name__)
def test_every_parsed_field_is_used(config_type: type) -> None:
    used = _attributes_read_outside_config()
    unused = [f.name for f in dataclasses.fields(config_type) if f.name not in used and f.name not in ("file", "path")]
    assert not unused, f"{config_type.__name__} fields parsed but never read outside config/: {unused}"
