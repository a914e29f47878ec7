"""A search run end to end: trials in the store, the POPNAS CSVs, selection, final model, resume."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from scinas.cli import main
from scinas.store import RunStore, TrialStatus
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter
from tests.experiment.killing import epochs_recorded, kill_run_when

FLAGS = ["--no-progress", "-q"]


def _run_dir(results: Path) -> Path:
    (run,) = sorted((results / "P").iterdir())
    return run


def _search_records(run: Path) -> list[tuple[str, str, str]]:
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        return [(t.name, t.architecture, t.status.value) for t in store.trials()]


def _scores(run: Path) -> dict[str, float | None]:
    with sqlite3.connect(run / "store.sqlite") as db:
        rows = db.execute("SELECT t.name, m.value FROM trials t JOIN metrics m USING (trial_id) "
                          "WHERE m.split = 'validation' AND m.name = 'r_squared' AND m.epoch IS NULL").fetchall()
    return {name: value for name, value in rows}


def test_popnas_search_records_every_trial_and_writes_its_outputs(write_config: ConfigWriter,
                                                                  tmp_path: Path) -> None:
    folder = write_config(TINY_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "P", "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 0
    run = _run_dir(results)
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        trials = store.trials()
        names = [t.name for t in trials]
        # the empty cell, the 3 one-block cells of 2 operators x 1 lookback, then <= 2 + 1 two-block cells
        assert len([t for t in trials if t.extra.get("blocks") == 0]) == 1
        assert len([t for t in trials if t.extra.get("blocks") == 1]) == 3
        assert 1 <= len([t for t in trials if t.extra.get("blocks") == 2]) <= 3
        assert len(set(t.architecture for t in trials if t.phase == "search")) == len(
            [t for t in trials if t.phase == "search"])
        for trial in trials:
            assert trial.status == TrialStatus.COMPLETED, (trial.name, trial.failure_reason)
            assert trial.architecture_json and json.loads(trial.architecture_json)["kind"] == "cell"
            assert trial.params and trial.params > 0 and trial.train_time_s and trial.train_time_s > 0
            assert trial.flops is not None and trial.best_epoch == 1
            assert len(store.epochs(trial.trial_id)) == 1
        assert store.run().status == "completed"
    assert len(names) == len(set(names))
    for name in ("csv/training_results.csv", "csv/search_summary.csv", "csv/pareto_front.csv",
                 "search_summary.json", "strategy.json", "plots/pareto_front_time.png",
                 "plots/operator_usage.png", "best_model/model.keras"):
        assert (run / name).exists(), name
    with (run / "csv/training_results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len([n for n in names if not n.startswith(("select", "final"))])
    assert {"name", "step", "architecture", "status", "r_squared", "time", "params"} <= set(rows[0])
    summary = json.loads((run / "search_summary.json").read_text())
    assert summary["trials"] == len(rows) and summary["strategy"] == "popnas"
    assert 0 <= summary["overhead_share"] < 1 and summary["trials_s"] > 0
    assert any((run / "csv").glob("predictions_B2*.csv"))


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_epochs", [2, 5])
def test_killed_search_resumes_to_the_uninterrupted_result(write_config: ConfigWriter, tmp_path: Path,
                                                           kill_after_epochs: int) -> None:
    """Kill a search in a subprocess (inside a trial), resume it, compare with a run never killed."""
    # A measured cost (training time) differs between any two runs, so this search ranks by a cost
    # that does not: with time, even two uninterrupted runs may pick different children.
    search = TINY_SEARCH.replace("epochs = 1", "epochs = 2").replace('costs = ["time"]', 'costs = ["params"]')
    folder = write_config(search, SERIES_DATA)
    uninterrupted = tmp_path / "whole"
    assert main(["run", "P", "--config-dir", str(folder), "--results", str(uninterrupted), *FLAGS]) == 0

    results = tmp_path / "killed"

    def ready() -> bool:
        stores = list(results.glob("P/*/store.sqlite"))
        return bool(stores) and epochs_recorded(stores[0]) >= kill_after_epochs

    kill_run_when(["P", "--config-dir", str(folder), "--results", str(results), *FLAGS], ready)
    run = _run_dir(results)
    before = {name: status for name, _, status in _search_records(run)}
    assert "running" in before.values() or len(before) < len(_search_records(_run_dir(uninterrupted)))
    finished_before = {n for n, s in before.items() if s == "completed"}
    with sqlite3.connect(run / "store.sqlite") as db:
        attempts_before = dict(db.execute("SELECT name, attempts FROM trials").fetchall())

    assert main(["run", "--resume", str(run), *FLAGS]) == 0
    assert _search_records(run) == _search_records(_run_dir(uninterrupted))
    killed, whole = _scores(run), _scores(_run_dir(uninterrupted))
    assert killed.keys() == whole.keys()
    np.testing.assert_allclose([killed[k] for k in sorted(killed)], [whole[k] for k in sorted(whole)],
                               rtol=1e-5, atol=1e-6)
    with sqlite3.connect(run / "store.sqlite") as db:
        attempts = dict(db.execute("SELECT name, attempts FROM trials").fetchall())
    for name in finished_before:  # nothing that finished was trained again
        assert attempts[name] == attempts_before[name]
    assert (run / "best_model/model.keras").exists()


def test_resume_refuses_a_folder_of_another_version(write_config: ConfigWriter, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config(TINY_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "P", "P.search.strategy=\"random\"", "P.search.budget=1", "P.search.max_children=1",
                 "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 2  # options of popnas
    assert main(["run", "P", "P.search.max_children=1", "P.search.max_exploration_children=0",
                 "P.search_space.blocks=1", "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 0
    run = _run_dir(results)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["packages"]["scinas"] = "0.0.1"
    (run / "manifest.json").write_text(json.dumps(manifest))
    store_bytes = (run / "store.sqlite").read_bytes()
    capsys.readouterr()
    assert main(["run", "--resume", str(run), *FLAGS]) == 2
    assert "started by scinas 0.0.1" in capsys.readouterr().err
    assert (run / "store.sqlite").read_bytes() == store_bytes


@pytest.mark.slow
def test_a_target_formula_ranks_the_search_and_is_written_per_trial(write_config: ConfigWriter,
                                                                    tmp_path: Path) -> None:
    folder = write_config(TINY_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    # The best r_squared per parameter: a formula over a metric and a recorded trial quantity.
    target = "P.search.target=\"r_squared * 1000 / params\""
    assert main(["run", "P", target, "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 0
    run = _run_dir(results)
    with (run / "csv" / "training_results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(row["target"] != "" for row in rows)
    scores = _scores(run)
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        params = {t.name: t.params for t in store.trials()}
    for row in rows:
        score, size = scores[row["name"]], params[row["name"]]
        assert score is not None and size is not None
        expected = score * 1000 / size
        assert float(row["target"]) == pytest.approx(expected, rel=1e-6)
    summary = json.loads((run / "search_summary.json").read_text())
    best = max(rows, key=lambda row: float(row["target"]))
    assert summary["objectives"]["target"] == "r_squared * 1000 / params"
    assert summary["best"] == best["name"] and summary["best_target"] == pytest.approx(float(best["target"]))
