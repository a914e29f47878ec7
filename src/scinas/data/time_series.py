"""Time-series datasets (``generator = "time_series"``): UCR/UEA ``.ts`` files, the ``.ts``
datasets bundled with aeon, UCR ``.tsv`` files and ``.npz`` arrays.

Examples ``data.toml``::

    [gunpoint]
    generator = "time_series"
    [gunpoint.parameters]
    source = "aeon"                 # a dataset bundled inside aeon (no download), by name
    name = "GunPoint"               # GunPoint, ItalyPowerDemand, BasicMotions, JapaneseVowels, ...
    z_normalize = true              # each series and channel to mean 0, deviation 1

    [mine]
    generator = "time_series"
    [mine.parameters]
    source = "ts"                   # or "tsv" (UCR: label, then the values, tab-separated) or "npz"
    path = "data/Mine_TRAIN.ts"
    test_path = "data/Mine_TEST.ts" # optional: the test split (else carved by [mine.shape] splits)
    length = 0                      # 0: the longest series; shorter ones are padded, longer truncated
    pad = "zero"                    # zero | edge (repeat the last value)
    task = "auto"                   # classification unless the file's header says @targetLabel true
    missing = "error"               # or "interpolate": fill missing values (NaN, "?") linearly

Series come out as float32 ``(length, channels)`` for 1D models; class labels are mapped to
``0..k-1`` in sorted order (kept as ``DatasetInfo.target_names``).  Reading ``.ts`` files needs
aeon (``pip install 'scinas[timeseries]'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scinas.config.reader import Table, suggest
from scinas.data.base import GENERATORS
from scinas.data.loaded import LoadedDataset, SourceArrays, encode_labels, existing_path, file_signature
from scinas.errors import ConfigError, DataError

__all__ = ["SOURCES", "TimeSeriesGenerator", "TimeSeriesParameters", "aeon_datasets", "clean_series", "fit_length"]

SOURCES = ("aeon", "ts", "tsv", "npz")
PADS = ("zero", "edge")
MISSING = ("error", "interpolate")
TASKS = ("auto", "classification", "regression")
_INSTALL = "pip install 'scinas[timeseries]' (or make install EXTRAS=timeseries)"


def _aeon_data_root() -> Path:
    try:
        import aeon.datasets
    except ImportError:
        raise ConfigError("reading .ts files needs aeon", fix=_INSTALL) from None
    return Path(aeon.datasets.__file__).parent / "data"


def aeon_datasets() -> list[str]:
    """Names of the ``.ts`` datasets bundled inside aeon (with train and test files)."""
    root = _aeon_data_root()
    return sorted(d.name for d in root.iterdir() if (d / f"{d.name}_TRAIN.ts").exists())


@dataclass(frozen=True)
class TimeSeriesParameters:
    """Validated ``[d.parameters]`` of a time-series dataset."""

    source: str
    path: str = ""
    test_path: str = ""
    name: str = ""
    length: int = 0
    pad: str = "zero"
    z_normalize: bool = False
    task: str = "auto"
    x_key: str = "x"
    y_key: str = "y"
    missing: str = "error"

    @classmethod
    def parse(cls, table: Table) -> TimeSeriesParameters:
        source = table.string("source", choices=SOURCES)
        if source in ("aeon", "ts"):
            try:
                _aeon_data_root()
            except ConfigError as exc:
                raise table.error("source", f"{exc.problem} (the timeseries extra)", fix=exc.fix) from None
        path = test_path = name = ""
        if source == "aeon":
            name = table.string("name")
            known = aeon_datasets()
            if name not in known:
                raise table.error("name", f"aeon bundles no .ts dataset of that name; it has: {', '.join(known)}",
                                  fix=suggest(name, known))
            folder = _aeon_data_root() / name
            path, test_path = str(folder / f"{name}_TRAIN.ts"), str(folder / f"{name}_TEST.ts")
        else:
            path = existing_path(table, "path")
            test_path = existing_path(table, "test_path") if table.has("test_path") else ""
        parameters = cls(source, path, test_path, name,
                         length=table.integer("length", 0, minimum=0),
                         pad=table.string("pad", "zero", choices=PADS),
                         z_normalize=table.boolean("z_normalize", False),
                         task=table.string("task", "auto", choices=TASKS),
                         x_key=table.string("x_key", "x"), y_key=table.string("y_key", "y"),
                         missing=table.string("missing", "error", choices=MISSING))
        table.finish()
        return parameters


# -- readers: each returns a list of (channels, length) arrays, the labels and whether they are targets --
Series = list[np.ndarray]


def _read_ts(path: Path) -> tuple[Series, np.ndarray, bool]:
    _aeon_data_root()
    from aeon.datasets import load_from_ts_file

    try:
        x, y, meta = load_from_ts_file(str(path), return_meta_data=True)
    except (OSError, ValueError, IndexError, TypeError) as exc:
        raise DataError(f"{path}: not a readable .ts file: {exc}") from None
    series = [np.asarray(s, dtype=np.float64) for s in x]
    channels = {s.shape[0] for s in series}
    if len(channels) > 1:
        counts = [s.shape[0] for s in series]
        first = counts.index(min(channels))
        other = counts.index(max(channels))
        raise DataError(f"{path}: series have different numbers of dimensions (series {first} has {counts[first]}, "
                        f"series {other} has {counts[other]})")
    return series, np.asarray(y), bool(meta.get("targetlabel", False))


def _read_tsv(path: Path) -> tuple[Series, np.ndarray, bool]:
    try:
        table = np.genfromtxt(path, delimiter="\t", dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: not a UCR .tsv file (label, then tab-separated values): {exc}") from None
    if table.ndim != 2 or table.shape[1] < 2:
        raise DataError(f"{path}: expected rows of a label and at least one value, got shape {table.shape}")
    if np.isnan(table[:, 0]).any():
        row = int(np.flatnonzero(np.isnan(table[:, 0]))[0])
        raise DataError(f"{path}: row {row + 1} has no label (the first column)")
    return [values[None, :] for values in table[:, 1:]], table[:, 0], False


def _read_npz(path: Path, x_key: str, y_key: str) -> tuple[Series, np.ndarray, bool]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if x_key not in data.files or y_key not in data.files:
                raise DataError(f"{path}: needs arrays {x_key!r} and {y_key!r}; it holds {sorted(data.files)}")
            x, y = np.asarray(data[x_key], dtype=np.float64), np.asarray(data[y_key])
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or len(x) != len(y):
        raise DataError(f"{path}: {x_key} must be (n, length) or (n, length, channels) with one {y_key} per "
                        f"series; got {x.shape} and {y.shape}")
    return [s.T for s in x], y, False


def fit_length(series: Series, length: int, pad: str) -> np.ndarray:
    """Series ``(channels, length_i)`` → array ``(n, length, channels)``, padded or truncated."""
    target = length or max(s.shape[1] for s in series)
    out = np.zeros((len(series), target, series[0].shape[0]), dtype=np.float64)
    for i, s in enumerate(series):
        values = s[:, :target].T
        out[i, : len(values)] = values
        if pad == "edge" and len(values) < target:
            out[i, len(values):] = values[-1]
    return out


def clean_series(series: Series, missing: str, origin: str) -> Series:
    """Series without their trailing NaN padding (UCR's way of storing unequal lengths), with
    other missing values (NaN, ``?`` in ``.ts``) an error or, with ``missing = "interpolate"``,
    filled linearly per channel (the nearest value before the first or after the last)."""
    cleaned = []
    for row, stored in enumerate(series):
        present = ~np.isnan(stored).all(axis=0)
        if not present.any():
            raise DataError(f"{origin}: series {row + 1} holds no values")
        values = stored[:, : int(np.flatnonzero(present)[-1]) + 1]
        if np.isinf(values).any():
            raise DataError(f"{origin}: series {row + 1} holds infinite values")
        gaps = np.isnan(values)
        if gaps.any():
            if missing == "error":
                channel, time = (int(v) for v in np.argwhere(gaps)[0])
                raise DataError(f"{origin}: series {row + 1} has missing values (first: channel {channel + 1}, "
                                f'time {time + 1}); set missing = "interpolate" in [d.parameters] to fill them')
            values = np.array(values)
            steps = np.arange(values.shape[1])
            for channel in range(values.shape[0]):
                known = ~gaps[channel]
                if not known.any():
                    raise DataError(f"{origin}: channel {channel + 1} of series {row + 1} holds no values")
                values[channel, ~known] = np.interp(steps[~known], steps[known], values[channel, known])
        cleaned.append(values)
    return cleaned


def _z_normalize(series: Series) -> Series:
    """Each series and channel to mean 0, deviation 1 over its own values (before any padding)."""
    normalized = []
    for values in series:
        mean = values.mean(axis=1, keepdims=True)
        std = values.std(axis=1, keepdims=True)
        normalized.append((values - mean) / np.where(std > 1e-8, std, 1.0))
    return normalized


@GENERATORS.register("time_series")
class TimeSeriesGenerator(LoadedDataset):
    """UCR/UEA ``.ts`` files (or aeon's bundled ones), UCR ``.tsv`` files and ``.npz`` arrays."""

    name = "time_series"
    version = 2  # 2: z-normalised over the series' own values (not its padding); missing values checked
    description = "time series: UCR/UEA .ts files (aeon's bundled ones by name), .tsv or .npz"
    parameters: TimeSeriesParameters

    @classmethod
    def parse_parameters(cls, table: Table) -> TimeSeriesParameters:
        return TimeSeriesParameters.parse(table)

    @classmethod
    def example_table(cls, folder: Path) -> dict[str, Any]:
        """Four series of eight steps in an ``.npz`` file written into ``folder``."""
        path = folder / "series.npz"
        np.savez(path, x=np.zeros((4, 8, 1), np.float32), y=np.array([0, 1, 0, 1]))
        return {"source": "npz", "path": str(path)}

    @classmethod
    def parameters_table(cls, parameters: Any) -> dict[str, Any]:
        """An aeon dataset is written by its name (its files' paths are derived from it)."""
        table = super().parameters_table(parameters)
        if parameters.source == "aeon":
            table.pop("path", None)
            table.pop("test_path", None)
        return table

    def source_signature(self) -> Any:
        p = self.parameters
        return file_signature([Path(p.path)] + ([Path(p.test_path)] if p.test_path else []))

    def _read(self, path: str) -> tuple[Series, np.ndarray, bool]:
        p = self.parameters
        if p.source in ("aeon", "ts"):
            return _read_ts(Path(path))
        if p.source == "tsv":
            return _read_tsv(Path(path))
        return _read_npz(Path(path), p.x_key, p.y_key)

    def load(self) -> SourceArrays:
        p = self.parameters
        series, labels, regression = self._read(p.path)
        test = self._read(p.test_path) if p.test_path else None
        for origin, part in ((p.path, series), (p.test_path, test[0] if test else [None])):
            if not part:
                raise DataError(f"{origin}: holds no series")
        if test is not None and test[0][0].shape[0] != series[0].shape[0]:
            raise DataError(f"{p.test_path}: series have {test[0][0].shape[0]} dimensions, but those of "
                            f"{p.path} have {series[0].shape[0]}")
        parts = [clean_series(series, p.missing, p.path)]
        if test is not None:
            parts.append(clean_series(test[0], p.missing, p.test_path))
        length = p.length or max(s.shape[1] for part in parts for s in part)
        parts = [[s[:, :length] for s in part] for part in parts]  # truncate, then normalise what is kept
        if p.z_normalize:
            parts = [_z_normalize(part) for part in parts]
        arrays = [fit_length(part, length, p.pad).astype(np.float32) for part in parts]
        x, x_test = arrays[0], arrays[1] if test else None
        task = p.task if p.task != "auto" else ("regression" if regression else "classification")
        if task == "classification":
            names, encoded = encode_labels(labels, *([test[1]] if test else []))
            return SourceArrays(x, encoded[0], "classification", x_test, encoded[1] if test else None, names)
        try:
            y = labels.astype(np.float32)[:, None]
            y_test = test[1].astype(np.float32)[:, None] if test else None
        except ValueError:
            raise DataError(f"{p.path}: task = \"regression\" needs numeric targets, got e.g. {labels[:3]}") from None
        return SourceArrays(x, y, "regression", x_test, y_test)
