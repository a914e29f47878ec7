"""ONNX export and the parity check, on plain models and on trial-style inference models."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.export.onnx import (
    OnnxExportError,
    OnnxParityError,
    OnnxRunner,
    OnnxUnavailable,
    check_onnx_parity,
    export_onnx,
)
from scinas.models.saving import load_model
from tests.export.helpers import SIZES, cell_inference_model

IMAGES = DatasetInfo("images", "classification", (9, 11, 3), (), SIZES, n_classes=5)
IMAGE_TARGETS = DatasetInfo("targets", "regression", (9, 11, 3), (4,), SIZES)
SERIES_TARGETS = DatasetInfo("series", "regression", (13, 2), (2, 3), SIZES)


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def _conv_model() -> keras.Model:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x), name="conv")


def _inputs(shape: tuple[int, ...], n: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.3, 1.5, (n, *shape)).astype(np.float32)


def test_small_conv_model_round_trips(tmp_path: Path) -> None:
    model = _conv_model()
    path = export_onnx(model, tmp_path / "sub" / "conv.onnx")
    assert path.is_file() and not list(path.parent.glob(".*tmp*"))
    runner = OnnxRunner.load(path)
    assert runner.input_name == "input" and runner.output_names == ["output"]
    assert runner.input_shape == (8, 8, 2)
    x = _inputs((8, 8, 2), n=7)
    np.testing.assert_allclose(runner.predict(x, batch_size=3), model.predict(x, verbose=0), atol=1e-5)
    report = check_onnx_parity(model, path, x)
    assert report.passed and report.n == 7 and report.max_abs_error < 1e-5
    assert report.to_json()["passed"] is True


@pytest.mark.parametrize(("info", "cell"), [
    (IMAGES, "[(-1, 3x3 conv, -2, 2x2 maxpool)]"),
    (IMAGE_TARGETS, "[(-1, 3x3 dconv, -2, identity)]"),
])
def test_trial_inference_model_matches_after_saving(tmp_path: Path, info: DatasetInfo, cell: str) -> None:
    """The saved trial model (normalisation in, de-normalisation out) exports with equal outputs."""
    model = cell_inference_model(info, cell)
    model.save(tmp_path / "model.keras")
    reloaded = load_model(tmp_path / "model.keras", compile=False)
    x = _inputs(info.input_shape, n=5)
    path = export_onnx(reloaded, tmp_path / "model.onnx")
    report = check_onnx_parity(reloaded, path, x)
    assert report.passed, report
    onnx_out = OnnxRunner.load(path).predict(x)
    np.testing.assert_allclose(onnx_out, model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)
    if info.task == "regression":  # the de-normalisation layer is really in the graph
        assert np.abs(onnx_out).max() > 0.5


@pytest.mark.slow
def test_recurrent_and_exotic_operators_export(tmp_path: Path) -> None:
    cell = "[(-1, 3:2dr conv, -2, 3 tconv); (0, 3:2z zconv, -1, 2r SE); (1, lstm, -2, gru)]"
    model = cell_inference_model(SERIES_TARGETS, cell)
    path = export_onnx(model, tmp_path / "series.onnx")
    report = check_onnx_parity(model, path, _inputs((13, 2), n=4))
    assert report.passed, report


def test_a_different_model_fails_parity(tmp_path: Path) -> None:
    model = _conv_model()
    path = export_onnx(model, tmp_path / "conv.onnx")
    other = keras.models.clone_model(model)  # same shapes, fresh weights
    x = _inputs((8, 8, 2))
    with pytest.raises(OnnxParityError, match="differs from the Keras model") as caught:
        check_onnx_parity(other, path, x)
    assert not caught.value.report.passed and caught.value.report.max_abs_error > 1e-4
    report = check_onnx_parity(other, path, x, strict=False)
    assert not report.passed and report.max_abs_error == caught.value.report.max_abs_error
    assert check_onnx_parity(other, path, x, atol=10.0, rtol=0.0).passed


def test_two_input_models_are_refused(tmp_path: Path) -> None:
    a, b = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    with pytest.raises(OnnxExportError, match="2 inputs"):
        export_onnx(model, tmp_path / "two.onnx")
    assert not (tmp_path / "two.onnx").exists()


def test_missing_packages_say_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # import fails as if not installed
    with pytest.raises(OnnxUnavailable, match=r"pip install 'scinas\[onnx\]'"):
        export_onnx(_conv_model(), tmp_path / "conv.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(OnnxUnavailable, match="onnxruntime"):
        OnnxRunner.load(tmp_path / "conv.onnx")


def test_unreadable_onnx_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="not a readable ONNX model"):
        OnnxRunner.load(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        OnnxRunner.load(tmp_path / "missing.onnx")
