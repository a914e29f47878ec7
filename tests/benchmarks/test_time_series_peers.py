"""benchmarks/time_series_peers.py: its options, its JSON, and one real tiny run (slow)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.conftest import REPO

BENCHMARKS = REPO / "benchmarks"


@pytest.fixture(scope="module")
def peers() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))  # as when run as a script: it imports _machine beside it
    try:
        spec = importlib.util.spec_from_file_location("time_series_peers", BENCHMARKS / "time_series_peers.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks its module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop("time_series_peers", None)


def _problem(peers: ModuleType, name: str, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    task = "regression" if name == "Covid3Month" else "classification"
    y = rng.normal(size=6) if task == "regression" else np.array([0, 1, 1, 0, 1, 1])
    return peers.Problem(
        name, task, rng.normal(size=(6, 5, 1)), y, rng.normal(size=(6, 5, 1)), y, peers.data_table(name, seed)
    )


def test_options_and_their_defaults(peers: ModuleType) -> None:
    args = peers.parse_args([])
    assert (args.datasets, args.entries) == (list(peers.DATASETS), list(peers.ENTRIES))
    assert (args.epochs, args.trials, args.seed, args.quick) == (15, 20, 0, False)
    quick = peers.parse_args(["--quick"])
    assert (quick.datasets, quick.epochs, quick.trials) == (list(peers.QUICK_DATASETS), 2, 3)
    chosen = peers.parse_args(
        ["--quick", "--datasets", "ACSF1,GunPoint", "--epochs", "4", "--entries", "fcn", "--seed", "3"]
    )
    assert (chosen.datasets, chosen.entries, chosen.epochs, chosen.trials, chosen.seed) == (
        ["ACSF1", "GunPoint"],
        ["fcn"],
        4,
        3,
        3,
    )


@pytest.mark.parametrize(
    "argv",
    [["--datasets", "Nope"], ["--entries", "fcn,lstm"], ["--epochs", "0"], ["--trials", "-1"], ["--datasets", ","]],
)
def test_bad_options_exit_with_code_2(peers: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        peers.parse_args(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "known:" in error or "at least 1" in error


def test_json_shape_with_fake_entries(
    peers: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[str, str, int, int, int]] = []

    def fake(entry: str) -> Any:
        def run(problem: Any, epochs: int, trials: int, seed: int, work: Path) -> float:
            assert work.is_dir()
            seen.append((problem.name, entry, epochs, trials, seed))
            if entry == "resnet":
                raise ValueError("diverged")
            return 0.5 if problem.task == "classification" else -0.25

        return run

    monkeypatch.setattr(peers, "RUNNERS", {entry: fake(entry) for entry in peers.ENTRIES})
    monkeypatch.setattr(peers, "load_problem", lambda name, seed: _problem(peers, name, seed))
    assert peers.main(["--datasets", "GunPoint,Covid3Month", "--epochs", "3", "--trials", "5", "--seed", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"GunPoint", "Covid3Month", "meta"}
    for dataset in ("GunPoint", "Covid3Month"):
        assert set(result[dataset]) == set(peers.ENTRIES)
        for entry, values in result[dataset].items():
            assert values["wall_s"] >= 0
            if entry == "resnet":  # a failing peer is recorded, and the others still run
                assert values["test_score"] is None and values["error"] == "ValueError: diverged"
            else:
                assert values["test_score"] == (0.5 if dataset == "GunPoint" else -0.25)
    assert result["meta"]["score"] == {"GunPoint": "accuracy", "Covid3Month": "r2"}
    assert result["meta"]["chance"] == {"GunPoint": round(4 / 6, 4), "Covid3Month": 0.0}
    assert (result["meta"]["epochs"], result["meta"]["trials"], result["meta"]["seed"]) == (3, 5, 2)
    assert "cpus" in result["meta"]["machine"]
    assert len(seen) == 12 and {s[2:] for s in seen} == {(3, 5, 2)}


def test_scinas_entries_are_the_shipped_experiments_adapted(peers: ModuleType) -> None:
    classification = _problem(peers, "GunPoint", 0)
    cell = peers.scinas_experiment("cell", classification, 7, 20, 4)
    shipped = peers.shipped_experiment("G")
    assert cell["structure"] == shipped["structure"] and cell["architecture"] == shipped["architecture"]
    assert (cell["seed"], cell["dataset"], cell["training"]["epochs"]) == (4, {"training": "ts"}, 7)
    assert "search" not in cell
    regression = _problem(peers, "Covid3Month", 0)
    search = peers.scinas_experiment("search", regression, 7, 11, 4)
    assert search["search_space"] == peers.shipped_experiment("T")["search_space"]
    assert (search["search"]["budget"], search["search"]["score"]) == (11, "r_squared")
    assert search["compile"]["metrics"] == ["R_squared"]
    assert search["final"]["epochs"] == search["selection"]["epochs"] == 7


@pytest.mark.slow
def test_a_real_tiny_regression_run(peers: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    """Covid3Month through both scinas entries: the search scores, and the test R² is read, by
    the name the compiled metric records (r_squared)."""
    pytest.importorskip("aeon")
    code = peers.main(["--datasets", "Covid3Month", "--epochs", "1", "--trials", "2",
                       "--entries", "scinas_cell,scinas_search"])
    assert code == 0
    entries = json.loads(capsys.readouterr().out)["Covid3Month"]
    for entry, values in entries.items():
        assert "error" not in values, (entry, values)
        assert values["test_score"] <= 1.0 and values["wall_s"] > 0


@pytest.mark.slow
def test_a_real_tiny_run(peers: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("aeon")
    code = peers.main(
        [
            "--datasets",
            "ItalyPowerDemand",
            "--epochs",
            "1",
            "--trials",
            "2",
            "--entries",
            "scinas_cell,scinas_search,minirocket,fcn",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    entries = result["ItalyPowerDemand"]
    assert set(entries) == {"scinas_cell", "scinas_search", "minirocket", "fcn"}
    for entry, values in entries.items():
        assert "error" not in values, (entry, values)
        assert 0.0 <= values["test_score"] <= 1.0 and values["wall_s"] > 0
    assert entries["minirocket"]["test_score"] > 0.8  # a strong peer on this easy set
    assert result["meta"]["chance"]["ItalyPowerDemand"] == pytest.approx(0.5015, abs=1e-3)
