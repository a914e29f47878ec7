"""A started run of the tiny experiment (store, folder, prepared dataset) for executor tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scinas.config.loading import load_config
from scinas.data.pipeline import PreparedDataset
from scinas.experiment.plan import ExperimentPlan, plan_experiments
from scinas.experiment.run import ExperimentRun
from scinas.store import EpochRecord, MetricRecord, RunStore, TrialRecord
from tests.conftest import ConfigWriter


@dataclass
class StartedRun:
    plan: ExperimentPlan
    run: ExperimentRun
    dataset: PreparedDataset

    @property
    def store(self) -> RunStore:
        return self.run.store

    @property
    def run_dir(self) -> Path:
        return self.run.run_dir

    @property
    def cache_root(self) -> Path:
        return self.run.cache_root


@pytest.fixture
def started_run(write_config: ConfigWriter, tmp_path: Path) -> Iterator[StartedRun]:
    """The tiny fixed experiment T, started (its store open for writing) with its dataset cached."""
    folder = write_config()
    plan = plan_experiments(load_config(folder, ["T.training.tensorboard=false"]), ["T"])[0]
    run = ExperimentRun.start(plan, tmp_path / "results", progress=False, verbose=0)
    dataset = PreparedDataset.prepare(plan.generator, run.cache_root, progress=False)
    yield StartedRun(plan, run, dataset)
    run.close()


def trial_facts(store: RunStore, record: TrialRecord) -> dict[str, object]:
    """What two executors must agree on for one trial (metrics rounded for float noise)."""
    epochs: list[EpochRecord] = store.epochs(record.trial_id)
    metrics: list[MetricRecord] = store.metrics(record.trial_id, epoch="final")
    return {"architecture": record.architecture, "status": record.status.value,
            "epochs_completed": record.epochs_completed, "best_epoch": record.best_epoch,
            "params": record.params, "epochs": [e.epoch for e in epochs],
            "epoch_loss": [e.loss for e in epochs], "val_loss": [e.val_loss for e in epochs],
            "final": {(m.split.value, m.name): m.value for m in metrics}}


#: Imported first by every Python process whose PYTHONPATH starts with its folder: scinas's cost
#: measurement raises, as a bug in scinas would, after the trial trained.
_BUG_SITECUSTOMIZE = '''
import scinas.training.trainer as _trainer


def _broken(*args, **kwargs):
    raise TypeError("measure_costs() got an unexpected keyword argument 'bug'")


_trainer.measure_costs = _broken
'''


def plant_worker_bug(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """A bug in scinas in every worker process started from now on (local workers and Slurm jobs
    inherit the environment); this process is not affected. ``monkeypatch.undo()`` removes it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_BUG_SITECUSTOMIZE, encoding="utf-8")
    path = [str(folder), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
