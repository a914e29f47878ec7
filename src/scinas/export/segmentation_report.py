"""What ``scinas predict`` writes for a segmentation model: one PNG mask per image and IoU per class.

``masks/<index>.png`` holds each image's predicted class per pixel (8-bit gray with up to 256
classes, 16-bit above), the values being the class indices themselves.  With labels,
``predictions.csv`` gives per image its pixel accuracy and mean IoU, and the metrics hold the
pixel accuracy, the mean IoU and the IoU of every class over all images (the ``ignore_class``
left out; a class absent from labels and predictions has no IoU: ``null``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scinas.atomic import atomic_path
from scinas.errors import ConfigError
from scinas.models.segmentation_scores import confusion_matrix, iou_per_class

__all__ = ["segmentation_table", "write_masks"]


def _checked(outputs: np.ndarray) -> np.ndarray:
    if outputs.ndim != 4 or outputs.shape[-1] < 2:
        raise ConfigError(f"a segmentation model outputs (n, height, width, classes) probabilities, got shape "
                          f"{outputs.shape}", path="--task", fix="give --task for what this model predicts")
    return outputs


def write_masks(outputs: np.ndarray, folder: Path) -> list[Path]:
    """The argmax class of each pixel of each image as ``folder/<index>.png``."""
    from PIL import Image

    predicted = np.argmax(_checked(outputs), axis=-1)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = np.uint8 if outputs.shape[-1] <= 256 else np.uint16
    paths = []
    for index, mask in enumerate(predicted):
        path = folder / f"{index}.png"
        with atomic_path(path) as temporary:
            Image.fromarray(mask.astype(dtype)).save(temporary, format="PNG")
        paths.append(path)
    return paths


def _score(matrix: np.ndarray) -> tuple[float, float]:
    total = matrix.sum()
    iou = iou_per_class(matrix)
    accuracy = float(np.trace(matrix) / total) if total else math.nan
    return accuracy, float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else math.nan


def segmentation_table(outputs: np.ndarray, y: np.ndarray | None, names: Sequence[str], ignore_class: int | None,
                       mask_files: Sequence[Path]) -> tuple[list[str], list[list[Any]], dict[str, Any]]:
    """The columns and rows of predictions.csv (one row per image), and the metrics."""
    classes = _checked(outputs).shape[-1]
    labels = list(names) if len(names) == classes else [str(c) for c in range(classes)]
    predicted = np.argmax(outputs, axis=-1)
    columns = ["index", "mask"]
    rows: list[list[Any]] = [[i, path.name] for i, path in enumerate(mask_files)]
    if y is None:
        return columns, rows, {}
    truth = np.asarray(y)
    if truth.shape != predicted.shape:
        raise ConfigError(f"the labels have shape {truth.shape} but the predicted masks {predicted.shape}",
                          fix="give masks of the images' size")
    columns += ["pixel_accuracy", "mean_iou"]
    total = np.zeros((classes, classes), np.int64)
    for i, row in enumerate(rows):
        matrix = confusion_matrix(truth[i], predicted[i], classes, ignore_class)
        total += matrix
        row += [round(value, 6) for value in _score(matrix)]
    accuracy, mean_iou = _score(total)
    per_class = iou_per_class(total)
    return columns, rows, {"pixel_accuracy": accuracy, "mean_iou": mean_iou,
                           "iou": {name: (None if np.isnan(v) else float(v)) for name, v in zip(labels, per_class,
                                                                                                 strict=True)}}
