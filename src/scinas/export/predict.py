"""Prediction with a saved model on new data, with metrics and timings (``scinas predict``).

The model is a ``.keras`` or ``.onnx`` file, or a folder holding ``model.keras`` / ``model.onnx``
(a run's ``best_model/`` or a trial folder; the Keras file is preferred).  scinas saves inference
models that take RAW inputs (the normalisation layer is inside) and return outputs in the data's
units, so the data are fed exactly as stored.  The data are a dataset name of ``data.toml``
(its test split, with labels) or a file: ``.npz`` (``x`` and optional ``y``), ``.npy`` (inputs
only) or ``.csv`` (numeric columns; ``target_column`` names the labels).

Results go to ``out`` (default ``<model folder>/predictions/<data name>/``): ``predictions.csv``,
``analysis.json`` and ``analysis.txt`` (accuracy and per-class counts, or MAE/RMSE/R² per
target when labels are known; load and prediction timings always).  A segmentation model's
predicted masks go to ``masks/<index>.png``, with pixel accuracy and IoU per class.

Example::

    report = run_prediction(Path("results/E/<run>/best_model"), "dtest", config_dir=Path("config"))
    report.metrics["accuracy"]          # classification, or metrics["r2"] for regression
    report.out_dir / "predictions.csv"
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scinas.atomic import atomic_path, write_text_atomic
from scinas.errors import ConfigError
from scinas.export.best_model import json_ready
from scinas.export.onnx import OnnxRunner
from scinas.export.prediction_data import DATA_SUFFIXES, PredictionData, read_data_file, read_dataset
from scinas.export.prediction_report import TASKS, infer_task, prediction_table, text_report
from scinas.export.segmentation_report import segmentation_table, write_masks

__all__ = ["LoadedModel", "PredictionReport", "load_prediction_model", "run_prediction"]

logger = logging.getLogger(__name__)



@dataclass
class LoadedModel:
    """A model ready to predict: ``predict(x, batch_size)`` returns its (first) output."""

    path: Path
    format: str
    input_shape: tuple[int | None, ...]
    predict: Callable[[np.ndarray, int], np.ndarray]
    task_hint: str | None = None
    sidecar: dict[str, Any] = field(default_factory=dict)


def _sidecar(folder: Path) -> dict[str, Any]:
    """``summary.json`` beside the model (a best_model folder records the task there), if any."""
    path = folder / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _resolve(path: Path) -> Path:
    if not path.exists():
        raise ConfigError(f"model {str(path)!r} does not exist",
                          fix="give a .keras or .onnx file, or a folder holding model.keras or model.onnx")
    if path.is_dir():
        for name in ("model.keras", "model.onnx"):
            if (path / name).is_file():
                return path / name
        raise ConfigError(f"folder {str(path)!r} holds no model.keras or model.onnx",
                          fix="give a run's best_model/ folder, a trial folder, or the model file itself")
    if path.suffix not in (".keras", ".onnx"):
        raise ConfigError(f"model file {str(path)!r} is neither .keras nor .onnx",
                          fix="give a .keras or .onnx file written by scinas")
    return path


def _softmax_output(model: Any) -> bool | None:
    """Whether the last computing layer of a Keras model is a softmax (None: cannot tell)."""
    import keras

    for layer in reversed(getattr(model, "layers", [])):
        if isinstance(layer, (keras.layers.Normalization, keras.layers.Identity, keras.layers.Reshape,
                              keras.layers.InputLayer)):
            continue
        if isinstance(layer, keras.Model):
            return _softmax_output(layer)
        if isinstance(layer, keras.layers.Softmax):
            return True
        activation = getattr(layer, "activation", None)
        return activation is not None and getattr(activation, "__name__", "") == "softmax"
    return None


def load_prediction_model(path: Path) -> LoadedModel:
    """Open a ``.keras``/``.onnx`` file or a model folder; ConfigError when it cannot be used."""
    path = _resolve(Path(path))
    sidecar = _sidecar(path.parent)
    if path.suffix == ".onnx":
        runner = OnnxRunner.load(path)
        return LoadedModel(path, "onnx", runner.input_shape, lambda x, b: runner.predict(x, batch_size=b),
                           sidecar=sidecar)
    from scinas.models.saving import load_model

    try:
        model = load_model(path, compile=False)
    except (ValueError, OSError, TypeError, KeyError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path} is not a readable Keras model: {exc}",
                          fix="give a model.keras written by scinas (or its model.onnx)") from exc
    shape = model.input_shape
    if isinstance(shape, list):
        raise ConfigError(f"{path} has {len(shape)} inputs; scinas predicts with single-input models")
    softmax = _softmax_output(model)

    def predict(x: np.ndarray, batch_size: int) -> np.ndarray:
        output = model.predict(x, batch_size=batch_size, verbose=0)
        return np.asarray(output[0] if isinstance(output, (list, tuple)) else output)

    return LoadedModel(path, "keras", tuple(shape[1:]), predict,
                       task_hint=None if softmax is None else ("classification" if softmax else "regression"),
                       sidecar=sidecar)


def _fit_shape(x: np.ndarray, expected: tuple[int | None, ...], source: str) -> np.ndarray:
    """``x`` as a batch of samples of the model's shape; flat rows (CSV) and missing size-1 axes
    are reshaped, anything else is a ConfigError naming both shapes."""

    def matches(got: tuple[int, ...]) -> bool:
        return len(got) == len(expected) and all(e is None or e == g for e, g in zip(expected, got, strict=True))

    def text(shape: tuple[int | None, ...]) -> str:
        return "(n, " + ", ".join("?" if d is None else str(d) for d in shape) + ")"

    if x.ndim == len(expected) and matches(tuple(x.shape)):
        x = x[np.newaxis]  # one sample without its batch axis
    got = tuple(x.shape[1:])
    if matches(got):
        return x
    if x.ndim >= 1 and None not in expected:
        fixed = tuple(int(d) for d in expected if d is not None)
        squeezed_got = tuple(d for d in got if d != 1)
        squeezed_expected = tuple(d for d in fixed if d != 1)
        flat_rows = x.ndim == 2 and got[0] == int(np.prod(fixed))
        if flat_rows or squeezed_got == squeezed_expected:
            return x.reshape((len(x), *fixed))
    raise ConfigError(f"input shape mismatch: the model expects samples of shape {text(expected)}, got "
                      f"{text(got)} ({len(x)} samples from {source})",
                      fix="give inputs shaped like the model's training data (flat rows of the same size work)")


def _write(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def _is_data_file(data: str) -> bool:
    candidate = Path(data)
    return candidate.suffix.lower() in DATA_SUFFIXES or candidate.is_file() or "/" in data or "\\" in data


def run_prediction(model: Path, data: str | Path, *, out: Path | None = None, config_dir: Path = Path("config"),
                   cache_dir: Path | None = None, batch_size: int = 256, target_column: str | None = None,
                   task: str | None = None) -> PredictionReport:
    """Predict ``data`` with ``model``, write predictions and their analysis, return the report.

    ``data``: a dataset name of ``config_dir/data.toml`` (its test split; the cache lives under
    ``cache_dir``, default ``results/.cache``) or a ``.npz``/``.npy``/``.csv`` file.  ``task``
    overrides the task otherwise taken from the dataset, the model's ``summary.json``, its
    output layer (softmax = classification) or, for ONNX files, the shape of its outputs.
    """
    if batch_size < 1:
        raise ConfigError("batch size must be at least 1", path="--batch-size", value=batch_size,
                          fix="give --batch-size 256 (or any integer >= 1)")
    if task is not None and task not in TASKS:
        raise ConfigError(f"unknown task {task!r}", path="--task", fix=f"use one of {', '.join(TASKS)}")
    started = time.perf_counter()
    loaded = load_prediction_model(Path(model))
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    text = str(data)
    inputs: PredictionData
    if isinstance(data, Path) or _is_data_file(text):
        inputs = read_data_file(Path(text), target_column=target_column)
    else:
        inputs = read_dataset(text, config_dir=config_dir, cache_dir=cache_dir or Path("results") / ".cache")
    x = _fit_shape(np.asarray(inputs.x, dtype=np.float32), loaded.input_shape, inputs.source)
    data_s = time.perf_counter() - started
    if len(x) == 0:
        raise ConfigError(f"{inputs.source} holds no samples", fix="give data with at least one sample")

    started = time.perf_counter()
    loaded.predict(x[:batch_size], batch_size)  # warm-up: graph tracing / session set-up
    warmup_s = time.perf_counter() - started
    started = time.perf_counter()
    outputs = loaded.predict(x, batch_size)
    predict_s = time.perf_counter() - started

    sidecar_task = loaded.sidecar.get("task") if loaded.sidecar.get("task") in TASKS else None
    model_hint = loaded.task_hint
    if model_hint == "classification" and outputs.ndim == 4:  # a softmax per pixel
        model_hint = "segmentation"
    resolved = infer_task(outputs, task or inputs.task or sidecar_task or model_hint)
    names = inputs.names or tuple(str(n) for n in loaded.sidecar.get("target_names", ()) or ())
    out_dir = Path(out) if out is not None else loaded.path.parent / "predictions" / inputs.name
    mask_files: list[Path] = []
    if resolved == "segmentation":  # one PNG of predicted classes per image, scores per class
        mask_files = write_masks(outputs, out_dir / "masks")
        columns, rows, metrics = segmentation_table(outputs, inputs.y, names, inputs.ignore_class, mask_files)
    else:
        columns, rows, metrics = prediction_table(resolved, outputs, inputs.y, names)
    n = len(x)
    timings = {"load_model_s": load_s, "load_data_s": data_s, "warmup_s": warmup_s, "predict_s": predict_s,
               "latency_ms_per_sample": 1000.0 * predict_s / n,
               "samples_per_s": n / predict_s if predict_s > 0 else math.inf, "batch_size": batch_size}
    analysis = {"model": str(loaded.path), "model_format": loaded.format, "data": inputs.source,
                "split": inputs.split, "n": n, "task": resolved, "input_shape": list(x.shape[1:]),
                "labels": inputs.y is not None, "metrics": metrics, "timings": timings}
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"predictions": out_dir / "predictions.csv", "analysis_json": out_dir / "analysis.json",
             "analysis_txt": out_dir / "analysis.txt"}
    if mask_files:
        files["masks"] = out_dir / "masks"
    with atomic_path(files["predictions"]) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    _write(files["analysis_json"], json.dumps(json_ready(analysis), indent=2) + "\n")
    _write(files["analysis_txt"], text_report(analysis))
    logger.info("predicted %d samples of %s with %s in %.3g s", n, inputs.source, loaded.path, predict_s)
    return PredictionReport(out_dir, n, resolved, loaded.format, metrics, timings, files)


@dataclass(frozen=True)
class PredictionReport:
    """What :func:`run_prediction` did: where, how many samples, the task, metrics and timings."""

    out_dir: Path
    n: int
    task: str
    model_format: str
    metrics: dict[str, Any]
    timings: dict[str, float]
    files: dict[str, Path]
