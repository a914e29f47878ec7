"""The ranking graph network: learns an order, its soft rank is a rank, importances read back, clear errors."""

from __future__ import annotations

import random

import numpy as np
import pytest
import tensorflow as tf

from scinas.predictors import PREDICTORS, ranking_quality
from scinas.predictors.ranking import (
    CATEGORIES,
    RankingPredictor,
    node_categories,
    operator_family,
    soft_rank,
    soft_spearman,
)
from scinas.search.nasbench201 import NB201Domain
from scinas.search_space.cell import Cell
from scinas.search_space.encoding import encode_cell, max_nodes
from scinas.search_space.space import SearchSpace
from tests.predictors.test_gin import DOMAIN, synthetic


def test_soft_rank_approaches_the_rank_and_ignores_padding() -> None:
    values = tf.constant([[0.3, -2.0, 5.0, 1.0, 99.0]])
    weight = tf.constant([[1.0, 1.0, 1.0, 1.0, 0.0]])  # the last entry is padding
    ranks = soft_rank(values, weight, temperature=1e-3).numpy()[0, :4]
    np.testing.assert_allclose(ranks, [2.0, 1.0, 4.0, 3.0], atol=1e-3)
    assert float(soft_spearman(values, values * 2.0, weight, 1e-3)[0]) == pytest.approx(1.0, abs=1e-3)
    assert float(soft_spearman(values, -values, weight, 1e-3)[0]) == pytest.approx(-1.0, abs=1e-3)
    with tf.GradientTape() as tape:
        tape.watch(values)
        correlation = soft_spearman(values, tf.constant([[4.0, 3.0, 2.0, 1.0, 0.0]]), weight, 0.5)
    gradient = tape.gradient(correlation, values).numpy()[0]
    assert np.all(np.isfinite(gradient)) and gradient[4] == 0.0 and np.abs(gradient[:4]).sum() > 0


def test_node_categories_read_kernels_dilations_and_families() -> None:
    assert operator_family("3x3:2dr conv") == "conv" and operator_family("nor_conv_3x3") == "nor conv"
    assert operator_family("2x2 maxpool") == "maxpool" and operator_family("-1") == "input"
    space = SearchSpace(("identity", "3x3 conv", "5x5:2dr dconv"), max_blocks=2, lookback_depth=2)
    graph = encode_cell(Cell.from_text("[(-1, 3x3 conv, -2, 5x5:2dr dconv)]"), space)
    families = ("conv", "dconv", "identity", "join")
    categories = node_categories(graph, max_nodes(space), families)
    assert list(categories) == list(CATEGORIES)
    labels = graph.node_labels
    conv, dconv, join = labels.index("3x3 conv"), labels.index("5x5:2dr dconv"), labels.index("join")
    assert categories["kernel"][conv, 0] == pytest.approx(3 / 7) and categories["kernel"][join, 1] == 0.0
    assert categories["dilation"][dconv, 0] == pytest.approx(2 / 4) and categories["dilation"][conv, 0] == 0.25
    assert categories["family"][dconv].tolist() == [0, 1, 0, 0] and categories["family"][join].tolist() == [0, 0, 0, 1]
    assert categories["position"][join, -1] > categories["position"][conv, -1]  # deeper


def test_learns_an_order_and_reads_back_importance_per_hop() -> None:
    graphs, y = synthetic(130, seed=0)
    predictor = RankingPredictor(DOMAIN.max_nodes, ensemble=2, epochs=30, seed=0)
    predictor.fit(graphs[:80], y[:80])
    predicted = predictor.predict(graphs[80:])
    assert predicted.shape == (50,) and predicted.dtype == np.float64
    assert ranking_quality(y[80:], predicted).kendall > 0.7
    importance = predictor.node_importance(graphs[80:83])
    assert [a.shape for a in importance] == [(4, 8)] * 3 and all(np.all(a >= 0) for a in importance)
    norms = predictor.embedding_norms(graphs[80:])
    assert norms.shape == (4, 50)
    # the ranking loss makes the last hop's embedding norm order the cells as the target does
    assert ranking_quality(y[80:], norms[-1]).kendall > 0.5


def test_same_seed_same_predictions_without_touching_global_random_state() -> None:
    graphs, y = synthetic(40, seed=1)
    np.random.seed(11)
    random.seed(11)
    runs = []
    for _ in range(2):
        predictor = RankingPredictor(DOMAIN.max_nodes, ensemble=2, epochs=3, seed=4)
        predictor.fit(graphs[:30], y[:30])
        runs.append(predictor.predict(graphs[30:]))
    assert np.array_equal(runs[0], runs[1])
    numpy_next, python_next = np.random.random(), random.random()
    np.random.seed(11)
    random.seed(11)
    assert (numpy_next, python_next) == (np.random.random(), random.random())


def test_few_graphs_constant_targets_and_empty_input() -> None:
    space = SearchSpace(("identity", "3x3 conv", "2x2 maxpool"), max_blocks=2, lookback_depth=2)
    cells = [Cell(), *space.one_block_cells()[:2]]
    graphs = [encode_cell(cell, space) for cell in cells]
    predictor = RankingPredictor(max_nodes(space), ensemble=2, epochs=3, seed=0)
    predictor.fit(graphs, np.array([0.1, 0.5, 0.7]))
    assert predictor.predict(graphs).shape == (3,) and np.isfinite(predictor.predict(graphs)).all()
    assert predictor.predict([]).shape == (0,) and predictor.node_importance([]) == []
    predictor.fit(graphs[:1], np.array([0.7]))
    np.testing.assert_allclose(predictor.predict(graphs), 0.7)


def test_errors_are_clear_value_errors() -> None:
    graphs, y = synthetic(6, seed=4)
    with pytest.raises(ValueError, match="not been fitted"):
        RankingPredictor(DOMAIN.max_nodes).predict(graphs)
    with pytest.raises(ValueError, match="no data"):
        RankingPredictor(DOMAIN.max_nodes).fit([], np.zeros(0))
    with pytest.raises(ValueError, match="6 inputs but 5 targets"):
        RankingPredictor(DOMAIN.max_nodes).fit(graphs, y[:5])
    with pytest.raises(ValueError, match="finite"):
        RankingPredictor(DOMAIN.max_nodes).fit(graphs, np.where(np.arange(6) == 2, np.nan, y))
    with pytest.raises(ValueError, match="more than max_nodes = 4"):
        RankingPredictor(4).fit(graphs, y)
    with pytest.raises(ValueError, match="CellGraphs"):
        RankingPredictor(DOMAIN.max_nodes).fit([np.zeros(3)] * 6, y)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        RankingPredictor(DOMAIN.max_nodes, batch_size=1)
    with pytest.raises(ValueError, match="temperature > 0"):
        RankingPredictor(DOMAIN.max_nodes, temperature=0.0)
    predictor = RankingPredictor(DOMAIN.max_nodes, ensemble=1, epochs=1)
    predictor.fit(graphs, y)
    space = SearchSpace(("identity",), max_blocks=1, lookback_depth=1)
    with pytest.raises(ValueError, match="node features"):
        predictor.predict([encode_cell(Cell(), space)])


def test_registered_and_selectable_wherever_gin_is() -> None:
    from scinas.config.reader import Table
    from scinas.predictors import SearchSettings
    from scinas.search.predictor_choice import PredictorChoice, build_predictor

    assert PREDICTORS.get("ranking") is RankingPredictor
    assert RankingPredictor.encoding == "graph"
    choice = PredictorChoice("ranking", (("epochs", 7),))
    built = build_predictor(choice, SearchSettings("score", 3, NB201Domain().max_nodes),
                            {"predictor_ensemble": None}, {"predictor_ensemble": 2})
    assert isinstance(built, RankingPredictor) and built.options.epochs == 7 and built.options.ensemble == 2
    options = RankingPredictor.from_table(Table({"hops": 2, "rank_weight": 0.5}, file="", path="x"))
    assert options.hops == 2 and RankingPredictor.for_search(SearchSettings("score", 0, 8), options).hops == 2
