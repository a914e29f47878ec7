"""The phase of a trial is a column of the store (schema 3), and a schema-2 store is upgraded in place.

``data/store_v2.sql`` is a store written by the RunStore of schema version 2 (dumped as SQL): the
phase of search, selection and final trials was a key of ``extra``; a fixed experiment's trial
had none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.store import SCHEMA_VERSION, RunStore, TrialPhase
from tests.store.dumps import raw_rows, store_from_dump

_PHASES = {"t0000": "search", "t0001": "search", "select-00": "selection", "final": "final",
           "trial-0000": "fixed"}


def test_a_new_trial_records_its_phase(store: RunStore) -> None:
    assert SCHEMA_VERSION >= 3
    store.add_trial("select-00", architecture="cell", phase=TrialPhase.SELECTION)
    store.start_trial("trial-0000", architecture="Dense(12)", phase="fixed")
    store.start_trial("t0000", architecture="cell 2")  # a search trial unless told otherwise
    store.start_trial("select-00", architecture="cell", phase="final")  # an existing trial keeps its phase
    assert {t.name: t.phase for t in store.trials()} == {"select-00": "selection", "trial-0000": "fixed",
                                                          "t0000": "search"}
    assert all("phase" not in t.extra for t in store.trials())
    assert raw_rows(store.path, "SELECT name FROM trials WHERE phase = 'fixed'") == [("trial-0000",)]
    with pytest.raises(ValueError, match="is not a valid TrialPhase"):
        store.add_trial("x", architecture="cell", phase="warmup")


def test_the_trials_export_has_a_phase_column(store: RunStore, tmp_path: Path) -> None:
    store.add_trial("final", architecture="cell", phase=TrialPhase.FINAL)
    trials_csv = store.export_csv(tmp_path / "csv")[0]
    header, row = trials_csv.read_text().splitlines()
    assert row.split(",")[header.split(",").index("phase")] == "final"


def test_a_schema_2_store_is_read_as_is_and_upgraded_in_place_by_its_writer(tmp_path: Path) -> None:
    path = store_from_dump(2, tmp_path / "run" / "store.sqlite")
    assert raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]

    with RunStore.open(path, readonly=True) as reader:  # a reader does not upgrade: phases come from extra
        assert {t.name: t.phase for t in reader.trials()} == _PHASES
    assert "phase" not in {row[1] for row in raw_rows(path, "PRAGMA table_info(trials)")}

    with RunStore.open(path) as writer:  # resume: upgraded in place, every record kept
        trials = writer.trials()
        assert {t.name: t.phase for t in trials} == _PHASES
        assert {t.name: t.extra for t in trials} == {"t0000": {"blocks": 1, "executor": "inline"},
                                                     "t0001": {"blocks": 1, "executor": "inline"},
                                                     "select-00": {"executor": "inline"},
                                                     "final": {"executor": "inline"}, "trial-0000": {}}
        assert [t.status for t in trials] == ["completed"] * 4 + ["failed"]
        assert [m.value for m in writer.metrics(trials[0].trial_id)] == [0.75]
        added = writer.add_trial("t0002", architecture="cell t0002")
        assert (added.number, added.phase) == (5, TrialPhase.SEARCH)
    assert raw_rows(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert raw_rows(path, "SELECT phase, COUNT(*) FROM trials GROUP BY phase ORDER BY phase") == [
        ("final", 1), ("fixed", 1), ("search", 3), ("selection", 1)]
    assert all("phase" not in json.loads(str(extra)) for (extra,) in raw_rows(path, "SELECT extra FROM trials"))
    assert ("trials_by_phase",) in raw_rows(path, "SELECT name FROM sqlite_master WHERE type = 'index'")
