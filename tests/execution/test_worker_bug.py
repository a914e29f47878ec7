"""A bug in scinas inside a worker stops the run, saved and resumable, as it does inline: it is
never recorded as a failed trial.  The worker tells a trial's failures (recorded as failed) from
bugs (an ``internal_error`` journal line and exit status 70) with the same classification as the
coordinating process, and the coordinator raises the same InternalError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.errors import TrialFailed
from scinas.execution.journal import EXIT_BUG, JournalReader
from scinas.execution.task import WorkerTask, run_task, run_task_file
from scinas.search.base import TrialRequest
from scinas.store import RunStatus, RunStore, TrialStatus
from tests.conftest import ConfigWriter
from tests.execution.conftest import StartedRun, plant_worker_bug

FLAGS = ["--no-progress", "-q"]


def _task(started_run: StartedRun, name: str) -> WorkerTask:
    record = started_run.store.add_trial(name, architecture=started_run.plan.architecture.to_text())
    request = TrialRequest(name, started_run.plan.architecture)
    task = WorkerTask(started_run.run_dir, "T", started_run.cache_root, request, record, "local", threads=None,
                      verbose=0)
    task.trial_dir.mkdir(parents=True, exist_ok=True)
    return task


def _ops(task: WorkerTask) -> list[str]:
    return [json.loads(line)["op"] for line in task.journal_path.read_text().splitlines()]


def test_a_bug_in_a_worker_is_an_internal_error_line_not_a_failed_trial(started_run: StartedRun,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from scinas.training import trainer

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("measure_costs() got an unexpected keyword argument 'bug'")

    monkeypatch.setattr(trainer, "measure_costs", broken)
    task = _task(started_run, "t0")
    with pytest.raises(TypeError, match="unexpected keyword argument 'bug'"):
        run_task(task)
    assert _ops(task)[-1] == "internal_error" and "fail" not in _ops(task)
    reader = JournalReader(task.journal_path, "t0")
    assert reader.ingest(started_run.store) is False and reader.bug is not None
    assert "measure_costs" in reader.bug[1]
    record = started_run.store.trial("t0")
    assert record is not None and record.status == TrialStatus.RUNNING and record.failure_reason is None

    task.journal_path.unlink()
    task.save(task.trial_dir / "task.json")
    with pytest.raises(SystemExit) as exited:  # what a Slurm job runs
        run_task_file(str(task.trial_dir / "task.json"))
    assert exited.value.code == EXIT_BUG and _ops(task)[-1] == "internal_error"


def test_a_failure_the_trial_causes_is_still_a_failed_trial_in_a_worker(started_run: StartedRun,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from scinas.training.trainer import Trainer

    def diverges(*args: object, **kwargs: object) -> None:
        raise TrialFailed("loss became nan at epoch 1")

    monkeypatch.setattr(Trainer, "train", diverges)
    task = _task(started_run, "t1")
    assert run_task(task) == "failed"
    assert _ops(task)[-1] == "fail" and "internal_error" not in _ops(task)


@pytest.mark.slow
def test_a_bug_in_a_local_worker_stops_the_run_saved_and_resumable(write_config: ConfigWriter, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config()
    results = tmp_path / "results"
    plant_worker_bug(monkeypatch, tmp_path / "bug")
    arguments = ["T", 'T.execution.executor="local"', "T.execution.threads_per_worker=1",
                 'T.execution.distribution="cpu"', "T.training.tensorboard=false"]
    assert main(["run", *arguments, "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 1
    error = capsys.readouterr().err
    (run,) = sorted((results / "T").iterdir())
    assert "trial trial-0000 stopped on an unexpected TypeError" in error and "not a failed trial" in error
    assert f"--resume {run}" in error
    assert "measure_costs" in (run / "run.log").read_text()  # the worker's traceback, in the run's log
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.RUNNING and trial.failure_reason is None
        assert store.run().status == RunStatus.INTERRUPTED

    monkeypatch.undo()  # the bug fixed
    assert main(["run", "--resume", str(run), *FLAGS]) == 0
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED and trial.attempts == 2 and trial.params
        assert store.run().status == RunStatus.COMPLETED
