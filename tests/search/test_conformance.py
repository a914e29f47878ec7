"""Every strategy passes the conformance suite of scinas.testing.strategies."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from scinas.search.base import SearchStrategy, TrialOutcome, TrialRequest
from scinas.search.cell_domain import CellDomain
from scinas.search.domain import Objectives, SearchDomain
from scinas.search.evolution import EvolutionStrategy
from scinas.search.guided import GuidedParetoStrategy
from scinas.search.nasbench201 import NB201Architecture, NB201Domain, NB201Table
from scinas.search.popnas import PNASStrategy, PopnasStrategy
from scinas.search.prediction import PredictorFactory
from scinas.search.random import RandomStrategy
from scinas.testing.strategies import check_strategy, run_strategy, synthetic_evaluator

OBJECTIVES = Objectives("score", True, ("time",))


def _random(domain: SearchDomain, budget: int) -> SearchStrategy:
    return RandomStrategy(domain, OBJECTIVES, budget=budget, seed=7)


def _evolution(domain: SearchDomain, budget: int) -> SearchStrategy:
    return EvolutionStrategy(domain, OBJECTIVES, budget=budget, seed=7, population_size=5, sample_size=2)


@pytest.mark.parametrize("build", [_random, _evolution], ids=["random", "evolution"])
def test_sampling_strategies_on_nas_bench_201(build: object, nb201: NB201Domain) -> None:
    factory = partial(build, nb201, 14)  # type: ignore[operator]
    run = check_strategy(factory, nb201, synthetic_evaluator(nb201), budget=14)
    assert [r.name for r in run.requests][:3] == ["t0000", "t0001", "t0002"]


@pytest.mark.parametrize("build", [_random, _evolution], ids=["random", "evolution"])
def test_sampling_strategies_on_cells(build: object, tiny_domain: CellDomain) -> None:
    factory = partial(build, tiny_domain, 12)  # type: ignore[operator]
    check_strategy(factory, tiny_domain, synthetic_evaluator(tiny_domain), budget=12)


def test_pareto_on_nas_bench_201(nb201: NB201Domain, fake_predictors: PredictorFactory) -> None:
    def factory() -> SearchStrategy:
        # neighbours + random candidates here; the slow test below scores the whole table
        return GuidedParetoStrategy(nb201, OBJECTIVES, budget=12, seed=3, warmup=4, batch_size=4, candidates=300,
                                    enumerate_limit=0, predictor_factory=fake_predictors)

    check_strategy(factory, nb201, synthetic_evaluator(nb201), budget=12, batch=3, interrupt_at=3)


def test_pareto_on_cells(tiny_domain: CellDomain, fake_predictors: PredictorFactory) -> None:
    def factory() -> SearchStrategy:
        return GuidedParetoStrategy(tiny_domain, OBJECTIVES, budget=12, seed=3, warmup=4, batch_size=4,
                                    candidates=50, predictor_factory=fake_predictors)

    check_strategy(factory, tiny_domain, synthetic_evaluator(tiny_domain), budget=12, interrupt_at=3)


@pytest.mark.parametrize("cls", [PopnasStrategy, PNASStrategy], ids=["popnas", "pnas"])
def test_progressive_strategies_on_cells(cls: type[PopnasStrategy], tiny_domain: CellDomain,
                                         fake_predictors: PredictorFactory) -> None:
    def factory() -> SearchStrategy:
        exploration = {} if cls is PNASStrategy else {"max_exploration_children": 2}  # pnas has no such front
        return cls(tiny_domain, OBJECTIVES, budget=None, seed=1, max_children=3, predictor_factory=fake_predictors,
                   **exploration)

    run = check_strategy(factory, tiny_domain, synthetic_evaluator(tiny_domain), budget=None, exact_budget=False,
                         interrupt_at=5)
    names = [r.name for r in run.requests]
    assert names[0] == "B0-0000" and names[1:11] == [f"B1-{i:04d}" for i in range(10)]
    step2 = [n for n in names if n.startswith("B2-")]
    assert 1 <= len(step2) <= (3 if cls is PNASStrategy else 5)


def test_popnas_respects_a_budget(tiny_domain: CellDomain, fake_predictors: PredictorFactory) -> None:
    def factory() -> SearchStrategy:
        return PopnasStrategy(tiny_domain, OBJECTIVES, budget=13, seed=1, max_children=3,
                              max_exploration_children=2, predictor_factory=fake_predictors)

    run = check_strategy(factory, tiny_domain, synthetic_evaluator(tiny_domain), budget=13, interrupt_at=4)
    assert sum(r.name.startswith("B2-") for r in run.requests) == 2


def test_asking_more_than_the_space_holds_ends_the_search(fake_predictors: PredictorFactory) -> None:
    from scinas.search_space.macro import MacroConfig
    from scinas.search_space.space import SearchSpace

    domain = CellDomain(SearchSpace(("identity", "3x3 conv"), max_blocks=1, lookback_depth=2), MacroConfig())
    strategies = [RandomStrategy(domain, OBJECTIVES, budget=50, seed=0),
                  EvolutionStrategy(domain, OBJECTIVES, budget=50, seed=0, population_size=4, sample_size=2),
                  GuidedParetoStrategy(domain, OBJECTIVES, budget=50, seed=0, warmup=3, batch_size=3,
                                       candidates=30, predictor_factory=fake_predictors)]
    for strategy in strategies:
        run = run_strategy(strategy, synthetic_evaluator(domain), batch=4, max_rounds=200)
        assert strategy.finished
        assert len(run.requests) == 10, type(strategy).__name__  # all 10 one-block cells, then the end
        assert strategy.ask(5) == []


def test_failed_trials_are_recorded_and_the_search_goes_on(nb201: NB201Domain) -> None:
    strategy = EvolutionStrategy(nb201, OBJECTIVES, budget=30, seed=2, population_size=6, sample_size=3)
    failing = synthetic_evaluator(nb201, fail_share=1.0)
    run = run_strategy(strategy, failing, batch=5)
    assert len(run.requests) == 30 and strategy.finished
    assert all(not record.completed for record in strategy.ledger.records.values())
    assert strategy.population() == []


@pytest.mark.slow
def test_strategies_on_the_nas_bench_201_table(nb201: NB201Domain) -> None:
    """The real table as the evaluator (one seed per trial, as a training would) and the real GIN/SVR."""
    table = NB201Table("cifar10")

    def evaluate(request: TrialRequest) -> TrialOutcome:
        cell = request.architecture
        assert isinstance(cell, NB201Architecture)
        rng = np.random.default_rng(int(cell.index))
        row = table.sample(cell, rng)
        return TrialOutcome(request.name, True, fitness=row["val_acc"], costs={"time": row["train_time"]})

    def pareto() -> SearchStrategy:
        return GuidedParetoStrategy(nb201, OBJECTIVES, budget=10, seed=0, warmup=4, batch_size=3,
                                    predictor_epochs=5, predictor_ensemble=1, svr_iterations=3, prior_candidates=8)

    for factory in (pareto, partial(_random, nb201, 10), partial(_evolution, nb201, 10)):
        check_strategy(factory, nb201, evaluate, budget=10, batch=2, interrupt_at=3)
