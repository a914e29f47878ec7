"""A target formula as a search's fitness: evaluated per trial from the store, bad values fail one trial only."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scinas.search.domain import Objectives
from scinas.search.outcome import outcome_from_record, target_of, trial_values
from scinas.store import RunStore
from scinas.testing.run_stores import build_run, finish_trial


def _store(tmp_path: Path) -> RunStore:
    run = build_run(tmp_path / "results", trials=3, epochs=2)
    finish_trial(run, "fast", accuracy=0.8, time_s=4.0, params=2000)
    finish_trial(run, "instant", accuracy=0.9, time_s=0.0, params=1000)
    return RunStore.open(run / "store.sqlite", readonly=True)


def test_the_target_is_the_fitness_and_a_bad_value_fails_only_its_trial(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    objectives = Objectives("accuracy", True, ("time",), target="accuracy * 100 / train_time - params / 1e4")
    with _store(tmp_path) as store:
        fast, instant = store.trial("fast"), store.trial("instant")
        assert fast is not None and instant is not None
        values = trial_values(store, fast, objectives)
        assert values["accuracy"] == pytest.approx(0.8) and values["params"] == 2000.0
        assert values["train_time"] == 4.0 and values["latency_ms"] is None
        outcome = outcome_from_record(store, fast, objectives)
        assert outcome.completed and outcome.fitness == pytest.approx(0.8 * 100 / 4.0 - 0.2)
        assert outcome.metrics == {"accuracy": pytest.approx(0.8), "target": pytest.approx(19.8)}
        with caplog.at_level(logging.WARNING, logger="scinas.search.outcome"):
            failed = outcome_from_record(store, instant, objectives)
        assert not failed.completed and failed.fitness is None
        assert "trial instant" in caplog.text and "division by zero in 'accuracy * 100 / train_time'" in caplog.text
        assert target_of(store, instant, objectives) == (None, "division by zero in 'accuracy * 100 / train_time'")
        unmeasured = Objectives("accuracy", True, (), target="accuracy / latency_ms")
        assert target_of(store, fast, unmeasured) == (None, "latency_ms is missing")


def test_a_target_is_maximised_whatever_the_score_direction(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        fast = store.trial("fast")
        assert fast is not None
        minimised_score = Objectives("accuracy", False, (), target="-accuracy")
        assert outcome_from_record(store, fast, minimised_score).fitness == pytest.approx(-0.8)
        assert minimised_score.ranked_by == "target" and minimised_score.fitness(2.0) == 2.0
        assert Objectives("accuracy", False, ()).fitness(2.0) == -2.0
        again = Objectives.from_json(minimised_score.to_json())
        assert again == minimised_score and Objectives.from_json({"score": "a", "maximize": True, "costs": []}
                                                                  ).target is None
