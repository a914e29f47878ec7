"""``[X.search] predictor`` / ``cost_predictor``: a registered predictor by name, configured by its own table."""

from __future__ import annotations

from typing import Any

import pytest

from scinas.config.reader import Table
from scinas.configurable import options_table
from scinas.errors import ConfigError
from scinas.predictors import GINPredictor, SVRPredictor
from scinas.search.guided import GuidedParetoStrategy
from scinas.search.prediction import named_predictor_factory
from scinas.search.predictor_choice import PredictorChoice
from scinas.search.registry import STRATEGIES


def _options(strategy: str, raw: dict[str, Any]) -> Any:
    return STRATEGIES.get(strategy).from_table(Table(raw, file="configurations.toml", path="A.search"))


def _build(strategy: str, raw: dict[str, Any], target: str = "score") -> Any:
    options = _options(strategy, raw)
    cost = getattr(options, "cost_predictor", PredictorChoice("svr"))
    factory = named_predictor_factory(options.predictor, cost, 7, shorthands=options.shorthands(),
                                      defaults=options.SHORTHAND_DEFAULTS)
    return factory(target, 3)


def _gin_arguments(predictor: GINPredictor) -> tuple[Any, ...]:
    return (predictor.max_nodes, predictor.ensemble, predictor.epochs, predictor.batch_size, predictor.seed,
            predictor.learning_rate, predictor.weight_decay, predictor.units, predictor.hidden, predictor.aggregation)


@pytest.mark.parametrize(("strategy", "ensemble"), [("popnas", 5), ("pnas", 5), ("pareto", 3)])
def test_defaults_build_the_predictors_searches_always_built(strategy: str, ensemble: int) -> None:
    gin = _build(strategy, {})
    assert isinstance(gin, GINPredictor)
    assert _gin_arguments(gin) == _gin_arguments(GINPredictor(7, ensemble=ensemble, epochs=80, seed=3))
    svr = _build(strategy, {}, target="time")
    assert isinstance(svr, SVRPredictor)
    assert (svr.seed, svr.folds, svr.n_iter, svr.log_target, svr.params) == (3, 5, 40, True, None)


def test_shorthands_still_set_the_predictor_options() -> None:
    gin = _build("pareto", {"predictor_epochs": 7, "predictor_ensemble": 2, "svr_iterations": 9})
    assert (gin.epochs, gin.ensemble) == (7, 2)
    assert _build("pareto", {"svr_iterations": 9}, target="time").n_iter == 9


def test_the_predictor_tables_reach_the_predictors() -> None:
    raw = {"predictor": {"learning_rate": 1e-3, "units": [8, 16], "aggregation": "both", "ensemble": 4},
           "cost_predictor": {"name": "svr", "n_iter": 3, "log_target": False}}
    gin = _build("pareto", raw)
    assert (gin.learning_rate, gin.units, gin.aggregation, gin.ensemble, gin.epochs) == (1e-3, (8, 16), "both", 4,
                                                                                         80)
    svr = _build("pareto", raw, target="time")
    assert (svr.n_iter, svr.log_target) == (3, False)
    assert _build("popnas", {"predictor": "svr"}).log_target is False


def test_a_score_predictor_may_be_any_registered_one() -> None:
    svr = _build("popnas", {"predictor": {"name": "svr", "folds": 3}, "svr_iterations": 4})
    assert isinstance(svr, SVRPredictor) and (svr.folds, svr.n_iter, svr.log_target) == (3, 4, False)


def test_options_round_trip_through_to_table() -> None:
    options = _options("popnas", {"predictor": {"epochs": 2, "units": [4]}, "cost_predictor": "svr",
                                  "predictor_ensemble": 1})
    table = options_table(options)
    assert table["predictor"] == {"name": "gin", "epochs": 2, "units": [4]} and table["cost_predictor"] == "svr"
    assert _options("popnas", table) == options


def test_python_callers_pass_the_same_forms() -> None:
    from scinas.search.domain import Objectives
    from scinas.search.nasbench201 import NB201Domain

    strategy = GuidedParetoStrategy(NB201Domain(), Objectives(costs=("time",)), budget=4, seed=0,
                                    predictor={"epochs": 3}, cost_predictor="svr")
    assert strategy.factory("score", 0).epochs == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(("raw", "message"), [
    ({"predictor": {"learnin_rate": 1e-3}},
     r'\[A.search.predictor\] learnin_rate = 0.001: unknown key \(fix: did you mean "learning_rate"\?\)'),
    ({"cost_predictor": {"n_iters": 3}}, r'\[A.search.cost_predictor\] n_iters = 3: unknown key .*"n_iter"'),
    ({"predictor": "gni"}, r'\[A.search\] predictor = "gni": unknown predictor; known: gin, ranking, svr.*did you '
                           r'mean "gin"'),
    ({"predictor": {"name": "svrr"}}, r'\[A.search.predictor\] name = "svrr": unknown predictor; known: gin, '
                                      r'ranking, svr'),
    ({"predictor": {"epochs": 0}}, r"\[A.search.predictor\] epochs = 0: expected an integer >= 1"),
    ({"predictor": {"units": []}}, r"\[A.search.predictor\] units = \[\]: expected at least one GIN layer width"),
    ({"predictor": {"aggregation": "sum"}}, r'\[A.search.predictor\] aggregation = "sum": expected one of'),
    ({"predictor": 3}, r"\[A.search\] predictor = 3: expected a predictor name or a table of its options"),
    ({"predictor": {"epochs": 3}, "predictor_epochs": 4},
     r"\[A.search\] predictor_epochs = 4: sets the gin predictor's epochs a second time \(fix: remove "
     r"predictor_epochs"),
    ({"cost_predictor": {"n_iter": 3}, "svr_iterations": 4},
     r"\[A.search\] svr_iterations = 4: sets the svr predictor's n_iter a second time"),
])
@pytest.mark.parametrize("strategy", ["popnas", "pareto"])
def test_bad_predictor_tables_name_the_toml_path(strategy: str, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _options(strategy, raw)
    assert caught.value.file == "configurations.toml"
