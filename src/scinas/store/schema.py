"""The run store's tables (SQLite DDL), their version and the migrations that upgrade old stores.

A store records :data:`SCHEMA_VERSION` in its ``meta`` table.  :func:`check_schema` refuses a
file that is not a store or is newer than this scinas, and upgrades an older one in place, in
one transaction, through :data:`MIGRATIONS` (writers only: a read-only reader reads an old
store as it is and the records fill the columns it lacks with ``None``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from scinas.store.records import StoreError

__all__ = ["MIGRATIONS", "SCHEMA_SQL", "SCHEMA_VERSION", "check_schema", "migrate"]

logger = logging.getLogger(__name__)

#: Version of the table layout below; a store written with a higher one is refused, one written
#: with a lower one is upgraded by :data:`MIGRATIONS` when opened for writing.
#: 2: learning-curve early termination (trials: measured, monitor, curve, curve_parameters,
#: converged_epoch; epochs: curve, prediction_time_s).
#: 3: the phase of a trial is the column ``trials.phase`` (it was ``extra["phase"]``).
#: 4: ``trials.fitness`` is renamed ``trials.estimate``: it holds the learning curve's estimate of
#: the monitored metric (unsigned), while a fitness is the signed value a search maximises.
#: 5: ``trials.time_cost_s``, the time cost a search minimises (median step time after warm-up
#: scaled to the epoch budget, see :mod:`scinas.training.step_time`).
SCHEMA_VERSION = 5

#: The tables behind the records (one row per run, trial, epoch and metric) and their indices.
#: CHECK constraints mirror the status enums; epochs and metrics go with their trial.
SCHEMA_SQL = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    created_at TEXT NOT NULL,
    finished_at TEXT,
    seed INTEGER,
    config TEXT NOT NULL,
    manifest TEXT NOT NULL
);
CREATE TABLE trials (
    trial_id INTEGER PRIMARY KEY AUTOINCREMENT,
    number INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE,
    architecture TEXT NOT NULL,
    architecture_json TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    failure_reason TEXT,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    best_epoch INTEGER,
    epochs_completed INTEGER,
    train_time_s REAL,
    time_cost_s REAL,
    params INTEGER,
    flops REAL,
    latency_s REAL,
    estimate REAL,
    measured REAL,
    monitor TEXT,
    curve TEXT,
    curve_parameters TEXT,
    converged_epoch INTEGER CHECK (converged_epoch IS NULL OR converged_epoch >= 1),
    extra TEXT NOT NULL DEFAULT '{}',
    phase TEXT NOT NULL DEFAULT 'search' CHECK (phase IN ('search', 'selection', 'final', 'fixed'))
);
CREATE INDEX trials_by_status ON trials (status);
CREATE INDEX trials_by_phase ON trials (phase);
CREATE INDEX trials_by_number ON trials (number);
CREATE INDEX trials_by_estimate ON trials (estimate);
CREATE INDEX trials_by_architecture ON trials (architecture);
CREATE TABLE epochs (
    trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL CHECK (epoch >= 1),
    metrics TEXT NOT NULL DEFAULT '{}',
    loss REAL,
    val_loss REAL,
    epoch_time_s REAL,
    learning_rate REAL,
    prediction REAL,
    converged INTEGER NOT NULL DEFAULT 0 CHECK (converged IN (0, 1)),
    curve TEXT,
    prediction_time_s REAL,
    PRIMARY KEY (trial_id, epoch)
) WITHOUT ROWID;
CREATE TABLE metrics (
    trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
    split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
    epoch INTEGER CHECK (epoch IS NULL OR epoch >= 1),
    name TEXT NOT NULL,
    value REAL
);
CREATE UNIQUE INDEX metrics_unique ON metrics (trial_id, split, name, IFNULL(epoch, 0));
CREATE INDEX metrics_by_name ON metrics (name, split, epoch);
"""

#: ``{n: statements}`` upgrading a store of schema version ``n`` to ``n + 1`` (run in one
#: transaction with the version update).  The columns they add read as ``NULL`` for old rows.
MIGRATIONS: Mapping[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE trials ADD COLUMN measured REAL",
        "ALTER TABLE trials ADD COLUMN monitor TEXT",
        "ALTER TABLE trials ADD COLUMN curve TEXT",
        "ALTER TABLE trials ADD COLUMN curve_parameters TEXT",
        "ALTER TABLE trials ADD COLUMN converged_epoch INTEGER "
        "CHECK (converged_epoch IS NULL OR converged_epoch >= 1)",
        "ALTER TABLE epochs ADD COLUMN curve TEXT",
        "ALTER TABLE epochs ADD COLUMN prediction_time_s REAL",
    ),
    # The phase moves from ``extra`` into its column.  Every store written before had
    # ``extra["phase"]`` on each trial of a search run (search, selection, final); only the one
    # trial of a fixed-architecture experiment had none.
    2: (
        "ALTER TABLE trials ADD COLUMN phase TEXT NOT NULL DEFAULT 'search' "
        "CHECK (phase IN ('search', 'selection', 'final', 'fixed'))",
        "UPDATE trials SET phase = CASE WHEN json_extract(extra, '$.phase') IN ('search', 'selection', 'final', "
        "'fixed') THEN json_extract(extra, '$.phase') ELSE 'fixed' END",
        "UPDATE trials SET extra = json_remove(extra, '$.phase') WHERE json_type(extra, '$.phase') IS NOT NULL",
        "CREATE INDEX trials_by_phase ON trials (phase)",
    ),
    # What the column holds is unchanged; only its name (and its index's) says what it is.
    3: (
        "ALTER TABLE trials RENAME COLUMN fitness TO estimate",
        "DROP INDEX IF EXISTS trials_by_fitness",
        "CREATE INDEX trials_by_estimate ON trials (estimate)",
    ),
    # Trials recorded before have none: a search reads their train_time_s instead.
    4: ("ALTER TABLE trials ADD COLUMN time_cost_s REAL",),
}


def check_schema(connection: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
    """Refuse a store that is not one or is too new; upgrade an older one (writers only).

    A read-only reader of an older store reads it as it is: the records fill the columns it
    lacks with ``None``.
    """
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a scinas run store ({exc}); point scinas at the run's "
                         "store file or start a new run") from exc
    if row is None:
        raise StoreError(f"{path} is not a scinas run store (it has no schema version)")
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise StoreError(f"the run store {path} has schema version {version}, newer than version "
                         f"{SCHEMA_VERSION} that this scinas understands; upgrade scinas to open it")
    if version < SCHEMA_VERSION and not readonly:
        migrate(connection, path, version)


def migrate(connection: sqlite3.Connection, path: Path, version: int) -> None:
    """Upgrade the store from ``version`` to :data:`SCHEMA_VERSION` in one transaction."""
    missing = [v for v in range(version, SCHEMA_VERSION) if v not in MIGRATIONS]
    if missing:
        raise StoreError(f"the run store {path} has the old schema version {version}; no migration "
                         f"to version {SCHEMA_VERSION} is known")
    connection.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                connection.execute(statement)
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    logger.info("upgraded the run store %s from schema version %d to %d", path, version, SCHEMA_VERSION)
