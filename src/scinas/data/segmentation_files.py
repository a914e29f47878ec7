"""Segmentation datasets read from files: images with per-pixel integer masks.

The ``images`` generator with ``task = "segmentation"`` reads one of::

    folder:  <path>/images/<name>.png  with  <path>/masks/<name>.png   (paired by file name stem;
             <path>/train/{images,masks} and <path>/test/{images,masks}, or test_path, for a test split)
    npz:     x (n, h, w[, c]) images and y (n, h, w) integer masks (optional x_test / y_test)
    tfds:    a prepared TFDS dataset with an image feature and a mask feature (``mask_key``)

A mask is a single-channel image (8/16-bit gray or a palette PNG, whose indices are the labels)
of its image's size, holding class indices ``0..classes-1`` or the ``ignore_class``.  ``classes``
defaults to the largest label found (the ignore_class aside) plus one.  ``resize`` resizes images
bilinearly and masks by nearest neighbour.  A mask of another size than its image, or a label
outside the classes, is a DataError naming the file (or array index).

Example ``data.toml``::

    [nuclei]
    generator = "images"
    [nuclei.parameters]
    source = "folder"
    path = "data/nuclei"
    task = "segmentation"
    classes = 3
    ignore_class = 255
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scinas.data.array_sources import read_npz, tfds_dir
from scinas.data.image_files import IMAGE_SUFFIXES, read_image
from scinas.data.loaded import SourceArrays
from scinas.errors import DataError

__all__ = ["conform_mask", "load_segmentation", "mask_pairs", "read_mask"]


def read_mask(path: Path) -> np.ndarray:
    """The label array of a mask file (palette images give their indices, never colours)."""
    if path.suffix.lower() in (".tif", ".tiff"):
        return read_image(path)
    from PIL import Image

    try:
        with Image.open(path) as opened:
            image = opened.convert("L") if opened.mode == "1" else opened
            if image.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
                raise DataError(f"{path}: a mask must be a single-channel label image (gray or palette), "
                                f"this one is {image.mode}")
            return np.asarray(image)
    except OSError as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None


def mask_pairs(root: Path) -> list[tuple[Path, Path]]:
    """(image, mask) files of ``root/images`` and ``root/masks``, paired by file name stem."""
    images_dir, masks_dir = root / "images", root / "masks"
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise DataError(f"{root}: a segmentation folder holds images/ and masks/ sub-folders; {folder} is "
                            "missing")
    images = sorted(f for f in images_dir.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    masks = {f.relative_to(masks_dir).with_suffix("").as_posix(): f for f in masks_dir.rglob("*")
             if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES}
    if not images:
        raise DataError(f"{images_dir}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    pairs = []
    for image in images:
        key = image.relative_to(images_dir).with_suffix("").as_posix()
        if key not in masks:
            raise DataError(f"{image}: no mask of that name in {masks_dir}")
        pairs.append((image, masks[key]))
    return pairs


def conform_mask(mask: np.ndarray, image_shape: tuple[int, ...], resize: tuple[int, int] | None,
                 name: str) -> np.ndarray:
    """A mask as an integer (h, w) array, checked against its image's size and resized like it."""
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise DataError(f"{name}: a mask has one label per pixel (height, width); got shape {array.shape}")
    if array.shape != tuple(image_shape[:2]):
        raise DataError(f"{name}: the mask is {array.shape[0]}x{array.shape[1]} but its image is "
                        f"{image_shape[0]}x{image_shape[1]}: masks must have their image's size")
    if not np.issubdtype(array.dtype, np.integer) and (not np.all(np.isfinite(array))
                                                         or np.any(np.mod(array, 1) != 0)):
        raise DataError(f"{name}: mask values must be whole class indices")
    labels = array.astype(np.int64)
    if resize is not None and labels.shape != resize:
        from PIL import Image

        labels = np.asarray(Image.fromarray(labels.astype(np.int32), mode="I").resize(
            (resize[1], resize[0]), Image.Resampling.NEAREST)).astype(np.int64)
    return labels


def _check_labels(masks: np.ndarray, names: list[str], classes: int, ignore_class: int | None) -> None:
    bad = (masks < 0) | (masks >= classes)
    if ignore_class is not None:
        bad &= masks != ignore_class
    if bad.any():
        index = int(np.flatnonzero(bad.reshape(len(masks), -1).any(axis=1))[0])
        values = sorted(set(masks[index][bad[index]].tolist()))[:5]
        ignored = f" nor the ignore_class {ignore_class}" if ignore_class is not None else ""
        raise DataError(f"{names[index]}: mask values {values} are neither classes 0..{classes - 1}{ignored} "
                        "(set classes, or ignore_class for a void label)")


def load_segmentation(generator: Any) -> SourceArrays:
    """Images and masks of ``generator``'s source (``task = "segmentation"``): an ``images``
    generator (its ``parameters``, ``dataset`` and ``conform_images``)."""
    p = generator.parameters
    parts: list[tuple[list[np.ndarray], list[np.ndarray], list[str]]] = []
    if p.source == "folder":
        root = Path(p.path)
        roots = [root]
        if p.test_path:
            roots.append(Path(p.test_path))
        elif (root / "train").is_dir() and (root / "test").is_dir():
            roots = [root / "train", root / "test"]
        for folder in roots:
            pairs = mask_pairs(folder)
            parts.append(([read_image(i) for i, _ in pairs], [read_mask(m) for _, m in pairs],
                          [str(m) for _, m in pairs]))
    elif p.source == "npz":
        parts = _npz_parts(generator)
    elif p.source == "tfds":
        from scinas.data.tfds_source import read_tfds

        train, held_out, _ = read_tfds(p.name, tfds_dir(p.data_dir), generator.dataset, label_key=p.mask_key)
        splits = [("train", train)] + ([("test", held_out)] if held_out is not None else [])
        for split, (split_images, split_masks) in splits:
            parts.append((list(split_images), list(split_masks),
                          [f"{p.name} {split}[{i}]" for i in range(len(split_images))]))
    else:
        raise DataError(f"{generator.dataset}: source {p.source!r} holds no segmentation masks")
    arrays: list[tuple[np.ndarray, np.ndarray, list[str]]] = []
    for images, masks, names in parts:
        if len(images) != len(masks):
            raise DataError(f"{generator.dataset}: {len(images)} images but {len(masks)} masks")
        labels = np.stack([conform_mask(m, np.shape(i), p.resize, n) for i, m, n in zip(images, masks, names,
                                                                                          strict=True)])
        arrays.append((generator.conform_images(images, names), labels, names))
    all_labels = np.concatenate([labels.ravel() for _, labels, _ in arrays])
    counted = all_labels[all_labels != p.ignore_class] if p.ignore_class is not None else all_labels
    classes = p.classes or (int(counted.max()) + 1 if counted.size else 0)
    if classes < 2:
        raise DataError(f"{generator.dataset}: the masks hold fewer than two classes; set classes")
    for _, labels, names in arrays:
        _check_labels(labels, names, classes, p.ignore_class)
    x, y, _ = arrays[0]
    test: Any = arrays[1] if len(arrays) > 1 else None
    return SourceArrays(x, y.astype(np.float32), "segmentation", test[0] if test else None,
                        test[1].astype(np.float32) if test else None, tuple(str(c) for c in range(classes)),
                        ignore_class=p.ignore_class)


def _npz_parts(generator: Any) -> list[tuple[list[np.ndarray], list[np.ndarray], list[str]]]:
    p = generator.parameters
    arrays = read_npz(Path(p.path), p.x_key, p.y_key)
    parts = [(list(arrays.x), list(arrays.y), [f"{p.path}[{i}]" for i in range(len(arrays.x))])]
    if p.test_path:
        test = read_npz(Path(p.test_path), p.x_key, p.y_key)
        parts.append((list(test.x), list(test.y), [f"{p.test_path}[{i}]" for i in range(len(test.x))]))
    elif f"{p.x_key}_test" in arrays.extra and f"{p.y_key}_test" in arrays.extra:
        x_test, y_test = arrays.extra[f"{p.x_key}_test"], arrays.extra[f"{p.y_key}_test"]
        if len(x_test) != len(y_test):
            raise DataError(f"{p.path}: {p.x_key}_test has {len(x_test)} samples but {p.y_key}_test has {len(y_test)}")
        parts.append((list(x_test), list(y_test), [f"{p.path}:{p.y_key}_test[{i}]" for i in range(len(x_test))]))
    return parts
