"""CSV exports of a run store, for people who analyse runs with pandas or a spreadsheet.

Three files, each a flat table that ``pandas.read_csv`` reads without options:

* ``trials.csv``: one row per trial, every :class:`~scinas.store.records.TrialRecord` field
  (``extra`` as JSON text).
* ``epochs.csv``: one row per trial and epoch; the epoch's ``metrics`` JSON is expanded into one
  column per metric name (``loss``, ``val_loss``, ``val_mae``, ...), blank where a trial did not
  log that metric.  A metric whose name clashes with a fixed column gets a ``metric_`` prefix.
* ``metrics.csv``: the evaluation metrics in long format (``trial_id, trial, split, epoch,
  name, value``), ``epoch`` blank for the final evaluation.

Missing values and NaN are written as empty cells, infinities as ``inf``/``-inf``, booleans as
``True``/``False``, timestamps as ISO-8601 UTC.  Every file is written to a temporary name and
renamed into place, so a reader never sees half a file.

Example::

    paths = store.export_csv(run_dir)        # [run_dir/trials.csv, run_dir/epochs.csv, ...]
    trials = pandas.read_csv(paths[0])
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import math
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scinas.store.records import TrialRecord, dumps_json

if TYPE_CHECKING:
    from scinas.store.sqlite import RunStore

__all__ = ["EPOCH_COLUMNS", "METRIC_COLUMNS", "export_csv", "format_cell"]

#: The fixed leading columns of ``epochs.csv``; metric columns follow, sorted by name.
EPOCH_COLUMNS: tuple[str, ...] = ("trial_id", "trial", "epoch", "epoch_time_s", "learning_rate",
                                  "prediction", "converged", "curve", "prediction_time_s")
#: The columns of ``metrics.csv``.
METRIC_COLUMNS: tuple[str, ...] = ("trial_id", "trial", "split", "epoch", "name", "value")


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


def _write_atomically(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow([format_cell(value) for value in row])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _metric_column(name: str) -> str:
    return f"metric_{name}" if name in EPOCH_COLUMNS else name


def export_csv(store: RunStore, directory: Path) -> list[Path]:
    """Write ``trials.csv``, ``epochs.csv`` and ``metrics.csv`` of ``store`` into ``directory``.

    Works on a read-only store too (it only reads).  Returns the three paths in that order.
    """
    directory.mkdir(parents=True, exist_ok=True)
    trials = store.trials()
    trial_fields = [f.name for f in dataclasses.fields(TrialRecord)]
    written = [_write_atomically(directory / "trials.csv", trial_fields,
                                 ([getattr(t, name) for name in trial_fields] for t in trials))]

    epoch_rows: list[tuple[dict[str, object], dict[str, float | None]]] = []
    metric_names: set[str] = set()
    for trial in trials:
        for record in store.epochs(trial.trial_id):
            values: dict[str, float | None] = {"loss": record.loss, "val_loss": record.val_loss}
            values.update(record.metrics)
            metric_names.update(_metric_column(name) for name in values)
            fixed = {"trial_id": trial.trial_id, "trial": trial.name, "epoch": record.epoch,
                     "epoch_time_s": record.epoch_time_s, "learning_rate": record.learning_rate,
                     "prediction": record.prediction, "converged": record.converged,
                     "curve": record.curve, "prediction_time_s": record.prediction_time_s}
            epoch_rows.append((fixed, {_metric_column(k): v for k, v in values.items()}))
    metric_columns = sorted(metric_names) if epoch_rows else ["loss", "val_loss"]
    written.append(_write_atomically(
        directory / "epochs.csv", [*EPOCH_COLUMNS, *metric_columns],
        ([*(fixed[c] for c in EPOCH_COLUMNS), *(values.get(c) for c in metric_columns)]
         for fixed, values in epoch_rows)))

    written.append(_write_atomically(
        directory / "metrics.csv", METRIC_COLUMNS,
        ((m.trial_id, trial.name, m.split, m.epoch, m.name, m.value)
         for trial in trials for m in store.metrics(trial.trial_id))))
    return written
