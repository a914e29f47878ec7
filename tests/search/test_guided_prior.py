"""The Pareto strategy's data-free prior: it orders the warm-up; a candidate it cannot score never stops it."""

from __future__ import annotations

from typing import Any

import keras
import pytest

from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.priors import ParamsPrior
from scinas.search.base import SearchStrategy
from scinas.search.domain import Objectives
from scinas.search.guided import GuidedParetoStrategy
from scinas.search.nasbench201 import NB201Architecture, NB201Domain
from scinas.search.prediction import PredictorFactory
from scinas.search.prior_choice import PriorChoice
from scinas.search.registry import STRATEGIES
from scinas.search_space.architecture import Architecture
from scinas.testing.strategies import check_strategy, synthetic_evaluator

OBJECTIVES = Objectives("score", True, ("time",))


class TinyNetworks(NB201Domain):
    """A dense network as wide as the cell has 3×3 convolutions; cells starting with a pooling do not build."""

    def network(self, architecture: Architecture) -> Any:
        assert isinstance(architecture, NB201Architecture)
        if architecture.ops[0] == "avg_pool_3x3":
            raise ValueError("no network for this cell")
        inputs = keras.Input((2,))
        return keras.Model(inputs, keras.layers.Dense(1 + architecture.ops.count("nor_conv_3x3"))(inputs))


def _width(cell: Architecture) -> int:
    assert isinstance(cell, NB201Architecture)
    return cell.ops.count("nor_conv_3x3")


def test_the_warm_up_starts_with_the_priors_best_and_records_what_it_could_not_score(
        fake_predictors: PredictorFactory) -> None:
    domain = TinyNetworks()
    strategy = GuidedParetoStrategy(domain, OBJECTIVES, budget=16, seed=1, warmup=8, batch_size=4,
                                    prior="params", prior_candidates=40, prior_share=0.5,
                                    predictor_factory=fake_predictors)
    requests = strategy.ask(8)
    warmup = [request.architecture for request in requests]
    failures = strategy.summary()["prior_failures"]
    assert failures and all("no network for this cell" in reason for reason in failures.values())
    assert all(cell.to_text().startswith("|avg_pool_3x3") for cell in map(NB201Architecture.from_text, failures))
    # the first half is the prior's best of the 40 scored candidates, best first; none of them failed
    widths = [_width(cell) for cell in warmup]
    assert widths[:4] == sorted(widths[:4], reverse=True)
    assert min(widths[:4]) >= max(widths[4:])
    assert all(cell.to_text() not in failures for cell in warmup[:4])
    # the search goes on to its budget
    evaluate = synthetic_evaluator(domain)
    asked = len(requests)
    while requests:
        strategy.tell([evaluate(r) for r in requests])
        requests = strategy.ask(4)
        asked += len(requests)
    assert asked == 16 and strategy.finished
    assert strategy.summary()["prior_failures"] == failures


def test_a_search_with_a_prior_passes_the_strategy_suite(fake_predictors: PredictorFactory) -> None:
    domain = TinyNetworks()

    def factory() -> SearchStrategy:
        return GuidedParetoStrategy(domain, OBJECTIVES, budget=12, seed=3, warmup=6, batch_size=3, candidates=200,
                                    enumerate_limit=0, prior="params", prior_candidates=30,
                                    predictor_factory=fake_predictors)

    run = check_strategy(factory, domain, synthetic_evaluator(domain), budget=12, batch=3, interrupt_at=2)
    assert len(run.requests) == 12


def test_the_prior_is_read_from_toml_with_its_options() -> None:
    options = STRATEGIES.get("pareto").from_table(Table(
        {"prior": {"name": "flops", "unknown_layers": "ignore"}, "prior_share": 1.0},
        file="configurations.toml", path="A.search"))
    assert options.prior == PriorChoice("flops", (("unknown_layers", "ignore"),))
    assert options.prior.build().options.unknown_layers == "ignore"
    assert STRATEGIES.get("pareto").from_table(Table({}, file="c.toml", path="A.search")).prior.build() is None
    assert isinstance(PriorChoice("params").build(), ParamsPrior)
    with pytest.raises(ConfigError, match=r"\[A\.search\] prior = \"synflo\": unknown prior.*synflow"):
        STRATEGIES.get("pareto").from_table(Table({"prior": "synflo"}, file="c.toml", path="A.search"))
    with pytest.raises(ConfigError, match="unknown_layers"):
        STRATEGIES.get("pareto").from_table(Table({"prior": {"name": "flops", "unknown_layers": "skip"}},
                                                  file="c.toml", path="A.search"))


def test_a_domain_without_networks_gets_a_random_warm_up_and_says_why(tiny_domain: Any,
                                                                      fake_predictors: PredictorFactory) -> None:
    strategy = GuidedParetoStrategy(tiny_domain, OBJECTIVES, budget=8, seed=0, warmup=4, batch_size=2,
                                    candidates=30, prior="params", predictor_factory=fake_predictors)
    evaluate = synthetic_evaluator(tiny_domain)
    requests = strategy.ask(4)
    assert len(requests) == 4
    while requests:
        strategy.tell([evaluate(r) for r in requests])
        requests = strategy.ask(2)
    summary = strategy.summary()
    assert "does not build networks" in summary["prior_unavailable"] and "prior_failures" not in summary
    assert len(strategy.ledger) == 8
