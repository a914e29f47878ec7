"""The mlflow tracker against a real local MLflow store, read back with ``MlflowClient``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.store import RunStatus
from scinas.tracking.mlflow_tracker import MlflowSettings, resolve_tracking_uri
from tests.tracking.conftest import ARCHITECTURES, RUN_ID, FedRunFactory

mlflow = pytest.importorskip("mlflow")


def _client(results: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{(results / 'mlflow.db').resolve().as_posix()}")


def _runs(client: mlflow.MlflowClient, experiment: str) -> tuple[list, list]:  # type: ignore[type-arg]
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs([found.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def _artifacts(client: mlflow.MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_the_embedded_store_holds_the_run_its_trials_and_artifacts(fed_run: FedRunFactory,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = fed_run(("mlflow",))
    run.start()
    run.train("trial-0000", epochs=2)
    run.train("trial-0001", epochs=1, fail=True)
    run.write_outputs()
    run.finish()

    assert (run.results / "mlflow.db").is_file()
    client = _client(run.results)
    (parent,), children = _runs(client, "P")
    assert parent.info.run_name == RUN_ID and parent.info.status == "FINISHED"
    assert parent.data.tags["scinas.experiment"] == "P" and parent.data.tags["scinas.run_id"] == RUN_ID
    assert parent.data.tags["scinas.strategy"] == "popnas" and parent.data.tags["scinas.status"] == "completed"
    assert parent.data.tags["scinas.pareto_front"] == "trial-0000"
    assert parent.data.params["training.epochs"] == "1" and parent.data.params["search.score"] == "r_squared"
    assert parent.data.metrics["summary_pareto_front_size"] == 1.0
    assert parent.data.metrics["trials_completed"] == 1.0 and parent.data.metrics["trials_failed"] == 1.0
    assert _artifacts(client, parent.info.run_id) == {
        "config/configurations.toml", "config/manifest.json", "pareto_front/pareto_front.csv",
        "plots/pareto_front_time.png", "best_model/summary.json", "results/search_summary.json"}
    assert parent.info.artifact_uri.startswith((run.results / "mlartifacts").resolve().as_uri())

    by_name = {child.info.run_name: child for child in children}
    assert set(by_name) == {"trial-0000", "trial-0001"}
    first, failed = by_name["trial-0000"], by_name["trial-0001"]
    assert first.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert first.data.params["architecture"] == ARCHITECTURES["trial-0000"]
    assert first.data.params["phase"] == "search" and first.data.tags["scinas.status"] == "completed"
    assert first.info.status == "FINISHED" and failed.info.status == "FAILED"
    assert failed.data.tags["scinas.failure_reason"] == "loss became NaN"
    history = client.get_metric_history(first.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 0.5)]
    assert [m.step for m in client.get_metric_history(first.info.run_id, "val_r_squared")] == [1, 2]
    assert first.data.metrics["final_test_r_squared"] == pytest.approx(0.55)
    assert first.data.metrics["final_validation_loss"] == pytest.approx(0.4)
    assert first.data.metrics["params"] == 1234 and first.data.metrics["train_time_s"] == 1.5
    assert [m.step for m in client.get_metric_history(parent.info.run_id, "trial_validation_r_squared")] == [0]

    saved = json.loads((run.run_dir / "tracking.json").read_text())["mlflow"]
    assert saved["run_id"] == parent.info.run_id
    assert saved["trials"] == {"trial-0000": first.info.run_id, "trial-0001": failed.info.run_id}


def test_resume_reattaches_to_the_same_runs(fed_run: FedRunFactory, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)  # a user-given store keeps MLflow's default artifact root, ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(other / 'mlflow.db').as_posix()}")
    run = fed_run(("mlflow",), mlflow=MlflowSettings(experiment_name="popnas-tiny"))
    run.start()
    run.train("trial-0000", epochs=2)
    run.train("trial-0001", epochs=2, finish=False)  # killed in its second epoch
    run.finish(RunStatus.INTERRUPTED)
    run.close()

    client = _client(other)
    (parent,), children = _runs(client, "popnas-tiny")
    assert parent.info.status == "KILLED" and parent.data.tags["scinas.status"] == "interrupted"
    assert {c.info.run_name: c.info.status for c in children} == {"trial-0000": "FINISHED", "trial-0001": "KILLED"}
    assert not (run.results / "mlflow.db").exists()  # the environment's URI was used

    resumed = fed_run(("mlflow",), mlflow=MlflowSettings(experiment_name="popnas-tiny"))
    assert resumed.run_dir == run.run_dir
    resumed.start()
    resumed.store.truncate_epochs(resumed.store.trial("trial-0001").trial_id, after=0)  # type: ignore[union-attr]
    resumed.train("trial-0001", epochs=2)
    resumed.finish()

    (again,), children = _runs(client, "popnas-tiny")
    assert again.info.run_id == parent.info.run_id and again.info.status == "FINISHED"
    assert sorted(c.info.run_name for c in children) == ["trial-0000", "trial-0001"]  # no duplicate
    second = next(c for c in children if c.info.run_name == "trial-0001")
    assert second.info.status == "FINISHED" and second.data.tags["scinas.status"] == "completed"
    assert second.data.metrics["final_validation_r_squared"] == pytest.approx(0.6)


def test_tracking_uri_precedence(tmp_path: Path) -> None:
    assert resolve_tracking_uri("http://server:5000", tmp_path, {"MLFLOW_TRACKING_URI": "sqlite:///x.db"}) == (
        "http://server:5000", False)
    assert resolve_tracking_uri(None, tmp_path, {"MLFLOW_TRACKING_URI": "sqlite:///x.db"}) == ("sqlite:///x.db", False)
    uri, embedded = resolve_tracking_uri(None, tmp_path, {})
    assert embedded and uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve().as_posix()}"
