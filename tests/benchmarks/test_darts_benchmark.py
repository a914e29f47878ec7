"""benchmarks/darts.py: the searches it compares, what it reads from their run folders, the
spread over seeds and the aim; and (slow) a tiny run end to end."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from scinas.config.loading import load_config
from scinas.experiment.plan import plan_experiments
from scinas.store.layout import RunLayout
from tests.conftest import REPO

BENCHMARKS = REPO / "benchmarks"


def _benchmark(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:  # the script imports its sibling _machine as `python benchmarks/...` does
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_{name}"] = module
    spec.loader.exec_module(module)
    return module


BENCH = _benchmark("darts")
CONFIG = REPO / "config"


def _args(*argv: str) -> argparse.Namespace:
    return BENCH.parse_args(list(argv))  # type: ignore[no-any-return]


def test_popnas_searches_the_darts_space_with_the_same_training() -> None:
    args = _args("--samples", "300", "--stop-parameter-free", "2", "--stop-warmup", "3")
    for dataset, (darts, popnas) in BENCH.DATASETS.items():
        darts_table = load_config(CONFIG).experiment_table(darts)
        raw = load_config(CONFIG, BENCH.overrides("popnas", dataset, 5, args, darts_table))
        table = raw.experiment_table(popnas)
        assert table["search_space"]["operators"] == darts_table["search_space"]["operators"]
        assert table["search_space"]["blocks"] == darts_table["search"]["nodes"]
        assert table["search_space"]["lookback_depth"] == 2  # a DARTS cell reads the two cells before it
        assert table["training"]["epochs"] == darts_table["training"]["epochs"]
        assert table["final"]["epochs"] == 10 and table["seed"] == 5
        assert raw.datasets[dataset]["shape"].get("n_samples") == (300 if dataset == "dseries" else None)
        stop = load_config(CONFIG, BENCH.overrides("darts_stop", dataset, 5, args, darts_table))
        assert stop.experiment_table(darts)["search"]["stop_parameter_free"] == 2
        assert stop.experiment_table(darts)["search"]["stop_warmup"] == 3
        assert "stop_parameter_free" not in load_config(
            CONFIG, BENCH.overrides("darts", dataset, 5, args, darts_table)).experiment_table(darts)["search"]
        plan_experiments(stop, [darts])  # the overrides are valid keys of their tables
        plan_experiments(raw, [popnas])


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--datasets", "cifar"], ["--seeds", "a"], ["--stop-parameter-free", "0"], ["--children", "0"],
                 ["--methods", "darts,enas"], ["--methods", "darts_stop"]):
        with pytest.raises(SystemExit):
            _args(*argv)
    assert "cifar" in capsys.readouterr().err
    tiny = _args("--tiny", "--seeds", "3,4")
    assert tiny.dataset_list == ["digits"] and tiny.seed_list == [3] and tiny.budget == 2
    assert tiny.method_list == ["darts", "popnas"]
    assert _args("--stop-parameter-free", "2").method_list == ["darts", "darts_stop", "popnas"]
    assert _args("--methods", "darts_stop", "--stop-parameter-free", "1").method_list == ["darts_stop"]


def _run_folder(root: Path, *, wall: float, score: float, params: int, free: dict[str, int] | None) -> Path:
    layout = RunLayout(root)
    layout.best_model.mkdir(parents=True)
    (layout.best_model / "summary.json").write_text(json.dumps(
        {"params": params, "architecture": "x", "test_metrics": {"loss": 0.1, "R_squared": score}}))
    layout.search_timing.write_text(json.dumps({"wall_s": wall}))
    summary = {"strategy_summary": {"supernet-s0": {"genotype": "G", "parameter_free": free}} if free else {}}
    layout.search_summary.write_text(json.dumps(summary))
    return root


def test_measure_reads_the_run_folder(tmp_path: Path) -> None:
    darts = BENCH.measure(_run_folder(tmp_path / "d", wall=30.0, score=0.9, params=100,
                                      free={"normal": 1, "reduce": 2}), "r_squared", 40.0)
    assert darts["search_s"] == 30.0 and darts["test_score"] == 0.9 and darts["params"] == 100
    assert darts["parameter_free_ops"] == 3 and darts["run_s"] == 40.0
    popnas = BENCH.measure(_run_folder(tmp_path / "p", wall=90.0, score=0.95, params=300, free=None),
                           "r_squared", 99.0)
    assert "parameter_free_ops" not in popnas and popnas["test_score"] == 0.95


def test_spread_over_seeds_and_the_aim() -> None:
    assert BENCH.spread([1.0, 3.0, None]) == {"mean": 2.0, "std": pytest.approx(2 ** 0.5), "min": 1.0, "max": 3.0,
                                             "n": 2}
    assert BENCH.spread([None])["mean"] is None and BENCH.spread([2.0])["std"] == 0.0
    darts = BENCH.summarise_method({"0": {"search_s": 10.0, "test_score": 0.96, "params": 5, "parameter_free_ops": 1},
                                    "1": {"search_s": 20.0, "test_score": 0.97, "params": 7, "parameter_free_ops": 3}})
    popnas = BENCH.summarise_method({"0": {"search_s": 60.0, "test_score": 0.97, "params": 9},
                                     "1": {"search_s": 30.0, "test_score": 0.968, "params": 9}})
    assert darts["test_score"]["mean"] == pytest.approx(0.965) and darts["parameter_free_ops"]["max"] == 3
    met = BENCH.aim(darts, popnas, "classification")  # 0.965 vs best 0.97: within 0.005; 15 s vs 45 s
    assert met["score_met"] and met["time_met"] and met["met"]
    assert met["time_share"] == pytest.approx(1 / 3) and met["score_gap"] == pytest.approx(-0.005)
    slow = BENCH.summarise_method({"0": {"search_s": 16.0, "test_score": 0.99}})
    assert BENCH.aim(slow, popnas, "classification")["time_met"] is False
    worse = BENCH.summarise_method({"0": {"search_s": 1.0, "test_score": 0.95}})
    assert BENCH.aim(worse, popnas, "classification")["met"] is False
    assert BENCH.aim(worse, popnas, "regression")["score_met"] is True  # 0.02 tolerance for R²
    assert BENCH.aim(BENCH.summarise_method({}), popnas, "regression")["met"] is None


@pytest.mark.slow
def test_a_tiny_run_prints_both_searches(capsys: pytest.CaptureFixture[str]) -> None:
    assert BENCH.main(["--tiny"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"digits", "meta"} and out["meta"]["seeds"] == [0]
    for method in ("darts", "popnas"):
        entry = out["digits"][method]["seeds"]["0"]
        assert entry["search_s"] > 0 and 0.0 <= entry["test_score"] <= 1.0 and entry["params"] > 0
    assert 0 <= out["digits"]["darts"]["seeds"]["0"]["parameter_free_ops"] <= 4
    darts, popnas, aim = out["digits"]["darts"], out["digits"]["popnas"], out["digits"]["aim"]
    assert aim["popnas_best"] == popnas["seeds"]["0"]["test_score"]  # one seed: its score is the best
    assert aim["score_met"] is (darts["test_score"]["mean"] >= aim["popnas_best"] - 0.005)
    assert aim["time_share"] == pytest.approx(darts["search_s"]["mean"] / popnas["search_s"]["mean"])
    assert aim["met"] is (aim["score_met"] and aim["time_share"] <= 1 / 3)
