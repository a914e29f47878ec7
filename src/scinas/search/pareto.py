"""Pareto dominance, fronts, greedy front selection and hypervolume.

Every function here takes points whose objectives are **all maximised** (negate a cost before
passing it), as rows of a 2-D array-like ``[n_points, n_objectives]``.  A point *dominates*
another when it is at least as good in every objective and strictly better in one; equal points
(duplicates) do not dominate each other, so all copies of a non-dominated point stay on the front.

Example::

    points = [[0.9, -120.0], [0.8, -60.0], [0.7, -90.0]]     # accuracy↑, time↓ (negated)
    non_dominated(points)                                      # [0, 1]: the third is dominated by the second
    pareto_fronts(points)                                      # [[0, 1], [2]]
    hypervolume(points, reference=[0.0, -200.0])               # area dominated by the front
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["descending", "dominates", "hypervolume", "non_dominated", "pareto_fronts", "scan_front"]


def _matrix(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, array.shape[1] if array.ndim == 2 else 0)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"points must be a 2-D array [n_points, n_objectives], got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError("points contain NaN; drop (or impute) missing objective values first")
    return array


def dominates(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> bool:
    """Whether ``a`` dominates ``b`` (all objectives maximised): ``a >= b`` everywhere and ``a > b`` somewhere."""
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(f"cannot compare points with {first.shape} and {second.shape} objectives")
    return bool(np.all(first >= second) and np.any(first > second))


def _dominated_mask(array: np.ndarray) -> np.ndarray:
    """``mask[i]`` is True when some point dominates point ``i``."""
    n = len(array)
    mask = np.zeros(n, dtype=bool)
    for i in range(n):
        geq = np.all(array >= array[i], axis=1)
        gt = np.any(array > array[i], axis=1)
        mask[i] = bool(np.any(geq & gt))
    return mask


def non_dominated(points: Sequence[Sequence[float]] | np.ndarray) -> list[int]:
    """Indices (ascending) of the points no other point dominates (all objectives maximised)."""
    array = _matrix(points)
    if len(array) == 0:
        return []
    return [int(i) for i in np.flatnonzero(~_dominated_mask(array))]


def pareto_fronts(points: Sequence[Sequence[float]] | np.ndarray) -> list[list[int]]:
    """Non-dominated sorting: the first front, then the front of what remains, and so on.

    Every index appears in exactly one front; each front's indices are ascending.
    """
    array = _matrix(points)
    remaining = np.arange(len(array))
    fronts: list[list[int]] = []
    while remaining.size:
        dominated = _dominated_mask(array[remaining])
        fronts.append([int(i) for i in remaining[~dominated]])
        remaining = remaining[dominated]
    return fronts


def scan_front(points: Sequence[Sequence[float]] | np.ndarray, limit: int,
               order: Sequence[int] | np.ndarray | None = None) -> list[int]:
    """Greedy front selection as POPNAS does it: scan the points in ``order`` (default:
    :func:`descending`) and keep a point when no already-kept point dominates it, until ``limit``
    points are kept.  Returns the kept indices in scan order.

    Scanning in descending lexicographic order (score first, ties broken by the other objectives)
    makes the kept set non-dominated among itself — a point can only be dominated by one scanned
    before it — and biased to the most promising points when ``limit`` cuts it short.
    """
    array = _matrix(points)
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if order is None:
        order = descending(array)
    kept: list[int] = []
    for index in order:
        if len(kept) >= limit:
            break
        candidate = array[int(index)]
        if kept:
            chosen = array[kept]
            if np.any(np.all(chosen >= candidate, axis=1) & np.any(chosen > candidate, axis=1)):
                continue
        kept.append(int(index))
    return kept


def descending(points: Sequence[Sequence[float]] | np.ndarray, among: Sequence[int] | np.ndarray | None = None
               ) -> np.ndarray:
    """Indices (of ``among``, default all) in descending lexicographic order of the objectives:
    first objective first, ties by the second, and so on; full ties by ascending index."""
    array = _matrix(points)
    indices = np.arange(len(array)) if among is None else np.asarray(among, dtype=int)
    if indices.size == 0:
        return np.zeros(0, dtype=int)
    keys = [indices] + [-array[indices, column] for column in range(array.shape[1] - 1, -1, -1)]
    return np.asarray(indices[np.lexsort(keys)], dtype=np.int64)


def _hypervolume_2d(array: np.ndarray, reference: np.ndarray) -> float:
    # Sweep by descending first objective; each point adds the strip its second objective gains.
    order = np.lexsort((-array[:, 1], -array[:, 0]))
    area, best_second = 0.0, float(reference[1])
    for index in order:
        x, y = array[index]
        if y > best_second:
            area += (x - reference[0]) * (y - best_second)
            best_second = float(y)
    return float(area)


def _hypervolume(array: np.ndarray, reference: np.ndarray) -> float:
    if len(array) == 0:
        return 0.0
    if array.shape[1] == 1:
        return float(array[:, 0].max() - reference[0])
    if array.shape[1] == 2:
        return _hypervolume_2d(array, reference)
    # Slice along the last objective: between consecutive levels, the points at or above the
    # level dominate a (d-1)-dimensional volume.
    levels = np.unique(array[:, -1])
    volume = 0.0
    previous = float(reference[-1])
    for level in levels:
        slab = float(level) - previous
        if slab > 0:
            active = array[array[:, -1] >= level][:, :-1]
            volume += slab * _hypervolume(active, reference[:-1])
        previous = float(level)
    return float(volume)


def hypervolume(points: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float] | np.ndarray) -> float:
    """The volume dominated by ``points`` and dominating ``reference`` (all objectives maximised).

    Points not strictly better than the reference in every objective add nothing.  Exact in any
    dimension (a sweep in 2-D, slicing above), meant for the small fronts of a search.

    Example::

        hypervolume([[2.0, 1.0], [1.0, 2.0]], reference=[0.0, 0.0])   # 3.0
    """
    array = _matrix(points)
    ref = np.asarray(reference, dtype=np.float64).ravel()
    if len(array) == 0:
        return 0.0
    if ref.size != array.shape[1]:
        raise ValueError(f"the reference point has {ref.size} objectives, the points {array.shape[1]}")
    useful = array[np.all(array > ref, axis=1)]
    if len(useful) == 0:
        return 0.0
    useful = useful[non_dominated(useful)]
    return _hypervolume(useful, ref)
