"""Fresh training samples every epoch, drawn from a simulating generator on the fly.

A network that sees the same 1 400 diffraction patterns every epoch memorises them; the seed
project generated its patterns on the fly instead.  With ``fresh_training = true`` in
``[d.shape]`` the training split of a simulated dataset is replaced by new samples from the
dataset's generator every epoch, while validation and test stay the fixed, cached samples (so
every trial is scored on the same data).  The normalisation statistics are still those of the
cached training split, which comes from the same distribution.

Example ``data.toml``::

    [xfel15.shape]
    seed = 15
    n_samples = 2000                  # the cached split; validation and test come from it
    splits = [0.7, 0.1, 0.2]
    fresh_training = true
    fresh_training_samples = 4000     # per epoch (default: the training split's size)

How: the epoch's samples are made in chunks of :data:`CHUNK` by
:meth:`DatasetGenerator.generate_shard`, each chunk from its own random stream whose seed
comes from a seeded stream that is drawn anew every epoch (so runs are reproducible and no
two epochs see the same samples); chunks run in the tf.data pipeline ahead of training, one
at a time, and are shuffled together before batching.  Generators whose samples depend on the
shard index get index 0 for every chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from scinas.data.base import DatasetGenerator

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["CHUNK", "fresh_samples_per_epoch", "fresh_training_batches"]

CHUNK = 256
"""Samples made by one call of the generator."""


def fresh_samples_per_epoch(generator: DatasetGenerator, n_train: int) -> int:
    """How many fresh training samples an epoch gets (``fresh_training_samples`` or ``n_train``)."""
    return generator.shape.fresh_training_samples or n_train


def fresh_training_batches(
    generator: DatasetGenerator,
    n_samples: int,
    *,
    batch_size: int,
    seed: int,
    drop_remainder: bool = False,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Raw (not normalised) batches ``(x, y)`` of ``n_samples`` new samples per epoch.

    ``repeat`` makes the dataset endless (each pass new samples).  The generator must be ready to
    make samples (for XFEL: its simulator is kept, not released, see
    :meth:`scinas.data.pipeline.PreparedDataset.prepare`).
    """
    import tensorflow as tf

    info = generator.info()
    counts = [CHUNK] * (n_samples // CHUNK) + ([n_samples % CHUNK] if n_samples % CHUNK else [])
    input_shape = tuple(info.input_shape)
    target_shape = tuple(info.target_shape)

    def make(chunk_seed: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(np.random.SeedSequence([int(s) & 0xFFFFFFFF for s in chunk_seed]))
        x, y = generator.generate_shard(0, int(count), rng)
        return (
            np.asarray(x, np.float32).reshape(int(count), *input_shape),
            np.asarray(y, np.float32).reshape(int(count), *target_shape),
        )

    def chunk(chunk_seed: tf.Tensor, count: tf.Tensor) -> Any:
        x, y = tf.numpy_function(make, [chunk_seed, count], [tf.float32, tf.float32], stateful=False)
        x.set_shape([None, *input_shape])
        y.set_shape([None, *target_shape])
        return tf.data.Dataset.from_tensor_slices((x, y))

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True)
    plan = tf.data.Dataset.zip(
        (seeds.take(len(counts)), tf.data.Dataset.from_tensor_slices(tf.constant(counts, tf.int64)))
    )
    if repeat:
        plan = plan.repeat()
    # one chunk at a time (the simulator uses the CPU cores itself); shuffled across two chunks
    samples = plan.flat_map(chunk).shuffle(2 * CHUNK, seed=seed, reshuffle_each_iteration=True)
    batches = samples.batch(batch_size, drop_remainder=drop_remainder)
    n_batches = n_samples // batch_size if drop_remainder else -(-n_samples // batch_size)
    return batches.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY if repeat else n_batches))
