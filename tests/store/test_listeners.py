"""RunStore listeners: one event per committed trial, epoch, metrics, completion or failure write."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scinas.store import EpochRecord, RunStore, TrialStatus
from scinas.store.events import StoreEvent, StoreEventKind


def test_each_committed_write_is_announced_after_the_commit(store: RunStore) -> None:
    events: list[StoreEvent] = []
    seen_in_store: list[bool] = []

    def listen(event: StoreEvent) -> None:
        events.append(event)
        # the write is committed and visible when the listener runs
        seen_in_store.append(store.trial(event.trial.trial_id) is not None)

    store.add_listener(listen)
    planned = store.add_trial("t0", architecture="a")  # planning a trial is not an event
    trial = store.start_trial("t0", architecture="a")
    store.update_trial(trial.trial_id, params=10)  # nor is a field update
    store.record_epoch(EpochRecord(trial.trial_id, 1, metrics={"loss": 0.5}, loss=0.5))
    store.record_metrics(trial.trial_id, "test", {"loss": 0.4})
    store.complete_trial(trial.trial_id, epochs_completed=1)
    other = store.start_trial("t1", architecture="b")
    store.fail_trial(other.trial_id, "NaN loss")

    assert [e.kind for e in events] == [
        StoreEventKind.TRIAL_STARTED, StoreEventKind.EPOCH_RECORDED, StoreEventKind.METRICS_RECORDED,
        StoreEventKind.TRIAL_COMPLETED, StoreEventKind.TRIAL_STARTED, StoreEventKind.TRIAL_FAILED]
    assert all(seen_in_store)
    started, epoch, metrics, completed, _, failed = events
    assert started.trial.trial_id == planned.trial_id and started.trial.status == TrialStatus.RUNNING
    assert epoch.epoch is not None and epoch.epoch.epoch == 1 and epoch.trial.name == "t0"
    assert metrics.split == "test" and dict(metrics.values) == {"loss": 0.4} and metrics.metrics_epoch is None
    assert completed.trial.status == TrialStatus.COMPLETED and completed.trial.params == 10
    assert failed.trial.status == TrialStatus.FAILED and failed.trial.failure_reason == "NaN loss"

    store.remove_listener(listen)
    store.remove_listener(listen)  # removing twice is harmless
    store.start_trial("t2", architecture="c")
    assert len(events) == 6


def test_a_failing_listener_never_fails_the_write(store: RunStore, store_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    calls: list[StoreEventKind] = []

    def broken(event: StoreEvent) -> None:
        raise RuntimeError("listener bug")

    store.add_listener(broken)
    store.add_listener(lambda event: calls.append(event.kind))
    with caplog.at_level(logging.ERROR, logger="scinas.store"):
        trial = store.start_trial("t0", architecture="a")
        store.complete_trial(trial.trial_id, epochs_completed=1)
    assert calls == [StoreEventKind.TRIAL_STARTED, StoreEventKind.TRIAL_COMPLETED]  # the next listener still ran
    assert "a run-store listener failed on trial_started of t0" in caplog.text
    store.close()
    with RunStore.open(store_path, readonly=True) as reader:
        assert reader.trial("t0").status == TrialStatus.COMPLETED  # type: ignore[union-attr]
