"""benchmarks/segmentation.py: the hand-written twin is the generated network, and one tiny run (slow)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from scinas.data.base import DatasetInfo
from scinas.models.cell_network import CellNetworkGenerator
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from tests.conftest import REPO

BENCHMARKS = REPO / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))  # as when run as a script: it imports _machine beside it
    try:
        spec = importlib.util.spec_from_file_location("segmentation_benchmark", BENCHMARKS / "segmentation.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_hand_written_network_has_the_generated_layers(bench: ModuleType) -> None:
    shape = (16, 16, 1)
    info = DatasetInfo("c", "segmentation", shape, (16, 16), {"train": 1, "validation": 0, "test": 0}, 3)
    generated = CellNetworkGenerator().build(CellArchitecture(Cell.from_text(bench.DEFAULT_CELL), bench.MACRO), info)
    written = bench.hand_written(shape)
    assert written.count_params() == generated.count_params()
    kinds = sorted(type(layer).__name__ for layer in written.layers)
    assert kinds.count("Conv2D") == 12 and kinds.count("UpSampling2D") == 2 and kinds.count("Add") == 5
    assert bench.unet(4, shape).output_shape == (None, 16, 16, 3)


@pytest.mark.slow
def test_a_tiny_run_prints_the_keys(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--epochs", "1", "--samples", "40", "--steps", "2", "--rounds", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"scinas_miou", "unet_miou", "scinas_params", "unet_params", "overhead_ratio"} <= set(result)
    assert result["unet_params"] <= result["scinas_params"] and 0 <= result["scinas_miou"] <= 1
