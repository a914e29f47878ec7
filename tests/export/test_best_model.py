"""write_best_model: the best_model/ folder with and without the optional ONNX packages."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.data.base import DatasetInfo
from scinas.export.best_model import BestModelReport, json_ready, write_best_model
from scinas.models.saving import load_model
from scinas.search_space.cell import Cell
from tests.export.helpers import SIZES, cell_inference_model

IMAGES = DatasetInfo("images", "classification", (9, 11, 3), (), SIZES, n_classes=5)
CELL = "[(-1, 3x3 conv, -2, 2x2 maxpool)]"


def _write(directory: Path, *, onnx: bool = True) -> tuple[keras.Model, np.ndarray, BestModelReport]:
    keras.backend.clear_session()
    model = cell_inference_model(IMAGES, CELL)
    x = np.random.default_rng(0).normal(size=(4, *IMAGES.input_shape)).astype(np.float32)
    report = write_best_model(model, directory, architecture_text=CELL, sample_inputs=x,
                              summary={"task": "classification", "metrics": {"test_accuracy": 0.75},
                                       "experiment": "C", "score": np.float32(0.5)},
                              cell=Cell.from_text(CELL), onnx=onnx)
    return model, x, report


def test_writes_every_file_with_onnx_parity(tmp_path: Path) -> None:
    # tf2onnx and onnxruntime are core dependencies: without them this test fails, it is not skipped.
    model, x, report = _write(tmp_path / "best_model")
    folder = tmp_path / "best_model"
    for name in ("model.keras", "model.onnx", "parity.json", "summary.json", "summary.txt", "cell.dot"):
        assert (folder / name).is_file(), name
    assert report.onnx_ok and report.onnx_error is None
    parity = json.loads((folder / "parity.json").read_text())
    assert parity["checked"] is True and parity["passed"] is True and parity["n"] == 4
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["architecture"] == CELL and summary["task"] == "classification"
    assert summary["metrics"] == {"test_accuracy": 0.75} and summary["score"] == 0.5
    assert summary["params"] == model.count_params() and summary["input_shape"] == [9, 11, 3]
    assert summary["onnx"] == "model.onnx" and summary["parity"]["passed"] is True
    assert {"model.keras", "model.onnx", "parity.json", "summary.txt", "summary.json"} <= set(summary["files"])
    assert "Total params" in (folder / "summary.txt").read_text()
    reloaded = load_model(folder / "model.keras", compile=False)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_missing_onnx_extra_does_not_fail_the_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    folder = tmp_path / "best_model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"stale")  # an old export must not survive
    with caplog.at_level(logging.WARNING, logger="scinas.export"):
        _, _, report = _write(folder)
    assert "pip install 'scinas[onnx]'" in caplog.text
    assert not (folder / "model.onnx").exists() and (folder / "model.keras").is_file()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["onnx"] is None and summary["parity"] is None and "tf2onnx" in summary["onnx_problem"]
    assert json.loads((folder / "parity.json").read_text())["checked"] is False
    assert not report.onnx_ok


def test_onnx_off_skips_the_export_and_removes_an_old_one(tmp_path: Path) -> None:
    folder = tmp_path / "best_model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"stale")
    (folder / "parity.json").write_text("{}")
    _, _, report = _write(folder, onnx=False)
    assert (folder / "model.keras").is_file() and (folder / "summary.json").is_file()
    assert not (folder / "model.onnx").exists() and not (folder / "parity.json").exists()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["onnx"] is None and summary["onnx_problem"] is None and summary["parity"] is None
    assert not {"model.onnx", "parity.json"} & set(summary["files"])
    assert report.onnx_error is None and not report.onnx_ok and "onnx" not in report.files


def test_json_ready_makes_numpy_and_nan_serialisable() -> None:
    value = {"a": np.float64("nan"), "b": np.arange(3), "c": (np.int32(2), Path("x")), 4: float("inf")}
    assert json.loads(json.dumps(json_ready(value))) == {"a": None, "b": [0, 1, 2], "c": [2, "x"], "4": None}
