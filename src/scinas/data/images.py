"""Image datasets (``generator = "images"``): class folders, ``.npz`` arrays, scikit-learn's
bundled digits, or a TensorFlow Datasets dataset already prepared on this machine.

Examples ``data.toml``::

    [digits]
    generator = "images"
    [digits.parameters]
    source = "digits"                 # 1 797 8x8 images, 10 classes, bundled with scikit-learn

    [cells]
    generator = "images"
    [cells.parameters]
    source = "folder"
    path = "data/cells"               # one sub-folder per class (or train/ and test/ each holding them)
    channels = 1                      # 1 (grayscale) | 3 (RGB) | 0: as the files are (all alike)
    resize = [64, 64]                 # optional; otherwise all images must have one size
    rescale = "auto"                  # integer images / their type's maximum; or a number, or 1
    [cells.augmentation]              # training split only
    flip = "horizontal"
    crop_padding = 4
    cutout = 8

    [arrays]
    generator = "images"
    [arrays.parameters]
    source = "npz"
    path = "data/images.npz"          # x (n, h, w[, c]) and y; optional x_test / y_test
    task = "auto"                     # classification when y holds integers or strings, else regression

    [mnist]
    generator = "images"
    [mnist.parameters]
    source = "tfds"
    name = "mnist"                    # must already be prepared: scinas never downloads
    data_dir = "~/tensorflow_datasets"   # default: $TFDS_DATA_DIR or TFDS' default folder

Relative paths are relative to the folder scinas is started from.  Images are float32
``(height, width, channels)``; 32- and 16-bit TIFF files keep their values (read with
tifffile), 8/16-bit integer images are divided by 255/65535 with ``rescale = "auto"``.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from scinas.config.reader import Table
from scinas.data.array_sources import read_npz, tfds_dir
from scinas.data.base import GENERATORS
from scinas.data.image_files import IMAGE_SUFFIXES, read_image
from scinas.data.loaded import LoadedDataset, SourceArrays, encode_labels, existing_path, file_signature
from scinas.errors import ConfigError, DataError

__all__ = ["SOURCES", "ImageParameters", "ImagesGenerator", "conform_image", "parse_resize"]

logger = logging.getLogger(__name__)

SOURCES = ("folder", "npz", "digits", "tfds")
TASKS = ("auto", "classification", "regression", "segmentation")


@dataclass(frozen=True)
class ImageParameters:
    """Validated ``[d.parameters]`` of an image dataset."""

    source: str
    path: str = ""
    test_path: str = ""
    name: str = ""
    data_dir: str = ""
    channels: int = 0
    resize: tuple[int, int] | None = None
    rescale: str | float = "auto"
    task: str = "auto"
    x_key: str = "x"
    y_key: str = "y"
    classes: int = 0
    ignore_class: int | None = None
    mask_key: str = ""

    @classmethod
    def parse(cls, table: Table) -> ImageParameters:
        source = table.string("source", choices=SOURCES)
        path = test_path = name = data_dir = ""
        if source in ("folder", "npz"):
            path = existing_path(table, "path", directory=source == "folder")
            if table.has("test_path"):
                test_path = existing_path(table, "test_path", directory=source == "folder")
        if source == "tfds":
            from scinas.data.tfds_source import require_tfds

            try:
                require_tfds()
            except ConfigError as exc:
                raise table.error("source", f"{exc.problem} (the tfds extra)", fix=exc.fix) from None
            name = table.string("name")
            if _namespaced(name):  # community and Hugging Face datasets are looked up online
                raise table.error("name", "a namespaced TFDS dataset (namespace:name) would be looked up on the "
                                  "network, which scinas never does",
                                  fix='give a dataset prepared in data_dir: "name", "name/config" or "name:1.0.0"')
            data_dir = table.string("data_dir", "")
        channels = table.integer("channels", 0, minimum=0)
        if channels not in (0, 1, 3):
            raise table.error("channels", "expected 1 (grayscale), 3 (RGB) or 0 (as stored, all images alike)")
        resize = parse_resize(table)
        rescale: str | float = "auto"
        if table.has("rescale") and not isinstance(table.raw["rescale"], str):
            rescale = table.number("rescale", minimum=0.0, exclusive_minimum=True)
        else:
            rescale = table.string("rescale", "auto", choices=("auto",))
        task = table.string("task", "auto", choices=TASKS)
        x_key = table.string("x_key", "x")
        y_key = table.string("y_key", "y")
        classes, ignore_class, mask_key = 0, None, ""
        if task == "segmentation":
            if source == "digits":
                raise table.error("task", "scikit-learn's digits have no masks",
                                  fix="segment a folder, npz or tfds source")
            classes = table.integer("classes", 0, minimum=0)
            if classes == 1:
                raise table.error("classes", "segmentation needs at least two classes", fix="give classes >= 2, or "
                                  "leave it out to count the labels found in the masks")
            ignore_class = table.optional_integer("ignore_class")
            if ignore_class is not None and 0 <= ignore_class < classes:
                raise table.error("ignore_class", f"the ignored label is one of the {classes} classes",
                                  fix="use a label outside 0..classes-1, e.g. 255")
            mask_key = table.string("mask_key", "segmentation_mask") if source == "tfds" else ""
        else:
            for key in ("classes", "ignore_class", "mask_key"):
                if table.has(key):
                    raise table.error(key, "applies to segmentation masks only", fix='add task = "segmentation", '
                                      "or remove the key")
        table.finish()
        return cls(source, path, test_path, name, data_dir, channels, resize, rescale, task, x_key, y_key, classes,
                   ignore_class, mask_key)


@GENERATORS.register("images")
class ImagesGenerator(LoadedDataset):
    """Images from class folders, ``.npz`` arrays, scikit-learn's digits or a prepared TFDS dataset."""

    name = "images"
    description = "images: class folders, .npz arrays, scikit-learn digits or a prepared TFDS dataset"
    version = 2  # 2: RGB to gray by luminance; alpha of gray images, CMYK and TIFF planes read properly
    augmentable = True
    parameters: ImageParameters

    @classmethod
    def parse_parameters(cls, table: Table) -> ImageParameters:
        return ImageParameters.parse(table)

    @classmethod
    def parameters_table(cls, parameters: Any) -> dict[str, Any]:
        """The default table without the segmentation keys where they do not apply."""
        table = super().parameters_table(parameters)
        if parameters.task != "segmentation":
            table.pop("classes", None)
        elif not parameters.classes:
            table.pop("classes")
        return table

    @classmethod
    def example_table(cls, folder: Path) -> dict[str, Any]:
        """scikit-learn's digits (nothing to write)."""
        return {"source": "digits"}

    def source_signature(self) -> Any:
        p = self.parameters
        if p.source == "folder":
            return file_signature(_image_files(Path(p.path)) + (_image_files(Path(p.test_path)) if p.test_path else []))
        if p.source == "npz":
            return file_signature([Path(p.path)] + ([Path(p.test_path)] if p.test_path else []))
        if p.source == "digits":
            import sklearn

            return ["sklearn digits", sklearn.__version__]
        return ["tfds", p.name, tfds_dir(p.data_dir)]

    def load(self) -> SourceArrays:
        p = self.parameters
        if p.task == "segmentation":
            from scinas.data.segmentation_files import load_segmentation

            return load_segmentation(self)
        if p.source == "folder":
            return self._folder()
        if p.source == "npz":
            return self._npz()
        if p.source == "digits":
            return self._digits()
        return self._tfds()

    # -- sources -------------------------------------------------------------------------------
    def conform_images(self, images: list[np.ndarray], names: list[str]) -> np.ndarray:
        """Images stacked as float32 (n, h, w, c), channels, size and scale made uniform."""
        return self._finish(images, names)

    def _finish(self, images: list[np.ndarray], names: list[str]) -> np.ndarray:
        """Stack images as float32 (n, h, w, c), with channels, size and scale made uniform."""
        p = self.parameters
        prepared = []
        for image, name in zip(images, names, strict=True):
            try:
                prepared.append(conform_image(image, p.channels, p.resize, p.rescale))
            except DataError as exc:
                raise DataError(f"{self.dataset}: {name}: {exc}") from None
        shapes = {image.shape for image in prepared}
        if len(shapes) > 1:
            by_shape: dict[tuple[int, ...], str] = {}
            for image, name in zip(prepared, names, strict=True):
                by_shape.setdefault(image.shape, name)
            (a, first), (b, second) = list(by_shape.items())[:2]
            raise DataError(f"{self.dataset}: images differ in shape: {first} is {a}, {second} is {b}; "
                            "set resize = [height, width] (and channels) to make them alike")
        return np.stack(prepared).astype(np.float32)

    def _folder(self) -> SourceArrays:
        p = self.parameters
        root = Path(p.path)
        train_root, test_root = root, Path(p.test_path) if p.test_path else None
        if test_root is None and (root / "train").is_dir() and (root / "test").is_dir():
            train_root, test_root = root / "train", root / "test"
        x, labels = self._read_classes(train_root)
        names, encoded = encode_labels(labels)
        if test_root is None:
            return SourceArrays(x, encoded[0], "classification", target_names=names)
        x_test, test_labels = self._read_classes(test_root)
        names, encoded = encode_labels(labels, test_labels)
        return SourceArrays(x, encoded[0], "classification", x_test, encoded[1], names)

    def _read_classes(self, root: Path) -> tuple[np.ndarray, list[str]]:
        classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        files = [(f, c.name) for c in classes for f in _image_files(c)]
        if not files:
            raise DataError(f"{self.dataset}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in class sub-folders "
                            f"of {root}")
        with_images = sorted({label for _, label in files})
        if len(with_images) < 2:
            raise DataError(f"{self.dataset}: {root} holds images of one class only ({with_images[0]!r}); "
                            "classification needs one sub-folder per class, at least two")
        images = []
        for path, _ in tqdm(files, desc=f"reading {self.dataset}", unit="image", disable=not sys.stderr.isatty(),
                            leave=False):
            images.append(read_image(path))
        return self._finish(images, [str(f) for f, _ in files]), [label for _, label in files]

    def _npz(self) -> SourceArrays:
        p = self.parameters
        arrays = read_npz(Path(p.path), p.x_key, p.y_key)
        test: tuple[np.ndarray, np.ndarray] | None = None
        if p.test_path:
            separate = read_npz(Path(p.test_path), p.x_key, p.y_key)
            test = (separate.x, separate.y)
        elif f"{p.x_key}_test" in arrays.extra and f"{p.y_key}_test" in arrays.extra:
            test = (arrays.extra[f"{p.x_key}_test"], arrays.extra[f"{p.y_key}_test"])
        x = self._finish(list(arrays.x), [f"{p.path}[{i}]" for i in range(len(arrays.x))])
        x_test = self._finish(list(test[0]), [f"test[{i}]" for i in range(len(test[0]))]) if test else None
        y, y_test = arrays.y, test[1] if test else None
        task = p.task
        if task == "auto":
            task = "classification" if _categorical(y) else "regression"
        if task == "classification":
            names, encoded = encode_labels(y, *([y_test] if y_test is not None else []))
            return SourceArrays(x, encoded[0], "classification", x_test, encoded[1] if y_test is not None else None,
                                names)
        if not all(np.issubdtype(a.dtype, np.number) for a in (y, *([y_test] if y_test is not None else []))):
            raise DataError(f"{p.path}: task = \"regression\" needs numeric targets, got {p.y_key} of type {y.dtype}")
        return SourceArrays(x, y.astype(np.float32), "regression", x_test,
                            y_test.astype(np.float32) if y_test is not None else None)

    def _digits(self) -> SourceArrays:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = [image[:, :, None] for image in digits.images]  # values 0..16
        p = self.parameters
        scale = 1.0 / 16.0 if p.rescale == "auto" else float(p.rescale)
        x = np.stack([conform_image(image, p.channels, p.resize, 1.0) for image in images]).astype(np.float32) * scale
        names, encoded = encode_labels(digits.target)
        return SourceArrays(x.astype(np.float32), encoded[0], "classification", target_names=names)

    def _tfds(self) -> SourceArrays:
        from scinas.data.tfds_source import read_tfds

        p = self.parameters
        train, test, class_names = read_tfds(p.name, tfds_dir(p.data_dir), self.dataset)
        x = self._finish(list(train[0]), [f"{p.name}[{i}]" for i in range(len(train[0]))])
        x_test = self._finish(list(test[0]), [f"{p.name} test[{i}]" for i in range(len(test[0]))]) if test else None
        names, encoded = encode_labels(train[1], *([test[1]] if test else []))
        if class_names:
            names = tuple(class_names[int(n)] if n.isdigit() and int(n) < len(class_names) else n for n in names)
        return SourceArrays(x, encoded[0], "classification", x_test, encoded[1] if test else None, names)


def _namespaced(name: str) -> bool:
    """Whether a TFDS name ``[namespace:]name[/config][:version]`` has a namespace."""
    parts = name.split(":")
    return len(parts) > 2 or (len(parts) == 2 and re.fullmatch(r"[\d*]+(\.[\d*]+){0,2}", parts[1]) is None)


def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)


def _categorical(values: np.ndarray) -> bool:
    """Labels rather than values: integers, whole floats, strings or booleans (one per sample)."""
    if values.ndim != 1:
        return False
    if np.issubdtype(values.dtype, np.floating):
        return bool(np.all(np.mod(values, 1) == 0))
    return not np.issubdtype(values.dtype, np.complexfloating)


def parse_resize(table: Table) -> tuple[int, int] | None:
    """The optional ``resize = [height, width]`` key of an image dataset's parameters."""
    if not table.has("resize"):
        return None
    sizes = table.number_list("resize", length=2, minimum=1)
    if any(int(v) != v for v in sizes):
        raise table.error("resize", "expected two whole numbers [height, width]")
    return int(sizes[0]), int(sizes[1])


def conform_image(image: np.ndarray, channels: int, resize: tuple[int, int] | None, rescale: str | float) -> np.ndarray:
    """One image as float32 (h, w, c) with the wanted channels, size and scale."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise DataError(f"an image of shape {array.shape} is neither (h, w) nor (h, w, c)")
    if rescale == "auto":
        scale = 1.0 / np.iinfo(array.dtype).max if np.issubdtype(array.dtype, np.integer) else 1.0
    else:
        scale = float(rescale)
    data = array.astype(np.float32) * np.float32(scale)
    if channels and data.shape[2] != channels:
        data = _convert_channels(data, channels)
    if resize is not None and data.shape[:2] != resize:
        from PIL import Image

        planes = [np.asarray(Image.fromarray(data[:, :, c], mode="F").resize((resize[1], resize[0]),
                                                                                Image.Resampling.BILINEAR))
                  for c in range(data.shape[2])]
        data = np.stack(planes, axis=2)
    return data.astype(np.float32)


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""RGB to gray weights (ITU-R BT.601, what Pillow's ``convert("L")`` uses)."""


def _convert_channels(data: np.ndarray, channels: int) -> np.ndarray:
    """``(h, w, c)`` to 1 channel (luminance of RGB, else the mean) or 3 (gray repeated, or the first 3)."""
    have = data.shape[2]
    if channels == 1:
        gray: np.ndarray = data[:, :, :3] @ _LUMA[:, None] if have >= 3 else data.mean(axis=2, keepdims=True)
        return gray
    if have == 1:
        return np.repeat(data, channels, axis=2)
    if have > channels:
        return data[:, :, :channels]
    raise DataError(f"an image with {have} channels cannot be made RGB; set channels = 0 to keep them as stored")
