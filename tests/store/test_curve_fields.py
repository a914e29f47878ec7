"""The learning-curve fields of the store (schema 2) and the upgrade of a schema-1 store (to the latest)."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from scinas.store import SCHEMA_VERSION, EpochRecord, RunStore

MakeStore = Callable[[Path], RunStore]

_NEW_TRIAL_COLUMNS = ("measured", "monitor", "curve", "curve_parameters", "converged_epoch")
_NEW_EPOCH_COLUMNS = ("curve", "prediction_time_s")


def test_curve_fields_round_trip(store: RunStore, store_path: Path, tmp_path: Path) -> None:
    trial = store.start_trial("trial-0000", architecture="dense(8)").trial_id
    store.record_epoch(EpochRecord(trial, epoch=1, metrics={"val_accuracy": 0.5}, curve="shifted_exponential"))
    store.record_epoch(EpochRecord(trial, epoch=4, metrics={"val_accuracy": 0.8}, prediction=0.91,
                                   converged=True, curve="shifted_exponential", prediction_time_s=0.0125))
    store.complete_trial(trial, estimate=0.91, measured=0.8, monitor="val_accuracy", curve="shifted_exponential",
                         curve_parameters={"a": 91.0, "b": 1.4, "c": 6.5}, converged_epoch=4)
    with RunStore.open(store_path, readonly=True) as reader:
        record = reader.trial("trial-0000")
        assert record is not None
        assert (record.estimate, record.measured, record.monitor, record.curve, record.converged_epoch) == (
            0.91, 0.8, "val_accuracy", "shifted_exponential", 4)
        assert record.curve_parameters == {"a": 91.0, "b": 1.4, "c": 6.5}
        first, last = reader.epochs(trial)
        assert first.prediction is None and not first.converged and first.prediction_time_s is None
        assert first.curve == "shifted_exponential"
        assert (last.prediction, last.converged, last.curve, last.prediction_time_s) == (
            0.91, True, "shifted_exponential", 0.0125)
    # a dict field other than extra is replaced, not merged
    store.update_trial(trial, curve_parameters={"a": 1.0})
    record = store.trial(trial)
    assert record is not None and record.curve_parameters == {"a": 1.0}
    store.update_trial(trial, curve_parameters=None)
    record = store.trial(trial)
    assert record is not None and record.curve_parameters is None
    with pytest.raises(ValueError, match="curve_parameters must be a mapping"):
        store.update_trial(trial, curve_parameters=[1.0])

    trials_csv, epochs_csv, _ = store.export_csv(tmp_path / "csv")
    with trials_csv.open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["monitor"] == "val_accuracy" and row["converged_epoch"] == "4" and row["measured"] == "0.8"
    with epochs_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["prediction_time_s"] for r in rows] == ["", "0.0125"]
    assert [r["curve"] for r in rows] == ["shifted_exponential"] * 2


def test_converged_epoch_is_checked(store: RunStore) -> None:
    trial = store.start_trial("trial-0000", architecture="dense(8)").trial_id
    with pytest.raises(sqlite3.IntegrityError):
        store.update_trial(trial, converged_epoch=0)


def _downgrade_to_version_1(path: Path) -> None:
    """Make ``path`` look like a store written before the learning-curve columns existed."""
    with sqlite3.connect(path) as raw:
        raw.execute("ALTER TABLE trials DROP COLUMN time_cost_s")  # schema 5
        raw.execute("DROP INDEX trials_by_estimate")  # schema 4
        raw.execute("ALTER TABLE trials RENAME COLUMN estimate TO fitness")
        raw.execute("CREATE INDEX trials_by_fitness ON trials (fitness)")
        raw.execute("DROP INDEX trials_by_phase")  # schema 3
        raw.execute("ALTER TABLE trials DROP COLUMN phase")
        for column in _NEW_TRIAL_COLUMNS:
            raw.execute(f"ALTER TABLE trials DROP COLUMN {column}")
        for column in _NEW_EPOCH_COLUMNS:
            raw.execute(f"ALTER TABLE epochs DROP COLUMN {column}")
        raw.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    raw.close()


def _columns(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as raw:
        names = {row[1] for row in raw.execute(f"PRAGMA table_info({table})")}
    raw.close()
    return names


def test_a_version_1_store_is_read_as_is_and_upgraded_by_its_writer(store_path: Path,
                                                                     make_store: MakeStore) -> None:
    with make_store(store_path) as store:
        trial = store.start_trial("trial-0000", architecture="dense(8)").trial_id
        store.record_epoch(EpochRecord(trial, epoch=1, metrics={"loss": 0.5}, loss=0.5, prediction=0.4))
        store.complete_trial(trial, estimate=0.5)
    _downgrade_to_version_1(store_path)
    assert not set(_NEW_TRIAL_COLUMNS) & _columns(store_path, "trials")

    with RunStore.open(store_path, readonly=True) as reader:  # no upgrade without a writer
        record = reader.trial("trial-0000")
        assert record is not None and record.estimate == 0.5 and record.monitor is None
        assert record.curve_parameters is None and record.converged_epoch is None
        (epoch,) = reader.epochs(trial)
        assert epoch.prediction == 0.4 and epoch.curve is None and epoch.prediction_time_s is None
    assert not set(_NEW_TRIAL_COLUMNS) & _columns(store_path, "trials")

    with RunStore.open(store_path) as writer:  # resume: upgraded in place, old rows kept
        writer.update_trial(trial, monitor="val_loss", curve_parameters={"a": 1.0}, converged_epoch=1)
        record = writer.trial(trial)
        assert record is not None and record.estimate == 0.5 and record.monitor == "val_loss"
        assert record.phase == "fixed"  # a trial without a phase in extra: a fixed experiment's
        writer.record_epoch(EpochRecord(trial, epoch=2, curve="mmf", prediction_time_s=0.1))
        assert [e.curve for e in writer.epochs(trial)] == [None, "mmf"]
    assert set(_NEW_TRIAL_COLUMNS) <= _columns(store_path, "trials")
    assert set(_NEW_EPOCH_COLUMNS) <= _columns(store_path, "epochs")
    with sqlite3.connect(store_path) as raw:
        version = raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        extra = raw.execute("SELECT extra FROM trials").fetchone()[0]
    raw.close()
    assert version == str(SCHEMA_VERSION) and json.loads(extra) == {}
