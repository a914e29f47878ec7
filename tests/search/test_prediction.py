"""Shared predictor helpers: hyperparameter reuse between refits, and fit_and_predict using it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scinas.predictors import SVRPredictor
from scinas.search.base import TrialOutcome
from scinas.search.ledger import TrialLedger
from scinas.search.nasbench201 import NB201Domain
from scinas.search.prediction import TunedHyperparameters, fit_and_predict


def test_reuses_until_the_data_grew_by_the_factor_and_round_trips_json() -> None:
    tuned = TunedHyperparameters(growth=1.5)
    assert tuned.reusable("time", 40) is None  # nothing searched yet
    tuned.remember("time", 40, {"svr__C": 3.0, "svr__kernel": "rbf"})
    assert tuned.reusable("time", 59) == {"svr__C": 3.0, "svr__kernel": "rbf"}
    assert tuned.reusable("time", 60) is None  # grown by 1.5: search again
    assert tuned.reusable("latency", 41) is None  # per target
    again = TunedHyperparameters(growth=1.5)
    again.load_state(json.loads(json.dumps(tuned.state())))
    assert again.state() == tuned.state() and again.reusable("time", 50) == tuned.reusable("time", 50)
    with pytest.raises(ValueError, match="at least 1"):
        TunedHyperparameters(growth=0.5)


def _trained(domain: NB201Domain, n: int) -> list:
    ledger = TrialLedger(domain)
    rng = np.random.default_rng(0)
    requests = []
    while len(requests) < n:
        architecture = domain.sample(rng)
        if not ledger.seen(architecture):
            requests.append(ledger.add(architecture))
    records = ledger.tell([TrialOutcome(r.name, True, fitness=float(i % 7),
                                        costs={"time": 1.0 + sum(map(ord, str(r.architecture))) % 13})
                           for i, r in enumerate(requests)])
    return records


def test_fit_and_predict_searches_once_then_reuses() -> None:
    domain = NB201Domain()
    searches: list[bool] = []

    class Score:
        def fit(self, inputs: list, targets: np.ndarray) -> None:
            self.mean = float(np.mean(targets))

        def predict(self, inputs: list) -> np.ndarray:
            return np.full(len(inputs), self.mean)

    class Recording(SVRPredictor):
        def fit(self, inputs: object, targets: np.ndarray) -> None:
            searches.append(self.params is None)
            super().fit(inputs, targets)  # type: ignore[arg-type]

    def factory(target: str, seed: int) -> object:
        return Score() if target == "score" else Recording(seed=seed, n_iter=3, log_target=True)

    tuned = TunedHyperparameters(growth=1.5)
    pool = [domain.sample(np.random.default_rng(9)) for _ in range(5)]
    for n in (20, 25, 29, 30):
        trained = _trained(domain, n)
        predictions = fit_and_predict(domain, trained, pool, ["time"], factory, seed=0,  # type: ignore[arg-type]
                                      cost_features=lambda a, _c: domain.features(a), tuned=tuned)
        assert np.isfinite(predictions.costs["time"]).all()
    assert searches == [True, False, False, True]  # 25 and 29 < 1.5 × 20; 30 searches again
