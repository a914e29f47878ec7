"""Segmentation scores in plain NumPy (no TensorFlow): the confusion matrix of label maps and the
IoU of each class, for reports and prediction (the streamed Keras metrics are in
:mod:`scinas.models.segmentation`)."""

from __future__ import annotations

import numpy as np

__all__ = ["confusion_matrix", "iou_per_class"]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int,
                     ignore_class: int | None = None) -> np.ndarray:
    """The (true, predicted) count matrix of integer label maps, ignored pixels left out (NumPy)."""
    true = np.asarray(y_true).astype(np.int64).ravel()
    pred = np.asarray(y_pred).astype(np.int64).ravel()
    valid = (true >= 0) & (true < num_classes)
    if ignore_class is not None:
        valid &= true != ignore_class
    return np.bincount(true[valid] * num_classes + pred[valid], minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def iou_per_class(matrix: np.ndarray) -> np.ndarray:
    """IoU of each class from a confusion matrix; NaN for a class in neither labels nor predictions."""
    matrix = np.asarray(matrix, dtype=np.float64)
    hits = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / np.where(union > 0, union, 1), np.nan)
