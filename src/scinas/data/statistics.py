"""Normalisation statistics of the training split, and the ops and Keras layers that apply them.

Statistics are computed on the training split only (optionally on its first ``N`` samples, the
experiment's ``use_stats_of = N``), exactly: the shards are streamed in chunks and each chunk's
mean and sum of squared deviations are merged in float64 (Chan et al.'s parallel update), so the
split is never loaded at once and the result matches ``np.mean`` / ``np.std`` (population,
``ddof = 0``) of the same samples to rounding.

Modes (``[d.normalization]``): ``inputs`` = ``"feature"`` (a mean and deviation per input
element), ``"channel"`` (per index of the last axis), ``"global"`` (one scalar) or ``"none"``;
``targets`` = ``"feature"`` or ``"none"``.

**Standard-deviation floor.** A deviation ``std <= STD_FLOOR * max(1, |mean|)`` marks an element
that is constant in the training data (to float32 precision); its deviation is replaced by 1, so
it is centred but not scaled.  This avoids a division by zero and keeps a later, tiny variation
of such an element from being blown up.  The floor (1e-6) lies above Keras' epsilon (1e-7), so
the Keras layers compute exactly what :meth:`NormalizationStatistics.normalize_inputs` does.

Example::

    stats = load_or_compute_statistics(cache, n_train, generator.normalization)
    dataset = dataset.map(lambda x, y: (stats.normalize_inputs(x), stats.normalize_targets(y)))
    model = keras.Sequential([keras.Input(shape), stats.input_layer(), core,
                              stats.target_output_layer()])   # predicts raw targets
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from scinas.atomic import atomic_path
from scinas.data.base import NormalizationConfig
from scinas.data.cache import Piece, ShardCache
from scinas.errors import DataError

__all__ = [
    "STD_FLOOR",
    "NormalizationStatistics",
    "compute_statistics",
    "load_or_compute_statistics",
    "statistics_path",
]

logger = logging.getLogger(__name__)

STD_FLOOR = 1e-6
"""Relative floor of a standard deviation; see the module docstring."""
_FORMAT_VERSION = 1
_INPUT_MODES = ("feature", "channel", "global", "none")
_TARGET_MODES = ("feature", "none")


def _array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class NormalizationStatistics:
    """Means and deviations (float64, floored) of the inputs and targets of the training data.

    ``input_mean``/``input_std`` have shape ``input_shape`` ("feature"), ``(channels,)``
    ("channel") or ``()`` ("global", "none": 0 and 1); the targets' likewise.  ``n_samples``
    is the number of training samples they were computed from.
    """

    inputs: str
    targets: str
    input_mean: np.ndarray = field(default_factory=lambda: _array(0.0))
    input_std: np.ndarray = field(default_factory=lambda: _array(1.0))
    target_mean: np.ndarray = field(default_factory=lambda: _array(0.0))
    target_std: np.ndarray = field(default_factory=lambda: _array(1.0))
    n_samples: int = 0

    def __post_init__(self) -> None:
        if self.inputs not in _INPUT_MODES or self.targets not in _TARGET_MODES:
            raise DataError(f"unknown normalisation mode inputs={self.inputs!r}, targets={self.targets!r}; "
                            f"expected inputs in {_INPUT_MODES} and targets in {_TARGET_MODES}")
        for name in ("input_mean", "input_std", "target_mean", "target_std"):
            object.__setattr__(self, name, _array(getattr(self, name)))
        if self.input_mean.shape != self.input_std.shape or self.target_mean.shape != self.target_std.shape:
            raise DataError("normalisation statistics: means and deviations differ in shape")
        if np.any(self.input_std <= 0) or np.any(self.target_std <= 0):
            raise DataError("normalisation statistics: a standard deviation is not positive")

    # -- tf ops (usable in Dataset.map and inside models) ------------------------------------------
    def normalize_inputs(self, x: Any) -> tf.Tensor:
        """``(x - mean) / std`` for a sample or a batch of inputs (float32)."""
        x = tf.convert_to_tensor(x, dtype=tf.float32)
        if self.inputs == "none":
            return x
        return (x - tf.constant(self.input_mean, tf.float32)) / tf.constant(self.input_std, tf.float32)

    def normalize_targets(self, y: Any) -> tf.Tensor:
        """``(y - mean) / std`` for targets (the identity when ``targets = "none"``)."""
        y = tf.convert_to_tensor(y, dtype=tf.float32)
        if self.targets == "none":
            return y
        return (y - tf.constant(self.target_mean, tf.float32)) / tf.constant(self.target_std, tf.float32)

    def denormalize_targets(self, y: Any) -> tf.Tensor:
        """The inverse of :meth:`normalize_targets`: model outputs back in the data's units."""
        y = tf.convert_to_tensor(y, dtype=tf.float32)
        if self.targets == "none":
            return y
        return y * tf.constant(self.target_std, tf.float32) + tf.constant(self.target_mean, tf.float32)

    # -- NumPy twins (for arrays held in memory) --------------------------------------------------
    def normalize_input_array(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if self.inputs == "none":
            return x
        return (x - self.input_mean.astype(np.float32)) / self.input_std.astype(np.float32)

    def normalize_target_array(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, np.float32)
        if self.targets == "none":
            return y
        return (y - self.target_mean.astype(np.float32)) / self.target_std.astype(np.float32)

    # -- Keras layers (saved with the model) -------------------------------------------------------
    def input_layer(self, name: str = "input_normalization") -> keras.layers.Layer:
        """A layer normalising raw inputs inside a model (``keras.layers.Normalization``).

        Built-in layers keep the statistics in the model's config, so a saved ``.keras`` file
        loads and predicts on raw data without scinas installed.  ``inputs = "none"`` gives an
        identity layer.
        """
        if self.inputs == "none":
            return keras.layers.Identity(name=name)
        return keras.layers.Normalization(axis=_axes(self.input_mean), mean=self.input_mean.astype(np.float32),
                                          variance=np.square(self.input_std).astype(np.float32),
                                          dtype="float32", name=name)

    def target_output_layer(self, name: str = "target_denormalization") -> keras.layers.Layer | None:
        """A last layer turning normalised predictions into raw targets (None when not normalised)."""
        if self.targets == "none":
            return None
        return keras.layers.Normalization(axis=_axes(self.target_mean), mean=self.target_mean.astype(np.float32),
                                          variance=np.square(self.target_std).astype(np.float32),
                                          invert=True, dtype="float32", name=name)

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write an ``.npz`` file atomically (a temporary file renamed into place)."""
        path = Path(path)
        with atomic_path(path) as temp, open(temp, "wb") as file:
            np.savez(file, format_version=np.int64(_FORMAT_VERSION), inputs=np.str_(self.inputs),
                     targets=np.str_(self.targets), n_samples=np.int64(self.n_samples),
                     input_mean=self.input_mean, input_std=self.input_std,
                     target_mean=self.target_mean, target_std=self.target_std)

    @classmethod
    def load(cls, path: Path) -> NormalizationStatistics:
        """Read a file written by :meth:`save`; DataError if it is unreadable or of another format."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                if int(data["format_version"]) != _FORMAT_VERSION:
                    raise DataError(f"{path}: statistics format {int(data['format_version'])}, "
                                    f"expected {_FORMAT_VERSION}")
                return cls(str(data["inputs"]), str(data["targets"]), data["input_mean"], data["input_std"],
                           data["target_mean"], data["target_std"], int(data["n_samples"]))
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise DataError(f"cannot read normalisation statistics from {path}: {exc}") from exc


def _axes(mean: np.ndarray) -> int | tuple[int, ...] | None:
    """Keras ``axis`` for statistics of ``mean.shape``: the trailing axes that have their own values."""
    return tuple(range(-mean.ndim, 0)) if mean.ndim else None


# -- computing ---------------------------------------------------------------------------------

class _Moments:
    """Running count, mean and sum of squared deviations (float64), merged chunk by chunk."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray = _array(0.0)
        self.m2: np.ndarray = _array(0.0)

    def update(self, values: np.ndarray) -> None:
        """Merge observations ``values[i]`` (float64, observations along axis 0)."""
        n_b = values.shape[0]
        if n_b == 0:
            return
        mean_b = values.mean(axis=0)
        m2_b = np.square(values - mean_b).sum(axis=0)
        if self.count == 0:
            self.count, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        total = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / total)
        self.m2 = self.m2 + m2_b + np.square(delta) * (self.count * n_b / total)
        self.count = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        std = np.sqrt(self.m2 / self.count)
        floor = STD_FLOOR * np.maximum(1.0, np.abs(self.mean))
        return self.mean, np.where(std <= floor, 1.0, std)


def _observations(values: np.ndarray, mode: str) -> np.ndarray:
    """Samples ``(k, *shape)`` as observations of the statistics of ``mode``."""
    values = values.astype(np.float64)
    if mode == "channel" and values.ndim > 1:
        return values.reshape(-1, values.shape[-1])
    if mode in ("global", "channel"):
        return values.reshape(-1)
    return values


def compute_statistics(cache: ShardCache, n_samples: int, normalization: NormalizationConfig,
                       *, chunk_samples: int = 4096) -> NormalizationStatistics:
    """Statistics of the first ``n_samples`` cached samples (the training split is that prefix).

    Reads at most ``chunk_samples`` samples at a time.
    """
    if not 0 < n_samples <= cache.n_samples:
        raise DataError(f"cannot compute statistics of {n_samples} samples: the cache holds {cache.n_samples}")
    inputs, targets = _Moments(), _Moments()
    if normalization.inputs != "none" or normalization.targets != "none":
        for piece in cache.pieces(0, n_samples):
            for lo in range(0, piece.count, chunk_samples):
                count = min(chunk_samples, piece.count - lo)
                chunk = Piece(piece.shard, piece.offset + lo, count, piece.start + lo)
                x, y = cache.read(chunk)
                if normalization.inputs != "none":
                    inputs.update(_observations(x, normalization.inputs))
                if normalization.targets != "none":
                    targets.update(_observations(y, normalization.targets))
    stats: dict[str, Any] = {}
    if normalization.inputs != "none":
        stats["input_mean"], stats["input_std"] = inputs.result()
    if normalization.targets != "none":
        stats["target_mean"], stats["target_std"] = targets.result()
    return NormalizationStatistics(normalization.inputs, normalization.targets, n_samples=n_samples, **stats)


def statistics_path(cache: ShardCache, normalization: NormalizationConfig, n_samples: int) -> Path:
    """Where the statistics of one mode and sample count are cached (inside the cache folder)."""
    return cache.directory / f"statistics-{normalization.inputs}-{normalization.targets}-n{n_samples}.npz"


def load_or_compute_statistics(cache: ShardCache, n_samples: int,
                               normalization: NormalizationConfig) -> NormalizationStatistics:
    """The cached statistics of the first ``n_samples`` samples, computed and stored when missing."""
    path = statistics_path(cache, normalization, n_samples)
    if path.exists():
        try:
            stats = NormalizationStatistics.load(path)
            _check(stats, cache, normalization, n_samples)
        except DataError as exc:
            logger.warning("recomputing normalisation statistics: %s", exc)
        else:
            logger.info("reusing normalisation statistics %s", path)
            return stats
    stats = compute_statistics(cache, n_samples, normalization)
    try:
        stats.save(path)
    except OSError as exc:  # a read-only cache still works, only slower next time
        logger.warning("cannot cache normalisation statistics in %s: %s", path, exc)
    return stats


def _check(stats: NormalizationStatistics, cache: ShardCache, normalization: NormalizationConfig,
           n_samples: int) -> None:
    expected_input = {"feature": cache.input_shape,
                      "channel": cache.input_shape[-1:],
                      "global": (), "none": ()}[normalization.inputs]
    expected_target = cache.target_shape if normalization.targets == "feature" else ()
    found = (stats.inputs, stats.targets, stats.n_samples, stats.input_mean.shape, stats.target_mean.shape)
    wanted = (normalization.inputs, normalization.targets, n_samples, expected_input, expected_target)
    if found != wanted:
        raise DataError(f"cached statistics describe {found}, expected {wanted}")
    arrays = (stats.input_mean, stats.input_std, stats.target_mean, stats.target_std)
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise DataError("cached statistics contain non-finite values")
