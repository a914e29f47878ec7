"""POPNAS / PNAS specifics: steps, operator scores, selection, exploration scoring, CSVs, options."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from scinas.errors import ConfigError
from scinas.search.base import TrialOutcome
from scinas.search.cell_domain import CellDomain
from scinas.search.domain import Objectives
from scinas.search.nasbench201 import NB201Domain
from scinas.search.popnas import PNASStrategy, PopnasStrategy
from scinas.search.prediction import Predictions, PredictorFactory, exploration_scores
from scinas.search.registry import STRATEGIES, create_strategy, strategy_options
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Block, Cell
from scinas.testing.strategies import run_strategy, synthetic_evaluator

OBJECTIVES = Objectives("score", True, ("time",))


def _cell(domain: CellDomain, *blocks: tuple[int, str, int, str]) -> CellArchitecture:
    return CellArchitecture(Cell(tuple(Block(*b) for b in blocks)), domain.macro)


def test_exploration_score_counts_both_operators_of_a_block(tiny_domain: CellDomain) -> None:
    conv, ident = "3x3 conv", "identity"
    selected = [_cell(tiny_domain, (-1, conv, -1, conv), (0, conv, -1, conv))] * 3  # identity and -2 never used
    pool = [_cell(tiny_domain, (-1, conv, -1, conv), (0, conv, -1, ident)),    # one identity side
            _cell(tiny_domain, (-1, conv, -1, conv), (-1, ident, 0, ident)),   # identity on both sides
            _cell(tiny_domain, (-1, conv, -1, conv), (-2, ident, 0, ident)),   # ... and input -2
            _cell(tiny_domain, (-1, conv, -1, conv), (0, conv, 0, conv))]
    scores = exploration_scores(tiny_domain, pool, selected, share=0.33)
    assert scores.tolist() == [1, 2, 3, 0]


def test_operator_scores_and_step_outputs(tiny_domain: CellDomain, fake_predictors: PredictorFactory,
                                          tmp_path: Path) -> None:
    strategy = PopnasStrategy(tiny_domain, OBJECTIVES, budget=None, seed=0, output_dir=tmp_path, max_children=3,
                              max_exploration_children=2, predictor_factory=fake_predictors)
    evaluate = synthetic_evaluator(tiny_domain)
    run = run_strategy(strategy, evaluate, batch=4)
    costs = {r.name: o.costs["time"] for r, o in zip(run.requests, run.outcomes, strict=True)}
    by_text = {r.architecture.to_text(): r.name for r in run.requests}
    empty = costs[by_text[tiny_domain.empty().to_text()]]
    raw = {op: abs(costs[by_text[tiny_domain.single_operator(op).to_text()]] - empty) for op in tiny_domain.operators}
    expected = {op: value / max(raw.values()) for op, value in raw.items()}
    assert strategy.operator_scores["time"] == pytest.approx(expected)
    assert strategy.step == 2

    folder = tmp_path / "csv"
    with (folder / "predictions_B2.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"name", "architecture", "predicted_score", "predicted_time", "selected"}
    selected = [row for row in rows if row["selected"]]
    step2 = [r.name for r in run.requests if r.name.startswith("B2-")]
    assert sorted(row["name"] for row in selected) == sorted(step2)
    scores = [float(row["predicted_score"]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    front = [row for row in selected if row["selected"] == "pareto"]
    assert 1 <= len(front) <= 3 and len(selected) - len(front) <= 2
    points = [(float(r["predicted_score"]), -float(r["predicted_time"])) for r in front]
    assert not any(a != b and a[0] >= b[0] and a[1] >= b[1] for a in points for b in points)  # non-dominated
    for name in ("pareto_front_B2.csv", "exploration_front_B2.csv"):
        assert (folder / name).exists()
    quality = json.loads((tmp_path / "predictors" / "gin_B2.json").read_text())
    assert quality["n"] == len(step2)
    assert (tmp_path / "predictors" / "svr_time_B2.csv").exists()
    summary = strategy.summary()
    assert summary["steps"][0]["blocks"] == 2 and summary["steps"][0]["trials"] == len(step2)
    assert "gin" in summary["steps"][0]["predictor_quality"]


def test_pnas_keeps_the_top_predicted(tiny_domain: CellDomain, fake_predictors: PredictorFactory,
                                      tmp_path: Path) -> None:
    strategy = PNASStrategy(tiny_domain, OBJECTIVES, budget=None, seed=0, output_dir=tmp_path, max_children=4,
                            predictor_factory=fake_predictors)
    run_strategy(strategy, synthetic_evaluator(tiny_domain), batch=2)
    with (tmp_path / "csv" / "predictions_B2.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert "predicted_time" not in rows[0]
    assert [bool(row["selected"]) for row in rows] == [True] * 4 + [False] * (len(rows) - 4)


def test_no_cell_to_expand_ends_the_search(tiny_domain: CellDomain, fake_predictors: PredictorFactory) -> None:
    strategy = PopnasStrategy(tiny_domain, OBJECTIVES, budget=None, seed=0, predictor_factory=fake_predictors)
    fail_one_block = synthetic_evaluator(tiny_domain)

    def evaluate(request):  # type: ignore[no-untyped-def]
        if request.name.startswith("B1-"):
            return TrialOutcome(request.name, completed=False)
        return fail_one_block(request)

    run = run_strategy(strategy, evaluate, batch=3)
    assert strategy.finished and len(run.requests) == 11  # the empty cell and the 10 one-block cells
    assert strategy.ask(3) == []


def test_step_one_is_capped_by_the_budget_single_operators_first(tiny_domain: CellDomain) -> None:
    strategy = PopnasStrategy(tiny_domain, OBJECTIVES, budget=3, seed=0)
    run = run_strategy(strategy, synthetic_evaluator(tiny_domain), batch=5)
    texts = {r.architecture.to_text() for r in run.requests[1:]}
    assert texts == {tiny_domain.single_operator(op).to_text() for op in tiny_domain.operators}


def test_bad_options(tiny_domain: CellDomain, nb201: NB201Domain) -> None:
    with pytest.raises(ConfigError, match="max_children"):
        PopnasStrategy(tiny_domain, OBJECTIVES, budget=None, seed=0, max_children=0)
    with pytest.raises(ConfigError, match="progressive domain"):
        PopnasStrategy(nb201, OBJECTIVES, budget=None, seed=0)
    with pytest.raises(ConfigError, match="sample_size"):
        create_strategy("evolution", nb201, OBJECTIVES, budget=5, seed=0, population_size=3, sample_size=4)
    with pytest.raises(ConfigError, match="budget"):
        create_strategy("random", nb201, OBJECTIVES, budget=None, seed=0)
    with pytest.raises(ConfigError, match="at most 1"):
        create_strategy("pareto", nb201, OBJECTIVES, budget=5, seed=0, exploit_share=0.9, local_share=0.2)


def test_registry_names_and_options(nb201: NB201Domain) -> None:
    assert STRATEGIES.names() == ["darts", "evolution", "pareto", "pnas", "popnas", "random"]
    with pytest.raises(ConfigError) as error:
        create_strategy("popnass", nb201, OBJECTIVES, budget=5, seed=0)
    message = str(error.value)
    assert "darts, evolution, pareto, pnas, popnas, random" in message and "popnas" in message
    with pytest.raises(ConfigError, match="population_size, sample_size"):
        create_strategy("evolution", nb201, OBJECTIVES, budget=5, seed=0, max_children=3)
    assert "max_children" in strategy_options("popnas") and "predictor_epochs" in strategy_options("pnas")
    assert "max_exploration_children" not in strategy_options("pnas")
    strategy = create_strategy("random", nb201, OBJECTIVES, budget=5, seed=0)
    assert len(run_strategy(strategy, synthetic_evaluator(nb201), batch=2).requests) == 5


def test_predictions_points_negate_costs_and_ignore_missing_ones() -> None:
    predictions = Predictions(np.array([1.0, 2.0]), {"time": np.array([3.0, 4.0]), "params": np.full(2, np.nan)})
    np.testing.assert_array_equal(predictions.points(), [[1.0, -3.0, 0.0], [2.0, -4.0, 0.0]])
