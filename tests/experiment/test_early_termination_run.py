"""Learning-curve early termination end to end: a tiny training stops, the store holds the curve,
a resumed trial continues the rule's history, strategies see the fitness, a real search stops its
trials early, and selection ranks its retrainings by fitness."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from scinas.cli import main
from scinas.config.experiment import EarlyTerminationConfig
from scinas.config.loading import load_config
from scinas.data.pipeline import PreparedDataset
from scinas.experiment.plan import plan_experiments
from scinas.experiment.selection import PostSearch
from scinas.predictors.curve_families import DEFAULT_CURVE
from scinas.predictors.termination import CurveTermination
from scinas.search.base import TrialOutcome
from scinas.search.domain import Objectives
from scinas.search.outcome import outcome_from_record
from scinas.search.popnas import PopnasStrategy
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig
from scinas.stoppers import STOPPERS
from scinas.stoppers.curve import CurveStopper
from scinas.store import EpochRecord, RunStore, TrialRecord, TrialStatus
from scinas.training.callbacks import ResumeCheckpoint
from tests.conftest import SERIES_DATA, TINY_EXPERIMENTS, TINY_SEARCH, ConfigWriter

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
    assert trial.estimate == epochs[-1].prediction  # converged: the prediction stands in
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
    store.complete_trial(predicted, train_time_s=2.0, estimate=0.83, measured=0.70, monitor="val_accuracy",
                         converged_epoch=6)
    other = store.start_trial("trial-0001", architecture="b").trial_id
    store.record_metrics(other, "validation", {"accuracy": 0.75})
    store.complete_trial(other, train_time_s=2.0, estimate=0.4, measured=0.4, monitor="val_loss")
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
    # the curve prediction has its own name: unsigned, and only where the curve converged
    assert [o.prediction for o in outcomes] == [0.83, None, None]
    assert outcome_from_record(store, record, minimised).prediction is None
    # without objectives (a fixed experiment, an executor's report) there is no fitness
    (without,) = [outcome_from_record(store, store.trials()[0])]
    assert (without.completed, without.fitness, without.prediction) == (True, None, 0.83)


# -- a real search with early termination firing, and selection ranking by fitness ----------------

SEARCH_BUDGET = 8
# The search's score, R², monitored on the raw scale (a tiny model's R² may start far below 0, outside
# the bounded scales' 0..100 points); the huge tolerance makes every trial stop at epoch 3 + 2 - 1 = 4.
SEARCH = TINY_SEARCH.replace("epochs = 1", f"epochs = {SEARCH_BUDGET}") + """
[P.training.early_termination]
min_epochs = 3
window = 2
tolerance = 1000.0
scale = "raw"
[P.selection]
top_k = 1
variants = [{}, { filters = 8 }]
[P.final]
onnx = false
"""


@pytest.mark.slow
def test_a_search_stops_its_trials_early_and_ranks_them_by_fitness(write_config: ConfigWriter, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    told: dict[str, TrialOutcome] = {}
    original = PopnasStrategy.tell

    def tell(self: PopnasStrategy, outcomes: Sequence[TrialOutcome]) -> None:
        told.update((outcome.name, outcome) for outcome in outcomes)
        original(self, outcomes)

    monkeypatch.setattr(PopnasStrategy, "tell", tell)
    results = tmp_path / "results"
    assert main(["run", "P", "--config-dir", str(write_config(SEARCH, SERIES_DATA)), "--results", str(results),
                 *FLAGS]) == 0
    (run,) = sorted((results / "P").iterdir())
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        trials = store.trials()
        early = [t for t in trials if t.phase in ("search", "selection")]
        assert len([t for t in early if t.phase == "search"]) >= 4
        assert len([t for t in early if t.phase == "selection"]) == 2
        for trial in early:
            epochs = store.epochs(trial.trial_id)
            assert trial.status == TrialStatus.COMPLETED, (trial.name, trial.failure_reason)
            assert trial.converged_epoch == trial.epochs_completed == len(epochs) == 4 < SEARCH_BUDGET
            assert trial.monitor == "val_r_squared" and trial.curve == DEFAULT_CURVE
            assert [e.converged for e in epochs] == [False, False, False, True]
            assert trial.estimate is not None and trial.estimate == epochs[-1].prediction
            validation = {m.name: m.value for m in store.metrics(trial.trial_id, split="validation", epoch="final")}
            assert trial.measured == pytest.approx(validation["r_squared"])
        # the strategy was told every search trial's fitness (R² is maximised: signed = the value)
        search = {t.name: t for t in early if t.phase == "search"}
        assert set(told) == set(search)
        for name, outcome in told.items():
            assert outcome.completed and outcome.fitness == search[name].estimate
            assert outcome.metrics == {"r_squared": search[name].estimate}
        # selection chose the candidate with the best fitness; the final training never stops early
        selected = max((t for t in early if t.phase == "selection"), key=lambda t: t.estimate or -math.inf)
        final = store.trial("final")
        assert final is not None and final.architecture == selected.architecture
        assert final.converged_epoch is None and final.epochs_completed == SEARCH_BUDGET


def test_selection_ranks_its_retrainings_by_fitness(write_config: ConfigWriter, tmp_path: Path) -> None:
    experiments = TINY_SEARCH + "[P.selection]\ntop_k = 2\n[P.training.early_termination]\n"
    (plan,) = plan_experiments(load_config(write_config(experiments, SERIES_DATA)), ["P"])
    dataset = PreparedDataset.prepare(plan.generator, tmp_path / "cache", progress=False)
    cells = [CellArchitecture(Cell.from_text(text), MacroConfig(filters=4, motifs=1, normal_cells_per_motif=1))
             for text in ("[(-1, 3 conv, -1, identity)]", "[(-1, identity, -1, identity)]")]
    with RunStore.create(tmp_path / "store.sqlite", run_id="r", experiment="P", seed=1, config_text="",
                         manifest={}) as store:
        front = []
        for index, cell in enumerate(cells):
            trial = store.start_trial(f"trial-{index:04d}", architecture=cell.to_text(),
                                      architecture_json=json.dumps(cell.to_json())).trial_id
            store.complete_trial(trial, train_time_s=1.0)
            record = store.trial(f"trial-{index:04d}")
            assert record is not None
            front.append(record)
        # already retrained: select-00 ran its whole budget (0.80), select-01 stopped early at 0.60 but was
        # heading for 0.90, so its fitness is the better one although its measured score is lower
        for name, cell, measured, fitness in (("select-00", cells[0], 0.80, None), ("select-01", cells[1], 0.60, 0.90)):
            trial = store.start_trial(name, architecture=cell.to_text(),
                                      architecture_json=json.dumps(cell.to_json())).trial_id
            store.record_metrics(trial, "validation", {"r_squared": measured})
            store.complete_trial(trial, train_time_s=1.0, measured=measured, monitor="val_r_squared",
                                 estimate=fitness if fitness is not None else measured,
                                 converged_epoch=4 if fitness is not None else None)
        post = PostSearch(plan.config, dataset, store, tmp_path, Objectives(score="r_squared", maximize=True,
                                                                            costs=("time",)))
        assert post.select(front).to_text() == cells[1].to_text()


# -- a stopper that raises during a real search ------------------------------------------------------

BROKEN_BUDGET = 6
BROKEN_SEARCH = TINY_SEARCH.replace("epochs = 1", f"epochs = {BROKEN_BUDGET}").replace(
    'strategy = "popnas"', 'strategy = "random"\nbudget = 3').replace(
    "max_children = 2\nmax_exploration_children = 1\npredictor_epochs = 5\npredictor_ensemble = 1\n", "") + """
[P.training.early_termination]
stopper = "broken_in_test"
min_epochs = 3
window = 2
tolerance = 1000.0
scale = "raw"
[P.final]
epochs = 1
onnx = false
"""


class _RaisingStopper(CurveStopper):
    """A user's stopper with a bug: it raises at the second epoch of every trial."""

    def observe(self, value: float, epoch_time_s: float | None = None) -> Any:
        if self.epoch >= 1:
            raise KeyError("a bug in a user's stopper")
        return super().observe(value, epoch_time_s)


@pytest.mark.slow
def test_a_stopper_that_raises_is_switched_off_for_the_run_and_fails_no_trial(
        write_config: ConfigWriter, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    STOPPERS.register("broken_in_test")(_RaisingStopper)
    try:
        results = tmp_path / "results"
        with caplog.at_level(logging.INFO, logger="scinas"):
            assert main(["run", "P", "--config-dir", str(write_config(BROKEN_SEARCH, SERIES_DATA)),
                         "--results", str(results), *FLAGS]) == 0
    finally:
        STOPPERS.unregister("broken_in_test")
    (run,) = sorted((results / "P").iterdir())
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        search = [t for t in store.trials() if t.phase == "search"]
        assert len(search) == 3
        for trial in search:  # every trial completed its whole budget, judged by its measured value
            assert trial.status == TrialStatus.COMPLETED, trial.failure_reason
            assert trial.epochs_completed == BROKEN_BUDGET and trial.converged_epoch is None
            assert trial.estimate == trial.measured
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and "switched off for this run" in r.getMessage()]
    assert len(warnings) == 1 and "'broken_in_test' stopper raised while judging epoch 2" in warnings[0]
    assert "KeyError" in warnings[0]
    assert sum("stays off for this run" in r.getMessage() for r in caplog.records) >= 2
