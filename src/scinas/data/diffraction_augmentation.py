"""Augmentation that respects the physics of a diffraction pattern of a randomly oriented molecule.

A single-particle pattern is a slice of the molecule's 3D intensity ``I(q)`` along the Ewald
sphere, for an orientation drawn uniformly on SO(3).  Two families of image transforms give
patterns the same experiment could have recorded, so the training split may be augmented with
them without changing what the classes mean:

- **rotation about the beam axis** (``rotation = true``): turning the detector image by any angle
  about the beam centre is the pattern of the molecule turned by that angle about the beam.  The
  square detector is not rotation-invariant, so the patterns keep the detector's *circular
  support*: pixels outside the circle inscribed in the square are dark (0 photons) in **every**
  split (training, validation, test and the inputs of the saved model's example), and each
  training pattern is turned by a uniform random angle, each pixel taking the value of the
  nearest pixel of the original (no interpolation: a blend of neighbouring photon counts is a
  value no detector records, and a network trained on blended patterns fails on real ones).
  The polarisation factor is the one term that is not rotation-invariant;
  at the shipped geometry it varies by at most a few percent across the detector.
- **Friedel symmetry** (``friedel = true``): without anomalous scattering ``I(q) = I(−q)``.  A
  point reflection of the pattern through its centre (a half turn about the beam) is always a
  pattern of the same molecule; with Friedel's law a mirror of the detector across a line
  through the centre is one too (``I(Mq) = I(−Mq)`` and ``−M`` is a proper rotation, a half turn
  about the mirror line's normal in the detector plane; the Ewald sphere and the polarisation
  factor of the horizontal and vertical axes are symmetric under it).  Each training pattern is
  point-reflected with probability 1/2 and mirrored with probability 1/2.

Example ``data.toml`` (training split only; validation and test are never augmented)::

    [xfel15.augmentation]
    rotation = true
    friedel = true

Both apply to square single-image inputs (``[h, w, c]`` with ``h = w``); the configuration is
checked against the dataset's input shape (:meth:`DiffractionAugmentation.check`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scinas.config.reader import Table

if TYPE_CHECKING:  # TensorFlow is imported when batches are augmented, not when a config is read
    import tensorflow as tf

__all__ = ["DiffractionAugmentation", "augment_diffraction", "circular_support", "mask_batches", "mask_outside_support"]


@dataclass(frozen=True)
class DiffractionAugmentation:
    """The ``rotation`` and ``friedel`` keys of ``[d.augmentation]``; both off by default."""

    rotation: bool = False
    friedel: bool = False

    KEYS = ("rotation", "friedel")

    @classmethod
    def parse(cls, table: Table) -> DiffractionAugmentation:
        """Read ``rotation`` and ``friedel`` (the caller finishes the table)."""
        return cls(rotation=table.boolean("rotation", False), friedel=table.boolean("friedel", False))

    @property
    def active(self) -> bool:
        return self.rotation or self.friedel

    def check(self, table: Table, input_shape: tuple[int, ...]) -> None:
        """A ConfigError naming the key when the data are not square single images."""
        for key in self.KEYS:
            if not getattr(self, key) or table.raw.get(key) is not True:
                continue
            what = (
                "a rotation about the beam axis"
                if key == "rotation"
                else "a point reflection or mirror through the centre"
            )
            if len(input_shape) != 3:
                kind = "series" if len(input_shape) <= 2 else f"{len(input_shape)}-dimensional samples"
                raise table.error(
                    key,
                    f"{what} needs images [height, width, channels]; this dataset's samples "
                    f"are {kind} of shape {list(input_shape)}",
                    fix=f"remove `{key}` (it applies to diffraction images)",
                )
            if input_shape[0] != input_shape[1]:
                raise table.error(
                    key,
                    f"{what} needs square images; this dataset's are {input_shape[0]}x{input_shape[1]}",
                    fix=f"resize the images to a square (e.g. [d.parameters] resize) or remove `{key}`",
                )

    def to_table(self) -> dict[str, Any]:
        return {key: True for key in self.KEYS if getattr(self, key)}


def circular_support(side: int) -> np.ndarray:
    """``[side, side]`` booleans: the pixels within the circle inscribed in the square detector.

    A pixel is inside when its centre lies at most ``(side − 1) / 2`` from the detector's centre
    (pixel ``(side − 1) / 2``), so every turn about the centre keeps it on the detector.
    """
    centre = (side - 1) / 2.0
    steps = np.arange(side, dtype=np.float64) - centre
    return np.asarray(np.hypot(steps[:, None], steps[None, :]) <= centre + 1e-9)


def mask_outside_support(images: np.ndarray) -> np.ndarray:
    """``images`` (``[n, side, side, c]``) with the pixels outside :func:`circular_support` dark.

    Apply it to raw patterns recorded elsewhere before giving them to a model trained with
    ``rotation = true`` (scinas does so for every split it reads).
    """
    mask = circular_support(images.shape[1])
    return np.asarray(np.where(mask[None, :, :, None], images, 0).astype(images.dtype))


def mask_batches(batches: tf.data.Dataset, side: int) -> tf.data.Dataset:
    """``batches`` of ``(images, y)`` with the pixels outside the circular support dark."""
    import tensorflow as tf

    mask = tf.constant(circular_support(side)[None, :, :, None], tf.float32)
    return batches.map(
        lambda x, y: (x * tf.cast(mask, x.dtype), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def _rotate(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Each image turned about its centre by its own uniform angle (nearest pixel, dark outside)."""
    import tensorflow as tf

    shape = tf.shape(images)
    batch = shape[0]
    side = tf.cast(shape[1], tf.float32)
    angles = tf.random.stateless_uniform([batch], seed, minval=0.0, maxval=2.0 * math.pi)
    cos, sin = tf.cos(angles), tf.sin(angles)
    centre = (side - 1.0) / 2.0
    # The op maps each output pixel (x, y) to the input point (a0 x + a1 y + a2, b0 x + b1 y + b2).
    offset_x = centre - cos * centre + sin * centre
    offset_y = centre - sin * centre - cos * centre
    zeros = tf.zeros_like(angles)
    transforms = tf.stack([cos, -sin, offset_x, sin, cos, offset_y, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=shape[1:3],
        fill_value=0.0,
        interpolation="NEAREST",
        fill_mode="CONSTANT",
    )


def _reflect(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Point reflection through the centre and a mirror, each with probability 1/2 per image."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    draws = tf.random.stateless_uniform([batch, 2], seed) < 0.5
    images = tf.where(draws[:, 0, None, None, None], tf.reverse(images, axis=[1, 2]), images)
    return tf.where(draws[:, 1, None, None, None], tf.reverse(images, axis=[2]), images)


def augment_diffraction(batches: tf.data.Dataset, config: DiffractionAugmentation, seed: int) -> tf.data.Dataset:
    """``batches`` of raw ``(images, y)`` (``[b, side, side, c]``) with ``config`` applied per image.

    Seeded; each epoch (each new iteration of the dataset) draws new angles and reflections.
    """
    import tensorflow as tf

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True)
    side = batches.element_spec[0].shape[1]
    mask = tf.constant(circular_support(int(side))[None, :, :, None] if side else np.ones((1, 1, 1, 1)), tf.float32)

    def apply(batch: Any, pair: tf.Tensor) -> Any:
        x, y = batch
        split = tf.random.experimental.stateless_split(tf.cast(pair, tf.int64), num=2)
        if config.friedel:
            x = _reflect(x, split[0])
        if config.rotation:  # the rim's pixels may land just outside: the circle is kept again after the turn
            x = _rotate(x, split[1]) * tf.cast(mask, x.dtype)
        return x, y

    zipped = tf.data.Dataset.zip((batches, seeds))
    return zipped.map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
