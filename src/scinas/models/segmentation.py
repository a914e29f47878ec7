"""Segmentation metrics and loss: mean IoU and pixel accuracy streamed over batches, and a
pixelwise cross-entropy that leaves out an ``ignore_class`` and can weigh classes.

Both metrics accumulate one confusion matrix (true class × predicted class, counted over the
pixels whose label is a class ``0..num_classes-1`` other than ``ignore_class``); predictions are
the argmax of the model's per-pixel probabilities.  Mean IoU averages ``TP / (TP + FP + FN)``
over the classes that occur in the labels or the predictions (a class absent from both has no
IoU and is left out); pixel accuracy is the share of counted pixels classified right.  Under a
multi-replica strategy Keras sums the replicas' matrices.

Example::

    model.compile(loss=PixelCrossentropy(ignore_class=255),
                  metrics=[MeanIoU(3, ignore_class=255), PixelAccuracy(3, ignore_class=255)])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from scinas.models.segmentation_scores import confusion_matrix, iou_per_class

__all__ = ["MeanIoU", "PixelAccuracy", "PixelCrossentropy", "confusion_matrix", "iou_per_class"]


def _state_dtype() -> str:
    return "float32" if isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy) else "float64"


class _ConfusionMetric(keras.metrics.Metric):
    """A streaming confusion matrix over the counted pixels (see the module docstring)."""

    def __init__(self, num_classes: int, ignore_class: int | None = None, name: str = "confusion",
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"{type(self).__name__}: num_classes must be an integer >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.matrix = self.add_variable(shape=(num_classes, num_classes), initializer="zeros",
                                        dtype=_state_dtype(), name="matrix")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        k = self.num_classes
        true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        pred = ops.reshape(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), (-1,))
        valid = ops.logical_and(true >= 0, true < k)
        if self.ignore_class is not None:
            valid = ops.logical_and(valid, ops.not_equal(true, self.ignore_class))
        weight = ops.cast(valid, self.matrix.dtype)
        if sample_weight is not None:
            weight = weight * ops.reshape(ops.cast(ops.broadcast_to(
                ops.cast(sample_weight, self.matrix.dtype), ops.shape(ops.cast(y_true, self.matrix.dtype))),
                self.matrix.dtype), (-1,))
        index = ops.where(valid, true * k + pred, ops.zeros_like(true))
        counts = tf.math.unsorted_segment_sum(weight, index, k * k)
        self.matrix.assign_add(ops.reshape(counts, (k, k)))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(num_classes=self.num_classes, ignore_class=self.ignore_class)
        return config


@keras.saving.register_keras_serializable(package="scinas")
class MeanIoU(_ConfusionMetric):
    """Mean intersection over union of the classes present in labels or predictions (maximise it)."""

    def __init__(self, num_classes: int, ignore_class: int | None = None, name: str = "mean_iou",
                 dtype: Any = None) -> None:
        super().__init__(num_classes, ignore_class, name=name, dtype=dtype)

    def result(self) -> Any:
        matrix = ops.convert_to_tensor(self.matrix)
        hits = ops.diagonal(matrix)
        union = ops.sum(matrix, axis=0) + ops.sum(matrix, axis=1) - hits
        present = ops.cast(union > 0, matrix.dtype)
        iou = ops.divide_no_nan(hits, union)
        return ops.cast(ops.divide_no_nan(ops.sum(iou * present), ops.sum(present)), self.dtype)


@keras.saving.register_keras_serializable(package="scinas")
class PixelAccuracy(_ConfusionMetric):
    """The share of counted pixels whose predicted class is right (maximise it)."""

    def __init__(self, num_classes: int, ignore_class: int | None = None, name: str = "pixel_accuracy",
                 dtype: Any = None) -> None:
        super().__init__(num_classes, ignore_class, name=name, dtype=dtype)

    def result(self) -> Any:
        matrix = ops.convert_to_tensor(self.matrix)
        return ops.cast(ops.divide_no_nan(ops.sum(ops.diagonal(matrix)), ops.sum(matrix)), self.dtype)


@keras.saving.register_keras_serializable(package="scinas")
class PixelCrossentropy(keras.losses.Loss):
    """Sparse categorical cross-entropy of class-index targets (per sample or per pixel).

    ``ignore_class``: targets with that value add nothing to the loss, and the mean is over the
    other elements.  ``class_weights``: element ``c`` multiplies the loss of every target of
    class ``c`` (``balance_class_losses``); the mean stays a plain mean over counted elements, so
    weights of average 1 over the targets keep the loss's scale.
    """

    def __init__(self, ignore_class: int | None = None, class_weights: Sequence[float] | None = None,
                 name: str = "pixel_crossentropy", reduction: str = "sum_over_batch_size", dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.ignore_class = ignore_class
        self.class_weights = [float(w) for w in class_weights] if class_weights is not None else None

    def call(self, y_true: Any, y_pred: Any) -> Any:
        true = ops.cast(y_true, "int32")
        if len(true.shape) == len(y_pred.shape):  # (batch, ..., 1) labels
            true = ops.squeeze(true, axis=-1)
        valid = ops.ones_like(true, dtype="bool")
        if self.ignore_class is not None:
            valid = ops.not_equal(true, self.ignore_class)
        safe = ops.where(valid, true, ops.zeros_like(true))
        probabilities = ops.cast(y_pred, "float32")
        losses = keras.losses.sparse_categorical_crossentropy(safe, probabilities)
        weight = ops.cast(valid, "float32")
        if self.class_weights is not None:
            weight = weight * ops.take(ops.convert_to_tensor(self.class_weights, "float32"), safe)
        batch = ops.shape(losses)[0]
        per_sample = ops.sum(ops.reshape(losses * weight, (batch, -1)), axis=1)
        counted = ops.sum(ops.cast(valid, "float32"))
        # Keras averages the per-sample values over the batch: scaled so, that average is the mean over
        # every counted element of the batch (0 when every element is ignored)
        return ops.divide_no_nan(per_sample * ops.cast(batch, "float32"), counted)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(ignore_class=self.ignore_class, class_weights=self.class_weights)
        return config
