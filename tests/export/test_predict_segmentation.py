"""``scinas predict`` on a segmentation model: PNG masks of the predicted classes and IoU per class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from scinas.cli import main
from scinas.data.base import DatasetInfo
from scinas.models.cell_network import CellNetworkGenerator
from scinas.models.segmentation_scores import confusion_matrix, iou_per_class
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig


def test_predict_writes_masks_and_per_class_iou(tmp_path: Path) -> None:
    info = DatasetInfo("seg", "segmentation", (16, 16, 1), (16, 16), {"train": 4, "validation": 0, "test": 0}, 3)
    model = CellNetworkGenerator().build(CellArchitecture(Cell.from_text("[(-1, 3x3 conv, -1, 2x2 maxpool)]"),
                                                          MacroConfig(filters=4, motifs=2)), info)
    model.save(tmp_path / "model.keras")
    rng = np.random.default_rng(0)
    x = rng.random((5, 16, 16, 1)).astype(np.float32)
    y = rng.integers(0, 3, (5, 16, 16)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    out = tmp_path / "out"
    assert main(["predict", "--model", str(tmp_path / "model.keras"), "--data", str(tmp_path / "data.npz"), "--out",
                 str(out), "-q"]) == 0
    predicted = np.argmax(model.predict(x, verbose=0), axis=-1)
    for i in range(5):
        np.testing.assert_array_equal(np.asarray(Image.open(out / "masks" / f"{i}.png")), predicted[i])
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["task"] == "segmentation"
    expected = iou_per_class(confusion_matrix(y, predicted, 3))
    for c in range(3):
        got = analysis["metrics"]["iou"][str(c)]
        assert (got is None and np.isnan(expected[c])) or abs(got - expected[c]) < 1e-9
    assert abs(analysis["metrics"]["pixel_accuracy"] - float(np.mean(predicted == y))) < 1e-9
    assert "mean IoU" in (out / "analysis.txt").read_text()
    header = (out / "predictions.csv").read_text().splitlines()[0]
    assert header == "index,mask,pixel_accuracy,mean_iou"
