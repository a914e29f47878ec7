"""``[X.search_space] operator_pairs``: the only operator pairs a block may use (a reduced space)."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.search.cell_domain import CellDomain
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig
from scinas.search_space.space import SearchSpace

OPERATORS = ["identity", "3x3 conv", "3x3 dconv", "2x2 maxpool"]


def _parse(raw: dict[str, object], rank: int = 2) -> SearchSpace:
    return SearchSpace.parse(Table(raw, file="configurations.toml", path="A.search_space"), rank=rank)


def test_pairs_are_canonical_and_unordered() -> None:
    pairs = [["identity", "3x3:1dr conv"], ["2x2 MAXPOOL", "2x2 maxpool"]]
    space = _parse({"operators": OPERATORS, "operator_pairs": pairs})
    assert space.operator_pairs == (("3x3 conv", "identity"), ("2x2 maxpool", "2x2 maxpool"))
    assert space.allows("identity", "3x3 conv") and space.allows("3x3 conv", "identity")
    assert space.allows("2x2 maxpool", "2x2 maxpool")
    assert not space.allows("3x3 conv", "3x3 conv") and not space.allows("identity", "3x3 dconv")
    assert SearchSpace.from_json(space.to_json()) == space
    assert space.describe() == "4 operators in 2 allowed pairs for 2D (image) inputs, up to 5 blocks, lookback depth 2"
    # without the key every pair is allowed and the JSON has no pairs (runs written before it read the same)
    free = _parse({"operators": OPERATORS})
    assert free.operator_pairs is None and "operator_pairs" not in free.to_json()
    assert all(free.allows(a, b) for a in OPERATORS for b in OPERATORS)


@pytest.mark.parametrize(("pairs", "message"), [
    ([], r"\[A.search_space\] operator_pairs = \[\]: expected at least one pair"),
    ("identity", r"\[A.search_space\] operator_pairs = \"identity\": expected an array"),
    ([["identity"]], r"\[A.search_space\] operator_pairs\[0\] = \[\"identity\"\]: expected a pair of two operators"),
    ([["identity", "3x3 conv"], "identity"], r"operator_pairs\[1\] = \"identity\": expected a pair"),
    ([["identity", "5x5 conv"]], r"operator_pairs\[0\]\[1\] = \"5x5 conv\": operator \"5x5 conv\" is not in "
                                 r"operators \(identity, 3x3 conv, 3x3 dconv, 2x2 maxpool\)"),
    ([["identity", "3x3 convv"]], r"operator_pairs\[0\]\[1\].*3x3 convv"),
    ([["identity", 3]], r"operator_pairs\[0\]\[1\] = 3: .*must be a string"),
    ([["none", "identity"]], r"operator_pairs\[0\]\[0\] = \"none\""),
    ([["identity", "3x3 conv"], ["3x3 conv", "identity"]],
     r"operator_pairs\[1\] = .*listed twice .*operator_pairs\[0\]"),
])
def test_pair_errors_name_the_entry(pairs: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        _parse({"operators": OPERATORS, "operator_pairs": pairs})
    assert info.value.path is not None and info.value.path.startswith("A.search_space.operator_pairs")


def test_darts_names_map_in_pairs_too() -> None:
    darts = ["skip_connect", "max_pool_3x3"]
    space = _parse({"operators": darts, "operator_pairs": [darts]})
    assert space.operator_pairs == (("3x3 maxpool", "identity"),)


def test_direct_construction_checks_the_pairs() -> None:
    with pytest.raises(ConfigError, match="non-empty sequence of operator pairs"):
        SearchSpace(("identity",), operator_pairs=())
    with pytest.raises(ConfigError, match=r"uses operator \"3x3 conv\", which is not among the operators"):
        SearchSpace(("identity",), operator_pairs=(("identity", "3x3 conv"),))
    with pytest.raises(ConfigError, match="two operators"):
        SearchSpace(("identity",), operator_pairs=(("identity",),))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="listed twice"):
        SearchSpace(("identity", "3x3 conv"), operator_pairs=(("identity", "3x3 conv"), ("3x3 conv", "identity")))


SPACE = SearchSpace(("identity", "3x3 conv", "2x2 maxpool"), max_blocks=3, lookback_depth=2,
                    operator_pairs=(("3x3 conv", "identity"), ("2x2 maxpool", "3x3 conv")))


def _pairs_of(cell: Cell) -> set[tuple[str, str]]:
    return {(min(b.operators), max(b.operators)) for b in cell.blocks}


def test_validate_refuses_a_block_of_another_pair() -> None:
    assert SPACE.contains(Cell.from_text("[(-1, 3x3 conv, -2, identity); (0, 2x2 maxpool, -1, 3x3 conv)]"))
    with pytest.raises(ConfigError, match=r'block 1 pairs "identity" with "identity", a pair the search space does '
                                          r"not allow") as info:
        SPACE.cell("[(-1, 3x3 conv, -2, identity); (0, identity, -1, identity)]", file="configurations.toml",
                   path="A.structure.cell")
    fix = '["identity", "identity"] to [A.search_space] operator_pairs'
    assert info.value.fix is not None and fix in info.value.fix


def test_legal_blocks_and_expansion_keep_to_the_pairs() -> None:
    # two inputs: (-1|-2, conv) x (-1|-2, identity) = 4 blocks, and 4 for conv + maxpool
    assert len(SPACE.legal_blocks(0)) == 8
    assert {(min(b.operators), max(b.operators)) for b in SPACE.legal_blocks(1)} == set(SPACE.operator_pairs or ())
    children = SPACE.expand(SPACE.one_block_cells()[0])
    assert children and all(SPACE.contains(c) and _pairs_of(c) <= set(SPACE.operator_pairs or ()) for c in children)
    full = SearchSpace(SPACE.operators, max_blocks=3, lookback_depth=2)
    assert len(full.legal_blocks(0)) == 21 > len(SPACE.legal_blocks(0))


def test_the_cell_domain_samples_mutates_and_lists_neighbours_in_the_pairs() -> None:
    domain = CellDomain(SPACE, MacroConfig(filters=8))
    rng = np.random.default_rng(0)
    allowed = set(SPACE.operator_pairs or ())
    for _ in range(40):
        parent = domain.sample(rng)
        assert domain.contains(parent) and _pairs_of(parent.cell) <= allowed
        child = domain.mutate(parent, rng)
        assert domain.contains(child) and domain.key(child) != domain.key(parent)
        neighbours = domain.neighbours(parent)
        assert neighbours and all(domain.contains(n) for n in neighbours)
    # an operator change of one side is a neighbour only when the new pair is allowed:
    # (-1, conv, -1, identity) -> (-1, conv, -1, maxpool) is allowed, -> (-1, identity, -1, identity) is not
    cell = CellArchitecture(SPACE.cell("[(-1, 3x3 conv, -1, identity)]"), domain.macro)
    keys = {domain.key(n) for n in domain.neighbours(cell)}
    assert any("2x2 maxpool, -1, 3x3 conv" in key for key in keys)
    assert not any(key.startswith("[(-1, identity, -1, identity)") for key in keys)
    assert all(domain.contains(a) for a in domain.one_block())
    assert len(domain.one_block()) == 8
