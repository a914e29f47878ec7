"""Cells and blocks: text and JSON round trips, structural errors, canonical equivalence, properties."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys

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
    assert cell.to_text() == "[(-1, 3x3 conv, -2, 2x2 maxpool)]"  # -1 before -2
    assert cell == Cell((Block(-1, "3x3 conv", -2, "2x2 maxpool"),))


@pytest.mark.parametrize(("text", "message"), [
    ("(-1, a, -1, b)", "square brackets"),
    ("[(-1, a, -1, b)", "square brackets"),
    ("[-1, a, -1, b]", r"does not start with '\('"),
    ("[(-1, a, -1, b]", r"has no closing '\)'"),
    ("[(-1, a, -1, b), (0, c, -1, d)]", "separated by ';', not ','"),
    ("[(-1, a, -1, b);]", r"block 1 is empty \(a stray ';'\?\)"),
    ("[(-1, a, -1)]", "3 fields, expected 4"),
    ("[(-1, a, -1, b, c)]", "5 fields"),
    ("[(x, a, -1, b)]", "'x' is not an integer"),
    ("[(-1, a, 1.5, b)]", "input 2 '1.5' is not an integer"),
    ("[(-1, , -1, b)]", "operator 1 is empty"),
    ("[(0, a, -1, b)]", "refers to block 0, which is not earlier"),
    ("[(1, a, -1, b); (-1, c, -1, d)]", r"block 0 input 1 refers to block 1, which is not earlier"),
    ("[(-1, a, -1, b); (1, c, -1, d)]", "block 1 input 1 refers to block 1"),
    ("[(-1, a, -1, b); (-1, c, 2, d)]", "refers to block 2"),
])
def test_malformed_texts_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Cell.from_text(text)
    assert info.value.fix  # every error says how to write it
    assert text in str(info.value)  # and quotes the whole cell


@pytest.mark.parametrize(("text", "position"), [
    ("[(-1, a, -1)]", 2),
    ("  [(-1, a, -1, b); (y, c, -1, d)]", 21),
    ("[(-1, a, -1, b); (-1, c, -1, )]", 30),
    ("[(-1, a, -1, b) (0, c, -1, d)]", 16),
    ("(-1, a, -1, b)", 1),
])
def test_parse_errors_give_the_position(text: str, position: int) -> None:
    with pytest.raises(ConfigError, match=rf"at character {position} of"):
        Cell.from_text(text)


def test_not_a_string_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="must be written as a string"):
        Cell.from_text(42)  # type: ignore[arg-type]


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


def test_equivalent_cells_deduplicate_in_sets_and_dicts() -> None:
    texts = ["[(-1, A, -1, B); (-2, C, -1, D); (0, E, 1, F)]", "[(-2, C, -1, D); (-1, B, -1, A); (1, E, 0, F)]",
             "[(-1, A, -1, B); (-2, C, -1, D); (1, E, 0, F)]"]
    results: dict[Cell, float] = {}
    for accuracy, text in zip((0.5, 0.7, 0.9), texts, strict=True):
        results[Cell.from_text(text)] = accuracy
    assert len(results) == 2 and results[Cell.from_text(texts[0])] == 0.7  # the second overwrote the first
    assert Cell.from_text(texts[1]) in results and Cell.from_text("[(-1, A, -1, B)]") not in results


def test_crossed_references_are_a_different_cell() -> None:
    a = Cell.from_text("[(-1, A, -1, B); (-2, C, -1, D); (0, E, 1, F)]")
    crossed = Cell.from_text("[(-1, A, -1, B); (-2, C, -1, D); (1, E, 0, F)]")
    assert a != crossed and hash(a) != hash(crossed)


def test_twins_read_by_different_blocks_are_numbered_canonically() -> None:
    # blocks 0 and 1 are identical; which of them block 2 reads must not matter
    texts = ["[(-1, A, -1, B); (-1, A, -1, B); (0, C, -1, D)]",
             "[(-1, A, -1, B); (-1, A, -1, B); (1, C, -1, D)]",
             "[(-1, A, -1, B); (0, C, -1, D); (-1, B, -1, A)]"]
    cells = [Cell.from_text(text) for text in texts]
    assert len(set(cells)) == 1 and len({c.to_text() for c in cells}) == 1
    # two readers, each of a different twin, versus both reading the same twin
    split = Cell.from_text("[(-1, a, -1, a); (-1, a, -1, a); (0, b, -1, b); (1, c, -1, c)]")
    assert split == Cell.from_text("[(-1, a, -1, a); (-1, a, -1, a); (1, b, -1, b); (0, c, -1, c)]")
    assert split != Cell.from_text("[(-1, a, -1, a); (-1, a, -1, a); (0, b, -1, b); (0, c, -1, c)]")
    # one block reading both twins is not one block reading one twin twice
    assert Cell.from_text("[(-1, X, -1, X); (-1, X, -1, X); (0, B, 1, B)]") != \
        Cell.from_text("[(-1, X, -1, X); (-1, X, -1, X); (0, B, 0, B)]")


def _random_blocks(rng: random.Random, n: int) -> list[Block]:
    blocks = []
    for index in range(n):
        inputs = [-1, -2, *range(index)]
        blocks.append(Block(rng.choice(inputs), rng.choice("ab"), rng.choice(inputs), rng.choice("ab")))
    return blocks


def _topological_orders(blocks: list[Block]) -> list[tuple[int, ...]]:
    return [order for order in itertools.permutations(range(len(blocks)))
            if all(order.index(s) < order.index(i) for i, b in enumerate(blocks) for s in b.inputs if s >= 0)]


def _rewritten(blocks: list[Block], order: tuple[int, ...], swaps: list[bool]) -> list[Block]:
    """``blocks`` renumbered by ``order`` (old indices in their new order), some sides swapped."""
    new = {old: position for position, old in enumerate(order)}
    result = []
    for old, swap in zip(order, swaps, strict=True):
        (a, op_a), (b, op_b) = ((new[s] if s >= 0 else s, op) for s, op in blocks[old].sides)
        result.append(Block(b, op_b, a, op_a) if swap else Block(a, op_a, b, op_b))
    return result


def _brute_force_form(blocks: list[Block]) -> tuple[tuple[object, ...], ...]:
    """The smallest of all renumberings with sorted sides: equal exactly for equivalent cells."""
    forms = []
    for order in _topological_orders(blocks):
        renumbered = _rewritten(blocks, order, [False] * len(blocks))
        forms.append(tuple(tuple(x for side in sorted(b.sides) for x in side) for b in renumbered))
    return min(forms)


def test_every_rewriting_of_random_cells_is_equal() -> None:
    rng = random.Random(7)
    for _ in range(150):
        blocks = _random_blocks(rng, rng.randint(1, 5))
        cell = Cell(tuple(blocks))
        for order in rng.sample(_topological_orders(blocks), k=min(4, len(_topological_orders(blocks)))):
            other = Cell(tuple(_rewritten(blocks, order, [rng.random() < 0.5 for _ in blocks])))
            assert other == cell and hash(other) == hash(cell) and other.to_text() == cell.to_text()


def test_equality_is_exactly_equivalence_on_random_cells() -> None:
    # small alphabet so that many random cells are equivalent (and many nearly so)
    rng = random.Random(11)
    by_form: dict[object, set[str]] = {}
    by_text: dict[str, set[object]] = {}
    for _ in range(600):
        blocks = _random_blocks(rng, rng.randint(1, 4))
        form, text = _brute_force_form(blocks), Cell(tuple(blocks)).to_text()
        by_form.setdefault(form, set()).add(text)
        by_text.setdefault(text, set()).add(form)
    assert all(len(texts) == 1 for texts in by_form.values())
    assert all(len(forms) == 1 for forms in by_text.values())
    assert len(by_form) < 600  # the sample did contain equivalent cells


def test_many_interchangeable_blocks_stay_fast() -> None:
    cell = Cell.from_text("[" + "; ".join(["(-1, a, -1, a)"] * 12) + "]")
    assert cell.n_blocks == 12 and cell.unused_blocks == tuple(range(12))


def test_cells_import_no_keras() -> None:
    # cells are the currency of strategies and stores; reading them must not start TensorFlow
    code = "import sys, scinas.search_space.cell; sys.exit('keras' in sys.modules or 'tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


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
