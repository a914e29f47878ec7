"""Units of a cell space: where each block's nodes sit in the cell graph, and rank_units' checks."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.predictors.ranking import RankingPredictor
from scinas.predictors.units import UnitRanking, UnitScore, block_nodes, connected_blocks, rank_units
from scinas.search_space.encoding import JOIN, encode_cell, max_nodes
from scinas.search_space.space import SearchSpace

SPACE = SearchSpace(("identity", "3x3 conv", "2x2 maxpool"), max_blocks=3, lookback_depth=2)


@pytest.mark.parametrize("text", [
    "[]",
    "[(-1, 3x3 conv, -1, identity)]",
    "[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -2, 3x3 conv)]",
    "[(-2, 3x3 conv, -2, 2x2 maxpool); (-2, identity, 0, 3x3 conv); (1, identity, 0, 2x2 maxpool)]",
])
def test_block_nodes_point_at_each_blocks_operators_and_join(text: str) -> None:
    cell = SPACE.cell(text)
    graph = encode_cell(cell, SPACE)
    nodes = block_nodes(cell)
    assert len(nodes) == cell.n_blocks
    for block, (left, right, join) in zip(cell.blocks, nodes, strict=True):
        assert (graph.node_labels[left], graph.node_labels[right], graph.node_labels[join]) == (*block.operators, JOIN)
        assert graph.adjacency[left, join] == 1 and graph.adjacency[right, join] == 1


def test_reduced_space_keeps_the_top_k_pairs_and_their_operators() -> None:
    units = tuple(UnitScore(pair, 1.0 - index / 10, (1.0,), 1, 1, 0.0, 0.0)
                  for index, pair in enumerate([("3x3 conv", "identity"), ("3x3 conv", "3x3 conv"),
                                                ("2x2 maxpool", "identity")]))
    ranking = UnitRanking(units, ())
    reduced = ranking.reduced_space(SPACE, 2)
    assert reduced.operators == ("identity", "3x3 conv")
    assert reduced.operator_pairs == (("3x3 conv", "identity"), ("3x3 conv", "3x3 conv"))
    assert (reduced.max_blocks, reduced.lookback_depth, reduced.rank) == (3, 2, 2)
    assert ranking.reduced_space(SPACE, 10).operator_pairs == tuple(unit.operators for unit in units)
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        ranking.reduced_space(SPACE, 0)
    with pytest.raises(ValueError, match="no unit is ranked"):
        UnitRanking((), ()).reduced_space(SPACE, 1)


def test_rank_units_checks_its_inputs() -> None:
    predictor = RankingPredictor(max_nodes(SPACE), epochs=1, ensemble=1)
    cell = SPACE.cell("[(-1, 3x3 conv, -1, identity)]")
    with pytest.raises(ValueError, match="orders by one of importance, predicted"):
        rank_units(predictor, SPACE, [cell], np.zeros(1), by="norm")
    with pytest.raises(ValueError, match="1 cells but 2 targets"):
        rank_units(predictor, SPACE, [cell], np.zeros(2))


def test_connected_blocks_lists_each_block_and_its_reader_once() -> None:
    cell = SPACE.cell("[(-2, 3x3 conv, -2, 2x2 maxpool); (-2, identity, 0, 3x3 conv); (1, identity, 0, 2x2 maxpool)]")
    assert connected_blocks(cell) == [(0, 1), (0, 2), (1, 2)]
    twice = SPACE.cell("[(-1, identity, -1, identity); (0, 3x3 conv, 0, identity)]")
    assert connected_blocks(twice) == [(0, 1)]  # read on both sides: one sub-cell
    assert connected_blocks(SPACE.cell("[(-1, identity, -2, identity)]")) == []
