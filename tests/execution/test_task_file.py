"""Worker task files are JSON, owner-only, and a file that is not scinas's task (a pickle, an
edited architecture) is refused without running anything it holds; run folders are owner-only."""

from __future__ import annotations

import dataclasses
import json
import pickle
import stat
from pathlib import Path

import pytest

from scinas.execution.task import TASK_FILE, TaskFileError, WorkerTask
from scinas.execution.worker import main as worker_main
from scinas.search.base import TrialRequest
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig
from scinas.store import TrialPhase
from tests.execution.conftest import StartedRun


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _task(started_run: StartedRun, name: str = "trial-0007") -> WorkerTask:
    architecture = started_run.plan.architecture
    record = started_run.store.add_trial(name, architecture=architecture.to_text())
    return WorkerTask(started_run.run_dir, "T", started_run.cache_root, TrialRequest(name, architecture), record,
                      "local", threads=1, verbose=0)


class _Payload:
    """Unpickling this touches ``marker``: what an attacker's pickle could do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def test_the_run_folder_is_readable_by_its_owner_only(started_run: StartedRun) -> None:
    assert _mode(started_run.run_dir) == 0o700


def test_a_task_is_written_as_owner_only_json_and_read_back_equal(started_run: StartedRun) -> None:
    task = _task(started_run)
    path = started_run.run_dir / "trials" / "trial-0007" / TASK_FILE
    path.parent.mkdir(parents=True)
    task.save(path)
    assert _mode(path) == 0o600
    data = json.loads(path.read_text())  # plain JSON, no pickle
    assert data["trial"] == "trial-0007" and data["architecture"]["kind"] == "layer_stack"
    loaded = WorkerTask.load(path)
    assert loaded.request.architecture.to_text() == task.request.architecture.to_text()
    assert dataclasses.replace(loaded, request=task.request) == task


def test_a_cell_architecture_survives_the_task_file(started_run: StartedRun, tmp_path: Path) -> None:
    architecture = CellArchitecture(Cell.from_text("[(-1, 3x3 conv, -2, 2x2 maxpool)]"), MacroConfig(filters=8))
    record = started_run.store.add_trial("cell-1", architecture=architecture.to_text())
    task = WorkerTask(started_run.run_dir, "T", started_run.cache_root, TrialRequest("cell-1", architecture), record,
                      "slurm")
    task.save(tmp_path / TASK_FILE)
    loaded = WorkerTask.load(tmp_path / TASK_FILE)
    assert loaded.request.architecture.to_text() == architecture.to_text() and loaded == task


def test_a_task_whose_architecture_was_edited_is_refused(started_run: StartedRun, tmp_path: Path) -> None:
    task = _task(started_run)
    path = tmp_path / TASK_FILE
    task.save(path)
    data = json.loads(path.read_text())
    data["architecture"] = CellArchitecture(Cell.from_text("[(-1, 3x3 conv, -1, 3x3 conv)]"), MacroConfig()).to_json()
    path.write_text(json.dumps(data))
    with pytest.raises(TaskFileError, match="not the one on record"):
        WorkerTask.load(path)


def test_a_pickled_task_file_is_refused_and_never_unpickled(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / TASK_FILE
    path.write_bytes(pickle.dumps(_Payload(marker)))
    assert worker_main([str(path)]) == 1
    assert not marker.exists()
    assert "not a readable scinas worker task" in capsys.readouterr().err


def test_the_local_executor_hands_its_worker_a_json_task(started_run: StartedRun) -> None:
    from scinas.execution.local import LocalExecutor

    executor = LocalExecutor(started_run.store, started_run.run_dir, "T", started_run.cache_root, workers=1,
                             threads=1, verbose=0, python="/bin/true")
    architecture = started_run.plan.architecture
    started_run.store.add_trial("trial-0001", architecture=architecture.to_text())
    executor.submit(TrialRequest("trial-0001", architecture))
    executor.shutdown()
    trial_dir = started_run.run_dir / "trials" / "trial-0001"
    assert sorted(p.name for p in trial_dir.glob("task.*")) == [TASK_FILE]
    assert _mode(trial_dir / TASK_FILE) == 0o600
    assert WorkerTask.load(trial_dir / TASK_FILE).request.name == "trial-0001"


def test_a_task_keeps_the_phase_of_its_trial(started_run: StartedRun) -> None:
    architecture = started_run.plan.architecture
    record = started_run.store.add_trial("select-00", architecture=architecture.to_text(),
                                         phase=TrialPhase.SELECTION)
    task = WorkerTask(started_run.run_dir, "T", started_run.cache_root, TrialRequest("select-00", architecture),
                      record, "local", threads=1, verbose=0)
    path = started_run.run_dir / "trials" / "select-00" / TASK_FILE
    path.parent.mkdir(parents=True)
    task.save(path)
    assert json.loads(path.read_text())["record"]["phase"] == "selection"
    assert WorkerTask.load(path).record.phase is TrialPhase.SELECTION


def test_a_task_written_before_the_estimate_was_named_is_read(started_run: StartedRun) -> None:
    task = _task(started_run)
    path = started_run.run_dir / "trials" / "trial-0007" / TASK_FILE
    path.parent.mkdir(parents=True)
    task.save(path)
    data = json.loads(path.read_text())
    data["record"]["fitness"] = data["record"].pop("estimate")  # the record's key before schema 4
    data["record"]["fitness"] = 0.42
    path.write_text(json.dumps(data))
    assert WorkerTask.load(path).record.estimate == 0.42
