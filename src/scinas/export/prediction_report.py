"""What ``scinas predict`` reports: the task, metrics against known labels, the table and text.

Classification: accuracy and per-class support / predicted / correct counts; regression: MAE,
RMSE and R² overall and per target.  :func:`prediction_table` gives the rows of
``predictions.csv``; :func:`text_report` the human-readable ``analysis.txt``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scinas.errors import ConfigError

__all__ = ["TASKS", "classification_metrics", "infer_task", "prediction_table", "regression_metrics", "text_report"]

TASKS = ("classification", "regression", "segmentation")


def infer_task(outputs: np.ndarray, hint: str | None) -> str:
    """``hint`` when given; otherwise classification if every row looks like a probability vector."""
    if hint in TASKS:
        return hint
    if outputs.ndim == 4 and outputs.shape[-1] >= 2 and bool(np.all((outputs >= 0) & (outputs <= 1))) \
            and bool(np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3)):
        return "segmentation"  # a probability vector per pixel
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


def prediction_table(task: str, outputs: np.ndarray, y: np.ndarray | None,
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


def text_report(analysis: Mapping[str, Any]) -> str:
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
    if "mean_iou" in metrics:
        lines.append(f"pixel accuracy: {metrics['pixel_accuracy']:.4f}  mean IoU: {metrics['mean_iou']:.4f}")
        lines.append(f"{'class':<16} {'IoU':>8}")
        for name, value in metrics["iou"].items():
            lines.append(f"{name:<16} {'-' if value is None else format(value, '.4f'):>8}")
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
