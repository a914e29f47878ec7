"""A generated dataset made ready for training: cached shards, statistics and tf.data splits.

:meth:`PreparedDataset.prepare` makes sure the shard cache exists (see :mod:`scinas.data.cache`)
and that the normalisation statistics of the training split are computed (see
:mod:`scinas.data.statistics`); :meth:`PreparedDataset.split` streams one split from disk.

Splits are contiguous global index ranges, ``train = [0, n_train)``,
``validation = [n_train, n_train + n_val)``, ``test = [n_train + n_val, n)`` with the sizes of
:func:`scinas.data.base.split_sizes`, so they are exact and disjoint.  A split is a list of
pieces ``(shard file, offset, count)`` that may cross shard boundaries.  Its pipeline::

    shuffled (train):  pieces ─► shuffle pieces every epoch ─► interleave(read piece, cycle_length ≤ 4)
                       ─► samples ─► shuffle(shuffle_buffer_size; 0 disables) ─► batch(batch_size)
    in order (others): pieces ─► read pieces in parallel, order kept ─► rebatch(batch_size)
                       ─► normalise (map) ─► prefetch

Pieces are read inside the TensorFlow graph (``tf.io.read_file`` + ``decode_raw``): no Python
runs per sample.  Without shuffling (validation and test by default) the samples come in their
global order.  Shuffling is seeded: the same seed gives the same sequence of epochs, and each
epoch (each new iteration of the dataset) gets a new order.

Example::

    data = PreparedDataset.prepare(generator, Path("results/.cache"), stats_samples=1000)
    model.fit(data.split("train", seed=3), validation_data=data.split("validation"), epochs=5)
    x_test, y_test = data.arrays("test")
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from scinas.data.augmentation import AugmentationConfig, augment_batches
from scinas.data.base import SPLITS, DatasetGenerator, DatasetInfo, split_sizes
from scinas.data.cache import ShardCache, ensure_cache
from scinas.data.diffraction_augmentation import augment_diffraction, mask_batches, mask_outside_support
from scinas.data.fresh import fresh_samples_per_epoch, fresh_training_batches
from scinas.data.statistics import NormalizationStatistics, load_or_compute_statistics
from scinas.errors import DataError

__all__ = ["CYCLE_LENGTH", "PreparedDataset"]

logger = logging.getLogger(__name__)

CYCLE_LENGTH = 4
"""How many pieces a shuffled split reads (and mixes) at the same time."""


class PreparedDataset:
    """A dataset whose shards are cached and whose training statistics are known.

    Attributes: ``generator``, ``info`` (:class:`DatasetInfo`), ``statistics``
    (:class:`NormalizationStatistics`), ``cache_dir`` and ``cache`` (:class:`ShardCache`).
    """

    def __init__(self, generator: DatasetGenerator, cache: ShardCache, statistics: NormalizationStatistics) -> None:
        self.generator = generator
        self.info: DatasetInfo = generator.info()
        self.cache = cache
        self.cache_dir: Path = cache.directory
        self.statistics = statistics
        self._ranges = _split_ranges(generator)

    @classmethod
    def prepare(cls, generator: DatasetGenerator, cache_root: Path, *, stats_samples: int | None = None,
                progress: bool = True) -> PreparedDataset:
        """Build (or reuse) the cache of ``generator`` under ``cache_root`` and its statistics.

        ``stats_samples`` = N computes the statistics on the first N training samples only
        (default: the whole training split); ``progress`` shows a bar while generating.
        """
        ranges = _split_ranges(generator)
        n_train = ranges["train"][1]
        if stats_samples is None:
            n_stats = n_train
        elif stats_samples < 1:
            raise DataError(f"use_stats_of = {stats_samples}: expected a number of training samples >= 1 "
                            f"(at most {n_train}), or leave it out to use the whole training split")
        elif stats_samples > n_train:
            logger.warning("use_stats_of = %d exceeds the %d training samples of %s; using all of them",
                           stats_samples, n_train, generator.dataset)
            n_stats = n_train
        else:
            n_stats = stats_samples
        cache = ensure_cache(generator, Path(cache_root), progress=progress)
        if not generator.shape.fresh_training:
            generator.release()  # from now on the samples come from the cache
        # targets = "auto": regression targets standardised, class labels left as they are
        normalization = generator.normalization.resolved(generator.info().task)
        statistics = load_or_compute_statistics(cache, n_stats, normalization)
        return cls(generator, cache, statistics)

    # -- sizes and in-memory access --------------------------------------------------------------
    def size(self, name: str) -> int:
        """The number of samples of split ``name``."""
        start, stop = self._range(name)
        return stop - start

    def arrays(self, name: str, *, normalize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The whole split ``name`` as ``(x, y)`` float32 arrays in global order (small data only)."""
        x, y = self.cache.read_range(*self._range(name))
        augmentation = self.generator.augmentation
        if isinstance(augmentation, AugmentationConfig) and augmentation.diffraction.rotation:
            x = mask_outside_support(x)
        if normalize:
            return self.statistics.normalize_input_array(x), self.statistics.normalize_target_array(y)
        return x, y

    def class_weights(self, *, chunk: int = 512) -> list[float]:
        """``1 / (classes · share)`` of each class among the training targets (pixels, for masks),
        the ``ignore_class`` left out; 1.0 for a class that never occurs (no target carries it).

        Read from the cache in chunks of ``chunk`` samples (``balance_class_losses``).
        """
        classes = int(self.info.n_classes or 0)
        if classes < 2:
            raise DataError(f"{self.generator.dataset}: class weights need class labels; this dataset is a "
                            f"{self.info.task} dataset")
        counts = np.zeros(classes, np.int64)
        start, stop = self._range("train")
        for begin in range(start, stop, chunk):
            _, y = self.cache.read_range(begin, min(begin + chunk, stop))
            labels = y.astype(np.int64).ravel()
            if self.info.ignore_class is not None:
                labels = labels[labels != self.info.ignore_class]
            counts += np.bincount(labels, minlength=classes)[:classes]
        total = counts.sum()
        return [float(total / (classes * c)) if c else 1.0 for c in counts]

    # -- streaming -------------------------------------------------------------------------------
    def split(self, name: str, *, batch_size: int | None = None, shuffle: bool | None = None,
              repeat: bool = False, normalize: bool = True, seed: int | None = None,
              drop_remainder: bool = False, augment: bool | None = None) -> tf.data.Dataset:
        """Batches ``(x, y)`` of split ``name`` streamed from the cache.

        ``batch_size`` defaults to the dataset's; ``shuffle`` to ``name == "train"``; ``seed`` to
        the dataset's seed.  ``repeat`` repeats forever (each pass reshuffled); ``normalize``
        applies the training statistics; ``drop_remainder`` gives every batch the same size;
        ``augment`` (default: ``name == "train"``) applies the dataset's ``[d.augmentation]``.
        With ``[d.shape] fresh_training`` the training split is new samples every epoch
        (:mod:`scinas.data.fresh`); with ``rotation`` every split keeps the detector's circle.
        """
        start, stop = self._range(name)
        batch = self.generator.shape.batch_size if batch_size is None else batch_size
        if batch < 1:
            raise DataError(f"batch_size = {batch}: expected an integer >= 1")
        shuffle = name == "train" if shuffle is None else shuffle
        seed = self.generator.shape.seed if seed is None else seed
        if name == "train" and self.fresh:
            n_fresh = fresh_samples_per_epoch(self.generator, stop - start)
            batches = fresh_training_batches(self.generator, n_fresh, batch_size=batch, seed=_derived(seed + 2),
                                             drop_remainder=drop_remainder, repeat=repeat)
            return self._finish(batches, name, normalize=normalize, seed=seed, augment=augment)
        pieces = self.cache.pieces(start, stop)
        source = tf.data.Dataset.from_tensor_slices((
            tf.constant([str(self.cache.x_path(p.shard)) for p in pieces], tf.string),
            tf.constant([str(self.cache.y_path(p.shard)) for p in pieces], tf.string),
            tf.constant([p.offset for p in pieces], tf.int64),
            tf.constant([p.count for p in pieces], tf.int64),
        ))
        load = _piece_reader(self.cache.input_shape, self.cache.target_shape)
        if shuffle:
            source = source.shuffle(max(len(pieces), 1), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            source = source.repeat()
        if shuffle:
            samples = source.interleave(lambda *piece: tf.data.Dataset.from_tensor_slices(load(*piece)),
                                        cycle_length=max(1, min(CYCLE_LENGTH, len(pieces))),
                                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            buffer = self.generator.shape.shuffle_buffer_size
            if buffer > 0:
                samples = samples.shuffle(buffer, seed=_derived(seed), reshuffle_each_iteration=True)
            batches = samples.batch(batch, drop_remainder=drop_remainder)
        else:
            # In order: rebatch whole pieces, never splitting them into single samples (faster).
            batches = source.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).rebatch(
                batch, drop_remainder=drop_remainder)
        # Interleave and rebatch hide the length; state it so Keras knows the steps of an epoch.
        n_batches = (stop - start) // batch if drop_remainder else -(-(stop - start) // batch)
        batches = batches.apply(tf.data.experimental.assert_cardinality(
            tf.data.INFINITE_CARDINALITY if repeat and pieces else n_batches))
        return self._finish(batches, name, normalize=normalize, seed=seed, augment=augment)

    @property
    def fresh(self) -> bool:
        """Whether the training split is drawn anew every epoch (``[d.shape] fresh_training``)."""
        return bool(getattr(self.generator.shape, "fresh_training", False))

    def _finish(self, batches: tf.data.Dataset, name: str, *, normalize: bool, seed: int,
                augment: bool | None) -> tf.data.Dataset:
        """Raw batches made ready: circular support, diffraction augmentation, normalisation,
        image augmentation, prefetch."""
        augmentation = self.generator.augmentation
        augmenting = (name == "train" if augment is None else augment) and isinstance(augmentation,
                                                                                      AugmentationConfig)
        if isinstance(augmentation, AugmentationConfig) and augmentation.diffraction.rotation:
            batches = mask_batches(batches, self.info.input_shape[0])  # every split: the detector's circle
        if augmenting and isinstance(augmentation, AugmentationConfig) and augmentation.diffraction.active:
            batches = augment_diffraction(batches, augmentation.diffraction, _derived(seed + 3))
        stats = self.statistics
        if normalize and (stats.inputs != "none" or stats.targets != "none"):
            batches = batches.map(lambda x, y: (stats.normalize_inputs(x), stats.normalize_targets(y)),
                                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if augmenting and isinstance(augmentation, AugmentationConfig) and augmentation.image_active:
            batches = augment_batches(batches, augmentation, _derived(seed + 1),
                                      joint=self.info.task == "segmentation")
        options = tf.data.Options()
        # The source is a list of pieces, not files: shard across workers by element.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return batches.prefetch(tf.data.AUTOTUNE).with_options(options)

    def _range(self, name: str) -> tuple[int, int]:
        try:
            return self._ranges[name]
        except KeyError:
            raise DataError(f"unknown split {name!r}; valid splits: {', '.join(SPLITS)}") from None

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={self.size(s)}" for s in SPLITS)
        return f"PreparedDataset({self.generator.dataset!r}, {sizes}, cache={str(self.cache_dir)!r})"


def _split_ranges(generator: DatasetGenerator) -> dict[str, tuple[int, int]]:
    """Contiguous ``[start, stop)`` of each split; DataError if ``info()`` disagrees."""
    shape = generator.shape
    sizes = split_sizes(shape.n_samples, shape.splits)
    declared = generator.info().split_sizes
    if dict(declared) != dict(zip(SPLITS, sizes, strict=True)):
        raise DataError(f"generator {generator.name!r} declares split sizes {dict(declared)}, but "
                        f"split_sizes({shape.n_samples}, {shape.splits}) gives {sizes}: compute "
                        "DatasetInfo.split_sizes with scinas.data.base.split_sizes")
    ranges: dict[str, tuple[int, int]] = {}
    start = 0
    for name, size in zip(SPLITS, sizes, strict=True):
        ranges[name] = (start, start + size)
        start += size
    return ranges


def _piece_reader(input_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> Any:
    """A graph function ``(x_path, y_path, offset, count) -> (x, y)`` reading one piece."""

    def read(path: tf.Tensor, offset: tf.Tensor, count: tf.Tensor, shape: tuple[int, ...]) -> tf.Tensor:
        row = tf.constant(math.prod(shape) * 4, tf.int64)
        raw = tf.strings.substr(tf.io.read_file(path), offset * row, count * row, unit="BYTE")
        return tf.reshape(tf.io.decode_raw(raw, tf.float32, little_endian=True), [-1, *shape])

    def load(x_path: tf.Tensor, y_path: tf.Tensor, offset: tf.Tensor,
             count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return read(x_path, offset, count, input_shape), read(y_path, offset, count, target_shape)

    return load


def _derived(seed: int) -> int:
    """A second seed for the sample shuffle, distinct from the piece shuffle's."""
    return (seed * 1_000_003 + 7) % (2**31 - 1)
