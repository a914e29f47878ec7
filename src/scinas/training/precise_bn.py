"""Precise batch normalisation: the population statistics of every batch-normalisation layer,
recomputed over the training split before each validation and before the model is saved.

Why: a BN layer normalises with its *moving* mean and variance at inference, an exponential
average (``momentum``) of the batch statistics seen while the weights kept changing.  When an epoch
has few steps (a few dozen samples: UCR GunPoint has 40 training series) the average has seen too
few batches, most of them from older weights, and a network that fits its training batches can
predict one class in inference mode.  The "precise BN" practice of large vision code bases
replaces the moving statistics by statistics computed for the current weights.

How: the training split (un-augmented, at most ``max_batches`` batches) goes forward through the
model with no gradient, BN layers in training mode so that each normalises with its batch's
statistics as in training, and each BN layer's input moments are merged over all batches in
float64 (Chan's parallel update, weighted by sample count).  The result is the mean and the
population variance (``ddof = 0``) of each layer's input over those samples; it is written into
``moving_mean`` and ``moving_variance``.  For the first BN layer (whose input does not depend on
batching) these are exactly the statistics of the training split; deeper layers see inputs
normalised by batch statistics, as in the standard practice.  Dropout is active during the pass,
as it is when Keras updates the moving statistics.  Nothing else changes: trainable weights,
the optimizer and the ``momentum`` option stay as they were.

Example::

    callback = PreciseBatchNorm(lambda: dataset.split("train", shuffle=True, augment=False), max_batches=200)
    model.fit(train, validation_data=validation, callbacks=[callback, ...])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = ["BatchNormStatistics", "PreciseBatchNorm", "batch_norm_layers", "recompute_batch_norm"]

logger = logging.getLogger(__name__)


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every trainable ``BatchNormalization`` layer of ``model``, once each, wherever it sits: in
    nested models and inside custom layers (scinas' operators hold their BN as a sub-layer).

    Keras 3 lists the sub-layers a layer tracks only through ``_flatten_layers``; a layer without
    it is searched through its public ``layers``.
    """
    found: list[keras.layers.BatchNormalization] = []
    seen: set[int] = set()

    def walk(layer: Any) -> None:
        flatten = getattr(layer, "_flatten_layers", None)
        children = flatten(include_self=False, recursive=True) if callable(flatten) else getattr(layer, "layers", ())
        for child in children:
            if id(child) in seen:
                continue
            seen.add(id(child))
            if isinstance(child, keras.layers.BatchNormalization) and child.trainable and not child.renorm:
                found.append(child)

    walk(model)
    return found


class _Moments:
    """Count, mean and sum of squared deviations per channel, merged batch by batch (float64)."""

    def __init__(self) -> None:
        self.count = 0.0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def update(self, count: float, mean: np.ndarray, variance: np.ndarray) -> None:
        mean = mean.astype(np.float64)
        m2 = variance.astype(np.float64) * count
        if self.mean is None or self.m2 is None:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.count * count / total)
        self.count = total


def _batch_size(x: Any) -> tf.Tensor:
    first = tf.nest.flatten(x)[0]
    return tf.shape(first)[0]


class BatchNormStatistics:
    """The statistics pass of one model: its BN layers and a traced forward function, kept for reuse
    (every recomputation of a training runs the same graph instead of tracing it again)."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.layers = batch_norm_layers(model)
        self._forward: Any = None

    def _trace(self, example: Any) -> Any:
        """The forward function, traced once for any batch size: its signature is that of
        ``example`` with the batch dimension left open (an epoch's last, smaller batch would
        otherwise trace the whole network a second time)."""
        layers, model = self.layers, self.model

        def forward(x: Any) -> tuple[tf.Tensor, list[tf.Tensor], list[tf.Tensor]]:
            # momentum is 0 while this runs (and when it is traced: Keras reads it then), so the
            # forward pass leaves each batch's own moments in moving_mean / moving_variance
            model(x, training=True)
            return (_batch_size(x), [tf.identity(layer.moving_mean.value) for layer in layers],
                    [tf.identity(layer.moving_variance.value) for layer in layers])

        def open_batch(value: Any) -> tf.TensorSpec:
            tensor = tf.convert_to_tensor(value)
            return tf.TensorSpec([None, *tensor.shape[1:]], tensor.dtype)

        return tf.function(forward, input_signature=[tf.nest.map_structure(open_batch, example)])

    @property
    def tracing_count(self) -> int:
        """How often the forward function was traced (0 before the first recomputation)."""
        return 0 if self._forward is None else int(self._forward.experimental_get_tracing_count())

    def recompute(self, batches: Iterable[Any], *, max_batches: int | None = None) -> int:
        """Set the moving statistics to those of ``batches``; return the number of samples used.

        ``batches`` yields inputs or ``(inputs, targets[, weights])`` tuples (targets are ignored);
        at most ``max_batches`` are read.  Returns 0 and changes nothing when the model has no
        batch-normalisation layer or ``batches`` is empty.
        """
        if not self.layers:
            return 0
        moments = [_Moments() for _ in self.layers]
        saved = [layer.momentum for layer in self.layers]
        used = 0
        try:
            for layer in self.layers:
                layer.momentum = 0.0
            for index, batch in enumerate(batches):
                if max_batches is not None and index >= max_batches:
                    break
                x = batch[0] if isinstance(batch, tuple) else batch
                if self._forward is None:
                    self._forward = self._trace(x)
                size, means, variances = self._forward(x)
                count = int(size)
                used += count
                for moment, mean, variance in zip(moments, means, variances, strict=True):
                    if count:
                        moment.update(float(count), mean.numpy(), variance.numpy())
        finally:
            # the pass wrote batch moments into the moving statistics: the merged ones replace them
            # below; with nothing read, the moving statistics are those of the last batch or, when
            # none was read, untouched
            for layer, momentum in zip(self.layers, saved, strict=True):
                layer.momentum = momentum
        for layer, moment in zip(self.layers, moments, strict=True):
            if moment.mean is not None and moment.m2 is not None and moment.count > 0:
                layer.moving_mean.assign(moment.mean.astype(np.float32))
                layer.moving_variance.assign((moment.m2 / moment.count).astype(np.float32))
        return used


def recompute_batch_norm(model: keras.Model, batches: Iterable[Any], *, max_batches: int | None = None) -> int:
    """Set the moving statistics of ``model``'s BN layers to those of ``batches`` (see the module
    docstring); return the number of samples used (0 when the model has no BN layer)."""
    return BatchNormStatistics(model).recompute(batches, max_batches=max_batches)


class PreciseBatchNorm(keras.callbacks.Callback):
    """Recomputes the BN statistics (:func:`recompute_batch_norm`) whenever training changed the
    weights since the last recomputation: before each validation (``on_test_begin``, which Keras
    calls inside ``fit`` after the epoch's batches) and at the end of each epoch when no
    validation ran.  It must come before the callbacks that save or copy the weights at the end
    of an epoch (checkpoints, early stopping's best weights, periodic saves), so that what they
    keep has the recomputed statistics.

    ``batches`` makes a fresh iterable of training batches for each recomputation.
    """

    def __init__(self, batches: Callable[[], Iterable[Any]], *, max_batches: int | None = None) -> None:
        super().__init__()
        self.batches = batches
        self.max_batches = max_batches
        self.recomputations = 0
        self._stale = False
        self._statistics: BatchNormStatistics | None = None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._statistics is None or self._statistics.model is not self.model:
            self._statistics = BatchNormStatistics(self.model)
        if not self._statistics.layers:
            logger.info("precise_bn: the model has no batch-normalisation layer; nothing to recompute")

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._stale = True

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._refresh()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._refresh()

    def _refresh(self) -> None:
        if not self._stale or self._statistics is None or not self._statistics.layers:
            return
        self._statistics.recompute(self.batches(), max_batches=self.max_batches)
        self._stale = False
        self.recomputations += 1
