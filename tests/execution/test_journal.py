"""The per-trial journal: what a worker writes is what the coordinator's store ends up holding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.errors import InternalError
from scinas.execution.journal import JournalReader, TrialJournal
from scinas.store import EpochRecord, RunStore, TrialStatus


def _store(tmp_path: Path) -> RunStore:
    return RunStore.create(tmp_path / "store.sqlite", run_id="r", experiment="E", seed=1, config_text="",
                           manifest={})


def test_journal_replays_into_the_store_incrementally(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        planned = store.add_trial("t0000", architecture="A", architecture_json='{"kind": "x"}')
        journal = TrialJournal(tmp_path / "t0000" / "journal.jsonl", planned)
        reader = JournalReader(journal.path, "t0000")
        started = journal.start_trial("t0000", architecture="A", architecture_json='{"kind": "x"}')
        assert started.status == TrialStatus.RUNNING and started.attempts == 1
        journal.update_trial(planned.trial_id, extra={"host": "node1", "device": "cpu"})
        journal.record_epoch(EpochRecord(planned.trial_id, 1, metrics={"loss": 0.5, "val_loss": 0.7}, loss=0.5,
                                         val_loss=0.7, epoch_time_s=0.1, prediction=0.6, converged=False))
        assert reader.ingest(store) is False  # live: the store shows the epoch while the trial runs
        live = store.trial("t0000")
        assert live is not None and live.status == TrialStatus.RUNNING and live.extra["host"] == "node1"
        assert [e.loss for e in store.epochs(planned.trial_id)] == [0.5]

        journal.record_epoch(EpochRecord(planned.trial_id, 2, metrics={"loss": float("nan")}, loss=0.4))
        journal.truncate_epochs(planned.trial_id, after=1)
        assert [e.epoch for e in journal.epochs(planned.trial_id)] == [1]
        journal.record_epoch(EpochRecord(planned.trial_id, 2, metrics={"loss": 0.3}, loss=0.3))
        journal.record_metrics(planned.trial_id, "validation", {"r_squared": 0.9})
        journal.record_metrics(planned.trial_id, "train", {"loss": 0.2}, epoch=2)
        journal.complete_trial(planned.trial_id, best_epoch=2, epochs_completed=2, train_time_s=1.5,
                               params=123, curve_parameters={"a": 1.0})
        journal.close()
        assert journal.trial("t0000") is not None and journal.trial("t0000").status == TrialStatus.COMPLETED  # type: ignore[union-attr]
        assert reader.ingest(store) is True
        done = store.trial("t0000")
        assert done is not None and done.status == TrialStatus.COMPLETED and done.attempts == 1
        assert (done.best_epoch, done.epochs_completed, done.params, done.train_time_s) == (2, 2, 123, 1.5)
        assert done.curve_parameters == {"a": 1.0} and done.extra == {"host": "node1", "device": "cpu"}
        assert [(e.epoch, e.loss) for e in store.epochs(planned.trial_id)] == [(1, 0.5), (2, 0.3)]
        assert store.epochs(planned.trial_id)[0].prediction == 0.6
        assert {(m.split.value, m.epoch, m.name, m.value) for m in store.metrics(planned.trial_id)} == {
            ("validation", None, "r_squared", 0.9), ("train", 2, "loss", 0.2)}
        assert JournalReader.ends_final(journal.path)


def test_a_half_written_line_waits_and_a_failure_is_final(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        planned = store.add_trial("t0001", architecture="B")
        path = tmp_path / "journal.jsonl"
        journal = TrialJournal(path, planned)
        journal.start_trial("t0001", architecture="B")
        journal.close()
        with path.open("a") as handle:  # a worker killed in the middle of a line
            handle.write(json.dumps({"op": "fail", "reason": "loss became nan", "fields": {}})[:12])
        reader = JournalReader(path, "t0001")
        assert reader.ingest(store) is False and not JournalReader.ends_final(path)
        with path.open("a") as handle:
            handle.write(json.dumps({"op": "fail", "reason": "loss became nan", "fields": {}})[12:] + "\n")
        assert reader.ingest(store) is True
        record = store.trial("t0001")
        assert record is not None and record.status == TrialStatus.FAILED
        assert record.failure_reason == "loss became nan"


def test_an_internal_error_line_is_a_bug_not_a_failed_trial(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        planned = store.add_trial("t0002", architecture="C")
        journal = TrialJournal(tmp_path / "journal.jsonl", planned)
        journal.start_trial("t0002", architecture="C")
        try:
            raise TypeError("an argument scinas should not pass")
        except TypeError as exc:
            journal.internal_error(exc)
        journal.close()
        reader = JournalReader(journal.path, "t0002")
        assert reader.ingest(store) is False  # not final: on resume the trial is trained again
        assert not JournalReader.ends_final(journal.path)
        assert reader.bug is not None and reader.bug[0] == "TypeError: an argument scinas should not pass"
        assert "Traceback" in reader.bug[1] and "test_an_internal_error_line" in reader.bug[1]
        with pytest.raises(InternalError, match=r"trial t0002 stopped on an unexpected TypeError.*not a failed"):
            reader.raise_if_bug(tmp_path / "worker.log")
        record = store.trial("t0002")
        assert record is not None and record.status == TrialStatus.RUNNING and record.failure_reason is None


def test_a_journal_without_an_internal_error_raises_nothing(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        planned = store.add_trial("t0003", architecture="D")
        journal = TrialJournal(tmp_path / "journal.jsonl", planned)
        journal.fail_trial(planned.trial_id, "loss became nan")
        journal.close()
        reader = JournalReader(journal.path, "t0003")
        assert reader.ingest(store) is True and reader.bug is None
        reader.raise_if_bug()
