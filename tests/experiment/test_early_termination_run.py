"""Learning-curve early termination end to end: a tiny training stops, the store holds the curve,
a resumed trial continues the rule's history, and strategies see the fitness."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from scinas.cli import main
from scinas.config.experiment import EarlyTerminationConfig
from scinas.experiment.search import outcome_from_record
from scinas.predictors.termination import CurveTermination
from scinas.search.domain import Objectives
from scinas.store import EpochRecord, RunStore, TrialRecord, TrialStatus
from scinas.training.callbacks import ResumeCheckpoint
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter

BUDGET = 8
# Raw scale (a loss): a huge tolerance makes the first two successful fits agree, so the trial
# stops at epoch min_epochs + window - 1 = 4 whatever the (tiny, noisy) model learns.
EXPERIMENTS = TINY_EXPERIMENTS.replace("epochs = 2", f"epochs = {BUDGET}\ntensorboard = false") + """
[T.training.early_termination]
monitor = "val_loss"
min_epochs = 3
window = 2
tolerance = 1000.0
"""
SETTINGS = EarlyTerminationConfig(monitor="val_loss", mode="min", min_epochs=3, window=2, tolerance=1000.0)
FLAGS = ["--no-progress", "-q"]


def _run_dir(results: Path) -> Path:
    (run,) = sorted((results / "T").iterdir())
    return run


def _read(run: Path) -> tuple[TrialRecord, list[EpochRecord], dict[str, float]]:
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        validation = {m.name: m.value for m in store.metrics(trial.trial_id, split="validation", epoch="final")}
        return trial, store.epochs(trial.trial_id), validation


def _replayed(epochs: list[EpochRecord]) -> list[float | None]:
    """The predictions the rule makes from the stored values alone (what an uninterrupted trial records)."""
    rule = CurveTermination(SETTINGS, BUDGET)
    return [rule.observe(e.metrics["val_loss"]).prediction for e in epochs]


def _check_trial(trial: TrialRecord, epochs: list[EpochRecord], validation: Mapping[str, float]) -> None:
    assert trial.status == TrialStatus.COMPLETED
    assert trial.epochs_completed == trial.converged_epoch == 4 and len(epochs) == 4
    assert [e.prediction is not None for e in epochs] == [False, False, True, True]
    assert [e.converged for e in epochs] == [False, False, False, True]
    assert all(e.curve == "shifted_exponential" for e in epochs)
    assert [e.prediction_time_s is not None and e.prediction_time_s > 0 for e in epochs] == [False, False, True, True]
    assert [e.prediction for e in epochs] == _replayed(epochs)
    assert trial.monitor == "val_loss" and trial.curve == "shifted_exponential"
    assert trial.fitness == epochs[-1].prediction  # converged: the prediction stands in
    assert trial.measured == pytest.approx(validation["loss"])
    assert trial.curve_parameters is not None and set(trial.curve_parameters) == {"a", "b", "c"}


def test_a_tiny_training_stops_early_and_records_its_curve(write_config: ConfigWriter, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert main(["run", "T", "--config-dir", str(write_config(EXPERIMENTS)), "--results", str(results),
                 *FLAGS]) == 0
    run = _run_dir(results)
    trial, epochs, validation = _read(run)
    _check_trial(trial, epochs, validation)
    assert trial.attempts == 1
    header = (run / "csv" / "epochs.csv").read_text().splitlines()[0].split(",")
    assert {"prediction", "converged", "curve", "prediction_time_s"} <= set(header)


@pytest.mark.parametrize("interrupted_after", [3, 4])
def test_a_resumed_trial_continues_the_rule(write_config: ConfigWriter, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, interrupted_after: int) -> None:
    original = ResumeCheckpoint.on_epoch_end

    def checkpoint_then_die(self: ResumeCheckpoint, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        original(self, epoch, logs)
        if epoch + 1 == interrupted_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(ResumeCheckpoint, "on_epoch_end", checkpoint_then_die)
    results = tmp_path / "results"
    assert main(["run", "T", "--config-dir", str(write_config(EXPERIMENTS)), "--results", str(results),
                 *FLAGS]) == 130
    run = _run_dir(results)
    trial, epochs, _ = _read(run)
    assert trial.status == TrialStatus.RUNNING and len(epochs) == interrupted_after
    monkeypatch.undo()

    assert main(["run", "--resume", str(run), *FLAGS]) == 0
    trial, resumed, validation = _read(run)
    # epoch 4 converged only because the resumed rule had the stored history (with epoch 3's prediction);
    # interrupted after epoch 4 (already converged), nothing more is trained
    _check_trial(trial, resumed, validation)
    assert resumed[:interrupted_after] == epochs
    assert trial.attempts == 2


def test_strategies_are_told_the_fitness_when_it_predicts_the_score(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "store.sqlite", run_id="r", experiment="A", seed=0, config_text="",
                         manifest={}) as store:
        _check_outcomes(store)


def _check_outcomes(store: RunStore) -> None:
    objectives = Objectives(score="accuracy", maximize=True, costs=("time",))
    predicted = store.start_trial("trial-0000", architecture="a").trial_id
    store.record_metrics(predicted, "validation", {"accuracy": 0.70})
    store.complete_trial(predicted, train_time_s=2.0, fitness=0.83, measured=0.70, monitor="val_accuracy",
                         converged_epoch=6)
    other = store.start_trial("trial-0001", architecture="b").trial_id
    store.record_metrics(other, "validation", {"accuracy": 0.75})
    store.complete_trial(other, train_time_s=2.0, fitness=0.4, measured=0.4, monitor="val_loss")
    plain = store.start_trial("trial-0002", architecture="c").trial_id
    store.record_metrics(plain, "validation", {"accuracy": 0.6})
    store.complete_trial(plain, train_time_s=2.0)

    outcomes = [outcome_from_record(store, record, objectives) for record in store.trials()]
    assert [o.fitness for o in outcomes] == [0.83, 0.75, 0.6]  # another monitor's fitness is not the score
    assert outcomes[0].metrics == {"accuracy": 0.83} and outcomes[0].costs == {"time": 2.0}
    minimised = Objectives(score="loss", maximize=False, costs=())
    store.record_metrics(other, "validation", {"loss": 0.5})
    (_, record, _) = store.trials()
    assert outcome_from_record(store, record, minimised).fitness == -0.4
