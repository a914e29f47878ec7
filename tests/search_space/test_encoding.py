"""The GIN graph encoding against hand-written node lists and adjacency matrices."""

from __future__ import annotations

import random

import numpy as np
import pytest

from scinas.errors import ConfigError
from scinas.search_space.cell import Block, Cell
from scinas.search_space.encoding import CellGraph, batch_graphs, encode_cell, feature_names, max_nodes
from scinas.search_space.space import SearchSpace

SPACE = SearchSpace(("identity", "3x3 conv", "2x2 maxpool"), max_blocks=3, lookback_depth=2)


def _check(text: str, labels: list[str], edges: list[tuple[int, int]]) -> None:
    graph = encode_cell(Cell.from_text(text), SPACE)
    assert list(graph.node_labels) == labels
    expected = np.zeros((len(labels), len(labels)), dtype=np.float32)
    for source, target in edges:
        expected[source, target] = 1
    np.testing.assert_array_equal(graph.adjacency, expected)
    names = feature_names(SPACE)
    np.testing.assert_array_equal(graph.features.sum(axis=1), np.ones(len(labels)))
    assert [names[i] for i in graph.features.argmax(axis=1)] == labels


def test_only_minus_one_with_depth_two_has_no_minus_two_node() -> None:
    # the node numbering must not reserve a slot for the unused -2 (the POPNAS encoding did)
    _check("[(-1, 3x3 conv, -1, 2x2 maxpool)]",
           ["-1", "2x2 maxpool", "3x3 conv", "join"],
           [(0, 1), (0, 2), (1, 3), (2, 3)])
    graph = encode_cell(Cell.from_text("[(-1, 3x3 conv, -1, 2x2 maxpool)]"), SPACE)
    np.testing.assert_array_equal(graph.adjacency, [[0, 1, 1, 0],
                                                    [0, 0, 0, 1],
                                                    [0, 0, 0, 1],
                                                    [0, 0, 0, 0]])
    #                                       identity 3x3 conv 2x2 maxpool -1 -2 join concat
    np.testing.assert_array_equal(graph.features, [[0, 0, 0, 1, 0, 0, 0],
                                                   [0, 0, 1, 0, 0, 0, 0],
                                                   [0, 1, 0, 0, 0, 0, 0],
                                                   [0, 0, 0, 0, 0, 1, 0]])


def test_only_minus_two() -> None:
    _check("[(-2, identity, -2, 3x3 conv)]",
           ["-2", "3x3 conv", "identity", "join"],
           [(0, 1), (0, 2), (1, 3), (2, 3)])


def test_a_block_reading_a_block_has_no_concat() -> None:
    # block 1 reads block 0: one unused block, no concat node
    _check("[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 conv)]",
           ["-1", "-2", "2x2 maxpool", "3x3 conv", "join", "identity", "3x3 conv", "join"],
           [(0, 2), (1, 3), (2, 4), (3, 4), (4, 5), (0, 6), (5, 7), (6, 7)])


def test_two_unused_blocks_are_concatenated() -> None:
    _check("[(-1, 3x3 conv, -1, identity); (-2, 2x2 maxpool, -2, 2x2 maxpool)]",
           ["-1", "-2", "3x3 conv", "identity", "join", "2x2 maxpool", "2x2 maxpool", "join", "concat"],
           [(0, 2), (0, 3), (2, 4), (3, 4), (1, 5), (1, 6), (5, 7), (6, 7), (4, 8), (7, 8)])


def test_skipped_lookbacks_get_no_node_at_any_depth() -> None:
    # depth 3, the cell reads -1 and -3: two lookback nodes, the -3 node one-hot in the "-3" column
    space = SearchSpace(("identity", "3x3 conv"), max_blocks=3, lookback_depth=3)
    graph = encode_cell(Cell.from_text("[(-3, identity, -1, 3x3 conv); (0, identity, 0, 3x3 conv)]"), space)
    assert graph.node_labels == ("-1", "-3", "3x3 conv", "identity", "join", "3x3 conv", "identity", "join")
    assert graph.edges() == [(0, 2), (1, 3), (2, 4), (3, 4), (4, 5), (4, 6), (5, 7), (6, 7)]
    names = feature_names(space)
    assert names == ("identity", "3x3 conv", "-1", "-2", "-3", "join", "concat")
    assert graph.features[1, names.index("-3")] == 1 and graph.features[:, names.index("-2")].sum() == 0


def test_the_empty_cell_is_one_lookback_node() -> None:
    _check("[]", ["-1"], [])


def test_equivalent_cells_encode_identically() -> None:
    a = encode_cell(Cell.from_text("[(-1, 3x3 conv, -2, identity); (-1, 2x2 maxpool, -1, identity)]"), SPACE)
    b = encode_cell(Cell.from_text("[(-1, identity, -1, 2x2 maxpool); (-2, identity, -1, 3x3 conv)]"), SPACE)
    assert a.node_labels == b.node_labels
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.adjacency, b.adjacency)


def test_every_node_but_the_output_has_an_edge_out() -> None:
    graph = encode_cell(Cell.from_text("[(-1, 3x3 conv, -2, identity); (0, 2x2 maxpool, -1, identity); "
                                       "(0, identity, 1, 3x3 conv)]"), SPACE)
    outgoing = graph.adjacency.sum(axis=1)
    assert (outgoing[:-1] > 0).all() and outgoing[-1] == 0  # the last join is the only sink
    assert graph.edges()[0] == (0, 2) or graph.edges()[0][0] == 0


def test_batch_graphs_pads_and_masks() -> None:
    graphs = [encode_cell(Cell.from_text(t), SPACE) for t in ("[]", "[(-1, 3x3 conv, -1, 2x2 maxpool)]")]
    features, adjacency, mask = batch_graphs(graphs, max_nodes=max_nodes(SPACE))
    assert features.shape == (2, 2 + 9 + 1, len(feature_names(SPACE)))
    assert adjacency.shape == (2, 12, 12)
    np.testing.assert_array_equal(mask.sum(axis=1), [1, 4])
    np.testing.assert_array_equal(adjacency[1, :4, :4], graphs[1].adjacency)
    assert features[0, 1:].sum() == 0
    with pytest.raises(ValueError, match="max_nodes"):
        batch_graphs(graphs, max_nodes=2)
    assert batch_graphs(graphs)[0].shape[1] == 4


def test_the_largest_cell_fills_max_nodes() -> None:
    # both lookbacks, three blocks, none read by another: 2 + 3 * 3 + 1 (concat) = max_nodes
    graph = encode_cell(Cell.from_text("[(-1, identity, -2, identity); (-1, 3x3 conv, -1, identity); "
                                       "(-2, 2x2 maxpool, -1, 3x3 conv)]"), SPACE)
    assert graph.n_nodes == max_nodes(SPACE) == 12
    assert graph.node_labels[-1] == "concat" and graph.adjacency[:, -1].sum() == 3


def test_graphs_are_immutable_values() -> None:
    a = encode_cell(Cell.from_text("[(-1, 3x3 conv, -2, identity)]"), SPACE)
    b = encode_cell(Cell.from_text("[(-2, identity, -1, 3x3:1dr conv)]"), SPACE)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != encode_cell(Cell.from_text("[(-1, identity, -2, 3x3 conv)]"), SPACE)
    with pytest.raises(ValueError, match="read-only"):
        a.adjacency[0, 0] = 1
    with pytest.raises(ValueError, match="adjacency"):
        CellGraph(("-1", "join"), np.zeros((2, 3)), np.zeros((3, 3)))


def test_a_cell_outside_the_space_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not in the search space"):
        encode_cell(Cell.from_text("[(-1, 5x5 conv, -1, identity)]"), SPACE)
    with pytest.raises(ConfigError, match="beyond lookback_depth"):
        encode_cell(Cell.from_text("[(-3, identity, -1, identity)]"), SPACE)


def _random_cell(rng: random.Random) -> list[Block]:
    operators = SPACE.operators
    blocks = []
    for index in range(rng.randint(0, SPACE.max_blocks)):
        inputs = [-1, -2, *range(index)]
        blocks.append(Block(rng.choice(inputs), rng.choice(operators), rng.choice(inputs), rng.choice(operators)))
    return blocks


def test_random_cells_encode_consistently() -> None:
    rng = random.Random(3)
    names = feature_names(SPACE)
    for _ in range(200):
        blocks = _random_cell(rng)
        cell = Cell(tuple(blocks))
        graph = encode_cell(cell, SPACE)
        # the same cell written with every block's sides swapped encodes the same
        swapped = Cell(tuple(Block(b.in2, b.op2, b.in1, b.op1) for b in blocks))
        assert encode_cell(swapped, SPACE) == graph
        lookbacks = cell.used_lookbacks or (-1,)
        concat = len(cell.unused_blocks) > 1
        assert graph.n_nodes == len(lookbacks) + 3 * cell.n_blocks + concat <= max_nodes(SPACE)
        np.testing.assert_array_equal(graph.features.sum(axis=1), 1)
        assert [names[i] for i in graph.features.argmax(axis=1)] == list(graph.node_labels)
        inputs, outputs = graph.adjacency.sum(axis=0), graph.adjacency.sum(axis=1)
        for node, label in enumerate(graph.node_labels):
            if label == "join":
                assert inputs[node] == 2  # its two operators
            elif label == "concat":
                assert inputs[node] == len(cell.unused_blocks) and outputs[node] == 0
            elif label.startswith("-"):
                assert inputs[node] == 0 and (outputs[node] > 0 or cell.is_empty)
            else:
                assert inputs[node] == 1 and outputs[node] == 1  # an operator: one input, its join
        # exactly one sink: the cell output
        assert int((outputs == 0).sum()) == 1
        assert graph.edges() == sorted(graph.edges()) and all(i < j for i, j in graph.edges())


def test_batch_graphs_rejects_mixed_spaces() -> None:
    other = SearchSpace(("identity",), max_blocks=1, lookback_depth=1)
    graphs = [encode_cell(Cell(), SPACE), encode_cell(Cell(), other)]
    with pytest.raises(ValueError, match="same search space"):
        batch_graphs(graphs)
    with pytest.raises(ValueError, match="at least one graph"):
        batch_graphs([])
