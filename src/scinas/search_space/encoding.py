"""The graph encoding of a cell, as the GIN accuracy predictor reads it.

Nodes, in this order:

1. one node per lookback the cell **uses**, ``-1`` first (a cell that reads only ``-1`` has no
   ``-2`` node, whatever the lookback depth — numbering nodes for unused lookbacks is the bug
   the POPNAS encoding had);
2. three nodes per block, in block order: its left operator, its right operator, its join;
3. one ``concat`` node, only when more than one block is unused (their outputs are concatenated).

Edges (``adjacency[i, j] = 1`` for ``i → j``): input → operator (the input is a lookback node or
the join node of the block it reads), operator → its block's join, unused join → concat.
Features are one-hot over the space's operators, the lookback slots ``-1 .. -lookback_depth``,
``join`` and ``concat``.  The empty cell is one node, lookback ``-1`` (its output is its input).

Cells are canonical (:mod:`scinas.search_space.cell`), so equivalent cells encode identically.

Example::

    graph = encode_cell(Cell.from_text("[(-1, 3x3 conv, -1, 2x2 maxpool)]"), space)
    graph.node_labels   # ('-1', '2x2 maxpool', '3x3 conv', 'join'): sides in canonical order
    features, adjacency, mask = batch_graphs([graph, other], max_nodes=max_nodes(space))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scinas.search_space.cell import Cell
from scinas.search_space.space import SearchSpace

__all__ = ["CONCAT", "JOIN", "CellGraph", "batch_graphs", "encode_cell", "feature_names", "max_nodes"]

JOIN = "join"
CONCAT = "concat"


@dataclass(frozen=True, eq=False)
class CellGraph:
    """A cell as a directed graph: labels, one-hot features ``[n, F]`` and adjacency ``[n, n]``
    (``adjacency[i, j] = 1`` for an edge ``i → j``), both float32.

    The arrays are made read-only, so a graph is immutable; two graphs are equal when their
    labels, features and adjacency are (equivalent cells give equal graphs).
    """

    node_labels: tuple[str, ...]
    features: np.ndarray
    adjacency: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.node_labels)
        features = np.array(self.features, dtype=np.float32)
        adjacency = np.array(self.adjacency, dtype=np.float32)
        if features.ndim != 2 or features.shape[0] != n or adjacency.shape != (n, n):
            raise ValueError(f"a graph of {n} nodes needs features [{n}, F] and adjacency [{n}, {n}], "
                             f"got {features.shape} and {adjacency.shape}")
        features.setflags(write=False)
        adjacency.setflags(write=False)
        object.__setattr__(self, "node_labels", tuple(self.node_labels))
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "adjacency", adjacency)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CellGraph):
            return NotImplemented
        return (self.node_labels == other.node_labels and np.array_equal(self.features, other.features)
                and np.array_equal(self.adjacency, other.adjacency))

    def __hash__(self) -> int:
        return hash((self.node_labels, self.features.tobytes(), self.adjacency.tobytes()))

    @property
    def n_nodes(self) -> int:
        return len(self.node_labels)

    def edges(self) -> list[tuple[int, int]]:
        """``(source, target)`` node pairs, sorted."""
        return [(int(i), int(j)) for i, j in zip(*np.nonzero(self.adjacency), strict=True)]


def feature_names(space: SearchSpace) -> tuple[str, ...]:
    """The one-hot columns: the operators, the lookback slots, ``join``, ``concat``."""
    return (*space.operators, *(str(lookback) for lookback in space.lookbacks), JOIN, CONCAT)


def max_nodes(space: SearchSpace) -> int:
    """The most nodes a cell of ``space`` can have (for padding batches)."""
    return space.lookback_depth + 3 * space.max_blocks + 1


def encode_cell(cell: Cell, space: SearchSpace) -> CellGraph:
    """The graph of ``cell`` (validated against ``space`` first, so operators are canonical)."""
    cell = space.validate(cell)
    columns = {name: index for index, name in enumerate(feature_names(space))}
    labels: list[str] = []
    edges: list[tuple[int, int]] = []

    def add(label: str) -> int:
        labels.append(label)
        return len(labels) - 1

    lookbacks = cell.used_lookbacks if not cell.is_empty else (-1,)
    lookback_node = {lookback: add(str(lookback)) for lookback in lookbacks}
    join_node: list[int] = []
    for block in cell.blocks:
        operator_nodes = [add(op) for op in block.operators]
        join = add(JOIN)
        for source, node in zip(block.inputs, operator_nodes, strict=True):
            edges.append((lookback_node[source] if source < 0 else join_node[source], node))
            edges.append((node, join))
        join_node.append(join)
    unused = cell.unused_blocks
    if len(unused) > 1:
        concat = add(CONCAT)
        edges.extend((join_node[index], concat) for index in unused)

    features = np.zeros((len(labels), len(columns)), dtype=np.float32)
    for node, label in enumerate(labels):
        features[node, columns[label]] = 1.0
    adjacency = np.zeros((len(labels), len(labels)), dtype=np.float32)
    for source, target in edges:
        adjacency[source, target] = 1.0
    return CellGraph(tuple(labels), features, adjacency)


def batch_graphs(graphs: Sequence[CellGraph], max_nodes: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack graphs padded to ``max_nodes``: features ``[n, N, F]``, adjacency ``[n, N, N]`` and a
    node mask ``[n, N]`` (1 for real nodes)."""
    if not graphs:
        raise ValueError("batch_graphs needs at least one graph")
    width = graphs[0].features.shape[1]
    largest = max(graph.n_nodes for graph in graphs)
    size = largest if max_nodes is None else max_nodes
    if largest > size:
        worst = max(range(len(graphs)), key=lambda i: graphs[i].n_nodes)
        raise ValueError(f"graph {worst} has {largest} nodes, more than max_nodes = {size} "
                         "(pad to max_nodes(space) of the space the cells come from)")
    features = np.zeros((len(graphs), size, width), dtype=np.float32)
    adjacency = np.zeros((len(graphs), size, size), dtype=np.float32)
    mask = np.zeros((len(graphs), size), dtype=np.float32)
    for index, graph in enumerate(graphs):
        if graph.features.shape[1] != width:
            raise ValueError(f"graph {index} has {graph.features.shape[1]} features, graph 0 has {width}: all "
                             "graphs must come from the same search space")
        n = graph.n_nodes
        features[index, :n] = graph.features
        adjacency[index, :n, :n] = graph.adjacency
        mask[index, :n] = 1.0
    return features, adjacency, mask
