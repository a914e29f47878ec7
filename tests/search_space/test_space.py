"""The search space: TOML parsing with paths, membership checks, enumeration of blocks and cells."""

from __future__ import annotations

import pytest

from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.search_space.cell import Cell
from scinas.search_space.space import SearchSpace

OPERATORS = ("identity", "3x3 conv", "3x3 dconv", "2x2 maxpool")


def _parse(raw: dict[str, object], rank: int = 2) -> SearchSpace:
    return SearchSpace.parse(Table(raw, file="configurations.toml", path="A.search_space"), rank=rank)


def test_parse_canonicalises_operators() -> None:
    space = _parse({"blocks": 3, "lookback_depth": 1, "operators": ["identity", " 3x3:1dr  conv", "8r se"]})
    assert space == SearchSpace(("identity", "3x3 conv", "8r SE"), max_blocks=3, lookback_depth=1, rank=2)
    assert SearchSpace.from_json(space.to_json()) == space


@pytest.mark.parametrize(("raw", "rank", "message"), [
    ({"operators": []}, 2, r"\[A.search_space\] operators.*at least one"),
    ({"operators": ["3x3 convv"]}, 2, r"\[A.search_space\] operators\[0\].*3x3 convv"),
    ({"operators": ["3x3 conv", "lstm"]}, 2, r"operators\[1\].*lstm"),
    ({"operators": ["3x3 conv"]}, 1, r"operators\[0\].*3 conv"),
    ({"operators": ["3x3 conv", "3x3:1dr conv"]}, 2, r"operators\[1\].*listed twice"),
    ({"operators": ["identity"], "blocks": 0}, 2, r"blocks = 0"),
    ({"operators": ["identity"], "lookback_depth": 0}, 2, r"lookback_depth = 0"),
    ({"operators": ["identity"], "block": 3}, 2, r"\[A.search_space\] block = 3: unknown key.*blocks"),
    ({"operators": ["identity", 3]}, 2, r"\[A.search_space\] operators\[1\] = 3: .*must be a string"),
    ({"operators": "identity"}, 2, r"\[A.search_space\] operators = \"identity\": expected an array"),
    ({"blocks": 3}, 2, r"\[A.search_space\] operators: missing required key"),
    ({"operators": ["identity"], "blocks": 2.5}, 2, r"blocks = 2.5: expected an integer"),
])
def test_parse_errors_name_the_toml_path(raw: dict[str, object], rank: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _parse(raw, rank)


SPACE = SearchSpace(OPERATORS, max_blocks=2, lookback_depth=2, rank=2)


def test_validate_returns_canonical_operators() -> None:
    cell = SPACE.validate(Cell.from_text("[(-1, 3x3:1dr conv, -2, 2X2 MAXPOOL)]"))
    assert set(cell.operators) == {"3x3 conv", "2x2 maxpool"}
    # "3x3  conv", "3x3:1dr conv" and "3x3 conv" are one operator: the cells become equal once validated
    spelled = [SPACE.cell(f"[(-1, {op}, -1, identity)]") for op in ("3x3  conv", "3x3:1dr conv", "3x3 conv")]
    assert len(set(spelled)) == 1 and spelled[0].to_text() == "[(-1, 3x3 conv, -1, identity)]"
    assert Cell.from_text("[(-1, 3x3:1dr conv, -1, identity)]") != spelled[0]  # before validation they differ


def test_parse_defaults() -> None:
    space = _parse({"operators": ["identity"]})
    assert (space.max_blocks, space.lookback_depth, space.rank) == (5, 2, 2)
    assert space.lookbacks == (-1, -2)
    assert _parse({"operators": ["7 conv", "lstm"]}, rank=1).operators == ("7 conv", "lstm")


@pytest.mark.parametrize(("arguments", "message"), [
    ({"operators": ()}, "non-empty sequence of operators"),
    ({"operators": "identity"}, "non-empty sequence of operators"),
    ({"operators": ("identity", " identity ")}, "identity more than once"),
    ({"operators": ("identity",), "max_blocks": 0}, "max_blocks must be an integer >= 1, not 0"),
    ({"operators": ("identity",), "lookback_depth": True}, "lookback_depth must be an integer >= 1, not True"),
    ({"operators": ("identity",), "rank": 3}, "rank must be 1 .* or 2"),
    ({"operators": ("lstm",), "rank": 2}, "lstm"),
])
def test_direct_construction_errors(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SearchSpace(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "message"), [
    ("[(-3, 3x3 conv, -1, identity)]", r"block 0 input 2 is -3, beyond lookback_depth = 2"),
    ("[(-1, 5x5 conv, -1, identity)]", r'"5x5 conv", which is not in the search space'),
    ("[(-1, lstm, -1, identity)]", r"block 0 operator 2: .*lstm.* needs 1D \(series\) inputs"),
    ("[(-1, 3x3 convv, -1, identity)]", r"3x3 convv"),
    ("[(-1, identity, -1, identity); (0, identity, -1, 3x3 conv); (1, identity, 0, 3x3 conv)]",
     r"3 blocks, the search space allows 2"),
])
def test_validate_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        SPACE.cell(text, file="configurations.toml", path="A.structure.cell")
    assert str(info.value).startswith("configurations.toml: [A.structure] cell = ")
    assert info.value.file == "configurations.toml" and info.value.path == "A.structure.cell"


@pytest.mark.parametrize(("text", "fix"), [
    ("[(-3, 3x3 conv, -1, identity)]", "set [A.search_space] lookback_depth = 3 or read -1..-2"),
    ("[(-1, 5x5 conv, -1, identity)]", 'add "5x5 conv" to [A.search_space] operators'),
    ("[(-1, identity, -1, identity); (0, identity, -1, 3x3 conv); (1, identity, 0, 3x3 conv)]",
     "set [A.search_space] blocks = 3"),
])
def test_validate_fixes_name_the_search_space_table(text: str, fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        SPACE.cell(text, file="configurations.toml", path="A.structure.cell")
    assert info.value.fix is not None and fix in info.value.fix


def test_validate_checks_every_operator_against_the_rank() -> None:
    series = SearchSpace(("7 conv", "lstm", "identity"), max_blocks=2, rank=1)
    assert series.validate(Cell.from_text("[(-1, lstm, -2, 7:1dr conv)]")) == Cell.from_text("[(-2, 7 conv, -1, lstm)]")
    with pytest.raises(ConfigError, match=r"block 0 operator \d: .*3x3 conv"):
        series.validate(Cell.from_text("[(-1, 3x3 conv, -1, lstm)]"))


def test_block_referring_to_a_later_block_is_named() -> None:
    with pytest.raises(ConfigError, match="refers to block 1") as info:
        SPACE.cell("[(1, identity, -1, identity); (-1, identity, -1, identity)]", path="A.structure.cell")
    assert "[A.structure] cell" in str(info.value)


def test_legal_blocks_by_hand() -> None:
    space = SearchSpace(("identity", "3x3 conv"), max_blocks=3, lookback_depth=2)
    # no block yet: sides (-1, id) (-1, conv) (-2, id) (-2, conv); 4 pairs of different sides + 4 doubles = 10
    assert len(space.legal_blocks(0)) == 10
    # one block: 6 sides (block 0 added) -> 15 + 6 = 21
    assert len(space.legal_blocks(1)) == 21
    assert {frozenset(b.sides) for b in space.legal_blocks(0)} >= {
        frozenset({(-1, "identity")}), frozenset({(-1, "identity"), (-2, "3x3 conv")})}


def test_legal_blocks_counts() -> None:
    space = SearchSpace(("identity", "3x3 conv"), max_blocks=3, lookback_depth=2)
    # sides = inputs x operators; blocks = unordered pairs of sides with repetition: s (s + 1) / 2
    for existing, inputs in ((0, 2), (1, 3), (2, 4)):
        sides = inputs * 2
        blocks = space.legal_blocks(existing)
        assert len(blocks) == sides * (sides + 1) // 2
        assert len({frozenset(((b.in1, b.op1), (b.in2, b.op2))) for b in blocks}) == len(blocks)
        assert all(-2 <= s < existing for b in blocks for s in b.inputs)


def test_one_block_cells_are_all_distinct() -> None:
    space = SearchSpace(("identity", "3x3 conv"), max_blocks=3, lookback_depth=2)
    cells = space.one_block_cells()
    assert len(cells) == 10 == len(set(cells)) == len({c.to_text() for c in cells})
    assert all(c.n_blocks == 1 for c in cells)
    assert list(cells) == sorted(cells, key=Cell.to_text)


def test_validate_without_a_path_quotes_the_cell() -> None:
    with pytest.raises(ConfigError, match=r"block 0 input 2 is -3.*in cell \[\(-1, identity, -3, 3x3 conv\)\]"):
        SPACE.validate(Cell.from_text("[(-3, 3x3 conv, -1, identity)]"))
    with pytest.raises(ConfigError, match=r"block 0 operator 2: .*lstm.*in cell"):
        SPACE.validate(Cell.from_text("[(-1, lstm, -1, identity)]"))


def test_parse_errors_of_a_cell_text_name_the_path() -> None:
    with pytest.raises(ConfigError, match=r"configurations.toml: \[A.structure\] cell: block 0 .* 3 fields") as info:
        SPACE.cell("[(-1, identity, -1)]", file="configurations.toml", path="A.structure.cell")
    assert str(info.value).count("[(-1, identity, -1)]") == 1  # quoted once, not twice


def test_contains() -> None:
    assert SPACE.contains(Cell.from_text("[(-1, 3x3 conv, -2, identity)]"))
    assert not SPACE.contains(Cell.from_text("[(-1, 5x5 conv, -2, identity)]"))
    assert not SPACE.contains(Cell.from_text("[(-3, 3x3 conv, -2, identity)]"))


def test_expand_gives_every_non_equivalent_child() -> None:
    space = SearchSpace(("identity", "3x3 conv"), max_blocks=2, lookback_depth=1)
    parent = Cell.from_text("[(-1, identity, -1, 3x3 conv)]")
    children = space.expand(parent)
    # sides: inputs {-1, 0} x 2 operators = 4; unordered pairs with repetition = 10, all distinct
    assert len(children) == 10 == len(set(children))
    assert all(c.n_blocks == 2 and space.contains(c) for c in children)
    assert space.expand(children[0]) == ()  # max_blocks reached
    # a parent with two identical blocks: reading either one is the same child
    twins = SearchSpace(("identity",), max_blocks=3, lookback_depth=1)
    parent = Cell.from_text("[(-1, identity, -1, identity); (-1, identity, -1, identity)]")
    # new block sides: inputs {-1, 0, 1} -> 6 unordered pairs; (0, x) and (1, x) coincide -> 4 children
    assert len(twins.legal_blocks(2)) == 6 and len(twins.expand(parent)) == 4


def test_one_block_cells_by_hand_with_lookback_one() -> None:
    # one input, 3 operators: pairs with repetition 3 * 4 / 2 = 6
    space = SearchSpace(("identity", "3x3 conv", "2x2 maxpool"), max_blocks=1, lookback_depth=1)
    texts = {c.to_text() for c in space.one_block_cells()}
    assert texts == {"[(-1, 2x2 maxpool, -1, 2x2 maxpool)]", "[(-1, 2x2 maxpool, -1, 3x3 conv)]",
                     "[(-1, 2x2 maxpool, -1, identity)]", "[(-1, 3x3 conv, -1, 3x3 conv)]",
                     "[(-1, 3x3 conv, -1, identity)]", "[(-1, identity, -1, identity)]"}


def test_legal_blocks_rejects_a_negative_count() -> None:
    with pytest.raises(ValueError, match="n_existing"):
        SPACE.legal_blocks(-1)


def test_from_json_errors_and_describe() -> None:
    with pytest.raises(ConfigError, match="not the JSON of a search space"):
        SearchSpace.from_json({"operators": ["identity"]})
    assert SPACE.describe() == "4 operators for 2D (image) inputs, up to 2 blocks, lookback depth 2"
