"""Array sources shared by the image readers: ``.npz`` files (read with ``allow_pickle=False``) and
the TFDS data dir."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scinas.errors import DataError

__all__ = ["NpzArrays", "read_npz", "tfds_dir"]


@dataclass(frozen=True, eq=False)
class NpzArrays:
    x: np.ndarray
    y: np.ndarray
    extra: dict[str, np.ndarray]


def read_npz(path: Path, x_key: str, y_key: str) -> NpzArrays:
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    for key in (x_key, y_key):
        if key not in contents:
            raise DataError(f"{path}: no array {key!r}; it holds {sorted(contents)} "
                            "(set x_key / y_key to the names used)")
    x, y = contents[x_key], contents[y_key]
    if len(x) != len(y):
        raise DataError(f"{path}: {x_key} has {len(x)} samples but {y_key} has {len(y)}")
    if x.ndim not in (3, 4):
        raise DataError(f"{path}: {x_key} has shape {x.shape}; images are (n, height, width[, channels])")
    return NpzArrays(x, y, contents)


def tfds_dir(data_dir: str) -> str:
    """The TFDS data dir: ``data_dir``, else $TFDS_DATA_DIR, else TFDS' default folder."""
    if data_dir:
        return str(Path(data_dir).expanduser())
    return os.environ.get("TFDS_DATA_DIR", str(Path("~/tensorflow_datasets").expanduser()))
