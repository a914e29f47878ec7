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
try:
    import aeon  # noqa: F401  (the timeseries extra)

    HAS_AEON = True
except ImportError:
    HAS_AEON = False


def _dataset(experiment: str) -> str:
    return str(RAW.experiment_table(experiment)["dataset"]["training"])


def _available(dataset: str) -> bool:
    """Datasets of the optional extras (aeon's time series) are skipped when it is not installed."""
    return HAS_AEON or RAW.datasets[dataset].get("generator") != "time_series"


def test_every_experiment_and_dataset_validates() -> None:
    names = [name for name in RAW.experiment_names() if _available(_dataset(name))]
    plans = plan_experiments(RAW, names)
    assert {p.name for p in plans} >= {"E", "A", "S", "C"}
    for name in RAW.datasets:
        if _available(name):
            build_generator(RAW, name)
    assert RAW.default == ("E",)


def _dataset_variant(name: str) -> bool:
    """A search that extends another and changes only its data (X14/X16 of X15): the same code path."""
    own = RAW.experiments[name]
    return "extends" in own and "search" in RAW.experiment_table(name) and \
        set(own) <= {"extends", "description", "seed", "dataset"}


def _scaled_variant(name: str) -> bool:
    """A search that extends another at a larger scale (X15_gpu): the same code path, bigger data."""
    own = RAW.experiments[name]
    return "extends" in own and "search" in RAW.experiment_table(name) and name.endswith("_gpu")


def _tiny_data(dataset: str) -> list[str]:
    """Overrides that make ``dataset`` small: 120 cached samples, 64 fresh ones per epoch."""
    shape = RAW.datasets[dataset].get("shape", {})
    fresh = [f"data.{dataset}.shape.fresh_training_samples=64"] if shape.get("fresh_training") else []
    return [f"data.{dataset}.shape.n_samples=120", f"data.{dataset}.shape.n_shards=2", *fresh]


def _darts(name: str) -> bool:
    """A DARTS search (DD, DDS): a supernet and two trainings, minutes even when tiny."""
    return str(RAW.experiment_table(name).get("search", {}).get("strategy")) == "darts"


def _another_search(name: str) -> bool:
    """A search other than ``A``: in tiny mode each still takes one to two minutes on 2 cores, so
    the fast suite runs ``A`` (the default search path) and the slow suite runs the others."""
    return name != "A" and "search" in RAW.experiment_table(name)


# Searches other than A (dataset variants, larger scales, DARTS, other data) run in tiny mode with
# the slow tests only (each search takes minutes).
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if _another_search(n) or _dataset_variant(n) or _scaled_variant(n) or _darts(n)
                                  else n for n in RAW.experiment_names()])
def test_experiment_runs_in_tiny_mode(name: str, tmp_path: Path) -> None:
    dataset = _dataset(name)
    if not _available(dataset):
        pytest.skip(f"{dataset} needs aeon (make install EXTRAS=timeseries)")
    table = RAW.experiment_table(name)
    searched = "search" in table
    darts = searched and table["search"].get("strategy") == "darts"
    tiny = ([f"{name}.search.epochs=1", f"{name}.search.layers=3", f"{name}.search.nodes=1",
             f"{name}.search.filters=2", f"{name}.search.eval_layers=3", f"{name}.search.eval_filters=2",
             f"{name}.final.epochs=1"] if darts else
            [f"{name}.search_space.blocks=2", f"{name}.search.max_children=1",
             f"{name}.search.max_exploration_children=0", f"{name}.search.predictor_epochs=2",
             f"{name}.search.predictor_ensemble=1", f"{name}.selection.epochs=1", f"{name}.selection.top_k=1",
             f"{name}.final.epochs=1"] if searched else [f"{name}.training.save_interval=1"])
    if searched and not darts:  # step B1 trains every one-block cell: its first two operators only
        operators = ", ".join(f'"{operator}"' for operator in table["search_space"]["operators"][:2])
        tiny.append(f"{name}.search_space.operators=[{operators}]")
    if _scaled_variant(name):  # and a small network
        tiny += [f"{name}.architecture.filters=8", f"{name}.architecture.motifs=2"]
    code = main(["run", name, f"{name}.training.epochs=1", *tiny, *_tiny_data(dataset),
                 "--config-dir", str(CONFIG), "--results", str(tmp_path), "--no-progress", "-q"])
    assert code == 0
    run = next((tmp_path / name).iterdir())
    assert (run / ("best_model/model.keras" if searched else "trials/trial-0000/model.keras")).exists()


def test_tiny_mode_makes_fresh_training_small() -> None:
    """The shipped XFEL sets draw thousands of fresh patterns an epoch; the tiny mode draws 64."""
    fresh = [name for name, table in RAW.datasets.items() if table.get("shape", {}).get("fresh_training")]
    assert {"xfel14", "xfel15", "xfel16", "villin15", "villin16", "xfel15_gpu"} <= set(fresh)
    for name in fresh:
        assert RAW.datasets[name]["shape"]["fresh_training_samples"] >= 3000
        assert f"data.{name}.shape.fresh_training_samples=64" in _tiny_data(name)
    assert _tiny_data("dtest") == ["data.dtest.shape.n_samples=120", "data.dtest.shape.n_shards=2"]
