"""Non-domination, fronts, greedy front scans and hypervolume on hand-made cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scinas.search.guided import hypervolume_gains
from scinas.search.pareto import descending, dominates, hypervolume, non_dominated, pareto_fronts, scan_front


def test_dominance_needs_one_strict_improvement() -> None:
    assert dominates([2, 1], [1, 1])
    assert not dominates([1, 1], [1, 1])  # equal points do not dominate each other
    assert not dominates([2, 0], [1, 1])  # a trade-off
    with pytest.raises(ValueError, match="objectives"):
        dominates([1, 2], [1, 2, 3])


def test_non_dominated_keeps_ties_and_duplicates() -> None:
    points = [[0.9, -10], [0.9, -10], [0.8, -5], [0.8, -12], [0.9, -11]]
    # both copies of (0.9, -10) stay; (0.8, -12) and (0.9, -11) are dominated by (0.9, -10)
    assert non_dominated(points) == [0, 1, 2]


def test_three_objectives() -> None:
    points = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [0.4, 0.4, 0.4], [1, 0, -1]]
    assert non_dominated(points) == [0, 1, 2, 3]
    assert pareto_fronts(points) == [[0, 1, 2, 3], [4, 5]]


def test_fronts_partition_every_point() -> None:
    rng = np.random.default_rng(3)
    points = rng.integers(0, 5, size=(40, 2))
    fronts = pareto_fronts(points)
    assert sorted(i for front in fronts for i in front) == list(range(40))
    for earlier, later in itertools.pairwise(fronts):
        # every point of a later front is dominated by some point of the front before it
        assert all(any(dominates(points[a], points[b]) for a in earlier) for b in later)


def test_scan_front_keeps_undominated_in_descending_score() -> None:
    # score, -cost: scanning by score keeps 0 (best score), skips 1 (dominated by 0), keeps 2 (cheaper)
    points = [[0.9, -10], [0.85, -11], [0.8, -5], [0.7, -2], [0.6, -3]]
    assert scan_front(points, limit=10) == [0, 2, 3]
    assert scan_front(points, limit=2) == [0, 2]
    assert scan_front(points, limit=0) == []


def test_hypervolume_2d_exact_values() -> None:
    assert hypervolume([[2.0, 1.0], [1.0, 2.0]], [0.0, 0.0]) == pytest.approx(3.0)
    # a dominated point and a duplicate add nothing; a point behind the reference adds nothing
    assert hypervolume([[2.0, 1.0], [1.0, 2.0], [1.0, 1.0], [2.0, 1.0], [-1.0, 5.0]], [0.0, 0.0]) == pytest.approx(3.0)
    assert hypervolume([[3.0, -1.0]], [1.0, -4.0]) == pytest.approx(6.0)
    assert hypervolume([], [0.0, 0.0]) == 0.0


def test_hypervolume_3d_matches_inclusion_exclusion() -> None:
    # two boxes [0,2]x[0,1]x[0,1] and [0,1]x[0,2]x[0,1]: 2 + 2 - 1 = 3; a third [0,1]^2x[0,3] adds 2
    assert hypervolume([[2, 1, 1], [1, 2, 1]], [0, 0, 0]) == pytest.approx(3.0)
    assert hypervolume([[2, 1, 1], [1, 2, 1], [1, 1, 3]], [0, 0, 0]) == pytest.approx(5.0)


def test_hypervolume_gains_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    front = rng.uniform(0, 1, size=(6, 2))
    candidates = rng.uniform(0, 1.2, size=(30, 2))
    reference = np.array([-0.1, -0.1])
    gains = hypervolume_gains(front, candidates, reference)
    base = hypervolume(front, reference)
    expected = [hypervolume(np.vstack([front, c]), reference) - base for c in candidates]
    np.testing.assert_allclose(gains, expected, atol=1e-12)
    three = rng.uniform(0, 1, size=(4, 3))
    gains3 = hypervolume_gains(three, three[:1] + 0.1, np.zeros(3))
    assert gains3[0] == pytest.approx(hypervolume(np.vstack([three, three[:1] + 0.1]), np.zeros(3))
                                      - hypervolume(three, np.zeros(3)))


def test_nan_points_are_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        non_dominated([[1.0, float("nan")]])


def test_scan_front_breaks_score_ties_by_the_costs() -> None:
    # equal scores: the cheaper one must come first, or it would join a front it dominates
    points = [[0.6, -27.0], [0.6, -27.0], [0.6, -26.5], [0.5, -1.0]]
    kept = scan_front(points, limit=10)
    assert kept == [2, 3]
    assert descending(points).tolist() == [2, 0, 1, 3]
