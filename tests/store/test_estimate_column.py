"""The learning curve's estimate is the column ``trials.estimate`` (schema 4; it was ``fitness``).

``data/store_v3.sql`` is a store written by the RunStore of schema version 3 (dumped as SQL): two
completed trials with an estimate in the ``fitness`` column (one converged, one not) and a failed
trial without.  Old worker journals and task files that still say ``fitness`` are read too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.execution.journal import JournalReader
from scinas.store import SCHEMA_VERSION, RunStore
from scinas.store.records import current_trial_fields
from tests.store.dumps import raw_rows, store_from_dump

_ESTIMATES = {"t0000": 0.91, "t0001": 0.62, "t0002": None}


def _columns(path: Path) -> set[object]:
    return {row[1] for row in raw_rows(path, "PRAGMA table_info(trials)")}


def _indices(path: Path) -> set[object]:
    return {row[0] for row in raw_rows(path, "SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_new_store_has_the_estimate_column_and_its_index(store: RunStore) -> None:
    assert SCHEMA_VERSION >= 4
    assert "estimate" in _columns(store.path) and "fitness" not in _columns(store.path)
    assert "trials_by_estimate" in _indices(store.path)
    trial = store.start_trial("t0", architecture="cell").trial_id
    store.complete_trial(trial, estimate=0.7)
    assert raw_rows(store.path, "SELECT estimate FROM trials") == [(0.7,)]
    with pytest.raises(ValueError, match="unknown trial field"):
        store.update_trial(trial, fitness=0.7)  # the store itself takes the current name only


def test_a_schema_3_store_is_read_as_is_and_renamed_in_place_by_its_writer(tmp_path: Path) -> None:
    path = store_from_dump(3, tmp_path / "run" / "store.sqlite")
    assert raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]

    with RunStore.open(path, readonly=True) as reader:  # a reader does not upgrade: read from `fitness`
        assert {t.name: t.estimate for t in reader.trials()} == _ESTIMATES
    assert "fitness" in _columns(path) and "estimate" not in _columns(path)

    with RunStore.open(path) as writer:  # resume: upgraded in place, every value kept
        trials = writer.trials()
        assert {t.name: t.estimate for t in trials} == _ESTIMATES
        assert [(t.measured, t.converged_epoch) for t in trials] == [(0.8, 4), (0.62, None), (None, None)]
        assert [m.value for m in writer.metrics(trials[0].trial_id)] == [0.8]
        added = writer.start_trial("t0003", architecture="cell 3").trial_id
        writer.complete_trial(added, estimate=0.5)
    assert raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert "estimate" in _columns(path) and "fitness" not in _columns(path)
    assert "trials_by_estimate" in _indices(path) and "trials_by_fitness" not in _indices(path)
    assert raw_rows(path, "SELECT name FROM trials WHERE estimate IS NOT NULL ORDER BY estimate DESC") == [
        ("t0000",),
        ("t0001",),
        ("t0003",),
    ]


def test_old_field_names_are_renamed_and_the_current_name_wins() -> None:
    assert current_trial_fields({"fitness": 0.9, "params": 12}) == {"estimate": 0.9, "params": 12}
    assert current_trial_fields({"fitness": 0.1, "estimate": 0.9}) == {"estimate": 0.9}
    assert current_trial_fields({}) == {}


def test_a_journal_written_before_the_rename_is_replayed(store: RunStore, tmp_path: Path) -> None:
    store.add_trial("t0000", architecture="cell")
    journal = tmp_path / "journal.jsonl"
    lines = [
        {"op": "start", "name": "t0000", "architecture": "cell", "architecture_json": None},
        {"op": "complete", "fields": {"fitness": 0.83, "measured": 0.7, "train_time_s": 1.5}},
    ]
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert JournalReader(journal, "t0000").ingest(store)
    record = store.trial("t0000")
    assert record is not None and (record.estimate, record.measured, record.train_time_s) == (0.83, 0.7, 1.5)
