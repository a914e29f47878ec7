"""Image augmentation of the training split, applied batch by batch inside the tf.data pipeline.

Every image of a batch gets its own random flip, crop offset and cutout square; the randomness
comes from a seeded stream that changes every epoch, so runs are reproducible and no two
epochs see the same images.  Validation and test batches are never augmented.

Example ``data.toml``::

    [cifar.augmentation]
    flip = "horizontal"     # none | horizontal | vertical | both
    crop_padding = 4        # pad by 4 pixels (zeros after normalisation: the mean), crop back at random
    cutout = 8              # zero a random 8x8 square of each image

For a segmentation dataset the flips and the crop move each mask with its image (the crop pads
by reflection then, so the border's labels stay true); cutout hides image pixels only.

Diffraction patterns add ``rotation`` and ``friedel`` (about the beam axis and through the
pattern's centre; see :mod:`scinas.data.diffraction_augmentation`, applied before normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scinas.config.reader import Table
from scinas.data.diffraction_augmentation import DiffractionAugmentation

if TYPE_CHECKING:  # TensorFlow is imported when batches are augmented, not when a config is read
    import tensorflow as tf

__all__ = ["FLIPS", "AugmentationConfig", "augment_batches"]

FLIPS = ("none", "horizontal", "vertical", "both")


@dataclass(frozen=True)
class AugmentationConfig:
    """``[d.augmentation]``; everything off by default."""

    flip: str = "none"
    crop_padding: int = 0
    cutout: int = 0
    diffraction: DiffractionAugmentation = field(default_factory=DiffractionAugmentation)

    @classmethod
    def parse(cls, table: Table) -> AugmentationConfig | None:
        config = cls(flip=table.string("flip", "none", choices=FLIPS),
                     crop_padding=table.integer("crop_padding", 0, minimum=0),
                     cutout=table.integer("cutout", 0, minimum=0),
                     diffraction=DiffractionAugmentation.parse(table))
        table.finish()
        return config if config.active else None

    @property
    def active(self) -> bool:
        return self.image_active or self.diffraction.active

    @property
    def image_active(self) -> bool:
        """Whether a flip, crop or cutout is asked for (applied after normalisation)."""
        return self.flip != "none" or self.crop_padding > 0 or self.cutout > 0


def _flip(images: tf.Tensor, seed: tf.Tensor, axis: int) -> tf.Tensor:
    import tensorflow as tf

    batch = tf.shape(images)[0]
    flip = tf.random.stateless_uniform([batch], seed) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(images, axis=[axis]), images)


def _crop(images: tf.Tensor, seed: tf.Tensor, padding: int, mode: str = "CONSTANT") -> tf.Tensor:
    import tensorflow as tf

    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]], mode=mode)
    offsets = tf.random.stateless_uniform([batch, 2], seed, minval=0, maxval=2 * padding + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(height)[None, :]
    columns = offsets[:, 1:] + tf.range(width)[None, :]
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(cropped, columns, axis=2, batch_dims=1)


def _cutout(images: tf.Tensor, seed: tf.Tensor, size: int) -> tf.Tensor:
    import tensorflow as tf

    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    centres = tf.random.stateless_uniform([batch, 2], seed, minval=0, maxval=tf.int32.max, dtype=tf.int32)
    cy = centres[:, 0] % height
    cx = centres[:, 1] % width
    half = size // 2
    rows = tf.range(height)[None, :]
    columns = tf.range(width)[None, :]
    inside_rows = (rows >= (cy - half)[:, None]) & (rows < (cy - half + size)[:, None])
    inside_columns = (columns >= (cx - half)[:, None]) & (columns < (cx - half + size)[:, None])
    mask = tf.cast(inside_rows[:, :, None] & inside_columns[:, None, :], images.dtype)
    return images * (1.0 - mask[:, :, :, None])


def _augment(images: tf.Tensor, seed: tf.Tensor, config: AugmentationConfig) -> tf.Tensor:
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, num=4)
    if config.flip in ("horizontal", "both"):
        images = _flip(images, seeds[0], axis=2)
    if config.flip in ("vertical", "both"):
        images = _flip(images, seeds[1], axis=1)
    if config.crop_padding > 0:
        images = _crop(images, seeds[2], config.crop_padding)
    if config.cutout > 0:
        images = _cutout(images, seeds[3], config.cutout)
    return images


def _augment_jointly(images: tf.Tensor, masks: tf.Tensor, seed: tf.Tensor,
                     config: AugmentationConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """The same flips and crop for each image and its mask; the crop pads by reflection, so the
    padded border's labels are those of the pixels it mirrors; cutout hides image pixels only."""
    import tensorflow as tf

    channels = tf.shape(images)[-1]
    both = tf.concat([images, tf.cast(masks[..., None], images.dtype)], axis=-1)
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    if config.flip in ("horizontal", "both"):
        both = _flip(both, seeds[0], axis=2)
    if config.flip in ("vertical", "both"):
        both = _flip(both, seeds[1], axis=1)
    if config.crop_padding > 0:
        both = _crop(both, seeds[2], config.crop_padding, mode="REFLECT")
    images, masks = both[..., :channels], tf.cast(both[..., channels], masks.dtype)
    if config.cutout > 0:
        images = _cutout(images, seeds[3], config.cutout)
    return images, masks


def augment_batches(batches: tf.data.Dataset, config: AugmentationConfig, seed: int, *,
                    joint: bool = False) -> tf.data.Dataset:
    """``batches`` of ``(images, y)`` (images ``[b, h, w, c]``) with ``config`` applied per image.

    ``joint``: ``y`` are masks ``[b, h, w]`` that get the same flips and crop as their images
    (segmentation); the crop then pads by reflection instead of zeros.
    """
    import tensorflow as tf

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True)

    def apply(batch: Any, pair: tf.Tensor) -> Any:
        x, y = batch
        if joint:
            return _augment_jointly(x, y, tf.cast(pair, tf.int64), config)
        return _augment(x, tf.cast(pair, tf.int64), config), y

    zipped = tf.data.Dataset.zip((batches, seeds))
    return zipped.map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
