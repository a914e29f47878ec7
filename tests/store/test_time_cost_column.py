"""The time cost is the column ``trials.time_cost_s`` (schema 5); a search minimises it, and reads the
wall training time of trials recorded without one.

``data/store_v4.sql`` is a store written by the RunStore of schema version 4 (dumped as SQL): two
completed trials with their wall training time only.
"""

from __future__ import annotations

from pathlib import Path

from scinas.search.domain import Objectives
from scinas.search.outcome import outcome_from_record
from scinas.store import SCHEMA_VERSION, RunStore
from tests.store.dumps import raw_rows, store_from_dump

_TIME = Objectives(score="accuracy", maximize=True, costs=("time",))


def test_the_time_cost_is_stored_and_is_the_search_s_time(store: RunStore) -> None:
    assert SCHEMA_VERSION >= 5
    trial = store.start_trial("t0", architecture="cell").trial_id
    store.record_metrics(trial, "validation", {"accuracy": 0.5})
    store.complete_trial(trial, train_time_s=9.0, time_cost_s=2.5)
    record = store.trial(trial)
    assert record is not None and (record.time_cost_s, record.time_cost) == (2.5, 2.5)
    assert outcome_from_record(store, record, _TIME).costs == {"time": 2.5}
    assert raw_rows(store.path, "SELECT time_cost_s FROM trials") == [(2.5,)]


def test_a_trial_without_a_time_cost_is_costed_by_its_wall_time(store: RunStore) -> None:
    trial = store.start_trial("t0", architecture="cell").trial_id
    store.record_metrics(trial, "validation", {"accuracy": 0.5})
    store.complete_trial(trial, train_time_s=9.0)
    record = store.trial(trial)
    assert record is not None and record.time_cost_s is None and record.time_cost == 9.0
    assert outcome_from_record(store, record, _TIME).costs == {"time": 9.0}


def test_a_schema_4_store_is_read_as_is_and_upgraded_in_place_by_its_writer(tmp_path: Path) -> None:
    path = store_from_dump(4, tmp_path / "run" / "store.sqlite")
    assert raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]
    with RunStore.open(path, readonly=True) as reader:  # no column yet: the wall time stands in
        assert [(t.time_cost_s, t.time_cost) for t in reader.trials()] == [(None, 12.5), (None, 3.25)]
        first = reader.trials()[0]
        assert outcome_from_record(reader, first, _TIME).costs == {"time": 12.5}

    with RunStore.open(path) as writer:
        assert [(t.time_cost_s, t.train_time_s) for t in writer.trials()] == [(None, 12.5), (None, 3.25)]
        added = writer.start_trial("t0002", architecture="cell 2").trial_id
        writer.complete_trial(added, train_time_s=4.0, time_cost_s=1.5)
    assert raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert raw_rows(path, "SELECT name, time_cost_s FROM trials ORDER BY trial_id") == [
        ("t0000", None),
        ("t0001", None),
        ("t0002", 1.5),
    ]
