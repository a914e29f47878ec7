"""Diffraction images laid out as the seed's dataset (``generator = "xfel_images"``).

The seed's protein-diffraction data come as one folder per beam intensity::

    <path>/<intensity>/images/trainset/<class>/*.png|jpg|tif
    <path>/<intensity>/images/testset/<class>/...        (optional: else the splits carve a test set)
    <path>/<intensity>/angles.csv                        (optional orientation labels)

The test set, when present, stays the test split (the validation split comes from the training
set, as for every dataset read from files).  Images are read as they are stored (float TIFFs
keep their values; 8/16-bit images are divided by 255/65535 with ``rescale = "auto"``) and made
single-channel.  With ``labels = "orientation"`` the targets are the angles of each image,
read from a CSV file with a header naming the columns ``image`` (file name, its stem, or its
path under ``images/``, e.g. ``trainset/open/0001.png``), ``phi``, ``theta`` and ``psi`` (other
columns, such as ``conformation``, are ignored); every image needs a row.

Example ``data.toml``::

    [seed15]
    generator = "xfel_images"
    [seed15.parameters]
    path = "data/protein_dataset"
    intensity = "1e15"
    labels = "conformation"       # or "orientation" (needs angles)
    angles = "angles.csv"         # relative to <path>/<intensity>/, or absolute
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from scinas.config.reader import Table
from scinas.data.base import GENERATORS
from scinas.data.image_files import IMAGE_SUFFIXES, read_image
from scinas.data.images import conform_image, parse_resize
from scinas.data.loaded import LoadedDataset, SourceArrays, encode_labels, existing_path, file_signature
from scinas.errors import DataError

__all__ = ["ANGLE_COLUMNS", "XfelImagesGenerator", "XfelImagesParameters", "read_angles"]

ANGLE_COLUMNS = ("phi", "theta", "psi")
_NAME_COLUMNS = ("image", "file", "filename", "name", "path")


@dataclass(frozen=True)
class XfelImagesParameters:
    """Validated ``[d.parameters]``: the intensity folder, its angles file and how images are read."""

    folder: str
    labels: str = "conformation"
    angles: str = ""
    resize: tuple[int, int] | None = None
    rescale: str | float = "auto"

    @classmethod
    def parse(cls, table: Table) -> XfelImagesParameters:
        root = Path(existing_path(table, "path", directory=True))
        intensity = table.string("intensity")
        folder = root / intensity
        if not (folder / "images" / "trainset").is_dir():
            present = sorted(d.name for d in root.iterdir() if (d / "images").is_dir())
            raise table.error("intensity", f"no folder {folder / 'images' / 'trainset'}",
                              fix=f"intensities found under {root}: {', '.join(present)}" if present
                              else "expected <path>/<intensity>/images/trainset/<class>/ images")
        labels = table.string("labels", "conformation", choices=("conformation", "orientation"))
        angles = ""
        if table.has("angles"):
            given = Path(table.string("angles")).expanduser()
            candidate = given if given.is_absolute() else folder / given
            if not candidate.is_file():
                raise table.error("angles", f"no such file {candidate}",
                                  fix="give a CSV file relative to <path>/<intensity>/ or an absolute path")
            angles = str(candidate.resolve())
        elif labels == "orientation":
            raise table.error("labels", "orientation labels need an angles file", fix="add angles = \"angles.csv\"")
        resize = parse_resize(table)
        rescale: str | float
        if table.has("rescale") and not isinstance(table.raw["rescale"], str):
            rescale = table.number("rescale", minimum=0.0, exclusive_minimum=True)
        else:
            rescale = table.string("rescale", "auto", choices=("auto",))
        table.finish()
        return cls(str(folder.resolve()), labels, angles, resize, rescale)


def _class_files(split: Path) -> list[tuple[Path, str]]:
    """``(file, class)`` of every image under ``split/<class>/``, sorted by class then path."""
    classes = sorted(d for d in split.iterdir() if d.is_dir() and not d.name.startswith("."))
    return [(f, c.name) for c in classes
            for f in sorted(p for p in c.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)]


def read_angles(path: Path) -> dict[str, tuple[float, float, float]]:
    """``image name → (φ, θ, ψ)`` from a CSV file with a header; DataError naming file and line."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise DataError(f"{path}: empty (expected a header with image, phi, theta, psi)")
    header = [h.strip().lower() for h in rows[0]]
    name_column = next((header.index(c) for c in _NAME_COLUMNS if c in header), None)
    missing = [c for c in ANGLE_COLUMNS if c not in header]
    if name_column is None or missing:
        raise DataError(f"{path}, line 1: the header {rows[0]} lacks "
                        f"{', '.join(missing + ([] if name_column is not None else ['image']))}")
    columns = [header.index(c) for c in ANGLE_COLUMNS]
    angles: dict[str, tuple[float, float, float]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            values = tuple(float(row[c]) for c in columns)
        except (IndexError, ValueError):
            raise DataError(f"{path}, line {number}: expected numbers in the columns phi, theta, psi, "
                            f"got {row}") from None
        if not all(np.isfinite(values)):
            raise DataError(f"{path}, line {number}: angles must be finite numbers, got {row}")
        key = row[name_column].strip() if name_column < len(row) else ""
        if not key:
            raise DataError(f"{path}, line {number}: no image name")
        angles[key] = (values[0], values[1], values[2])
    return angles


def _angles_of(files: list[Path], images_root: Path, table: dict[str, tuple[float, float, float]],
               source: str) -> np.ndarray:
    """The angle rows of ``files``, matched by path under ``images/``, file name or stem."""
    counts: dict[str, int] = {}
    for f in files:
        for key in {f.name, f.stem}:
            counts[key] = counts.get(key, 0) + 1
    out = np.empty((len(files), 3), dtype=np.float32)
    for i, f in enumerate(files):
        relative = f.relative_to(images_root).as_posix()
        keys = [relative, relative.rsplit(".", 1)[0]] + [k for k in (f.name, f.stem) if counts[k] == 1]
        row = next((table[k] for k in keys if k in table), None)
        if row is None:
            raise DataError(f"{source}: no angles for image {relative} (rows are matched by the path under images/, "
                            "the file name or, when unique, its stem)")
        out[i] = row
    return out


@GENERATORS.register("xfel_images")
class XfelImagesGenerator(LoadedDataset):
    """Diffraction images in the seed's ``<intensity>/images/{trainset,testset}/<class>/`` layout."""

    name = "xfel_images"
    augmentable = True  # [d.augmentation] rotation and friedel respect the physics of a pattern
    description = "diffraction images in the seed's layout (<intensity>/images/{trainset,testset}/<class>/)"
    version = 1
    parameters: XfelImagesParameters

    @classmethod
    def parse_parameters(cls, table: Table) -> XfelImagesParameters:
        return XfelImagesParameters.parse(table)

    @classmethod
    def parameters_table(cls, parameters: Any) -> dict[str, Any]:
        """The intensity folder is written back as ``path`` (its parent) and ``intensity`` (its name)."""
        table = super().parameters_table(parameters)
        folder = Path(table.pop("folder"))
        return {"path": str(folder.parent), "intensity": folder.name, **table}

    @classmethod
    def example_table(cls, folder: Path) -> dict[str, Any]:
        """An intensity folder with the seed's layout (no images needed to read the table)."""
        (folder / "1e15" / "images" / "trainset" / "adk_open").mkdir(parents=True)
        return {"path": str(folder), "intensity": "1e15"}

    def _splits(self) -> list[list[tuple[Path, str]]]:
        images = Path(self.parameters.folder) / "images"
        parts = [_class_files(images / "trainset")]
        if (images / "testset").is_dir():
            parts.append(_class_files(images / "testset"))
        return parts

    def source_signature(self) -> Any:
        files = [f for part in self._splits() for f, _ in part]
        if self.parameters.angles:
            files.append(Path(self.parameters.angles))
        return file_signature(files)

    def _read(self, files: list[tuple[Path, str]]) -> np.ndarray:
        p = self.parameters
        images = []
        for path, _ in tqdm(files, desc=f"reading {self.dataset}", unit="image", disable=not sys.stderr.isatty(),
                            leave=False):
            try:
                images.append(conform_image(read_image(path), 1, p.resize, p.rescale))
            except DataError as exc:
                raise DataError(f"{self.dataset}: {path}: {exc}") from None
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            raise DataError(f"{self.dataset}: images differ in shape ({', '.join(map(str, sorted(shapes)))}); "
                            "set resize = [height, width]")
        return np.stack(images).astype(np.float32)

    def load(self) -> SourceArrays:
        p = self.parameters
        parts = self._splits()
        if not parts[0]:
            raise DataError(f"{self.dataset}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in class sub-folders "
                            f"of {Path(p.folder) / 'images' / 'trainset'}")
        xs = [self._read(part) for part in parts if part]
        if p.labels == "orientation":
            table = read_angles(Path(p.angles))
            root = Path(p.folder) / "images"
            ys = [_angles_of([f for f, _ in part], root, table, p.angles) for part in parts if part]
            return SourceArrays(xs[0], ys[0], "regression", xs[1] if len(xs) > 1 else None,
                                ys[1] if len(ys) > 1 else None, ANGLE_COLUMNS)
        labels = [[label for _, label in part] for part in parts if part]
        names, encoded = encode_labels(*labels)
        return SourceArrays(xs[0], encoded[0], "classification", xs[1] if len(xs) > 1 else None,
                            encoded[1] if len(encoded) > 1 else None, names)
