"""The data ``scinas predict`` reads: a dataset name of ``data.toml`` (its test split) or a file.

Files: ``.npz`` (``x`` and optional ``y``), ``.npy`` (inputs only) or ``.csv`` (numeric columns;
``target_column`` names the labels).  Inputs are returned raw, as stored: saved scinas models
normalise inside.

Example::

    data = read_data_file(Path("new_spectra.csv"), target_column="km")
    data.x.shape, data.y is None
"""

from __future__ import annotations

import csv
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scinas.errors import ConfigError

__all__ = ["DATA_SUFFIXES", "PredictionData", "read_data_file", "read_dataset"]

logger = logging.getLogger(__name__)

DATA_SUFFIXES = (".npz", ".npy", ".csv")
"""File formats ``scinas predict`` reads (anything else is taken as a dataset name)."""


@dataclass(frozen=True)
class PredictionData:
    """Inputs (raw, as stored), optional labels, and where they came from."""

    x: np.ndarray
    y: np.ndarray | None
    name: str
    source: str
    task: str | None = None
    split: str | None = None
    names: tuple[str, ...] = ()
    """Class names (classification) or target names (regression), when known."""
    ignore_class: int | None = None
    """Segmentation: the label left out of the scores."""


def read_dataset(name: str, *, config_dir: Path, cache_dir: Path) -> PredictionData:
    """The test split of dataset ``name`` of ``config_dir/data.toml`` (built into the cache if needed)."""
    from scinas.config.loading import load_config
    from scinas.config.reader import suggest
    from scinas.data.augmentation import AugmentationConfig
    from scinas.data.cache import ensure_cache
    from scinas.data.diffraction_augmentation import mask_outside_support
    from scinas.data.spec import build_generator

    raw = load_config(Path(config_dir))
    if name not in raw.datasets:
        raise ConfigError(f"unknown dataset {name!r} (and no such .npz/.npy/.csv file)", file=raw.data_file,
                          fix=suggest(name, raw.datasets))
    generator = build_generator(raw, name)
    info = generator.info()
    sizes = info.split_sizes
    if sizes.get("test", 0) == 0:
        raise ConfigError(f"dataset {name!r} has an empty test split", file=raw.data_file, path=f"{name}.shape.splits",
                          fix="give the test split a fraction > 0, or predict on a .npz file")
    cache = ensure_cache(generator, Path(cache_dir), progress=False)
    generator.release()
    start = sizes["train"] + sizes["validation"]
    x, y = cache.read_range(start, start + sizes["test"])
    augmentation = generator.augmentation
    if isinstance(augmentation, AugmentationConfig) and augmentation.diffraction.rotation:
        x = mask_outside_support(x)  # what the model was trained on: the detector's inscribed circle
    return PredictionData(x, y, name, f"dataset {name!r} (test split)", info.task, "test", info.target_names,
                          info.ignore_class)


def _load_array_file(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False), None
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "x" not in keys:
                raise ConfigError(f"{path} holds no array named 'x' (found: {', '.join(keys) or 'nothing'})",
                                  fix="save the inputs as x (and labels as y): np.savez(path, x=x, y=y)")
            return archive["x"], (archive["y"] if "y" in keys else None)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path} is not a readable NumPy file: {exc}",
                          fix="write it with np.save / np.savez (no pickled objects)") from exc


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _read_csv(path: Path, target_column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Numeric columns of a CSV file; a first row that is not numeric is the header."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path} is not a readable CSV file: {exc}") from exc
    if not rows:
        raise ConfigError(f"{path} is empty", fix="give a CSV file with one sample per row")
    has_header = any(_number(cell) is None for cell in rows[0])
    header = [cell.strip() for cell in rows[0]] if has_header else [str(i) for i in range(len(rows[0]))]
    body = rows[1:] if has_header else rows
    for line, row in enumerate(body, start=2 if has_header else 1):
        if len(row) != len(header):
            raise ConfigError(f"{path} line {line} has {len(row)} fields, expected {len(header)}")
    target = None
    if target_column is not None:
        if target_column not in header:
            from scinas.config.reader import suggest

            raise ConfigError(f"{path} has no column {target_column!r}", path="--target-column",
                              fix=suggest(target_column, header))
        target = header.index(target_column)
    columns: list[np.ndarray] = []
    labels = None
    for j, name in enumerate(header):
        values = [_number(row[j]) for row in body]
        bad = [i for i, v in enumerate(values) if v is None]
        if len(bad) == len(values) and j != target:
            logger.warning("%s: column %r is not numeric and is ignored", path, name)
            continue
        if bad:
            line = bad[0] + (2 if has_header else 1)
            raise ConfigError(f"{path} line {line}, column {name!r}: {body[bad[0]][j]!r} is not a number",
                              fix="fill or remove non-numeric cells (a column of text is ignored)")
        column = np.asarray(values, dtype=np.float64)
        if j == target:
            labels = column
        else:
            columns.append(column)
    if not columns:
        raise ConfigError(f"{path} has no numeric input column")
    return np.stack(columns, axis=1), labels


def read_data_file(path: Path, *, target_column: str | None = None) -> PredictionData:
    """Inputs (and labels) from a ``.npz`` (``x``, ``y``), ``.npy`` or ``.csv`` file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise ConfigError(f"data file {str(path)!r} has an unsupported format {suffix or '(no suffix)'}",
                          fix="give a .npz (x, y), .npy or .csv file, or a dataset name of data.toml")
    if not path.is_file():
        raise ConfigError(f"data file {str(path)!r} does not exist", fix="check the path given to --data")
    if target_column is not None and suffix != ".csv":
        raise ConfigError("--target-column applies to .csv files only", path="--target-column",
                          fix="store labels as y in a .npz file")
    x, y = _read_csv(path, target_column) if suffix == ".csv" else _load_array_file(path)
    for part, values in (("inputs", x), ("labels", y)):
        if values is not None and not np.issubdtype(values.dtype, np.number) and values.dtype != np.bool_:
            raise ConfigError(f"{path}: the {part} are of type {values.dtype}, expected numbers",
                              fix="store class labels as integer indices 0..k-1")
    if y is not None and len(y) != len(x):
        raise ConfigError(f"{path}: {len(x)} input samples but {len(y)} labels")
    if not np.isfinite(np.asarray(x, dtype=np.float64)).all():
        raise ConfigError(f"{path}: the inputs hold NaN or infinite values", fix="fill or drop them first")
    return PredictionData(np.asarray(x, np.float32), None if y is None else np.asarray(y), path.stem,
                          str(path))
