"""benchmarks/time_cost_stability.py: its arguments, its figures, and a tiny run."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "time_cost_stability.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("time_cost_stability", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arguments_are_parsed_and_checked(bench: ModuleType) -> None:
    args = bench.parse_args([])
    assert (args.repeats, args.epochs, args.load_processes, args.models) == (2, 3, 2, list(bench.MODELS))
    args = bench.parse_args(["--repeats", "1", "--models", "conv", "--samples", "64"])
    assert (args.repeats, args.models, args.samples) == (1, ["conv"], 64)
    for bad in (["--repeats", "0"], ["--epochs", "-1"], ["--models", "mlp"], ["--samples", "-5"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_kendall_tau_and_the_summary(bench: ModuleType) -> None:
    assert bench.kendall_tau([1, 2, 3], [10, 20, 30]) == 1.0
    assert bench.kendall_tau([1, 2, 3], [30, 20, 10]) == -1.0
    assert bench.kendall_tau([1, 2, 3], [20, 10, 30]) == pytest.approx(1 / 3)
    runs = {
        c: {m: {k: [1.0 * f, 3.0 * f] for k in bench.MEASURES} for m, f in (("a", 1), ("b", 2))}
        for c in bench.CONDITIONS
    }
    runs["load"]["a"]["wall"] = [8.0, 8.0]  # the load makes a slower than b by wall time
    summary = bench.summarise(runs)
    assert summary["models"]["a"]["time_cost"]["cv_no_load"] == pytest.approx(0.5)
    assert summary["models"]["a"]["wall"]["load_ratio"] == 4.0
    assert summary["kendall_tau"] == {"wall": -1.0, "time_cost": 1.0, "cpu_cost": 1.0}


@pytest.mark.slow
def test_a_tiny_run_prints_every_figure(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    result = bench.main(
        [
            "--repeats",
            "2",
            "--epochs",
            "2",
            "--load-processes",
            "1",
            "--samples",
            "96",
            "--models",
            "dense_small",
            "conv",
        ]
    )
    assert set(result["models"]) == {"dense_small", "conv"} and set(result["kendall_tau"]) == set(bench.MEASURES)
    assert all(v > 0 for runs in result["runs"]["load"].values() for values in runs.values() for v in values)
    assert '"kendall_tau"' in capsys.readouterr().out
