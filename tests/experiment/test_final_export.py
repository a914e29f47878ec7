"""A one-trial search with ``[X.final]``: what the final training leaves in the run folder.

``best_model/`` follows the table's ``onnx`` switch, ``search_summary.json`` holds the strategy's
summary as an object, and the report shows the final training by its test score, unranked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.analysis.report_data import RunData
from scinas.cli import main
from tests.conftest import SERIES_DATA, TINY_SEARCH

# One trial of the pareto strategy (its warm-up), then the final training without ONNX export;
# the popnas-only keys of the tiny search are dropped.
ONE_TRIAL = "\n".join(line for line in TINY_SEARCH.splitlines() if not line.startswith((
    "max_children", "max_exploration_children", "predictor_"))).replace(
    'strategy = "popnas"', 'strategy = "pareto"\nbudget = 1') + "\n[P.final]\nepochs = 1\nonnx = false\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("final")
    config = folder / "config"
    config.mkdir()
    (config / "configurations.toml").write_text(ONE_TRIAL, encoding="utf-8")
    (config / "data.toml").write_text(SERIES_DATA, encoding="utf-8")
    results = folder / "results"
    assert main(["run", "P", "--config-dir", str(config), "--results", str(results), "--no-progress", "-q"]) == 0
    (run_dir,) = (results / "P").iterdir()
    return run_dir


def test_final_onnx_false_writes_no_onnx_export(run: Path) -> None:
    best = run / "best_model"
    assert (best / "model.keras").is_file()
    assert not (best / "model.onnx").exists() and not (best / "parity.json").exists()
    summary = json.loads((best / "summary.json").read_text())
    assert summary["trial"] == "final"
    assert summary["onnx"] is None and summary["parity"] is None and summary["onnx_problem"] is None
    assert "model.onnx" not in summary["files"]


def test_search_summary_holds_the_strategy_summary_as_an_object(run: Path) -> None:
    summary = json.loads((run / "search_summary.json").read_text())
    assert summary["strategy"] == "pareto"
    assert summary["strategy_summary"] == {"strategy": "pareto", "batches": 0, "trials": 1}


def test_the_report_ranks_the_search_trial_and_shows_the_final_one_by_its_test_score(run: Path) -> None:
    data = RunData.load(run)
    assert [t.phase for t in data.ranked()] == ["search"]
    final = next(t for t in data.trials if t.phase == "final")
    assert final.score is None and "r_squared" in final.test
    page = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="final-training"' in page and "<th>test r_squared</th>" in page
