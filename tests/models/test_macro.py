"""MacroConfig (parsing, cell kinds, reachable cells) and CellArchitecture (text, JSON)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig


def _parse(**values: Any) -> MacroConfig:
    return MacroConfig.parse(Table(values, file="configurations.toml", path="A.architecture"))


def test_defaults() -> None:
    macro = _parse()
    assert macro == MacroConfig()
    assert (macro.filters, macro.motifs, macro.normal_cells_per_motif) == (24, 3, 2)
    assert macro.block_join == "add" and macro.activation == "relu" and macro.dropout == 0.0
    assert macro.concat_only_unused_blocks and not macro.lookback_reshape and not macro.residual_cells
    assert not macro.se_cell_output and macro.se_ratio == 8 and not macro.multi_output
    assert macro.batch_norm_momentum == 0.9


def test_every_key_is_read() -> None:
    macro = _parse(filters=8, motifs=2, normal_cells_per_motif=0, block_join="avg", lookback_reshape=True,
                   concat_only_unused_blocks=False, residual_cells=True, se_cell_output=True, se_ratio=4,
                   multi_output=True, dropout=0.25, activation="swish", batch_norm_momentum=0.99)
    assert macro == MacroConfig(8, 2, 0, "avg", True, False, True, True, 4, True, 0.25, "swish", 0.99)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("filters", 0, "[A.architecture] filters = 0: expected an integer >= 1"),
    ("filters", 2.5, "filters = 2.5: expected an integer >= 1, got a float"),
    ("filters", True, "filters = true: expected an integer >= 1, got a boolean"),
    ("motifs", 0, "[A.architecture] motifs = 0: expected an integer >= 1"),
    ("normal_cells_per_motif", -1, "[A.architecture] normal_cells_per_motif = -1: expected an integer >= 0"),
    ("block_join", "sum", '[A.architecture] block_join = "sum": expected one of "add", "avg"'),
    ("block_join", "Avg", 'did you mean "avg"?'),
    ("lookback_reshape", "yes", '[A.architecture] lookback_reshape = "yes": expected a boolean'),
    ("concat_only_unused_blocks", 1, "concat_only_unused_blocks = 1: expected a boolean"),
    ("residual_cells", 0, "residual_cells = 0: expected a boolean"),
    ("se_cell_output", "true", "se_cell_output = \"true\": expected a boolean"),
    ("se_ratio", 0, "[A.architecture] se_ratio = 0: expected an integer >= 1"),
    ("multi_output", [], "multi_output = []: expected a boolean"),
    ("dropout", -0.1, "[A.architecture] dropout = -0.1: expected a number >= 0.0"),
    ("dropout", 1.0, "[A.architecture] dropout = 1.0: expected a number in [0, 1)"),
    ("dropout", "0.2", "dropout = \"0.2\": expected a number, got a string"),
    ("activation", "rleu", '[A.architecture] activation = "rleu": expected the name of a keras.activations'),
    ("activation", "rleu", 'did you mean "relu"?'),
    ("activation", 3, "activation = 3: expected a string"),
    ("batch_norm_momentum", 0, "[A.architecture] batch_norm_momentum = 0: expected a number > 0.0"),
    ("batch_norm_momentum", 1, "[A.architecture] batch_norm_momentum = 1: expected a number in (0, 1)"),
    ("batch_norm_momentum", 1, "fix: use e.g. 0.9"),
    ("batch_norm_momentum", True, "batch_norm_momentum = true: expected a number, got a boolean"),
    ("filtres", 8, '[A.architecture] filtres = 8: unknown key (fix: did you mean "filters"?)'),
])
def test_bad_values_name_their_toml_path(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(**{key: value})
    assert message in str(error.value)
    assert str(error.value).startswith("configurations.toml: [A.architecture]")


def test_a_network_needs_a_cell() -> None:
    with pytest.raises(ConfigError, match="no cell to build"):
        _parse(motifs=1, normal_cells_per_motif=0)
    assert _parse(motifs=2, normal_cells_per_motif=0).n_cells == 1


@pytest.mark.parametrize(("arguments", "field"), [
    ({"filters": 0}, "filters"), ({"block_join": "max"}, "block_join"), ({"dropout": 1}, "dropout"),
    ({"activation": "nope"}, "activation"), ({"residual_cells": 1}, "residual_cells"),
    ({"batch_norm_momentum": 1.5}, "batch_norm_momentum"), ({"batch_norm_momentum": False}, "batch_norm_momentum"),
])
def test_python_construction_is_validated(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        MacroConfig(**arguments)
    assert error.value.path == field


def test_json_round_trip() -> None:
    macro = MacroConfig(filters=8, block_join="avg", dropout=0.5, multi_output=True, activation="gelu")
    data = json.loads(json.dumps(macro.to_json()))
    assert MacroConfig.from_json(data) == macro
    assert MacroConfig.from_json({}) == MacroConfig()
    assert MacroConfig(dropout=0).to_json()["dropout"] == 0.0
    assert MacroConfig.from_json({"batch_norm_momentum": 0.99}).differences() == {"batch_norm_momentum": 0.99}
    with pytest.raises(ConfigError, match="unknown key"):
        MacroConfig.from_json({"filter": 3})


@pytest.mark.parametrize(("motifs", "normal", "kinds"), [
    (3, 2, "NNRNNRNN"),
    (2, 1, "NRN"),
    (1, 3, "NNN"),
    (3, 0, "RR"),
    (2, 0, "R"),
])
def test_cell_kinds(motifs: int, normal: int, kinds: str) -> None:
    macro = MacroConfig(motifs=motifs, normal_cells_per_motif=normal)
    expected = [{"N": "normal", "R": "reduction"}[k] for k in kinds]
    assert macro.cell_kinds() == expected
    assert macro.n_cells == len(expected) == motifs * (normal + 1) - 1


def test_reductions_count_levels() -> None:
    assert MacroConfig(motifs=3, normal_cells_per_motif=1).reductions() == [0, 1, 1, 2, 2]
    assert MacroConfig(motifs=3, normal_cells_per_motif=0).reductions() == [1, 2]


@pytest.mark.parametrize(("cell", "motifs", "normal", "residual", "reachable"), [
    ("[]", 3, 2, False, ()),
    ("[(-1, 3x3 conv, -1, 2x2 maxpool)]", 2, 1, False, (0, 1, 2)),
    # only -2: cell 2 reads cell 0, cell 0 reads the input; the reduction cell 1 is never built
    ("[(-2, 3x3 conv, -2, 2x2 maxpool)]", 2, 1, False, (0, 2)),
    ("[(-2, 3x3 conv, -2, 2x2 maxpool)]", 3, 2, False, (1, 3, 5, 7)),
    ("[(-2, 3x3 conv, -2, 2x2 maxpool)]", 3, 2, True, tuple(range(8))),
    ("[(-3, identity, -3, 3x3 conv)]", 2, 2, False, (1, 4)),
    ("[(-2, identity, -3, 3x3 conv)]", 2, 2, False, (0, 1, 2, 4)),
    ("[(-1, 3x3 conv, -2, 2x2 maxpool); (0, identity, -1, 3x3 conv)]", 2, 2, False, (0, 1, 2, 3, 4)),
])
def test_reachable_cells(cell: str, motifs: int, normal: int, residual: bool, reachable: tuple[int, ...]) -> None:
    macro = MacroConfig(motifs=motifs, normal_cells_per_motif=normal, residual_cells=residual)
    assert macro.reachable_cells(Cell.from_text(cell)) == reachable


def test_cell_architecture_text_and_json() -> None:
    cell = Cell.from_text("[(-1, 3x3 conv, -2, 2x2 maxpool)]")
    plain = CellArchitecture(cell, MacroConfig())
    assert plain.to_text() == cell.to_text()
    tagged = CellArchitecture(cell, MacroConfig(filters=16, block_join="avg", residual_cells=True))
    assert tagged.to_text() == f'{cell.to_text()} {{filters=16, block_join="avg", residual_cells=true}}'
    same = CellArchitecture(Cell.from_text(cell.to_text()), MacroConfig(residual_cells=True, filters=16,
                                                                        block_join="avg"))
    assert same == tagged and same.to_text() == tagged.to_text()
    assert CellArchitecture(cell, MacroConfig(filters=12)).to_text() != tagged.to_text()

    data = json.loads(json.dumps(tagged.to_json()))
    assert data["kind"] == "cell" and data["macro"]["filters"] == 16
    assert CellArchitecture.from_json(data) == tagged
    with pytest.raises(ConfigError, match="cell architecture"):
        CellArchitecture.from_json({"kind": "layer_stack", "layers": []})
