"""The predictor-guided Pareto strategy's batch composition."""

from __future__ import annotations

import pytest

from scinas.errors import ConfigError
from scinas.search.domain import Objectives
from scinas.search.guided import GuidedParetoStrategy
from scinas.search.nasbench201 import NB201Domain
from scinas.search.prediction import PredictorFactory
from scinas.testing.strategies import synthetic_evaluator

OBJECTIVES = Objectives("score", True, ("time",))


def test_front_picks_that_add_too_little_go_to_local_search(fake_predictors: PredictorFactory) -> None:
    domain = NB201Domain()
    strategy = GuidedParetoStrategy(domain, OBJECTIVES, budget=20, seed=0, warmup=6, batch_size=5,
                                    exploit_share=0.0, local_share=0.2, exploration_share=0.0, local_parents=1,
                                    front_min_gain=1e9, predictor_factory=fake_predictors)
    evaluate = synthetic_evaluator(domain)
    strategy.tell([evaluate(request) for request in strategy.ask(6)])  # the warm-up
    best = max(strategy.ledger.succeeded(), key=lambda record: float(record.fitness or 0.0))
    neighbours = {domain.key(a) for a in domain.neighbours(best.architecture)}
    batch = strategy.ask(5)
    assert len(batch) == 5
    assert all(domain.key(request.architecture) in neighbours for request in batch)


def test_front_min_gain_must_be_a_non_negative_number() -> None:
    with pytest.raises(ConfigError, match="front_min_gain"):
        GuidedParetoStrategy(NB201Domain(), OBJECTIVES, budget=10, seed=0, front_min_gain=-1)
