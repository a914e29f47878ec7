"""benchmarks/xfel_batch_norm.py: one real tiny run, its JSON, and that precise BN leaves training alone."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.conftest import REPO

BENCHMARKS = REPO / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))  # as when run as a script: it imports _machine beside it
    try:
        spec = importlib.util.spec_from_file_location("xfel_batch_norm", BENCHMARKS / "xfel_batch_norm.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_tiny_run_prints_both_modes_on_the_same_training(bench: ModuleType,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    result = bench.main(["--epochs", "2", "--precise-batches", "2", "--config-dir", str(REPO / "config"),
                         "data.xfel15.shape.n_samples=120", "data.xfel15.shape.n_shards=2",
                         "data.xfel15.shape.fresh_training_samples=64"])
    assert json.loads(capsys.readouterr().out)["settings"]["dataset"] == "xfel15"
    off, on = result["off"]["seed15"], result["on"]["seed15"]
    for run in (off, on):
        assert len(run["train_accuracy"]) == len(run["val_accuracy"]) == 2
        assert 0.0 <= run["test_accuracy"] <= 1.0 and run["cpu_s"] > 0
    # precise BN rewrites the moving statistics only: the weights follow the same trajectory
    assert on["train_accuracy"] == off["train_accuracy"]
