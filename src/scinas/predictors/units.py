"""The units of a cell search space, ranked by what a fitted ranking predictor learned (AutoBuild).

A **unit** is one block's operator pair, unordered (``("3x3 conv", "identity")``); its inputs are
left free, as ``[X.search_space] operator_pairs`` leaves them.  :func:`rank_units` reads the node
importance of the trained cells (:meth:`~scinas.predictors.ranking.RankingPredictor.node_importance`,
``[hops + 1, nodes]`` per cell: each node's embedding norm at each hop) and scores:

* a **block** of a cell: the mean, over hops, of its three nodes (left operator, right operator,
  join), each hop's norms first divided by the mean norm of every node of every given cell at that
  hop — one scale per hop for all cells, so hops weigh alike while a cell whose nodes are large
  throughout (a cell the predictor ranks high: the graph embedding is their sum) keeps its
  larger values;
* a **unit**: the mean over the blocks of the given cells that use its pair;
* an **operator**: the mean over the operator nodes that carry it;
* a **two-block unit** (a sub-cell): a block and a block that reads its output, keyed by their two
  pairs in that order; its importance is the mean over hops of its six nodes, then over the
  places it occurs.  These are reported, not kept by :meth:`UnitRanking.reduced_space`:
  ``operator_pairs`` restricts single blocks only.

Larger is better: the ranking loss makes the embedding norm grow with the target.  Each score
comes with how many blocks and cells hold it and the measured target of those cells, so a unit
seen once can be told from one seen often.

Node norms are additive by construction, and a pair that is good only *together* (neither
operator is good alone) can rank below a pair of two individually good operators.  So each unit
also gets a **predicted** score: the mean of the predictor's predictions over the ``candidates``
(cells of the space, e.g. the trained ones and a random sample) that hold it — what the
predictor expects of a cell with that unit, interactions included.  ``by`` chooses which score
orders the ranking.  :meth:`UnitRanking.reduced_space` keeps the ``top_k`` best units as a
:class:`~scinas.search_space.space.SearchSpace` with ``operator_pairs``.

Example::

    predictor = RankingPredictor(space_max_nodes, seed=0)
    predictor.fit([encode_cell(c, space) for c in cells], targets)
    ranking = rank_units(predictor, space, cells, targets)
    ranking.units[0].operators                 # the best pair, e.g. ('3x3 conv', 'identity')
    ranking.reduced_space(space, top_k=3).operator_pairs
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scinas.predictors.ranking import RankingPredictor
from scinas.search_space.cell import Cell
from scinas.search_space.encoding import encode_cell
from scinas.search_space.space import SearchSpace

__all__ = ["UNIT_SCORES", "OperatorScore", "SubCellScore", "UnitRanking", "UnitScore", "block_nodes",
           "connected_blocks", "rank_units"]

#: What :func:`rank_units` may order the units by.
UNIT_SCORES: tuple[str, ...] = ("importance", "predicted")


@dataclass(frozen=True)
class UnitScore:
    """One operator pair: its importance (and per hop), the blocks and cells holding it, and the
    measured target of those cells (mean and best)."""

    operators: tuple[str, str]
    importance: float
    per_hop: tuple[float, ...]
    blocks: int
    cells: int
    mean_target: float
    best_target: float
    predicted: float = float("nan")
    candidates: int = 0

    @property
    def label(self) -> str:
        """``"3x3 conv + identity"``."""
        return " + ".join(self.operators)

    def to_json(self) -> dict[str, Any]:
        return {"operators": list(self.operators), "importance": self.importance, "per_hop": list(self.per_hop),
                "blocks": self.blocks, "cells": self.cells, "mean_target": self.mean_target,
                "best_target": self.best_target, "predicted": self.predicted, "candidates": self.candidates}


@dataclass(frozen=True)
class SubCellScore:
    """A two-block unit: a block of pair ``first`` whose output a block of pair ``second`` reads.
    ``importance`` is the mean of the six nodes of the two blocks; the rest as in :class:`UnitScore`
    (``occurrences``: the connected block pairs of the given cells with these pairs)."""

    first: tuple[str, str]
    second: tuple[str, str]
    importance: float
    occurrences: int
    cells: int
    mean_target: float
    best_target: float
    predicted: float = float("nan")
    candidates: int = 0

    @property
    def label(self) -> str:
        """``"(3x3 conv + identity) -> (2x2 maxpool + 3x3 conv)"``."""
        return f"({' + '.join(self.first)}) -> ({' + '.join(self.second)})"

    def to_json(self) -> dict[str, Any]:
        return {"first": list(self.first), "second": list(self.second), "importance": self.importance,
                "occurrences": self.occurrences, "cells": self.cells, "mean_target": self.mean_target,
                "best_target": self.best_target, "predicted": self.predicted, "candidates": self.candidates}


@dataclass(frozen=True)
class OperatorScore:
    """One operator: the mean importance of its nodes (and per hop), how many nodes and cells hold it."""

    operator: str
    importance: float
    per_hop: tuple[float, ...]
    nodes: int
    cells: int

    def to_json(self) -> dict[str, Any]:
        return {"operator": self.operator, "importance": self.importance, "per_hop": list(self.per_hop),
                "nodes": self.nodes, "cells": self.cells}


@dataclass(frozen=True)
class UnitRanking:
    """The units (best first by ``by``) and the operators (best first) of :func:`rank_units`."""

    units: tuple[UnitScore, ...]
    operators: tuple[OperatorScore, ...]
    by: str = "importance"
    hop_scale: tuple[float, ...] = ()
    """Per hop, the mean node norm of the ranked cells: importances are norms divided by it."""
    sub_cells: tuple[SubCellScore, ...] = ()
    """Two-block units (a block and a block reading it), ordered like :attr:`units`."""

    def reduced_space(self, space: SearchSpace, top_k: int) -> SearchSpace:
        """``space`` keeping only the ``top_k`` best units: ``operator_pairs`` are those pairs and
        ``operators`` the ones they use (in ``space``'s order); blocks and lookbacks as in ``space``."""
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        if not self.units:
            raise ValueError("no unit is ranked: the cells held no block")
        kept = tuple(unit.operators for unit in self.units[:top_k])
        used = {op for pair in kept for op in pair}
        return SearchSpace(tuple(op for op in space.operators if op in used), max_blocks=space.max_blocks,
                           lookback_depth=space.lookback_depth, rank=space.rank, operator_pairs=kept)

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "hop_scale": list(self.hop_scale), "units": [unit.to_json() for unit in self.units],
                "operators": [operator.to_json() for operator in self.operators],
                "sub_cells": [sub.to_json() for sub in self.sub_cells]}


def block_nodes(cell: Cell) -> list[tuple[int, int, int]]:
    """The nodes of each block in :func:`~scinas.search_space.encoding.encode_cell`'s graph of
    ``cell``: (left operator, right operator, join), in block order."""
    first = len(cell.used_lookbacks) if not cell.is_empty else 1
    return [(first + 3 * index, first + 3 * index + 1, first + 3 * index + 2) for index in range(cell.n_blocks)]


def connected_blocks(cell: Cell) -> list[tuple[int, int]]:
    """``(a, b)`` for every block ``b`` of ``cell`` that reads block ``a`` (each pair once)."""
    return sorted({(source, index) for index, block in enumerate(cell.blocks) for source in block.inputs
                   if source >= 0})


def _pair(operators: tuple[str, str]) -> tuple[str, str]:
    a, b = sorted(operators)
    return (a, b)


def rank_units(predictor: RankingPredictor, space: SearchSpace, cells: Sequence[Cell],
               targets: Sequence[float] | np.ndarray, *, candidates: Sequence[Cell] = (),
               by: str = "importance") -> UnitRanking:
    """Rank the operator pairs (and the operators) of ``cells`` by the fitted ``predictor``'s node
    importance or by its predictions over ``candidates`` (``by``, see the module docstring);
    ``targets`` are the cells' measured targets (larger is better), reported beside the scores.
    Ties go to the better mean target, then the name.  Only pairs some cell of ``cells`` holds are
    ranked."""
    if by not in UNIT_SCORES:
        raise ValueError(f"rank_units orders by one of {', '.join(UNIT_SCORES)}, not {by!r}")
    values = np.asarray(targets, dtype=np.float64)
    if len(cells) != values.size:
        raise ValueError(f"rank_units got {len(cells)} cells but {values.size} targets")
    canonical = [space.validate(cell) for cell in cells]
    importance = predictor.node_importance([encode_cell(cell, space) for cell in canonical])
    if not importance:
        return UnitRanking((), (), by)
    hops = importance[0].shape[0]
    scale = np.array([np.mean(np.concatenate([norms[hop] for norms in importance])) for hop in range(hops)])
    scaled = [norms / np.maximum(scale, 1e-12)[:, None] for norms in importance]

    unit_hops: dict[tuple[str, str], list[np.ndarray]] = {}
    unit_cells: dict[tuple[str, str], set[int]] = {}
    op_hops: dict[str, list[np.ndarray]] = {}
    op_cells: dict[str, set[int]] = {}
    for index, (cell, norms) in enumerate(zip(canonical, scaled, strict=True)):
        for block, nodes in zip(cell.blocks, block_nodes(cell), strict=True):
            pair = _pair(block.operators)
            unit_hops.setdefault(pair, []).append(norms[:, list(nodes)].mean(axis=1))
            unit_cells.setdefault(pair, set()).add(index)
            for op, node in zip(block.operators, nodes[:2], strict=True):
                op_hops.setdefault(op, []).append(norms[:, node])
                op_cells.setdefault(op, set()).add(index)

    SubKey = tuple[tuple[str, str], tuple[str, str]]

    def sub_keys(cell: Cell) -> list[tuple[SubKey, int, int]]:
        return [((_pair(cell.blocks[a].operators), _pair(cell.blocks[b].operators)), a, b)
                for a, b in connected_blocks(cell)]

    sub_hops: dict[SubKey, list[float]] = {}
    sub_cells: dict[SubKey, set[int]] = {}
    for index, (cell, norms) in enumerate(zip(canonical, scaled, strict=True)):
        places = block_nodes(cell)
        for key, a, b in sub_keys(cell):
            sub_hops.setdefault(key, []).append(float(norms[:, [*places[a], *places[b]]].mean()))
            sub_cells.setdefault(key, set()).add(index)

    pool = list({cell.to_text(): cell for cell in [*canonical, *(space.validate(c) for c in candidates)]}.values())
    predictions = predictor.predict([encode_cell(cell, space) for cell in pool])
    predicted: dict[tuple[str, str], list[float]] = {}
    sub_predicted: dict[SubKey, list[float]] = {}
    for cell, value in zip(pool, predictions, strict=True):
        for pair in {_pair(block.operators) for block in cell.blocks}:
            predicted.setdefault(pair, []).append(float(value))
        for key in {key for key, _, _ in sub_keys(cell)}:
            sub_predicted.setdefault(key, []).append(float(value))

    units = []
    for pair, rows in unit_hops.items():
        per_hop = np.mean(rows, axis=0)
        holders = values[sorted(unit_cells[pair])]
        expected = predicted.get(pair, [])
        units.append(UnitScore(pair, float(per_hop.mean()), tuple(float(v) for v in per_hop), len(rows),
                               len(holders), float(holders.mean()), float(holders.max()),
                               float(np.mean(expected)), len(expected)))
    units.sort(key=lambda unit: (-(unit.importance if by == "importance" else unit.predicted), -unit.mean_target,
                                 unit.label))
    operators = []
    for op, rows in op_hops.items():
        per_hop = np.mean(rows, axis=0)
        operators.append(OperatorScore(op, float(per_hop.mean()), tuple(float(v) for v in per_hop), len(rows),
                                       len(op_cells[op])))
    operators.sort(key=lambda score: (-score.importance, score.operator))
    subs = []
    for key, occurrences in sub_hops.items():
        holders = values[sorted(sub_cells[key])]
        expected = sub_predicted.get(key, [])
        subs.append(SubCellScore(key[0], key[1], float(np.mean(occurrences)), len(occurrences), len(holders),
                                 float(holders.mean()), float(holders.max()), float(np.mean(expected)), len(expected)))
    subs.sort(key=lambda sub: (-(sub.importance if by == "importance" else sub.predicted), -sub.mean_target,
                               sub.label))
    return UnitRanking(tuple(units), tuple(operators), by, tuple(float(v) for v in scale), tuple(subs))
