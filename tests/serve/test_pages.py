"""The read side of the dashboard: pages, JSON endpoints, incremental updates, files, bad stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from scinas.serve.runs import Cursor
from scinas.store import RunStatus
from scinas.testing.run_stores import build_run, finish_trial
from tests.serve.conftest import Serve


def test_runs_page_and_api_list_every_run(serve: Serve, tmp_path: Path) -> None:
    results = tmp_path / "results"
    build_run(results, experiment="A", run_id="20261201-120000-0001", trials=12, running=1, failed=2)
    build_run(results, experiment="B", run_id="20261202-120000-0002", trials=3, status=RunStatus.COMPLETED)
    client = serve(results)
    page = client.get("/")
    assert page.status == 200 and "Runs" in page.text and "runs.js" in page.text
    runs = client.get("/api/runs").json()["runs"]
    by_path = {run["path"]: run for run in runs}
    assert set(by_path) == {"A/20261201-120000-0001", "B/20261202-120000-0002"}
    line = by_path["A/20261201-120000-0001"]
    assert line["counts"] == {"completed": 9, "running": 1, "failed": 2, "pending": 0}
    assert line["status"] == "running" and line["score"] == "accuracy" and line["best"] > 0.5
    assert by_path["B/20261202-120000-0002"]["status"] == "completed"


def test_run_page_is_a_shell_and_the_trials_come_as_columns(serve: Serve, tmp_path: Path) -> None:
    results = tmp_path / "results"
    build_run(results, trials=20, failed=3)
    client = serve(results)
    page = client.get("/runs/A/20261201-120000-0001")
    assert page.status == 200 and 'data-run="A/20261201-120000-0001"' in page.text and "uPlot" in page.text
    info = client.get("/api/runs/A/20261201-120000-0001").json()
    assert info["score"] == "accuracy" and info["maximize"] and info["costs"] == ["time", "params"]
    assert {"label": "configuration", "path": "configurations.toml"} in info["files"]
    answer = client.get("/api/runs/A/20261201-120000-0001/trials")
    table = answer.json()
    assert answer.headers["server-timing"].startswith("app;dur=")
    assert table["full"] and table["count"] == 20 and len(table["columns"]["name"]) == 20
    assert sum(status == "failed" for status in table["columns"]["status"]) == 3
    failed = table["columns"]["status"].index("failed")
    assert "out of memory" in table["columns"]["failure_reason"][failed]
    assert table["columns"]["score"][failed] is None and table["columns"]["score"][0] > 0.4


def test_updates_send_only_what_changed(serve: Serve, tmp_path: Path) -> None:
    run = build_run(tmp_path / "results", trials=5, running=1)
    client = serve(tmp_path / "results")
    base = "/api/runs/A/20261201-120000-0001/trials"
    table = client.get(base).json()
    same = client.get(f"{base}?since={table['cursor']}&version={table['version']}").json()
    assert same == {"changed": False, "version": table["version"]}
    finish_trial(run, "new-trial", accuracy=0.99)
    later = client.get(f"{base}?since={table['cursor']}&version={table['version']}").json()
    assert not later["full"] and later["version"] != table["version"]
    # the new trial and the one still running, not the finished ones seen before
    assert "new-trial" in later["columns"]["name"] and len(later["columns"]["name"]) < 5
    new = later["columns"]["name"].index("new-trial")
    assert later["columns"]["score"][new] == 0.99 and later["columns"]["status"][new] == "completed"
    assert Cursor.parse(later["cursor"]).trial_id == 6
    assert client.get(f"{base}?since=bogus").status == 400


def test_learning_curve_of_one_trial(serve: Serve, tmp_path: Path) -> None:
    build_run(tmp_path / "results", trials=3, epochs=7)
    client = serve(tmp_path / "results")
    curve = client.get("/api/runs/A/20261201-120000-0001/trials/2/curve").json()
    assert curve["epoch"] == list(range(1, 8)) and len(curve["metrics"]["val_accuracy"]) == 7
    assert curve["converged_epoch"] is None
    fit = client.get("/api/runs/A/20261201-120000-0001/trials/2/fit").json()
    assert fit["epoch"] == [] and fit["value"] == []  # no learning-curve fit was recorded
    assert client.get("/api/runs/A/20261201-120000-0001/trials/99/curve").status == 404


def test_predictions_and_files(serve: Serve, tmp_path: Path) -> None:
    run = build_run(tmp_path / "results", trials=4)
    (run / "csv").mkdir()
    (run / "csv" / "predictions_B1.csv").write_text(
        "name,architecture,predicted_score,predicted_time,selected\nB0-0001,x,0.8,3.5,pareto\n,y,0.1,1,\n"
    )
    (run / "report.html").write_text("<html>report</html>")
    client = serve(tmp_path / "results")
    predictions = client.get("/api/runs/A/20261201-120000-0001/predictions").json()
    assert predictions["steps"] == {"B1": {"name": ["B0-0001"], "predicted_score": [0.8], "predicted_time": [3.5]}}
    info = client.get("/api/runs/A/20261201-120000-0001").json()
    assert {"label": "report", "path": "report.html"} in info["files"]
    assert client.get("/runs/A/20261201-120000-0001/files/report.html").text == "<html>report</html>"


def test_no_results_folder_and_an_empty_one(serve: Serve, tmp_path: Path) -> None:
    missing = serve(tmp_path / "nowhere").get("/api/runs").json()
    assert missing["exists"] is False and missing["runs"] == []
    (tmp_path / "empty").mkdir()
    empty = serve(tmp_path / "empty")
    assert empty.get("/api/runs").json() == {"results": str((tmp_path / "empty").resolve()), "exists": True, "runs": []}
    assert empty.get("/").status == 200


def test_corrupt_and_locked_stores_are_marked_unreadable_and_the_others_shown(serve: Serve, tmp_path: Path) -> None:
    results = tmp_path / "results"
    build_run(results, run_id="20261201-120000-0001", trials=2)
    corrupt = build_run(results, run_id="20261201-120000-0002", trials=2)
    (corrupt / "store.sqlite").write_bytes(b"this is not a database" * 100)
    locked = build_run(results, run_id="20261201-120000-0003", trials=2)
    holder = sqlite3.connect(locked / "store.sqlite", isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE runs SET seed = 2")
    try:
        client = serve(results)
        runs = {run["run"]: run for run in client.get("/api/runs").json()["runs"]}
        assert runs["20261201-120000-0001"]["status"] == "running"
        assert runs["20261201-120000-0002"]["status"] == "unreadable"
        assert (
            "not a scinas run store" in runs["20261201-120000-0002"]["error"]
            or "cannot" in runs["20261201-120000-0002"]["error"]
        )
        assert runs["20261201-120000-0003"]["status"] == "unreadable"
        assert "locked" in runs["20261201-120000-0003"]["error"]
        answer = client.get("/api/runs/A/20261201-120000-0002/trials")
        assert answer.status == 409 and answer.json()["unreadable"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_running_trial_that_completes_is_sent_when_nothing_had_finished_before(tmp_path: Path) -> None:
    from scinas.serve.runs import RunReader
    from scinas.store import RunStore

    run = build_run(tmp_path / "results", trials=0)
    with RunStore.open(run / "store.sqlite") as store:
        trial = store.start_trial("first", architecture="cell")
        reader = RunReader(run)
        seen = reader.trials()
        assert seen["columns"]["status"] == ["running"] and Cursor.parse(seen["cursor"]).finished_at == ""
        store.complete_trial(trial.trial_id, epochs_completed=1)
        later = reader.trials(Cursor.parse(seen["cursor"]))
    assert later["columns"]["name"] == ["first"] and later["columns"]["status"] == ["completed"]
    # a trial finished at the cursor's very time is sent again (the page replaces it by id): two trials
    # finishing in the same millisecond must not hide one another
    assert reader.trials(Cursor.parse(later["cursor"]))["columns"]["name"] == ["first"]
