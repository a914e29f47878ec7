"""Prediction with a saved model on new data, with metrics and timings (``scinas predict``).

The model is a ``.keras`` or ``.onnx`` file, or a folder holding ``model.keras`` / ``model.onnx``
(a run's ``best_model/`` or a trial folder; the Keras file is preferred).  scinas saves inference
models that take RAW inputs (the normalisation layer is inside) and return outputs in the data's
units, so the data are fed exactly as stored.  The data are a dataset name of ``data.toml``
(its test split, with labels) or a file: ``.npz`` (``x`` and optional ``y``), ``.npy`` (inputs
only) or ``.csv`` (numeric columns; ``target_column`` names the labels).

Results go to ``out`` (default ``<model folder>/predictions/<data name>/``): ``predictions.csv``,
``analysis.json`` and ``analysis.txt`` (accuracy and per-class counts, or MAE/RMSE/R² per
target when labels are known; load and prediction timings always).

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
import os
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scinas.errors import ConfigError
from scinas.export.best_model import json_ready
from scinas.export.onnx import OnnxRunner

__all__ = ["DATA_SUFFIXES", "TASKS", "LoadedModel", "PredictionData", "PredictionReport", "classification_metrics",
           "load_prediction_model", "read_data_file", "read_dataset", "regression_metrics", "run_prediction"]

logger = logging.getLogger(__name__)

TASKS = ("classification", "regression")
DATA_SUFFIXES = (".npz", ".npy", ".csv")
"""File formats ``scinas predict`` reads (anything else is taken as a dataset name)."""


# -- data ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PredictionData:
    """Inputs (raw, as stored), optional labels, and where they came from."""

    x: np.ndarray
    y: np.ndarray | None
    name: str
    source: str
    task: str | None = None
    split: str | None = None
    names: tuple[str, ...] = ()
    """Class names (classification) or target names (regression), when known."""


def read_dataset(name: str, *, config_dir: Path, cache_dir: Path) -> PredictionData:
    """The test split of dataset ``name`` of ``config_dir/data.toml`` (built into the cache if needed)."""
    from scinas.config.loading import load_config
    from scinas.config.reader import suggest
    from scinas.data.cache import ensure_cache
    from scinas.data.spec import build_generator

    raw = load_config(Path(config_dir))
    if name not in raw.datasets:
        raise ConfigError(f"unknown dataset {name!r} (and no such .npz/.npy/.csv file)", file=raw.data_file,
                          fix=suggest(name, raw.datasets))
    generator = build_generator(raw, name)
    info = generator.info()
    sizes = info.split_sizes
    if sizes.get("test", 0) == 0:
        raise ConfigError(f"dataset {name!r} has an empty test split", file=raw.data_file, path=f"{name}.shape.splits",
                          fix="give the test split a fraction > 0, or predict on a .npz file")
    cache = ensure_cache(generator, Path(cache_dir), progress=False)
    generator.release()
    start = sizes["train"] + sizes["validation"]
    x, y = cache.read_range(start, start + sizes["test"])
    return PredictionData(x, y, name, f"dataset {name!r} (test split)", info.task, "test", info.target_names)


def _load_array_file(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False), None
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "x" not in keys:
                raise ConfigError(f"{path} holds no array named 'x' (found: {', '.join(keys) or 'nothing'})",
                                  fix="save the inputs as x (and labels as y): np.savez(path, x=x, y=y)")
            return archive["x"], (archive["y"] if "y" in keys else None)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path} is not a readable NumPy file: {exc}",
                          fix="write it with np.save / np.savez (no pickled objects)") from exc


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _read_csv(path: Path, target_column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Numeric columns of a CSV file; a first row that is not numeric is the header."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path} is not a readable CSV file: {exc}") from exc
    if not rows:
        raise ConfigError(f"{path} is empty", fix="give a CSV file with one sample per row")
    has_header = any(_number(cell) is None for cell in rows[0])
    header = [cell.strip() for cell in rows[0]] if has_header else [str(i) for i in range(len(rows[0]))]
    body = rows[1:] if has_header else rows
    for line, row in enumerate(body, start=2 if has_header else 1):
        if len(row) != len(header):
            raise ConfigError(f"{path} line {line} has {len(row)} fields, expected {len(header)}")
    target = None
    if target_column is not None:
        if target_column not in header:
            from scinas.config.reader import suggest

            raise ConfigError(f"{path} has no column {target_column!r}", path="--target-column",
                              fix=suggest(target_column, header))
        target = header.index(target_column)
    columns: list[np.ndarray] = []
    labels = None
    for j, name in enumerate(header):
        values = [_number(row[j]) for row in body]
        bad = [i for i, v in enumerate(values) if v is None]
        if len(bad) == len(values) and j != target:
            logger.warning("%s: column %r is not numeric and is ignored", path, name)
            continue
        if bad:
            line = bad[0] + (2 if has_header else 1)
            raise ConfigError(f"{path} line {line}, column {name!r}: {body[bad[0]][j]!r} is not a number",
                              fix="fill or remove non-numeric cells (a column of text is ignored)")
        column = np.asarray(values, dtype=np.float64)
        if j == target:
            labels = column
        else:
            columns.append(column)
    if not columns:
        raise ConfigError(f"{path} has no numeric input column")
    return np.stack(columns, axis=1), labels


def read_data_file(path: Path, *, target_column: str | None = None) -> PredictionData:
    """Inputs (and labels) from a ``.npz`` (``x``, ``y``), ``.npy`` or ``.csv`` file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise ConfigError(f"data file {str(path)!r} has an unsupported format {suffix or '(no suffix)'}",
                          fix="give a .npz (x, y), .npy or .csv file, or a dataset name of data.toml")
    if not path.is_file():
        raise ConfigError(f"data file {str(path)!r} does not exist", fix="check the path given to --data")
    if target_column is not None and suffix != ".csv":
        raise ConfigError("--target-column applies to .csv files only", path="--target-column",
                          fix="store labels as y in a .npz file")
    x, y = _read_csv(path, target_column) if suffix == ".csv" else _load_array_file(path)
    for part, values in (("inputs", x), ("labels", y)):
        if values is not None and not np.issubdtype(values.dtype, np.number) and values.dtype != np.bool_:
            raise ConfigError(f"{path}: the {part} are of type {values.dtype}, expected numbers",
                              fix="store class labels as integer indices 0..k-1")
    if y is not None and len(y) != len(x):
        raise ConfigError(f"{path}: {len(x)} input samples but {len(y)} labels")
    if not np.isfinite(np.asarray(x, dtype=np.float64)).all():
        raise ConfigError(f"{path}: the inputs hold NaN or infinite values", fix="fill or drop them first")
    return PredictionData(np.asarray(x, np.float32), None if y is None else np.asarray(y), path.stem,
                          str(path))



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


# -- metrics and outputs ---------------------------------------------------------------------------
def _infer_task(outputs: np.ndarray, hint: str | None) -> str:
    """``hint`` when given; otherwise classification if every row looks like a probability vector."""
    if hint in TASKS:
        return hint
    flat = outputs.reshape(len(outputs), -1)
    probabilities = (outputs.ndim == 2 and flat.shape[1] >= 2 and bool(np.all((flat >= 0) & (flat <= 1)))
                     and bool(np.allclose(flat.sum(axis=1), 1.0, atol=1e-3)))
    return "classification" if probabilities else "regression"


def _probabilities(outputs: np.ndarray) -> np.ndarray:
    if outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1):  # one sigmoid unit
        p = outputs.reshape(-1)
        return np.stack([1.0 - p, p], axis=1)
    if outputs.ndim != 2:
        raise ConfigError(f"a classification model should output (n, classes) probabilities, got shape "
                          f"{outputs.shape}", path="--task", fix="use --task regression for this model")
    return outputs


def _class_indices(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Labels as class indices: one-hot rows are decoded; anything but integers 0..k-1 is an error."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == n_classes and n_classes > 1:
        return np.asarray(np.argmax(y, axis=1), dtype=np.int64)
    flat = y.reshape(len(y), -1).astype(np.float64)
    if flat.shape[1] != 1 or not np.all(flat == np.round(flat)) or flat.min(initial=0) < 0 \
            or flat.max(initial=0) >= n_classes:
        raise ConfigError(f"classification labels must be class indices 0..{n_classes - 1} (one per sample); got "
                          f"shape {y.shape} with values in [{flat.min(initial=0):g}, {flat.max(initial=0):g}]",
                          fix="store the class index of each sample (or use --task regression)")
    return flat[:, 0].astype(np.int64)


def _class_names(names: Sequence[str], n_classes: int) -> list[str]:
    return list(names) if len(names) == n_classes else [str(i) for i in range(n_classes)]


def classification_metrics(predicted: np.ndarray, targets: np.ndarray | None,
                           names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, the confusion matrix and per-class counts (support, predicted, correct, recall).

    ``predicted`` and ``targets`` are class indices; ``names`` one per class.  Without targets
    only the predicted counts are given.
    """
    k = len(names)
    if targets is None:
        return {"classes": {name: {"predicted": int(np.sum(predicted == c))} for c, name in enumerate(names)}}
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (targets, predicted), 1)
    classes = {}
    for c, name in enumerate(names):
        support = int(confusion[c].sum())
        classes[name] = {"support": support, "predicted": int(confusion[:, c].sum()),
                         "correct": int(confusion[c, c]),
                         "recall": float(confusion[c, c] / support) if support else None}
    return {"accuracy": float(np.mean(predicted == targets)), "confusion": confusion.tolist(), "classes": classes}


def regression_metrics(predicted: np.ndarray, targets: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """MAE, RMSE and R² per target (columns of the flattened outputs) and overall.

    Overall MAE/RMSE pool every value; overall R² is the mean of the per-target R² (NaN, i.e.
    null in JSON, for a target that is constant).
    """
    pred = predicted.reshape(len(predicted), -1).astype(np.float64)
    true = targets.reshape(len(targets), -1).astype(np.float64)
    if pred.shape != true.shape:
        raise ConfigError(f"the model predicts {pred.shape[1]} values per sample but the labels hold {true.shape[1]}",
                          fix="give labels of the model's target shape")
    error = pred - true
    total = np.sum((true - true.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - np.sum(error**2, axis=0) / np.where(total > 0, total, 1.0), np.nan)
    mae = np.mean(np.abs(error), axis=0)
    rmse = np.sqrt(np.mean(error**2, axis=0))
    finite = r2[np.isfinite(r2)]
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2))),
            "r2": float(np.mean(finite)) if finite.size else math.nan,
            "targets": {name: {"mae": float(mae[j]), "rmse": float(rmse[j]), "r2": float(r2[j])}
                        for j, name in enumerate(_class_names(names, pred.shape[1]))}}


def _table(task: str, outputs: np.ndarray, y: np.ndarray | None,
           names: Sequence[str]) -> tuple[list[str], list[list[Any]], dict[str, Any]]:
    """The columns and rows of predictions.csv, and the metrics."""
    n = len(outputs)
    if task == "classification":
        probabilities = _probabilities(outputs)
        labels = _class_names(names, probabilities.shape[1])
        predicted = np.argmax(probabilities, axis=1)
        targets = None if y is None else _class_indices(y, len(labels))
        columns = ["index", "prediction", "prediction_name", *(f"probability_{name}" for name in labels)]
        rows = [[i, int(predicted[i]), labels[predicted[i]], *(float(p) for p in probabilities[i])] for i in range(n)]
        if targets is not None:
            columns += ["target", "target_name"]
            for i, row in enumerate(rows):
                row += [int(targets[i]), labels[targets[i]]]
        return columns, rows, classification_metrics(predicted, targets, labels)
    values = outputs.reshape(n, -1)
    labels = _class_names(names, values.shape[1])
    suffixes = [""] if values.shape[1] == 1 else [f"_{name}" for name in labels]
    columns = ["index", *(f"prediction{s}" for s in suffixes)]
    rows = [[i, *(float(v) for v in values[i])] for i in range(n)]
    metrics: dict[str, Any] = {}
    if y is not None:
        metrics = regression_metrics(values, np.asarray(y), labels)
        truth = np.asarray(y, dtype=np.float64).reshape(n, -1)
        columns += [f"target{s}" for s in suffixes]
        for i, row in enumerate(rows):
            row += [float(v) for v in truth[i]]
    return columns, rows, metrics


def _text_report(analysis: Mapping[str, Any]) -> str:
    lines = [f"model:  {analysis['model']} ({analysis['model_format']})", f"data:   {analysis['data']}",
             f"task:   {analysis['task']}, {analysis['n']} samples, input shape {tuple(analysis['input_shape'])}", ""]
    metrics = analysis["metrics"]
    if "accuracy" in metrics:
        lines.append(f"accuracy: {metrics['accuracy']:.4f}")
    if "classes" in metrics:
        lines.append(f"{'class':<16} {'support':>8} {'predicted':>10} {'correct':>8}")
        for name, counts in metrics["classes"].items():
            lines.append(f"{name:<16} {counts.get('support', '-'):>8} {counts['predicted']:>10} "
                         f"{counts.get('correct', '-'):>8}")
    if "targets" in metrics:
        lines.append(f"overall: MAE {metrics['mae']:.5g}  RMSE {metrics['rmse']:.5g}  R² {metrics['r2']:.4f}")
        lines.append(f"{'target':<16} {'MAE':>12} {'RMSE':>12} {'R²':>10}")
        for name, values in metrics["targets"].items():
            lines.append(f"{name:<16} {values['mae']:>12.5g} {values['rmse']:>12.5g} {values['r2']:>10.4f}")
    if not metrics or ("classes" in metrics and "accuracy" not in metrics):
        lines.append("(no labels: no accuracy/error metrics)")
    t = analysis["timings"]
    lines += ["", f"load model {t['load_model_s']:.3f} s, load data {t['load_data_s']:.3f} s, "
                  f"warm-up {t['warmup_s']:.3f} s",
              f"predict {t['predict_s']:.4f} s: {t['latency_ms_per_sample']:.4g} ms/sample, "
              f"{t['samples_per_s']:.4g} samples/s (batch size {t['batch_size']})"]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


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
    resolved = _infer_task(outputs, task or inputs.task or sidecar_task or loaded.task_hint)
    names = inputs.names or tuple(str(n) for n in loaded.sidecar.get("target_names", ()) or ())
    columns, rows, metrics = _table(resolved, outputs, inputs.y, names)
    n = len(x)
    timings = {"load_model_s": load_s, "load_data_s": data_s, "warmup_s": warmup_s, "predict_s": predict_s,
               "latency_ms_per_sample": 1000.0 * predict_s / n,
               "samples_per_s": n / predict_s if predict_s > 0 else math.inf, "batch_size": batch_size}
    out_dir = Path(out) if out is not None else loaded.path.parent / "predictions" / inputs.name
    analysis = {"model": str(loaded.path), "model_format": loaded.format, "data": inputs.source,
                "split": inputs.split, "n": n, "task": resolved, "input_shape": list(x.shape[1:]),
                "labels": inputs.y is not None, "metrics": metrics, "timings": timings}
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"predictions": out_dir / "predictions.csv", "analysis_json": out_dir / "analysis.json",
             "analysis_txt": out_dir / "analysis.txt"}
    temporary = files["predictions"].with_name(f".predictions.csv.tmp-{os.getpid()}")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    os.replace(temporary, files["predictions"])
    _write(files["analysis_json"], json.dumps(json_ready(analysis), indent=2) + "\n")
    _write(files["analysis_txt"], _text_report(analysis))
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
