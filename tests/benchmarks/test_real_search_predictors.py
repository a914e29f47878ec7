"""benchmarks/real_search_predictors.py: the JSON it prints and how it averages the steps' τ."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from scinas.predictors import save_predictor_step
from scinas.store import RunStore
from scinas.store.layout import RunLayout
from tests.conftest import REPO

BENCHMARKS = REPO / "benchmarks"


def _benchmark(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:  # the script imports its sibling _machine as `python benchmarks/...` does
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


BENCH = _benchmark("real_search_predictors")
REPLAY = _benchmark("predictor_replay")


def _synthetic_run(run_dir: Path, seed: int, steps: dict[str, tuple[list[float], list[float], list[float]]]) -> None:
    """A run folder as a search leaves it: a store with completed search trials, a manifest and
    per-step predictor files (``steps``: step → (measured, GIN predictions, time predictions))."""
    layout = RunLayout(run_dir)
    run_dir.mkdir(parents=True)
    layout.manifest.write_text(json.dumps({"experiment": "A", "seed": seed}), encoding="utf-8")
    with RunStore.create(
        layout.store, run_id=run_dir.name, experiment="A", seed=seed, config_text="", manifest={}
    ) as store:
        for index in range(5):
            trial = store.start_trial(f"B1-{index:04d}", architecture=f"cell{index}")
            store.complete_trial(trial.trial_id, train_time_s=1.0 + index)
        store.start_trial("B2-0000", architecture="failed")  # never completed: not counted
    for step, (actual, gin, seconds) in steps.items():
        names = [f"{step}-{i:04d}" for i in range(len(actual))]
        save_predictor_step(layout.predictors, "gin", step, names, actual, gin)
        save_predictor_step(layout.predictors, "svr_time", step, names, [1.0 + a for a in actual], seconds)


def test_per_step_tau_and_means_over_steps(tmp_path: Path) -> None:
    measured = [0.1, 0.2, 0.3, 0.4]
    _synthetic_run(
        tmp_path / "one",
        1,
        {
            "B2": (measured, [0.1, 0.2, 0.3, 0.4], [4.0, 3.0, 2.0, 1.0]),  # GIN τ 1, time τ −1
            "B3": (measured, [0.2, 0.1, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]),  # GIN τ 2/3, time τ 1
        },
    )
    _synthetic_run(tmp_path / "two", 2, {"B10": (measured, [0.4, 0.3, 0.2, 0.1], [1.0, 1.0, 1.0, 1.0])})

    one = BENCH.run_quality(tmp_path / "one")
    assert one["trials"] == 5
    assert list(one["steps"]) == ["B2", "B3"]
    assert one["steps"]["B2"]["gin"]["kendall"] == pytest.approx(1.0)
    assert one["steps"]["B2"]["svr_time"]["kendall"] == pytest.approx(-1.0)
    assert one["steps"]["B3"]["gin"]["n"] == 4
    assert one["gin_kendall_mean"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert one["cost_kendall_mean"] == pytest.approx(0.0)

    report = BENCH.summarise(BENCH._measured_runs([tmp_path / "one", tmp_path / "two"]))
    assert set(report["searches"]["A"]) == {"1", "2"}
    # Every step counts once: (1 + 2/3 − 1) / 3 for the GIN; the constant time predictions of B10
    # have no τ and are left out (and counted).
    assert report["gin_kendall_mean"] == pytest.approx((1.0 + 2 / 3 - 1.0) / 3)
    assert report["cost_kendall_mean"] == pytest.approx(0.0)
    assert report["undefined_steps"] == 1
    assert report["gin_steps"] == 3 and report["cost_steps"] == 3
    assert report["per_search"]["A"]["gin_kendall_mean"] == report["gin_kendall_mean"]
    json.dumps(report, allow_nan=False)  # undefined values are null, not NaN


def test_main_prints_json_for_existing_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _synthetic_run(tmp_path / "run", 3, {"B2": ([0.1, 0.5, 0.3], [0.0, 0.2, 0.1], [1.0, 3.0, 2.0])})
    assert BENCH.main(["--runs", str(tmp_path / "run")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gin_kendall_mean"] == pytest.approx(1.0)
    assert report["cost_kendall_mean"] == pytest.approx(1.0)
    assert report["searches"]["A"]["3"]["steps"]["B2"]["gin"]["spearman"] == pytest.approx(1.0)
    assert {"settings", "machine", "per_search"} <= set(report)


def test_overrides_shape_the_measured_search() -> None:
    args = BENCH.parse_args(["--children", "12", "--steps", "3", "--epochs", "2", "--samples", "900"])
    items = BENCH.overrides("AS", "dseries", 5, args)
    assert {
        "AS.seed=5",
        "AS.search.max_children=12",
        "AS.search.max_exploration_children=3",
        "AS.search_space.blocks=4",
        "AS.training.epochs=2",
        "data.dseries.shape.n_samples=900",
        "AS.selection.top_k=1",
        "AS.final.epochs=1",
    } <= set(items)
    quick = BENCH.parse_args(["--quick"])
    assert (quick.searches, quick.seeds, quick.children, quick.steps) == ("A", "1", 8, 1)
    assert not any("n_samples" in item for item in BENCH.overrides("A", "digits", 1, quick))


def test_replay_variants_are_parsed() -> None:
    assert REPLAY._parse("gin:epochs=120,loss=pairwise,learning_rate=0.002") == (
        "gin",
        {"epochs": 120, "loss": "pairwise", "learning_rate": 0.002},
    )
    assert REPLAY._parse("svr") == ("svr", {})


def test_a_step_without_a_tau_is_null() -> None:
    assert BENCH._finite(math.nan) is None and BENCH._finite(0.5) == 0.5
    assert BENCH._mean([None, 1.0, 0.0]) == 0.5 and BENCH._mean([None]) is None


@pytest.mark.slow
def test_a_tiny_real_search_is_measured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = BENCH.main(
        [
            "--searches",
            "A",
            "--seeds",
            "3",
            "--children",
            "4",
            "--exploration",
            "0",
            "--steps",
            "1",
            "--epochs",
            "1",
            "--keep",
            str(tmp_path),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    run = report["searches"]["A"]["3"]
    assert list(run["steps"]) == ["B2"]
    assert run["steps"]["B2"]["gin"]["n"] == 4 and run["steps"]["B2"]["svr_time"]["n"] == 4
    assert run["trials"] > 4  # the one-block cells, then the four of B2
    assert report["gin_steps"] == 1 and report["cost_steps"] == 1
    assert Path(run["run"]).is_relative_to(tmp_path)
    # Refitting the search's own predictors on its saved ledger gives back the τ it recorded.
    replayed = REPLAY._replay_all([REPLAY.Replay.load(Path(run["run"]))], "search", "search")
    (score,) = replayed["score"]["search"]["runs"].values()
    (cost,) = replayed["cost"]["search"]["runs"].values()
    assert score["B2"] == pytest.approx(run["steps"]["B2"]["gin"]["kendall"], abs=1e-4)
    assert cost["B2"] == pytest.approx(run["steps"]["B2"]["svr_time"]["kendall"], abs=1e-4)
