"""The neptune tracker in offline mode: what it wrote to its offline folder and what the Neptune client
received (the custom run id that makes a server continue a resumed run), read back; no token anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scinas.tracking.neptune_tracker import NeptuneSettings
from tests.tracking.conftest import ARCHITECTURES, RUN_ID, FedRunFactory

pytest.importorskip("neptune")

SECRET = "token-that-must-never-be-written-7f3a"


@pytest.fixture
def created_runs(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The ``custom_run_id`` each Neptune run was created with, as the client's backend received it.

    The offline and debug backends keep no trace of the id (only a server stores it), so the call
    that a server backend turns into its ``customId`` is recorded here.
    """
    from neptune.internal.backends.neptune_backend_mock import NeptuneBackendMock

    received: list[str | None] = []
    create_run = NeptuneBackendMock.create_run

    def recording(self: NeptuneBackendMock, *args: Any, **kwargs: Any) -> Any:
        received.append(kwargs.get("custom_run_id"))
        return create_run(self, *args, **kwargs)

    monkeypatch.setattr(NeptuneBackendMock, "create_run", recording)
    return received


def _operations(data_dir: Path) -> list[dict[str, Any]]:
    """The operations of the (one) offline run Neptune wrote under ``data_dir``."""
    (container,) = (data_dir / "offline").iterdir()
    assert json.loads((container / "metadata.json").read_text())["mode"] == "offline"
    lines = [json.loads(line) for log in sorted(container.glob("data-*.log")) for line in log.read_text().splitlines()]
    return [line["obj"] for line in lines]


def _assigned(operations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"/".join(op["path"]): op["value"] for op in operations if op["type"].startswith("Assign")}


def _series(operations: list[dict[str, Any]], path: str) -> list[tuple[int, float]]:
    return [(int(v["step"]), v["value"]) for op in operations
            if op["type"] == "LogFloats" and "/".join(op["path"]) == path for v in op["values"]]


def test_offline_run_records_trials_epochs_and_results(fed_run: FedRunFactory, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       created_runs: list[str | None]) -> None:
    data_dir = tmp_path / "neptune-data"
    monkeypatch.setenv("NEPTUNE_DATA_DIRECTORY", str(data_dir))
    monkeypatch.setenv("NEPTUNE_API_TOKEN", SECRET)  # present, but offline mode must not need or write it
    run = fed_run(("neptune",), neptune=NeptuneSettings(mode="offline"))
    run.start()
    run.train("trial-0000", epochs=2)
    run.train("trial-0001", epochs=1, fail=True)
    run.write_outputs()
    run.finish()

    assert created_runs == [f"{RUN_ID}-P"]
    operations = _operations(data_dir)
    values = _assigned(operations)
    assert values["sys/name"] == f"P/{RUN_ID}"
    assert values["scinas/experiment"] == "P" and values["scinas/run_id"] == RUN_ID
    assert values["scinas/strategy"] == "popnas" and values["scinas/status"] == "completed"
    assert values["config/parameters/search/score"] == "r_squared"
    assert values["trials/trial-0000/architecture"] == ARCHITECTURES["trial-0000"]
    assert values["trials/trial-0000/status"] == "completed" and values["trials/trial-0001/status"] == "failed"
    assert values["trials/trial-0001/failure_reason"] == "loss became NaN"
    assert values["trials/trial-0000/final/test/r_squared"] == pytest.approx(0.55)
    assert values["trials/trial-0000/params"] == 1234
    assert values["results/pareto_front_trials"] == "trial-0000"
    assert _series(operations, "trials/trial-0000/epoch/loss") == [(1, 1.0), (2, 0.5)]
    assert _series(operations, "scores/validation_r_squared") == [(0, pytest.approx(0.6))]
    uploads = {"/".join(op["path"]) for op in operations if op["type"].startswith("Upload")}
    assert {"results/pareto_front", "results/plots/pareto_front_time", "results/best_model",
            "config/files/configurations"} <= uploads

    assert json.loads((run.run_dir / "tracking.json").read_text())["neptune"] == {
        "custom_run_id": f"{RUN_ID}-P", "mode": "offline"}
    for folder in (run.run_dir, data_dir):
        for path in folder.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path


def test_debug_mode_needs_no_credentials(fed_run: FedRunFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEPTUNE_API_TOKEN", raising=False)
    monkeypatch.delenv("NEPTUNE_PROJECT", raising=False)
    run = fed_run(("neptune",), neptune=NeptuneSettings(mode="debug"))
    tracking = run.start()
    run.train("trial-0000", epochs=1)
    assert tracking.trackers.names == ["neptune"]  # nothing failed
    run.finish()


def test_a_resumed_run_opens_neptune_with_the_saved_custom_run_id(fed_run: FedRunFactory, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 created_runs: list[str | None]) -> None:
    monkeypatch.setenv("NEPTUNE_DATA_DIRECTORY", str(tmp_path / "neptune-data"))
    first = fed_run(("neptune",), neptune=NeptuneSettings(mode="offline"))
    first.start()
    first.train("trial-0000", epochs=1)
    first.finish()
    # A run started by an older scinas may have saved another id: the saved one is what the server knows.
    state = first.run_dir / "tracking.json"
    saved = json.loads(state.read_text())
    saved["neptune"]["custom_run_id"] = "older-id-of-this-run"
    state.write_text(json.dumps(saved))
    first.close()

    resumed = fed_run(("neptune",), neptune=NeptuneSettings(mode="offline"))
    assert resumed.run_dir == first.run_dir
    resumed.start()
    resumed.train("trial-0001", epochs=1)
    resumed.finish()
    assert created_runs == [f"{RUN_ID}-P", "older-id-of-this-run"]
