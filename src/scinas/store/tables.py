"""Exports of a run store as flat tables, for people who analyse runs with pandas, R or a spreadsheet.

Three tables, each one file (``<table>.csv`` or ``<table>.parquet``):

* ``trials``: one row per trial, every :class:`~scinas.store.records.TrialRecord` field
  (``extra`` and ``curve_parameters`` as JSON text).
* ``epochs``: one row per trial and epoch; the epoch's ``metrics`` JSON is expanded into one
  column per metric name (``loss``, ``val_loss``, ``val_mae``, ...), empty where a trial did not
  log that metric.  A metric whose name clashes with a fixed column gets a ``metric_`` prefix.
* ``metrics``: the evaluation metrics in long format (``trial_id, trial, split, epoch, name,
  value``), ``epoch`` empty for the final evaluation.

CSV: missing values and NaN are empty cells, infinities ``inf``/``-inf``, booleans
``True``/``False``, timestamps ISO-8601 UTC; ``pandas.read_csv`` reads the files without options.
Parquet (extra ``parquet``: pyarrow) keeps the types: 64-bit integers and floats, booleans,
UTC timestamps in milliseconds, strings; missing values and NaN are nulls.  Every file is written
to a temporary name and renamed into place, so a reader never sees half a file.

Example::

    paths = store.export_csv(run_dir / "csv")                     # [trials.csv, epochs.csv, metrics.csv]
    paths = export_tables(store, run_dir / "parquet", "parquet")  # the same tables as Parquet
    trials = pandas.read_parquet(paths[0])
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from scinas.atomic import atomic_path
from scinas.errors import ConfigError
from scinas.store.records import EpochRecord, MetricRecord, TrialRecord, dumps_json


class StoreReader(Protocol):
    """What an export reads from a store (:class:`scinas.store.sqlite.RunStore` has it).

    A protocol rather than an import: the store module calls :func:`export_csv`, so importing it
    here would make the two modules import each other."""

    def trials(self) -> list[TrialRecord]: ...

    def epochs(self, trial_id: int) -> list[EpochRecord]: ...

    def metrics(self, trial_id: int) -> list[MetricRecord]: ...

__all__ = ["EPOCH_COLUMNS", "EXPORT_FORMATS", "METRIC_COLUMNS", "TABLES", "ExportTable", "export_csv",
           "export_parquet", "export_tables", "format_cell", "store_tables"]

#: The tables an export writes, in this order.
TABLES: tuple[str, ...] = ("trials", "epochs", "metrics")
#: The file formats :func:`export_tables` writes.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "parquet")
#: The fixed leading columns of the ``epochs`` table; metric columns follow, sorted by name.
EPOCH_COLUMNS: tuple[str, ...] = ("trial_id", "trial", "epoch", "epoch_time_s", "learning_rate",
                                  "prediction", "converged", "curve", "prediction_time_s")
#: The columns of the ``metrics`` table.
METRIC_COLUMNS: tuple[str, ...] = ("trial_id", "trial", "split", "epoch", "name", "value")

_EPOCH_TYPES: dict[str, str] = {"trial_id": "int", "trial": "str", "epoch": "int", "epoch_time_s": "float",
                                "learning_rate": "float", "prediction": "float", "converged": "bool",
                                "curve": "str", "prediction_time_s": "float"}
_METRIC_TYPES: dict[str, str] = {"trial_id": "int", "trial": "str", "split": "str", "epoch": "int",
                                 "name": "str", "value": "float"}
_INSTALL = "make install EXTRAS=parquet, or pip install 'scinas[parquet]'"


@dataclass(frozen=True)
class ExportTable:
    """One flat table: its name, columns, the kind of each column and the rows.

    Kinds are ``int``, ``float``, ``bool``, ``str``, ``time`` (a datetime) and ``json`` (a
    mapping written as JSON text); they give the Parquet column types.
    """

    name: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: list[list[object]]


def format_cell(value: object) -> str:
    """One CSV cell: blank for ``None``/NaN, round-trip ``repr`` for floats, JSON for mappings."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, (dict, list)):
        return dumps_json(value)
    return str(value)


def _kind_of(annotation: Any) -> str:
    """The export kind of a TrialRecord field's type (``int | None`` is ``int``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    base = typing.get_origin(annotation) or annotation
    if base is bool:
        return "bool"
    if base is int:
        return "int"
    if base is float:
        return "float"
    if base is datetime:
        return "time"
    if isinstance(base, type) and issubclass(base, Mapping):
        return "json"
    return "str"


def _metric_column(name: str) -> str:
    return f"metric_{name}" if name in EPOCH_COLUMNS else name


def store_tables(store: StoreReader) -> list[ExportTable]:
    """The ``trials``, ``epochs`` and ``metrics`` tables of ``store`` (read-only access suffices)."""
    trials = store.trials()
    hints = typing.get_type_hints(TrialRecord)
    trial_fields = tuple(f.name for f in dataclasses.fields(TrialRecord))
    tables = [ExportTable("trials", trial_fields, tuple(_kind_of(hints[name]) for name in trial_fields),
                          [[getattr(t, name) for name in trial_fields] for t in trials])]

    epoch_rows: list[tuple[list[object], dict[str, float | None]]] = []
    metric_names: set[str] = set()
    for trial in trials:
        for record in store.epochs(trial.trial_id):
            values: dict[str, float | None] = {"loss": record.loss, "val_loss": record.val_loss}
            values.update(record.metrics)
            metric_names.update(_metric_column(name) for name in values)
            fixed: list[object] = [trial.trial_id, trial.name, record.epoch, record.epoch_time_s,
                                   record.learning_rate, record.prediction, record.converged, record.curve,
                                   record.prediction_time_s]
            epoch_rows.append((fixed, {_metric_column(k): v for k, v in values.items()}))
    metric_columns = sorted(metric_names) if epoch_rows else ["loss", "val_loss"]
    tables.append(ExportTable(
        "epochs", (*EPOCH_COLUMNS, *metric_columns),
        (*(_EPOCH_TYPES[c] for c in EPOCH_COLUMNS), *("float" for _ in metric_columns)),
        [[*fixed, *(values.get(c) for c in metric_columns)] for fixed, values in epoch_rows]))

    tables.append(ExportTable(
        "metrics", METRIC_COLUMNS, tuple(_METRIC_TYPES[c] for c in METRIC_COLUMNS),
        [[m.trial_id, trial.name, m.split.value, m.epoch, m.name, m.value]
         for trial in trials for m in store.metrics(trial.trial_id)]))
    return tables


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary)`` and rename the temporary file over ``path`` (:func:`scinas.atomic.atomic_path`)."""
    with atomic_path(path) as temporary:
        write(temporary)
    return path


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    def write(temporary: Path) -> None:
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow([format_cell(value) for value in row])

    return _replace_atomically(path, write)


def export_csv(store: StoreReader, directory: Path) -> list[Path]:
    """Write ``trials.csv``, ``epochs.csv`` and ``metrics.csv`` of ``store`` into ``directory``.

    Works on a read-only store too (it only reads).  Returns the three paths in that order.
    """
    directory.mkdir(parents=True, exist_ok=True)
    return [_write_csv(directory / f"{table.name}.csv", table.columns, table.rows) for table in store_tables(store)]


def _parquet_cell(value: object, kind: str) -> object:
    """``value`` as pyarrow takes it for a column of ``kind`` (NaN and missing become null)."""
    if value is None:
        return None
    if kind == "float":
        number = float(value)  # type: ignore[arg-type]
        return None if math.isnan(number) else number
    if kind == "json":
        return dumps_json(value)
    if kind == "str":
        return str(value.value) if isinstance(value, enum.Enum) else str(value)
    return value


def export_parquet(store: StoreReader, directory: Path) -> list[Path]:
    """Write ``trials.parquet``, ``epochs.parquet`` and ``metrics.parquet`` into ``directory``.

    Raises:
        ConfigError: pyarrow is not installed (it comes with the ``parquet`` extra).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("Parquet export needs pyarrow, which is not installed", file="--format",
                          value="parquet", fix=f"{_INSTALL}; or export CSV with --format csv") from None
    types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string(),
             "json": pa.string(), "time": pa.timestamp("ms", tz="UTC")}
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in store_tables(store):
        schema = pa.schema([pa.field(c, types[k]) for c, k in zip(table.columns, table.kinds, strict=True)])
        columns = [pa.array([_parquet_cell(row[i], kind) for row in table.rows], type=types[kind])
                   for i, kind in enumerate(table.kinds)]
        arrow_table = pa.Table.from_arrays(columns, schema=schema)

        def write(temporary: Path, content: Any = arrow_table) -> None:
            pq.write_table(content, temporary)

        written.append(_replace_atomically(directory / f"{table.name}.parquet", write))
    return written


def export_tables(store: StoreReader, directory: Path, fmt: str = "csv") -> list[Path]:
    """Write the store's tables into ``directory`` as ``fmt`` (one of :data:`EXPORT_FORMATS`).

    Raises:
        ConfigError: an unknown format, or Parquet without pyarrow.
    """
    if fmt == "csv":
        return export_csv(store, Path(directory))
    if fmt == "parquet":
        return export_parquet(store, Path(directory))
    raise ConfigError(f"unknown export format {fmt!r}", file="--format", value=fmt,
                      fix=f"use one of {', '.join(EXPORT_FORMATS)}")
