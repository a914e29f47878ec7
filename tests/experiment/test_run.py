"""End to end: tiny runs through the CLI, the run folder, the store's rows, NaN failure, resume."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.cli import main
from scinas.store import RunStore, TrialStatus
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter
from tests.experiment.killing import epochs_recorded, kill_run_when


def _only_run(results: Path, experiment: str) -> Path:
    runs = sorted((results / experiment).iterdir())
    assert len(runs) == 1
    return runs[0]


def test_tiny_run_writes_the_run_folder_and_store(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config()
    results = tmp_path / "results"
    code = main(["run", "T", "T.training.save_interval=1", "--config-dir", str(folder), "--results", str(results),
                 "--no-progress"])
    assert code == 0
    run = _only_run(results, "T")
    for name in ("configurations.toml", "data.toml", "manifest.json", "store.sqlite", "run.log",
                 "final_metrics.json", "csv/trials.csv", "csv/epochs.csv", "csv/metrics.csv",
                 "trials/trial-0000/model.keras", "trials/trial-0000/summary.txt",
                 "trials/trial-0000/metrics.json", "trials/trial-0000/saved/epoch-0002.keras"):
        assert (run / name).exists(), name
    assert any((run / "trials/trial-0000/tensorboard").rglob("*tfevents*"))
    assert not (run / "trials/trial-0000/checkpoint").exists()
    resolved = tomllib.loads((run / "configurations.toml").read_text())
    assert resolved["default"] == ["T"] and resolved["T"]["training"]["save_interval"] == 1
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["packages"]["tensorflow"] and manifest["devices"]

    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        assert store.run().status == "completed"
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED and trial.epochs_completed == 2 and trial.params > 0
        assert [e.epoch for e in store.epochs(trial.trial_id)] == [1, 2]
        assert all(e.val_loss is not None and e.epoch_time_s > 0 for e in store.epochs(trial.trial_id))
        final = {(m.split, m.name) for m in store.metrics(trial.trial_id, epoch="final")}
        assert {("train", "loss"), ("validation", "r_squared"), ("test", "mean_absolute_error")} <= final
        interval = store.metrics(trial.trial_id, epoch=1)
        assert {m.split for m in interval} == {"train", "validation", "test"}
    final_metrics = json.loads((run / "final_metrics.json").read_text())
    assert "r_squared" in final_metrics["trial-0000"]["test"]


@pytest.mark.parametrize("targets", ["none", "feature"])
def test_saved_model_carries_the_normalisation(write_config: ConfigWriter, tmp_path: Path, targets: str) -> None:
    from sklearn.metrics import r2_score

    from scinas.config.loading import load_config
    from scinas.data.pipeline import PreparedDataset
    from scinas.data.spec import build_generator

    folder = write_config()
    results = tmp_path / "results"
    override = f'tiny.normalization.targets="{targets}"'
    assert main(["run", "T", override, "--config-dir", str(folder), "--results", str(results), "--no-progress"]) == 0
    run = _only_run(results, "T")
    model = keras.models.load_model(run / "trials/trial-0000/model.keras")
    dataset = PreparedDataset.prepare(build_generator(load_config(folder, [override]), "tiny"),
                                      results / ".cache", progress=False)
    x_raw, y = dataset.arrays("test")
    x_norm, _ = dataset.arrays("test", normalize=True)
    assert not np.allclose(x_raw, x_norm)
    predictions = model.predict(x_raw, verbose=0)
    assert predictions.shape == y.shape
    recorded = json.loads((run / "trials/trial-0000/metrics.json").read_text())["test"]
    assert r2_score(y, predictions) == pytest.approx(recorded["r_squared"], abs=1e-4)
    if targets == "none":  # raw units: the recorded loss is the MSE of the saved model's predictions
        assert float(np.mean((predictions - y) ** 2)) == pytest.approx(recorded["loss"], rel=1e-3)
    else:  # standardised units for training; the saved model answers in raw units
        _, y_norm = dataset.arrays("test", normalize=True)
        assert not np.allclose(y, y_norm)
        mse_norm = np.mean((dataset.statistics.normalize_target_array(predictions) - y_norm) ** 2)
        assert float(mse_norm) == pytest.approx(recorded["loss"], rel=1e-3)


def test_nan_trial_is_recorded_and_the_run_goes_on(write_config: ConfigWriter, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    experiments = TINY_EXPERIMENTS + """
[N]
extends = "T"
[N.compile]
optimizer = { name = "sgd", learning_rate = 1e30 }
"""
    folder = write_config(experiments)
    results = tmp_path / "results"
    code = main(["run", "N", "T", "--config-dir", str(folder), "--results", str(results), "--no-progress"])
    assert code == 1
    out = capsys.readouterr().out
    assert "N: failed" in out and "T: completed" in out
    with RunStore.open(_only_run(results, "N") / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.FAILED
        assert trial.failure_reason is not None and "loss became" in trial.failure_reason
        assert store.run().status == "failed"


def test_run_killed_after_first_epoch_resumes_and_finishes(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config()
    results = tmp_path / "results"
    found: list[Path] = []

    def ready() -> bool:
        runs = list((results / "T").glob("*/store.sqlite")) if (results / "T").exists() else []
        checkpoint = runs[0].parent / "trials/trial-0000/checkpoint/state.json" if runs else None
        if runs and checkpoint is not None and checkpoint.exists() and epochs_recorded(runs[0]) >= 1:
            found.append(runs[0])
            return True
        return False

    kill_run_when(["T", "T.training.epochs=6", "tiny.shape.n_samples=3000", "--config-dir", str(folder),
                   "--results", str(results), "--no-progress"], ready)
    store_path = found[0] if found else None
    assert store_path is not None
    run = store_path.parent
    with RunStore.open(store_path, readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.RUNNING
        killed_at = len(store.epochs(trial.trial_id))
        first_epoch = store.epochs(trial.trial_id)[0]
    assert 1 <= killed_at < 6

    code = main(["run", "--resume", str(run), "--no-progress"])
    assert code == 0
    with RunStore.open(store_path, readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED and trial.epochs_completed == 6
        epochs = store.epochs(trial.trial_id)
        assert [e.epoch for e in epochs] == [1, 2, 3, 4, 5, 6]
        assert epochs[0] == first_epoch  # finished work is not redone
        assert store.run().status == "completed"
    assert (run / "trials/trial-0000/model.keras").exists()
    # resuming a finished run does nothing and succeeds
    assert main(["run", "--resume", str(run), "--no-progress"]) == 0


def test_early_stopping_stops_and_restores_the_best_epoch(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config()
    results = tmp_path / "results"
    # every epoch after the first fails to improve by the (huge) min_delta: stop after patience = 1
    stopping = "T.training.early_stopping={ monitor = \"val_loss\", patience = 1, min_delta = 1e9 }"
    assert main(["run", "T", "T.training.epochs=10", stopping, "--config-dir", str(folder),
                 "--results", str(results), "--no-progress"]) == 0
    with RunStore.open(_only_run(results, "T") / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.epochs_completed == 2 and trial.best_epoch == 1
        epochs = store.epochs(trial.trial_id)
        final_val_loss = next(m.value for m in store.metrics(trial.trial_id, split="validation", epoch="final")
                              if m.name == "loss")
    assert len(epochs) == 2
    # the weights of epoch 1 were restored: the final validation loss is epoch 1's
    assert epochs[0].val_loss is not None
    assert final_val_loss == pytest.approx(epochs[0].val_loss, rel=1e-4)


def test_resume_after_the_strategy_state_was_lost_trains_nothing_again(write_config: ConfigWriter,
                                                                         tmp_path: Path) -> None:
    folder = write_config()
    results = tmp_path / "results"
    assert main(["run", "T", "--config-dir", str(folder), "--results", str(results), "--no-progress"]) == 0
    run = _only_run(results, "T")
    (run / "strategy.json").unlink()  # as if killed between the trial's completion and the state write
    model_time = (run / "trials/trial-0000/model.keras").stat().st_mtime_ns
    assert main(["run", "--resume", str(run), "--no-progress"]) == 0
    assert (run / "trials/trial-0000/model.keras").stat().st_mtime_ns == model_time
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED and trial.attempts == 1


def test_final_metrics_json_stays_valid_with_a_nan_metric(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config()
    results = tmp_path / "results"
    assert main(["run", "T", "--config-dir", str(folder), "--results", str(results), "--no-progress"]) == 0
    run = _only_run(results, "T")
    with RunStore.open(run / "store.sqlite") as store:
        (trial,) = store.trials()
        store.record_metrics(trial.trial_id, "test", {"undefined": float("nan")})
    assert main(["run", "--resume", str(run), "--no-progress"]) == 0  # rewrites final_metrics.json
    final = json.loads((run / "final_metrics.json").read_text(), parse_constant=pytest.fail)
    assert final["trial-0000"]["test"]["undefined"] is None
    assert isinstance(final["trial-0000"]["test"]["loss"], float)
