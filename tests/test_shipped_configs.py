"""Every shipped TOML file loads, validates in full, and each experiment runs in a tiny mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from scinas.cli import main
from scinas.config.loading import load_config
from scinas.data.spec import build_generator
from scinas.experiment.plan import plan_experiments
from tests.conftest import REPO

CONFIG = REPO / "config"
RAW = load_config(CONFIG)


def test_every_experiment_and_dataset_validates() -> None:
    plans = plan_experiments(RAW, RAW.experiment_names())
    assert {p.name for p in plans} >= {"E", "A"}
    for name in RAW.datasets:
        build_generator(RAW, name)
    assert RAW.default == ("E",)


@pytest.mark.parametrize("name", RAW.experiment_names())
def test_experiment_runs_in_tiny_mode(name: str, tmp_path: Path) -> None:
    dataset = RAW.experiment_table(name)["dataset"]["training"]
    code = main(["run", name, f"{name}.training.epochs=1", f"{name}.training.save_interval=1",
                 f"data.{dataset}.shape.n_samples=60", f"data.{dataset}.shape.n_shards=2",
                 "--config-dir", str(CONFIG), "--results", str(tmp_path), "--no-progress", "-q"])
    assert code == 0
    assert (next((tmp_path / name).iterdir()) / "trials/trial-0000/model.keras").exists()
