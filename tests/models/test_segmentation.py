"""Segmentation: metrics against NumPy, the loss's ignore_class, the encoder-decoder and its errors."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.config.experiment import NamedSpec
from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.models.cell_network import CellNetworkGenerator
from scinas.models.compile import build_loss
from scinas.models.metrics import build_metric
from scinas.models.segmentation import MeanIoU, PixelAccuracy, confusion_matrix, iou_per_class
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig


def _info(size: tuple[int, int] = (16, 16), ignore_class: int | None = 7, channels: int = 2) -> DatasetInfo:
    return DatasetInfo("seg", "segmentation", (*size, channels), size, {"train": 4, "validation": 0, "test": 0},
                       3, ("a", "b", "c"), ignore_class=ignore_class)


def _numpy_scores(y: np.ndarray, p: np.ndarray, ignore: int | None) -> tuple[float, float]:
    matrix = confusion_matrix(y, p.argmax(-1), 3, ignore)
    iou = iou_per_class(matrix)
    return float(np.nanmean(iou)), float(np.trace(matrix) / matrix.sum())


def test_streamed_mean_iou_and_pixel_accuracy_match_numpy() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, (6, 8, 8)).astype(np.float32)
    y[:, :2] = 7  # ignored rows
    y[y == 2] = 0  # class 2 absent from the labels ...
    p = rng.random((6, 8, 8, 3)).astype(np.float32)
    p[0, 5, 5] = [0, 0, 1]  # ... but predicted once: it counts, with IoU 0
    iou_metric, accuracy_metric = MeanIoU(3, ignore_class=7), PixelAccuracy(3, ignore_class=7)
    for batch in (slice(0, 2), slice(2, 5), slice(5, 6)):  # streamed over uneven batches
        iou_metric.update_state(y[batch], p[batch])
        accuracy_metric.update_state(y[batch], p[batch])
    expected_iou, expected_accuracy = _numpy_scores(y, p, 7)
    assert float(iou_metric.result()) == pytest.approx(expected_iou, abs=1e-6)
    assert float(accuracy_metric.result()) == pytest.approx(expected_accuracy, abs=1e-6)
    # the ignored pixels really are left out: counting them as class 0 changes both scores
    assert _numpy_scores(np.where(y == 7, 0, y), p, None) != pytest.approx((expected_iou, expected_accuracy))
    assert np.isclose(iou_per_class(confusion_matrix(y, p.argmax(-1), 3, 7))[2], 0.0)


def test_the_loss_leaves_out_the_ignored_pixels_and_weighs_classes() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, (4, 6, 6)).astype(np.float32)
    y[:, 0] = 7
    p = rng.dirichlet(np.ones(3), size=(4, 6, 6)).astype(np.float32)
    valid = y != 7
    labels = np.where(valid, y, 0).astype(int)
    picked = np.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
    ce = -np.log(picked)
    loss = build_loss(NamedSpec("auto", {}, "f", "p"), "segmentation", ignore_class=7)
    assert float(loss(y, p)) == pytest.approx(float(ce[valid].mean()), rel=1e-5)
    weights = np.array([0.5, 1.0, 2.0])
    weighted = build_loss(NamedSpec("auto", {}, "f", "p"), "segmentation", ignore_class=7, class_weights=list(weights))
    assert float(weighted(y, p)) == pytest.approx(float((ce * weights[labels])[valid].sum() / valid.sum()),
                                                  rel=1e-5)


def test_segmentation_metric_names_need_a_segmentation_dataset() -> None:
    metric = build_metric("miou", n_outputs=1, task="segmentation", n_classes=3, ignore_class=None)
    assert isinstance(metric, MeanIoU) and metric.name == "mean_iou"
    accuracy = build_metric("accuracy", n_outputs=1, task="segmentation", n_classes=3, ignore_class=4)
    assert isinstance(accuracy, PixelAccuracy) and accuracy.name == "accuracy" and accuracy.ignore_class == 4
    with pytest.raises(ConfigError, match="not a segmentation dataset"):
        build_metric("mean_iou", n_outputs=1, task="classification", n_classes=3, path="E.compile.metrics")


@pytest.mark.parametrize("text", ["[]", "[(-1, 3x3 conv, -2, 2x2 maxpool)]", "[(-2, 3x3 conv, -2, 1x1 conv)]"])
def test_the_encoder_decoder_restores_the_input_size(text: str) -> None:
    generator = CellNetworkGenerator()
    arch = CellArchitecture(Cell.from_text(text), MacroConfig(filters=4, motifs=3, normal_cells_per_motif=1))
    info = _info()
    model = generator.build(arch, info)
    assert model.output_shape == (None, 16, 16, 3)
    assert generator.count_params(arch, info) == model.count_params()
    names = {layer.name for layer in model.layers}
    if text != "[]":
        assert {"d1_up", "d1_concat", "d0_up", "d0_concat", "d0_conv", "output"} <= names
        # the skip of level 1 is the last cell built at that level (cell 3, before the second reduction)
        skip = model.get_layer("d1_concat").input[1]
        assert skip.shape[1:3] == (8, 8)
    x = np.random.default_rng(2).random((2, 16, 16, 2)).astype(np.float32)
    probabilities = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_sizes_the_decoder_cannot_restore_and_other_misfits_are_named() -> None:
    generator = CellNetworkGenerator()
    cell = Cell.from_text("[(-1, 3x3 conv, -1, 3x3 conv)]")
    with pytest.raises(ConfigError, match=r"\[architecture\] motifs = 3: .*18x16.*divisible by 4.*e\.g\. 16, 20"):
        generator.build(CellArchitecture(cell, MacroConfig(filters=4, motifs=3)), _info((18, 16)))
    with pytest.raises(ConfigError, match="multi_output"):
        generator.build(CellArchitecture(cell, MacroConfig(filters=4, motifs=2, multi_output=True)), _info())
    series = DatasetInfo("s", "segmentation", (32, 2), (32,), {"train": 4, "validation": 0, "test": 0}, 3)
    with pytest.raises(ConfigError, match="segmentation needs images"):
        generator.build(CellArchitecture(cell, MacroConfig(filters=4, motifs=2)), series)


def test_the_encoder_decoder_exports_to_onnx_with_parity(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from scinas.export.onnx import check_onnx_parity, export_onnx

    arch = CellArchitecture(Cell.from_text("[(-1, 3x3 conv, -1, 2x2 maxpool)]"),
                            MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1))
    model = CellNetworkGenerator().build(arch, _info())
    path = export_onnx(model, tmp_path / "model.onnx")
    x = np.random.default_rng(4).random((3, 16, 16, 2)).astype(np.float32)
    report = check_onnx_parity(model, path, x)
    assert report.passed and report.max_abs_error < 1e-4
