"""The run store on SQLite: one database file per run folder, the run's data commons.

Example::

    store = RunStore.create(run_dir / "store.sqlite", run_id="20240501-120000", experiment="E",
                            seed=42, config_text=resolved_toml, manifest={"scinas": "0.1.0"})
    trial = store.start_trial("trial-0000", architecture=arch.to_text())
    store.record_epoch(EpochRecord(trial.trial_id, epoch=1, loss=0.3, metrics={"loss": 0.3}))
    store.record_metrics(trial.trial_id, "test", {"loss": 0.28, "r2": 0.91})
    store.complete_trial(trial.trial_id, best_epoch=1, epochs_completed=1)
    store.close()

Opening, the single-writer lock, pragmas (WAL, synchronous=FULL) and transactions live in
:mod:`scinas.store.connection`: every public method that writes runs in exactly one transaction.

* **Listeners.**  ``store.add_listener(listener)`` registers a callable that receives a
  :class:`StoreEvent` after each committed write of a trial start, an epoch, evaluation
  metrics, a completion or a failure (whoever made the write: a trainer in this process or a
  worker's journal replayed by the coordinator).  It is how observers such as experiment
  trackers follow a run without the store knowing them.  Listeners run in the writing thread,
  after the commit and outside the store's lock; one that raises is logged and the write still
  counts (a committed write never turns into an error).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from scinas.store.connection import StoreConnection
from scinas.store.events import StoreEvent, StoreEventKind, StoreListener
from scinas.store.records import (
    EpochRecord,
    MetricRecord,
    RunRecord,
    RunStatus,
    Split,
    StoreError,
    TrialPhase,
    TrialRecord,
    TrialStatus,
    check_epoch,
    dumps_json,
    finite_or_none,
    format_time,
    loads_json,
    parse_split,
    utc_now,
)
from scinas.store.tables import export_csv

__all__ = ["TRIAL_FIELDS", "RunStore", "StoreEvent", "StoreEventKind", "StoreListener"]

logger = logging.getLogger(__name__)

#: Trial columns that ``update_trial``/``complete_trial``/``fail_trial`` accept, with their type.
#: Status, timestamps and attempts belong to the lifecycle methods; ``extra`` is merged, the other
#: ``dict`` fields (``curve_parameters``) are replaced.
TRIAL_FIELDS: Mapping[str, type] = {
    "architecture_json": str,
    "best_epoch": int,
    "epochs_completed": int,
    "train_time_s": float,
    "time_cost_s": float,
    "params": int,
    "flops": float,
    "latency_s": float,
    "estimate": float,
    "measured": float,
    "monitor": str,
    "curve": str,
    "curve_parameters": dict,
    "converged_epoch": int,
    "extra": dict,
}


class RunStore:
    """Records of one run: the run itself, its trials, their epochs and evaluation metrics.

    Make one with :meth:`create` (new run) or :meth:`open` (resume, or read with
    ``readonly=True``); use it as a context manager or call :meth:`close`.
    """

    def __init__(self, connection: StoreConnection) -> None:
        """Internal: use :meth:`create` or :meth:`open`."""
        self.path = connection.path
        self.readonly = connection.readonly
        self._connection = connection
        self._mutex = connection.mutex
        self._listeners: list[StoreListener] = []

    # ------------------------------------------------------------------ opening and closing

    @classmethod
    def create(cls, path: Path, *, run_id: str, experiment: str, seed: int | None, config_text: str,
               manifest: Mapping[str, object]) -> RunStore:
        """A new store at ``path`` (which must not exist) holding one run in status ``running``."""

        def insert_run(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO runs (run_id, experiment, status, created_at, seed, config, manifest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, experiment, RunStatus.RUNNING.value, format_time(utc_now()), seed, config_text,
                 dumps_json(dict(manifest))))

        return cls(StoreConnection.create(Path(path), insert_run))

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> RunStore:
        """The existing store at ``path``: for writing (resume) unless ``readonly``."""
        return cls(StoreConnection.open(Path(path), readonly=readonly))

    def close(self) -> None:
        """Close the database and give up the writer lock; safe to call twice."""
        self._connection.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "closed" if self._connection.closed else "read-only" if self.readonly else "writer"
        return f"RunStore({str(self.path)!r}, {mode})"

    @property
    def _db(self) -> sqlite3.Connection:
        return self._connection.db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write (see :meth:`StoreConnection.transaction`)."""
        with self._connection.transaction() as db:
            yield db

    # ------------------------------------------------------------------ listeners

    def add_listener(self, listener: StoreListener) -> None:
        """Call ``listener`` with a :class:`StoreEvent` after each committed trial, epoch or metrics write.

        Example::

            store.add_listener(lambda event: print(event.kind, event.trial.name))
        """
        with self._mutex:
            self._listeners.append(listener)

    def remove_listener(self, listener: StoreListener) -> None:
        """Stop notifying ``listener`` (a listener that was not added is ignored)."""
        with self._mutex:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self, event: StoreEvent) -> None:
        """Hand ``event`` to every listener; called after the commit, outside the lock."""
        with self._mutex:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not undo or fail a committed write
                logger.exception("a run-store listener failed on %s of %s", event.kind.value, event.trial.name)

    # ------------------------------------------------------------------ the run

    def run(self) -> RunRecord:
        """The run this store describes."""
        with self._mutex:
            row = self._db.execute("SELECT * FROM runs").fetchone()
        return RunRecord.from_row(row)

    def set_run_status(self, status: RunStatus | str) -> None:
        """Set the run's status; terminal ones stamp ``finished_at``, ``running`` clears it."""
        status = RunStatus(status)
        finished = None if status is RunStatus.RUNNING else format_time(utc_now())
        with self._transaction() as db:
            db.execute("UPDATE runs SET status = ?, finished_at = ?", (status.value, finished))

    # ------------------------------------------------------------------ trials

    def add_trial(self, name: str, *, architecture: str, architecture_json: str | None = None,
                  number: int | None = None, phase: TrialPhase | str = TrialPhase.SEARCH) -> TrialRecord:
        """Plan a trial (status ``pending``) of ``phase`` so it is on record before it runs; idempotent
        (an existing trial keeps its phase)."""
        with self._transaction() as db:
            row = self._trial_row(db, name)
            if row is None:
                trial_id = self._insert_trial(db, name, architecture, architecture_json=architecture_json,
                                              number=number, status=TrialStatus.PENDING, phase=TrialPhase(phase))
            else:
                _check_same_architecture(row, architecture, self.path)
                trial_id = row["trial_id"]
            return self._read_back(db, trial_id)

    def start_trial(self, name: str, *, architecture: str, architecture_json: str | None = None,
                    number: int | None = None, phase: TrialPhase | str = TrialPhase.SEARCH) -> TrialRecord:
        """Mark trial ``name`` running and return it: a new one, or (resume) the unfinished one.

        ``number`` defaults to one more than the highest so far (0 for the first trial); it and
        ``phase`` only apply to a new trial.  A trial that exists (pending, running after a crash, or failed)
        is started again: ``attempts`` grows, the failure reason and ``finished_at`` are cleared,
        its epochs are kept (drop the ones the checkpoint lacks with :meth:`truncate_epochs`).

        Raises:
            StoreError: the trial already completed (it must not train twice), or a trial of
                that name holds a different architecture.
        """
        now = format_time(utc_now())
        with self._transaction() as db:
            row = self._trial_row(db, name)
            if row is None:
                trial_id = self._insert_trial(db, name, architecture, architecture_json=architecture_json,
                                              number=number, status=TrialStatus.RUNNING, started_at=now,
                                              phase=TrialPhase(phase))
            else:
                _check_same_architecture(row, architecture, self.path)
                if row["status"] == TrialStatus.COMPLETED:
                    raise StoreError(f"trial {name} in {self.path} has already completed; it is not "
                                     "trained again (skip completed trials when resuming)")
                trial_id = row["trial_id"]
                db.execute(
                    "UPDATE trials SET status = ?, failure_reason = NULL, finished_at = NULL, "
                    "started_at = COALESCE(started_at, ?), attempts = attempts + 1, "
                    "architecture_json = COALESCE(?, architecture_json) WHERE trial_id = ?",
                    (TrialStatus.RUNNING.value, now, architecture_json, trial_id))
            started = self._read_back(db, trial_id)
        self._notify(StoreEvent(StoreEventKind.TRIAL_STARTED, started))
        return started

    def trial(self, name_or_id: str | int) -> TrialRecord | None:
        """The trial of that name (``str``) or id (``int``), or ``None``."""
        with self._mutex:
            row = self._trial_row(self._db, name_or_id)
        return None if row is None else TrialRecord.from_row(row)

    def trials(self, status: TrialStatus | str | None = None) -> list[TrialRecord]:
        """All trials in creation order, or those with ``status``."""
        with self._mutex:
            if status is None:
                rows = self._db.execute("SELECT * FROM trials ORDER BY trial_id").fetchall()
            else:
                rows = self._db.execute("SELECT * FROM trials WHERE status = ? ORDER BY trial_id",
                                        (TrialStatus(status).value,)).fetchall()
        return [TrialRecord.from_row(row) for row in rows]

    def update_trial(self, trial_id: int, **fields: object) -> None:
        """Set some of :data:`TRIAL_FIELDS` (``extra`` is merged into the stored dict).

        Raises:
            ValueError: a field is not one of :data:`TRIAL_FIELDS`.
            StoreError: no trial has this id.
        """
        with self._transaction() as db:
            self._update(db, trial_id, fields, {})

    def complete_trial(self, trial_id: int, **fields: object) -> None:
        """Mark the trial completed (stamping ``finished_at``) and set ``fields`` with it."""
        with self._transaction() as db:
            self._update(db, trial_id, fields, {"status": TrialStatus.COMPLETED.value, "failure_reason": None,
                                                "finished_at": format_time(utc_now())})
            completed = self._read_back(db, trial_id) if self._listeners else None
        if completed is not None:
            self._notify(StoreEvent(StoreEventKind.TRIAL_COMPLETED, completed))

    def fail_trial(self, trial_id: int, reason: str, **fields: object) -> None:
        """Mark the trial failed with ``reason`` (stamping ``finished_at``) and set ``fields``."""
        with self._transaction() as db:
            self._update(db, trial_id, fields, {"status": TrialStatus.FAILED.value,
                                                "failure_reason": str(reason),
                                                "finished_at": format_time(utc_now())})
            failed = self._read_back(db, trial_id) if self._listeners else None
        if failed is not None:
            self._notify(StoreEvent(StoreEventKind.TRIAL_FAILED, failed))

    # ------------------------------------------------------------------ epochs

    def record_epoch(self, record: EpochRecord) -> None:
        """Store one epoch; an existing record of the same trial and epoch is replaced."""
        epoch = check_epoch(record.epoch)
        with self._transaction() as db:
            row = self._require_trial(db, record.trial_id)
            db.execute(
                "INSERT INTO epochs (trial_id, epoch, metrics, loss, val_loss, epoch_time_s, learning_rate, "
                "prediction, converged, curve, prediction_time_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (trial_id, epoch) DO UPDATE SET metrics = excluded.metrics, "
                "loss = excluded.loss, val_loss = excluded.val_loss, epoch_time_s = excluded.epoch_time_s, "
                "learning_rate = excluded.learning_rate, prediction = excluded.prediction, "
                "converged = excluded.converged, curve = excluded.curve, "
                "prediction_time_s = excluded.prediction_time_s",
                (record.trial_id, epoch, dumps_json({str(k): float(v) for k, v in record.metrics.items()}),
                 finite_or_none(record.loss), finite_or_none(record.val_loss),
                 finite_or_none(record.epoch_time_s), finite_or_none(record.learning_rate),
                 finite_or_none(record.prediction), int(bool(record.converged)),
                 None if record.curve is None else str(record.curve), finite_or_none(record.prediction_time_s)))
        if self._listeners:
            self._notify(StoreEvent(StoreEventKind.EPOCH_RECORDED, TrialRecord.from_row(row), epoch=record))

    def epochs(self, trial_id: int) -> list[EpochRecord]:
        """The trial's epochs in order."""
        with self._mutex:
            rows = self._db.execute("SELECT * FROM epochs WHERE trial_id = ? ORDER BY epoch",
                                    (trial_id,)).fetchall()
        return [EpochRecord.from_row(row) for row in rows]

    def truncate_epochs(self, trial_id: int, after: int) -> None:
        """Drop the trial's epochs (and per-epoch metrics) numbered above ``after``.

        Used when a trial resumes from the checkpoint of epoch ``after``: what came later will be
        trained again, so its records go.  Final metrics (``epoch`` ``None``) are kept.
        """
        with self._transaction() as db:
            db.execute("DELETE FROM epochs WHERE trial_id = ? AND epoch > ?", (trial_id, int(after)))
            db.execute("DELETE FROM metrics WHERE trial_id = ? AND epoch > ?", (trial_id, int(after)))

    # ------------------------------------------------------------------ evaluation metrics

    def record_metrics(self, trial_id: int, split: Split | str, values: Mapping[str, float], *,
                       epoch: int | None = None) -> None:
        """Store ``values`` measured on ``split``; ``epoch=None`` is the final evaluation.

        One row per metric (long format); a metric already recorded for the same trial, split
        and epoch is replaced.
        """
        split_name = parse_split(split).value
        number = None if epoch is None else check_epoch(epoch)
        with self._transaction() as db:
            row = self._require_trial(db, trial_id)
            for name, value in values.items():
                db.execute("DELETE FROM metrics WHERE trial_id = ? AND split = ? AND name = ? AND epoch IS ?",
                           (trial_id, split_name, str(name), number))
                db.execute("INSERT INTO metrics (trial_id, split, epoch, name, value) VALUES (?, ?, ?, ?, ?)",
                           (trial_id, split_name, number, str(name), finite_or_none(float(value))))
        if self._listeners:
            self._notify(StoreEvent(StoreEventKind.METRICS_RECORDED, TrialRecord.from_row(row), split=Split(split_name),
                                    values={str(k): float(v) for k, v in values.items()}, metrics_epoch=number))

    def metrics(self, trial_id: int, *, split: Split | str | None = None,
                epoch: int | Literal["final"] | None = None) -> list[MetricRecord]:
        """The trial's metrics: every one, or only ``split``, and only ``epoch``.

        ``epoch=None`` (default) means every epoch and the final evaluation, ``"final"`` only the
        final evaluation, an integer only that epoch's evaluation.  Ordered by epoch (final
        last), split (train, validation, test) and name.
        """
        query = "SELECT * FROM metrics WHERE trial_id = ?"
        parameters: list[Any] = [trial_id]
        if split is not None:
            query += " AND split = ?"
            parameters.append(parse_split(split).value)
        if epoch == "final":
            query += " AND epoch IS NULL"
        elif epoch is not None:
            query += " AND epoch = ?"
            parameters.append(int(epoch))
        query += (" ORDER BY epoch IS NULL, epoch, CASE split WHEN 'train' THEN 0 WHEN 'validation' THEN 1 "
                  "ELSE 2 END, name")
        with self._mutex:
            rows = self._db.execute(query, parameters).fetchall()
        return [MetricRecord.from_row(row) for row in rows]

    # ------------------------------------------------------------------ export

    def export_csv(self, directory: Path) -> list[Path]:
        """Write ``trials.csv``, ``epochs.csv`` and ``metrics.csv`` into ``directory`` (atomically)."""
        return export_csv(self, Path(directory))

    # ------------------------------------------------------------------ helpers

    def _trial_row(self, db: sqlite3.Connection, name_or_id: str | int) -> sqlite3.Row | None:
        column = "name" if isinstance(name_or_id, str) else "trial_id"
        row: sqlite3.Row | None = db.execute(f"SELECT * FROM trials WHERE {column} = ?",
                                             (name_or_id,)).fetchone()
        return row

    def _read_back(self, db: sqlite3.Connection, trial_id: int) -> TrialRecord:
        return TrialRecord.from_row(self._require_trial(db, trial_id))

    def _require_trial(self, db: sqlite3.Connection, trial_id: int) -> sqlite3.Row:
        row = self._trial_row(db, int(trial_id))
        if row is None:
            raise StoreError(f"no trial with id {trial_id} in the run store {self.path}")
        return row

    def _insert_trial(self, db: sqlite3.Connection, name: str, architecture: str, *,
                      architecture_json: str | None, number: int | None, status: TrialStatus,
                      phase: TrialPhase, started_at: str | None = None) -> int:
        if number is None:
            number = db.execute("SELECT COALESCE(MAX(number) + 1, 0) FROM trials").fetchone()[0]
        cursor = db.execute(
            "INSERT INTO trials (number, name, architecture, architecture_json, status, started_at, "
            "attempts, phase) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (int(number), name, architecture, architecture_json, status.value, started_at,
             0 if started_at is None else 1, phase.value))
        trial_id = cursor.lastrowid
        if trial_id is None:  # pragma: no cover - sqlite always sets it after an INSERT
            raise StoreError(f"the run store {self.path} did not return the new trial's id")
        return trial_id

    def _update(self, db: sqlite3.Connection, trial_id: int, fields: Mapping[str, object],
                lifecycle: Mapping[str, object]) -> None:
        unknown = sorted(set(fields) - set(TRIAL_FIELDS))
        if unknown:
            raise ValueError(f"unknown trial field(s) {', '.join(unknown)}; known: {', '.join(TRIAL_FIELDS)}")
        row = self._require_trial(db, trial_id)
        values: dict[str, object] = dict(lifecycle)
        for name, value in fields.items():
            values[name] = _column_value(name, value, row)
        if not values:
            return
        assignments = ", ".join(f"{name} = ?" for name in values)
        db.execute(f"UPDATE trials SET {assignments} WHERE trial_id = ?", (*values.values(), int(trial_id)))


def _check_same_architecture(row: sqlite3.Row, architecture: str, path: Path) -> None:
    if row["architecture"] != architecture:
        raise StoreError(f"trial {row['name']} in {path} already holds a different architecture "
                         f"({row['architecture']!r}, asked for {architecture!r}); trial names must be unique")


def _column_value(name: str, value: object, row: sqlite3.Row) -> object:
    """``value`` converted for the trial column ``name`` (see :data:`TRIAL_FIELDS`)."""
    if value is None:
        return dumps_json({}) if name == "extra" else None
    kind = TRIAL_FIELDS[name]
    if kind is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"trial field {name} must be a mapping, got {type(value).__name__}")
        if name == "extra":
            return dumps_json({**loads_json(row["extra"]), **value})
        return dumps_json(dict(value))
    if kind is int:
        return int(value)  # type: ignore[call-overload]
    if kind is float:
        return finite_or_none(float(value))  # type: ignore[arg-type]
    return str(value)
