"""Tests of the run store: records, resume semantics, NaN handling, CSV export, locking, atomicity."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path

import pytest

import scinas.store
from scinas.errors import ScinasError
from scinas.store import (
    SCHEMA_VERSION,
    EpochRecord,
    RunStatus,
    RunStore,
    Split,
    StoreError,
    TrialStatus,
)

__all__: list[str] = []

MakeStore = Callable[[Path], RunStore]

_HOLDER = """
import sys, time
from pathlib import Path
from scinas.store import RunStore
store = RunStore.open(Path(sys.argv[1]))
store.start_trial("trial-0000", architecture="a")
print("ready", flush=True)
time.sleep(120)
"""


def _spawn_holder(path: Path) -> subprocess.Popen[str]:
    """A separate Python process that opens ``path`` as the writer and waits to be killed."""
    source_root = Path(next(iter(scinas.store.__path__))).parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(source_root),
                                                                     os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE,
                               text=True, env=env)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


# ---------------------------------------------------------------------- the run


def test_create_then_open_round_trips_the_run(store_path: Path, make_store: MakeStore,
                                              config_text: str) -> None:
    make_store(store_path).close()
    with RunStore.open(store_path) as store:
        run = store.run()
        assert (run.run_id, run.experiment, run.seed, run.status) == ("r1", "E", 7, RunStatus.RUNNING)
        assert run.config_text == config_text
        assert run.manifest == {"scinas": "0.1.0", "host": "test", "devices": ["CPU:0"], "nan": None}
        assert run.created_at.utcoffset() == timedelta(0)
        assert run.finished_at is None
        store.set_run_status(RunStatus.INTERRUPTED)
    with RunStore.open(store_path) as store:
        run = store.run()
        assert run.status is RunStatus.INTERRUPTED
        assert run.finished_at is not None
        assert run.finished_at >= run.created_at
        assert run.finished_at.tzinfo is not None
        assert run.finished_at.astimezone(UTC) == run.finished_at
        store.set_run_status("running")
        assert store.run().finished_at is None


def test_create_refuses_an_existing_store_and_open_a_missing_one(store_path: Path, make_store: MakeStore,
                                                                 tmp_path: Path) -> None:
    make_store(store_path).close()
    with pytest.raises(StoreError, match="already exists"):
        make_store(store_path)
    with pytest.raises(StoreError, match="no run store"):
        RunStore.open(tmp_path / "elsewhere.sqlite")
    not_a_store = tmp_path / "notes.sqlite"
    not_a_store.write_text("just some text, not a database " * 50)
    with pytest.raises(StoreError, match="not a scinas run store"):
        RunStore.open(not_a_store)
    assert not list(store_path.parent.glob(".*tmp*"))


def test_store_uses_wal_with_full_sync(store: RunStore, store_path: Path) -> None:
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with sqlite3.connect(store_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_closed_store_refuses_use(store: RunStore) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.trials()


# ---------------------------------------------------------------------- trials


def test_trial_lifecycle(store: RunStore) -> None:
    first = store.start_trial("trial-0000", architecture="dense(8)", architecture_json='{"l": 8}')
    second = store.start_trial("trial-0001", architecture="dense(16)")
    assert (first.number, second.number) == (0, 1)
    assert first.status is TrialStatus.RUNNING and first.attempts == 1
    assert first.started_at is not None and first.finished_at is None
    assert first.architecture_json == '{"l": 8}'

    store.update_trial(first.trial_id, epochs_completed=2, train_time_s=1.5, extra={"a": 1})
    store.update_trial(first.trial_id, extra={"b": 2})
    store.complete_trial(first.trial_id, best_epoch=2, params=1234, flops=5e6, latency_s=0.01, estimate=0.25)
    store.fail_trial(second.trial_id, "loss became nan at epoch 1, batch 3", epochs_completed=1)

    done = store.trial("trial-0000")
    assert done is not None
    assert done.status is TrialStatus.COMPLETED and done.finished_at is not None
    assert (done.best_epoch, done.epochs_completed, done.params) == (2, 2, 1234)
    assert (done.train_time_s, done.flops, done.latency_s, done.estimate) == (1.5, 5e6, 0.01, 0.25)
    assert done.extra == {"a": 1, "b": 2}
    failed = store.trial(second.trial_id)
    assert failed is not None and failed.status is TrialStatus.FAILED
    assert failed.failure_reason == "loss became nan at epoch 1, batch 3"
    assert [t.name for t in store.trials()] == ["trial-0000", "trial-0001"]
    assert [t.name for t in store.trials(TrialStatus.FAILED)] == ["trial-0001"]
    assert [t.name for t in store.trials("completed")] == ["trial-0000"]
    assert store.trial("trial-9999") is None
    assert store.trial(999) is None


def test_update_trial_rejects_unknown_and_lifecycle_columns(store: RunStore) -> None:
    trial = store.start_trial("trial-0000", architecture="a")
    with pytest.raises(ValueError, match=r"unknown trial field.*colour"):
        store.update_trial(trial.trial_id, colour="red")
    with pytest.raises(ValueError, match="status"):
        store.update_trial(trial.trial_id, status="completed")
    with pytest.raises(StoreError, match="no trial with id 42"):
        store.update_trial(42, estimate=1.0)
    record = store.trial(trial.trial_id)
    assert record is not None and record.status is TrialStatus.RUNNING


def test_start_trial_resumes_an_unfinished_trial(store_path: Path, make_store: MakeStore) -> None:
    with make_store(store_path) as store:
        planned = store.add_trial("trial-0000", architecture="a", number=5)
        assert planned.status is TrialStatus.PENDING and planned.attempts == 0 and planned.started_at is None
        assert store.add_trial("trial-0000", architecture="a") == planned
        started = store.start_trial("trial-0000", architecture="a")
        other = store.start_trial("trial-0001", architecture="b")
        store.fail_trial(other.trial_id, "out of memory")
    # the process died with trial-0000 running: a new process resumes it
    with RunStore.open(store_path) as store:
        resumed = store.start_trial("trial-0000", architecture="a", architecture_json="{}")
        assert resumed.trial_id == started.trial_id and resumed.number == 5
        assert resumed.attempts == 2 and resumed.started_at == started.started_at
        assert resumed.architecture_json == "{}"
        assert store.start_trial("trial-0002", architecture="c").number == 7
        retried = store.start_trial("trial-0001", architecture="b")
        assert retried.status is TrialStatus.RUNNING
        assert retried.failure_reason is None and retried.finished_at is None
        with pytest.raises(StoreError, match="different architecture"):
            store.start_trial("trial-0000", architecture="not a")
        store.complete_trial(resumed.trial_id)
        with pytest.raises(StoreError, match="already completed"):
            store.start_trial("trial-0000", architecture="a")
        assert len(store.trials()) == 3


# ---------------------------------------------------------------------- epochs


def test_epochs_upsert_and_truncate(store: RunStore) -> None:
    trial_id = store.start_trial("trial-0000", architecture="a").trial_id
    for epoch in (1, 2, 3):
        store.record_epoch(EpochRecord(trial_id, epoch=epoch, metrics={"loss": 1.0 / epoch, "mae": 0.5},
                                       loss=1.0 / epoch, epoch_time_s=0.1, learning_rate=1e-3))
    store.record_epoch(EpochRecord(trial_id, epoch=2, metrics={"loss": 0.4}, loss=0.4, val_loss=0.45,
                                   prediction=0.3, converged=True))
    epochs = store.epochs(trial_id)
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert epochs[1] == EpochRecord(trial_id, epoch=2, metrics={"loss": 0.4}, loss=0.4, val_loss=0.45,
                                    prediction=0.3, converged=True)
    assert epochs[0].learning_rate == 1e-3 and epochs[0].metrics == {"loss": 1.0, "mae": 0.5}

    store.record_metrics(trial_id, "validation", {"loss": 0.5}, epoch=2)
    store.record_metrics(trial_id, "validation", {"loss": 0.4}, epoch=1)
    store.record_metrics(trial_id, "test", {"loss": 0.3})
    store.truncate_epochs(trial_id, after=1)
    assert [e.epoch for e in store.epochs(trial_id)] == [1]
    assert [(m.epoch, m.value) for m in store.metrics(trial_id)] == [(1, 0.4), (None, 0.3)]
    with pytest.raises(ValueError, match="start at 1"):
        store.record_epoch(EpochRecord(trial_id, epoch=0))
    with pytest.raises(StoreError, match="no trial"):
        store.record_epoch(EpochRecord(trial_id + 100, epoch=1))


# ---------------------------------------------------------------------- metrics


def test_metrics_long_format_and_filters(store: RunStore, store_path: Path) -> None:
    trial_id = store.start_trial("trial-0000", architecture="a").trial_id
    store.record_metrics(trial_id, "test", {"loss": 0.3, "r2": 0.9})
    store.record_metrics(trial_id, Split.TRAIN, {"loss": 0.1})
    store.record_metrics(trial_id, "validation", {"loss": 0.2})
    store.record_metrics(trial_id, "validation", {"loss": 0.25}, epoch=2)
    store.record_metrics(trial_id, "test", {"loss": 0.35})  # replaces the first test loss

    everything = store.metrics(trial_id)
    assert [(m.epoch, m.split.value, m.name, m.value) for m in everything] == [
        (2, "validation", "loss", 0.25),
        (None, "train", "loss", 0.1),
        (None, "validation", "loss", 0.2),
        (None, "test", "loss", 0.35),
        (None, "test", "r2", 0.9),
    ]
    assert [m.value for m in store.metrics(trial_id, split="validation")] == [0.25, 0.2]
    assert [m.value for m in store.metrics(trial_id, split="validation", epoch="final")] == [0.2]
    assert [m.value for m in store.metrics(trial_id, epoch=2)] == [0.25]
    assert len(store.metrics(trial_id, epoch="final")) == 4
    with pytest.raises(ValueError, match="unknown split 'holdout'"):
        store.record_metrics(trial_id, "holdout", {"loss": 1.0})
    with sqlite3.connect(store_path) as raw:
        rows = raw.execute("SELECT t.name, m.value FROM metrics m JOIN trials t USING (trial_id) "
                           "WHERE m.split = 'test' AND m.name = 'loss' AND m.epoch IS NULL").fetchall()
    assert rows == [("trial-0000", 0.35)]


def test_non_finite_values_store_as_null_and_keep_json_valid(store: RunStore, store_path: Path) -> None:
    trial_id = store.start_trial("trial-0000", architecture="a").trial_id
    nan, inf = float("nan"), float("inf")
    store.record_epoch(EpochRecord(trial_id, epoch=1, metrics={"loss": nan, "mae": inf, "mse": 2.0},
                                   loss=nan, val_loss=inf))
    store.record_metrics(trial_id, "test", {"loss": nan, "mae": -inf})
    store.update_trial(trial_id, estimate=nan, latency_s=inf, extra={"curve": [1.0, nan]})

    epoch = store.epochs(trial_id)[0]
    assert epoch.loss is None and epoch.val_loss == inf
    assert math.isnan(epoch.metrics["loss"]) and math.isnan(epoch.metrics["mae"])
    assert epoch.metrics["mse"] == 2.0
    values = {m.name: m.value for m in store.metrics(trial_id)}
    assert math.isnan(values["loss"]) and values["mae"] == -inf
    trial = store.trial(trial_id)
    assert trial is not None and trial.estimate is None and trial.latency_s == inf
    assert trial.extra == {"curve": [1.0, None]}

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    with sqlite3.connect(store_path) as raw:
        for (text,) in raw.execute("SELECT metrics FROM epochs UNION ALL SELECT extra FROM trials "
                                   "UNION ALL SELECT manifest FROM runs"):
            json.loads(text, parse_constant=refuse)
        assert raw.execute("SELECT value FROM metrics WHERE name = 'loss'").fetchone() == (None,)


# ---------------------------------------------------------------------- atomicity


def test_an_interrupted_write_leaves_the_store_unchanged(store: RunStore) -> None:
    trial_id = store.start_trial("trial-0000", architecture="a").trial_id
    with pytest.raises(ValueError):
        store.record_metrics(trial_id, "test", {"loss": 0.1, "mae": "not a number"})  # type: ignore[dict-item]
    assert store.metrics(trial_id) == []
    with pytest.raises(ValueError):
        store.complete_trial(trial_id, estimate=0.5, params="many")
    record = store.trial(trial_id)
    assert record is not None and record.status is TrialStatus.RUNNING and record.estimate is None

    with pytest.raises(RuntimeError, match="killed"), store._transaction() as db:
        db.execute("UPDATE trials SET status = 'completed' WHERE trial_id = ?", (trial_id,))
        db.execute("DELETE FROM trials")
        raise RuntimeError("killed mid-transaction")
    record = store.trial(trial_id)
    assert record is not None and record.status is TrialStatus.RUNNING
    store.record_metrics(trial_id, "test", {"loss": 0.1})  # the store still works
    assert len(store.metrics(trial_id)) == 1


# ---------------------------------------------------------------------- export


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_export_csv(store: RunStore, tmp_path: Path) -> None:
    a = store.start_trial("trial-0000", architecture="dense(8)").trial_id
    b = store.start_trial("trial-0001", architecture="dense(16)").trial_id
    store.record_epoch(EpochRecord(a, epoch=1, metrics={"loss": 0.5, "val_mae": 0.2, "epoch": 9.0},
                                   loss=0.5, epoch_time_s=0.25))
    store.record_epoch(EpochRecord(a, epoch=2, metrics={"loss": float("nan")}, loss=float("nan"),
                                   converged=True))
    store.record_epoch(EpochRecord(b, epoch=1, metrics={"loss": 0.7, "r2": 0.1}, loss=0.7))
    store.record_metrics(a, "test", {"loss": 0.45})
    store.record_metrics(a, "validation", {"loss": 0.5}, epoch=1)
    store.complete_trial(a, estimate=0.5, extra={"note": "ok"})
    store.fail_trial(b, 'a "quoted", reason\nover two lines')

    paths = store.export_csv(tmp_path / "export")
    assert [p.name for p in paths] == ["trials.csv", "epochs.csv", "metrics.csv"]
    assert not list((tmp_path / "export").glob(".*"))

    trials = _read_csv(paths[0])
    assert [(t["name"], t["status"], t["architecture"]) for t in trials] == [
        ("trial-0000", "completed", "dense(8)"), ("trial-0001", "failed", "dense(16)")]
    assert trials[0]["estimate"] == "0.5" and trials[1]["estimate"] == ""
    assert json.loads(trials[0]["extra"]) == {"note": "ok"}
    assert trials[1]["failure_reason"] == 'a "quoted", reason\nover two lines'

    with paths[1].open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == ["trial_id", "trial", "epoch", "epoch_time_s", "learning_rate", "prediction",
                      "converged", "curve", "prediction_time_s", "loss", "metric_epoch", "r2", "val_loss", "val_mae"]
    epochs = _read_csv(paths[1])
    assert [(e["trial"], e["epoch"], e["loss"]) for e in epochs] == [
        ("trial-0000", "1", "0.5"), ("trial-0000", "2", ""), ("trial-0001", "1", "0.7")]
    assert epochs[0]["val_mae"] == "0.2" and epochs[0]["metric_epoch"] == "9.0"
    assert epochs[0]["epoch_time_s"] == "0.25" and epochs[2]["val_mae"] == ""
    assert [e["converged"] for e in epochs] == ["False", "True", "False"]

    metrics = _read_csv(paths[2])
    assert [(m["trial"], m["split"], m["epoch"], m["name"], m["value"]) for m in metrics] == [
        ("trial-0000", "validation", "1", "loss", "0.5"), ("trial-0000", "test", "", "loss", "0.45")]


def test_export_of_an_empty_store_has_headers(store: RunStore, tmp_path: Path) -> None:
    paths = store.export_csv(tmp_path)
    assert [p.read_text().splitlines()[0].split(",")[:3] for p in paths] == [
        ["trial_id", "number", "name"], ["trial_id", "trial", "epoch"], ["trial_id", "trial", "split"]]


# ---------------------------------------------------------------------- locking and reading


def test_second_writer_is_refused_while_the_first_holds_the_lock(store: RunStore, store_path: Path) -> None:
    with pytest.raises(StoreError, match=rf"in use by another process \(pid {os.getpid()}\)"):
        RunStore.open(store_path)
    store.close()
    with RunStore.open(store_path) as again:
        assert again.run().run_id == "r1"


def test_lock_held_by_another_process_and_released_when_it_is_killed(store_path: Path,
                                                                     make_store: MakeStore) -> None:
    make_store(store_path).close()
    holder = _spawn_holder(store_path)
    try:
        with pytest.raises(ScinasError, match=rf"in use by another process \(pid {holder.pid}\)"):
            RunStore.open(store_path)
        with RunStore.open(store_path, readonly=True) as reader:
            assert [t.name for t in reader.trials(TrialStatus.RUNNING)] == ["trial-0000"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()
    assert holder.returncode == -signal.SIGKILL
    with RunStore.open(store_path) as store:  # the stale lock file does not block
        assert store.trial("trial-0000") is not None  # the killed writer's commit survived
        store.set_run_status(RunStatus.INTERRUPTED)


def test_readonly_reader_sees_the_writer_and_cannot_write(store: RunStore, store_path: Path,
                                                          tmp_path: Path) -> None:
    trial_id = store.start_trial("trial-0000", architecture="a").trial_id
    with RunStore.open(store_path, readonly=True) as reader:
        assert [t.name for t in reader.trials()] == ["trial-0000"]
        store.record_epoch(EpochRecord(trial_id, epoch=1, loss=0.5))
        assert [e.loss for e in reader.epochs(trial_id)] == [0.5]
        with pytest.raises(StoreError, match="read-only"):
            reader.set_run_status(RunStatus.COMPLETED)
        assert "read-only" in repr(reader)
        trials_csv = reader.export_csv(tmp_path / "export")[0]
        assert "trial-0000" in trials_csv.read_text()
    assert store.run().status is RunStatus.RUNNING


def test_a_newer_schema_is_refused(store_path: Path, make_store: MakeStore) -> None:
    make_store(store_path).close()
    with sqlite3.connect(store_path) as raw:
        raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    raw.close()
    for readonly in (False, True):
        with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}.*upgrade scinas"):
            RunStore.open(store_path, readonly=readonly)
    with sqlite3.connect(store_path) as raw:
        raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    raw.close()
    with RunStore.open(store_path) as store:  # the refused writer gave its lock back
        assert store.run().run_id == "r1"
