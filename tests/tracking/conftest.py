"""A run fed to trackers without training: a real store in a real run folder, events written by hand.

:class:`FedRun` plays what a search does to the store (two trials, one completed and one
failed, their epochs and final metrics) and leaves the search outputs a run leaves (Pareto front
CSV, a plot, ``best_model/``, ``search_summary.json``), so each tracker's output can be read back
quickly with its own reader.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scinas.config.experiment import ExperimentConfig, parse_experiment
from scinas.config.loading import load_config
from scinas.config.tracking import TrackingConfig
from scinas.configurable import options_table
from scinas.store import EpochRecord, RunStatus, RunStore
from scinas.tracking import RunTracking, start_tracking
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

__all__: list[str] = []

RUN_ID = "20260101-120000-abcd"
ARCHITECTURES = {"trial-0000": "[(-1, 3 conv, -1, identity)]", "trial-0001": "[(-1, identity, -1, identity)]"}


class FedRun:
    """A run folder ``<results>/P/<RUN_ID>/`` with a store, fed through :func:`start_tracking`."""

    def __init__(self, results: Path, config: ExperimentConfig) -> None:
        self.results = results
        self.config = config
        self.run_dir = results / "P" / RUN_ID
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "configurations.toml").write_text('default = ["P"]\n[P]\nseed = 1\n')
        (self.run_dir / "manifest.json").write_text(json.dumps({"run_id": RUN_ID, "seed": 1}))
        path = self.run_dir / "store.sqlite"
        self.store = (RunStore.open(path) if path.exists() else
                      RunStore.create(path, run_id=RUN_ID, experiment="P", seed=1,
                                      config_text='default = ["P"]\n[P]\nseed = 1\n', manifest={"seed": 1}))
        self.tracking: RunTracking | None = None

    def start(self) -> RunTracking:
        self.tracking = start_tracking(self.config, self.store, self.run_dir)
        return self.tracking

    def train(self, name: str, *, epochs: int = 2, fail: bool = False, finish: bool = True,
              phase: str = "search") -> int:
        """Write what a trainer writes for trial ``name``; returns its id."""
        self.store.add_trial(name, architecture=ARCHITECTURES[name], phase=phase)  # as the trial loop does
        trial = self.store.start_trial(name, architecture=ARCHITECTURES[name])
        for epoch in range(1, epochs + 1):
            loss = 1.0 / (epoch + trial.number)
            self.store.record_epoch(EpochRecord(trial.trial_id, epoch, metrics={
                "loss": loss, "val_loss": loss * 1.1, "r_squared": 1 - loss, "val_r_squared": 0.9 - loss},
                loss=loss, val_loss=loss * 1.1, epoch_time_s=0.5))
        if not finish:
            return trial.trial_id
        if fail:
            self.store.fail_trial(trial.trial_id, "loss became NaN", epochs_completed=epochs)
            return trial.trial_id
        for split, value in (("train", 0.7), ("validation", 0.6), ("test", 0.55)):
            self.store.record_metrics(trial.trial_id, split, {"loss": 1 - value, "r_squared": value})
        self.store.complete_trial(trial.trial_id, epochs_completed=epochs, best_epoch=epochs, train_time_s=1.5,
                                  params=1234, flops=5.0e4, estimate=0.6)
        return trial.trial_id

    def write_outputs(self) -> None:
        """The files a search leaves before the run ends."""
        (self.run_dir / "csv").mkdir(exist_ok=True)
        (self.run_dir / "csv" / "pareto_front.csv").write_text("name,r_squared,time\ntrial-0000,0.6,1.5\n")
        (self.run_dir / "plots").mkdir(exist_ok=True)
        (self.run_dir / "plots" / "pareto_front_time.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        (self.run_dir / "best_model").mkdir(exist_ok=True)
        (self.run_dir / "best_model" / "summary.json").write_text(json.dumps({"trial": "trial-0000"}))
        (self.run_dir / "search_summary.json").write_text(json.dumps({"trials": 2, "pareto_front_size": 1,
                                                                      "best": "trial-0000", "best_score": 0.6}))

    def finish(self, status: RunStatus = RunStatus.COMPLETED) -> None:
        if self.tracking is None:
            raise RuntimeError("start() first")
        self.store.set_run_status(status)
        self.tracking.finish(status)

    def close(self) -> None:
        self.store.close()


FedRunFactory = Callable[..., FedRun]


@pytest.fixture
def search_config(write_config: ConfigWriter) -> ExperimentConfig:
    """Experiment ``P`` of the tiny search (score r_squared, cost time), without trackers."""
    return parse_experiment(load_config(write_config(TINY_SEARCH, SERIES_DATA)), "P")


@pytest.fixture
def fed_run(tmp_path: Path, search_config: ExperimentConfig) -> Iterator[FedRunFactory]:
    """``fed_run(trackers=("tensorboard",), **settings)``: a :class:`FedRun` tracked by those trackers."""
    made: list[FedRun] = []

    def make(trackers: tuple[str, ...], **settings: object) -> FedRun:
        tables = {name: options_table(value) for name, value in settings.items()}
        tracking = TrackingConfig(trackers=trackers, tables=tables, file="configurations.toml", path="P.tracking")
        run = FedRun(tmp_path / "results", dataclasses.replace(search_config, tracking=tracking))
        made.append(run)
        return run

    yield make
    for run in made:
        run.close()
