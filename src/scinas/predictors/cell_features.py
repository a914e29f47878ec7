"""The 9 features the time (and other cost) predictors see for a cell.

A cell's training time is driven by how much work its operators do and how that work is laid out:
how many blocks, how many cells are stacked, how expensive the operators are (their *cost scores*:
each operator's measured cost as a single block, normalised, from the first step of a
progressive search), whether both previous cells are read (more tensors kept alive and adapted),
how much of the work sits on the lookback inputs (those may need a resolution or depth
adaptation), how deep and how branched the block graph is, and how much of the work lies on the
slowest chain of dependent operations (which cannot run in parallel).

==========================  =============================================================
``blocks``                  number of blocks
``cells_stacked``           cells the macro-architecture actually builds
``op_score``                sum of the cost scores of every operator (both sides of each block)
``uses_all_lookbacks``      1 when every lookback input (default -1 and -2) is read, else 0
``lookback_score_share``    share of ``op_score`` on operators that read a lookback input
``dependencies``            block → block edges
``depth``                   blocks on the longest input → output path
``concatenated``            blocks no other block reads (concatenated into the output)
``heaviest_path_share``     share of ``op_score`` on the path with the largest score sum
==========================  =============================================================

Example::

    scores = {"3x3 conv": 1.0, "identity": 0.0, "2x2 maxpool": 0.1}
    cell = Cell.from_text("[(-1, 3x3 conv, -2, identity); (0, 2x2 maxpool, -1, 3x3 conv)]")
    cell_cost_features(cell, scores, cells_stacked=5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from scinas.search_space.cell import Cell

__all__ = ["CELL_FEATURE_NAMES", "cell_cost_features"]

#: The feature names, in the order of :func:`cell_cost_features`'s vector.
CELL_FEATURE_NAMES: tuple[str, ...] = (
    "blocks",
    "cells_stacked",
    "op_score",
    "uses_all_lookbacks",
    "lookback_score_share",
    "dependencies",
    "depth",
    "concatenated",
    "heaviest_path_share",
)


def _score(operator_scores: Mapping[str, float], op: str) -> float:
    try:
        value = float(operator_scores[op])
    except KeyError:
        known = ", ".join(sorted(operator_scores)) or "none"
        raise ValueError(f"no cost score for operator {op!r} (scores are known for: {known}); score every "
                         "operator of the search space before computing cell features") from None
    if not math.isfinite(value):
        raise ValueError(f"the cost score of operator {op!r} is {value}; scores must be finite numbers")
    return value


def cell_cost_features(cell: Cell, operator_scores: Mapping[str, float], *, cells_stacked: int,
                       lookbacks: Sequence[int] = (-1, -2)) -> np.ndarray:
    """The 9 cost features of ``cell`` (see :data:`CELL_FEATURE_NAMES`), float64.

    ``operator_scores`` maps every operator of the cell to its cost score; ``cells_stacked`` is
    how many cells the macro-architecture builds with it; ``lookbacks`` are the lookback inputs
    of the search space (the cell "uses all lookbacks" when it reads every one of them).  The
    empty cell gives zeros except ``cells_stacked``; shares are 0 when the total score is 0.
    """
    if isinstance(cells_stacked, bool) or not isinstance(cells_stacked, int) or cells_stacked < 0:
        raise ValueError(f"cells_stacked must be an integer >= 0, got {cells_stacked!r}")
    if not lookbacks or any(lookback >= 0 for lookback in lookbacks):
        raise ValueError(f"lookbacks must be negative input numbers such as (-1, -2), got {tuple(lookbacks)}")

    # heaviest[b]: the largest score sum of a path from a lookback input to block b's output;
    # a path enters a block through one of its two sides and pays that side's operator.
    heaviest: list[float] = []
    total = on_lookbacks = 0.0
    for block in cell.blocks:
        best = -math.inf
        for source, op in block.sides:
            score = _score(operator_scores, op)
            total += score
            if source < 0:
                on_lookbacks += score
            best = max(best, score + (heaviest[source] if source >= 0 else 0.0))
        heaviest.append(best)

    def share(part: float) -> float:
        return part / total if total > 0 else 0.0

    used = set(cell.used_lookbacks)
    return np.array([
        cell.n_blocks,
        cells_stacked,
        total,
        1.0 if cell.blocks and used.issuperset(lookbacks) else 0.0,
        share(on_lookbacks),
        cell.dependencies,
        cell.depth,
        len(cell.unused_blocks),
        share(max(heaviest, default=0.0)),
    ], dtype=np.float64)
