"""Cells and blocks: text and JSON round trips, structural errors, canonical equivalence, properties."""

from __future__ import annotations

import pytest

from scinas.errors import ConfigError
from scinas.search_space.cell import Block, Cell

CELLS = [
    "[]",
    "[(-1, 3x3 conv, -1, 2x2 maxpool)]",
    "[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]",
    "[(-1, 3x3 conv, -2, identity); (-1, 2x2 maxpool, 0, 3x3 dconv); (0, identity, 1, 8r SE)]",
    "[(-1, 7 conv, -1, 2 maxpool); (-2, lstm, 0, gru); (1, identity, -1, 7:2dr conv); (2, 5 dconv, 0, identity)]",
    "[(-1, a, -1, b); (-1, c, 0, d); (1, e, 0, f); (2, g, -2, h); (3, i, 1, j)]",
]


@pytest.mark.parametrize("text", CELLS)
def test_text_and_json_round_trip(text: str) -> None:
    cell = Cell.from_text(text)
    assert Cell.from_text(cell.to_text()) == cell
    assert Cell.from_text(cell.to_text()).to_text() == cell.to_text()
    assert Cell.from_json(cell.to_json()) == cell
    assert str(cell) == cell.to_text()


def test_white_space_is_tolerated_and_normalised() -> None:
    cell = Cell.from_text("  [ ( -1 ,  3x3   conv , -2,2x2 maxpool ) ]  ")
    assert cell.to_text() in ("[(-1, 3x3 conv, -2, 2x2 maxpool)]", "[(-2, 2x2 maxpool, -1, 3x3 conv)]")
    assert cell == Cell((Block(-1, "3x3 conv", -2, "2x2 maxpool"),))


@pytest.mark.parametrize(("text", "message"), [
    ("(-1, a, -1, b)", "square brackets"),
    ("[(-1, a, -1, b)", "square brackets"),
    ("[-1, a, -1, b]", "parentheses"),
    ("[(-1, a, -1)]", "3 fields, expected 4"),
    ("[(-1, a, -1, b, c)]", "5 fields"),
    ("[(x, a, -1, b)]", "'x' is not an integer"),
    ("[(-1, , -1, b)]", "operator 1 is empty"),
    ("[(0, a, -1, b)]", "refers to block 0, which is not earlier"),
    ("[(-1, a, -1, b); (1, c, -1, d)]", "block 1 input 1 refers to block 1"),
    ("[(-1, a, -1, b); (-1, c, 2, d)]", "refers to block 2"),
])
def test_malformed_texts_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Cell.from_text(text)
    assert info.value.fix  # every error says how to write it


def test_swapped_sides_are_equal() -> None:
    a = Cell.from_text("[(-1, 3x3 conv, -2, 2x2 maxpool)]")
    b = Cell.from_text("[(-2, 2x2 maxpool, -1, 3x3 conv)]")
    assert a == b and hash(a) == hash(b) and a.to_text() == b.to_text()


def test_reordered_independent_blocks_are_equal_with_renumbered_references() -> None:
    # block 2 reads the A/B block with E and the C/D block with F, whatever their numbers
    a = Cell.from_text("[(-1, A, -1, B); (-2, C, -1, D); (0, E, 1, F)]")
    b = Cell.from_text("[(-2, C, -1, D); (-1, B, -1, A); (1, E, 0, F)]")
    c = Cell.from_text("[(-1, D, -2, C); (-1, A, -1, B); (0, F, 1, E)]")
    assert a == b == c
    assert len({a, b, c}) == 1 and len({a.to_text(), b.to_text(), c.to_text()}) == 1


def test_crossed_references_are_a_different_cell() -> None:
    a = Cell.from_text("[(-1, A, -1, B); (-2, C, -1, D); (0, E, 1, F)]")
    crossed = Cell.from_text("[(-1, A, -1, B); (-2, C, -1, D); (1, E, 0, F)]")
    assert a != crossed and hash(a) != hash(crossed)


def test_different_operators_or_inputs_differ() -> None:
    base = Cell.from_text("[(-1, A, -1, B)]")
    assert base != Cell.from_text("[(-1, A, -1, C)]")
    assert base != Cell.from_text("[(-2, A, -1, B)]")
    assert base != Cell.from_text("[(-1, A, -1, B); (0, A, -1, B)]")


def test_dependent_blocks_keep_their_order() -> None:
    cell = Cell.from_text("[(-1, Z, -1, Z); (0, A, -1, A)]")  # block 1 reads block 0: "A" cannot go first
    assert cell.blocks[0].operators == ("Z", "Z")
    assert cell.blocks[1].inputs in ((0, -1), (-1, 0))


def test_properties() -> None:
    cell = Cell.from_text("[(-1, A, -2, B); (0, C, -1, D); (-1, E, -1, F)]")
    assert cell.n_blocks == 3 and not cell.is_empty
    assert cell.used_lookbacks == (-1, -2)
    assert cell.operators == tuple(dict.fromkeys(op for b in cell.blocks for op in b.operators))
    assert set(cell.operators) == set("ABCDEF")
    assert cell.dependencies == 1
    assert cell.depth == 2
    readers = {s for b in cell.blocks for s in b.inputs if s >= 0}
    assert set(cell.unused_blocks) == set(range(3)) - readers and len(cell.unused_blocks) == 2
    empty = Cell.from_text("[]")
    assert empty.is_empty and empty.depth == 0 and empty.used_lookbacks == () and empty.unused_blocks == ()
    assert Cell.from_text("[(-2, A, -2, B)]").used_lookbacks == (-2,)


def test_with_block_appends_and_canonicalises() -> None:
    one = Cell.from_text("[(-1, A, -1, B)]")
    two = one.with_block(Block(0, "C", -2, "D"))
    assert two.n_blocks == 2 and two == Cell.from_text("[(-1, B, -1, A); (-2, D, 0, C)]")
    assert one.n_blocks == 1  # immutable


def test_cells_are_immutable() -> None:
    cell = Cell.from_text("[(-1, A, -1, B)]")
    with pytest.raises(AttributeError):
        cell.blocks = ()  # type: ignore[misc]


def test_json_errors() -> None:
    with pytest.raises(ConfigError, match="list"):
        Cell.from_json({"blocks": []})
    with pytest.raises(ConfigError, match="block 0"):
        Cell.from_json([[-1, "a", -1]])
