"""CellDomain: sampling, mutation, expansion with equivalence pruning, encodings."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.errors import ConfigError
from scinas.search.cell_domain import CellDomain
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Block, Cell
from scinas.search_space.macro import MacroConfig


def test_sample_is_legal_and_mutation_changes_the_cell(tiny_domain: CellDomain) -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        parent = tiny_domain.sample(rng)
        assert 1 <= tiny_domain.blocks(parent) <= 2 and tiny_domain.contains(parent)
        child = tiny_domain.mutate(parent, rng)
        assert tiny_domain.contains(child)
        assert tiny_domain.key(child) != tiny_domain.key(parent)
        assert tiny_domain.key(child) in {tiny_domain.key(n) for n in tiny_domain.neighbours(parent)}


def test_expansion_prunes_equivalent_cells(tiny_domain: CellDomain) -> None:
    one = tiny_domain.one_block()
    # 2 inputs x 2 operators = 4 sides, unordered pairs with repetition: 10 cells
    assert len(one) == 10 == len({tiny_domain.key(a) for a in one})
    parent = tiny_domain.single_operator("3x3 conv")
    children = tiny_domain.expand(parent)
    keys = [tiny_domain.key(a) for a in children]
    assert len(keys) == len(set(keys))
    # (-1, conv, -1, conv) twice is one cell however the new block is written
    twin = CellArchitecture(Cell((Block(-1, "3x3 conv", -1, "3x3 conv"),) * 2), tiny_domain.macro)
    assert keys.count(tiny_domain.key(twin)) == 1
    # the new block reads -1, -2 or block 0 with either operator: 6 sides, 21 unordered pairs
    assert len(children) == 21
    # two different parents share the child holding both of their blocks (block order is irrelevant)
    other = CellArchitecture(Cell((Block(-2, "identity", -2, "identity"),)), tiny_domain.macro)
    both = CellArchitecture(Cell((Block(-2, "identity", -2, "identity"), Block(-1, "3x3 conv", -1, "3x3 conv"))),
                            tiny_domain.macro)
    shared = set(keys) & {tiny_domain.key(a) for a in tiny_domain.expand(other)}
    assert tiny_domain.key(both) in shared
    assert tiny_domain.expand(children[0]) == []  # max_blocks reached


def test_encodings(tiny_domain: CellDomain) -> None:
    cell = tiny_domain.single_operator("3x3 conv")
    graph = tiny_domain.graph(cell)
    assert graph.node_labels == ("-1", "3x3 conv", "3x3 conv", "join")
    assert graph.features.shape[0] <= tiny_domain.max_nodes
    scores = {"identity": 0.0, "3x3 conv": 1.0}
    features = tiny_domain.cost_features(cell, scores)
    assert features.shape == (9,) and features[0] == 1 and features[2] == 2.0
    assert np.all(tiny_domain.cost_features(tiny_domain.empty(), scores)[[0, 2]] == 0)
    assert tiny_domain.operators_of(cell) == ("3x3 conv", "3x3 conv")
    assert tiny_domain.inputs_of(cell) == (-1, -1)


def test_membership_and_json(tiny_domain: CellDomain) -> None:
    rng = np.random.default_rng(1)
    cell = tiny_domain.sample(rng)
    assert tiny_domain.from_json(cell.to_json()) == cell
    other_macro = CellArchitecture(cell.cell, MacroConfig(filters=16))
    assert not tiny_domain.contains(other_macro)
    foreign = CellArchitecture(Cell((Block(-1, "2x2 maxpool", -1, "identity"),)), tiny_domain.macro)
    assert not tiny_domain.contains(foreign)
    with pytest.raises(ConfigError):
        tiny_domain.from_json(foreign.to_json())
    with pytest.raises(ConfigError, match="not in the search space"):
        tiny_domain.single_operator("2x2 maxpool")
