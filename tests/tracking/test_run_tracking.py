"""A real (tiny, one-epoch) run through the command line, followed by trackers fed from its store."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from scinas.cli import main
from scinas.store import RunStore, TrialStatus
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter

SECRET = "neptune-token-that-stays-in-the-environment-91c"


@pytest.mark.slow  # a real training run with three trackers: about 15-30 s on 2 busy cores
def test_trackers_follow_a_run_and_a_broken_one_never_fails_it(write_config: ConfigWriter, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("neptune")
    pytest.importorskip("mlflow")
    monkeypatch.setenv("NEPTUNE_API_TOKEN", SECRET)
    monkeypatch.setenv("NEPTUNE_DATA_DIRECTORY", str(tmp_path / "neptune"))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where MLflow expects a folder")
    folder = write_config(TINY_EXPERIMENTS + f"""
[T.tracking]
trackers = ["tensorboard", "mlflow"]
[T.tracking.mlflow]
tracking_uri = "sqlite:///{blocked.as_posix()}/mlflow.db"
[T.tracking.neptune]
mode = "offline"
""")
    results = tmp_path / "results"
    caplog.set_level(logging.WARNING, logger="scinas.tracking")
    code = main(["run", "T", "T.training.epochs=1", "T.training.tensorboard=false", "--config-dir", str(folder),
                 "--results", str(results), "--no-progress", "-q"])
    assert code == 0
    (run_dir,) = (results / "T").iterdir()
    with RunStore.open(run_dir / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED
    assert "tracker mlflow failed in run_started and is switched off" in caplog.text
    assert "tracker mlflow failed in run_started" in (run_dir / "run.log").read_text()  # in the run's own log too

    events = EventAccumulator(str(run_dir / "tensorboard" / "trial-0000"))
    events.Reload()
    assert [e.step for e in events.Scalars("epoch/loss")] == [1]
    assert {"final/test/r_squared", "final/validation/loss", "cost/params"} <= set(events.Tags()["scalars"])

    (container,) = (tmp_path / "neptune" / "offline").iterdir()
    operations = [json.loads(line)["obj"] for line in (container / "data-1.log").read_text().splitlines()]
    paths = {"/".join(op["path"]) for op in operations}
    assert {"trials/trial-0000/epoch/loss", "trials/trial-0000/final/test/loss", "scinas/status"} <= paths
    assert json.loads((run_dir / "tracking.json").read_text())["neptune"]["mode"] == "offline"
    for path in [*results.rglob("*"), *(tmp_path / "neptune").rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
