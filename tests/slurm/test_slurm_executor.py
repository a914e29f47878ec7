"""The Slurm executor on a real single-node cluster (fixture ``slurm_cluster``): trials run as jobs
and are recorded like inline ones; a cancelled job fails its trial and the search goes on; a
retried job, and a coordinator killed while its jobs run, lose nothing."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scinas.cli import main
from scinas.store import RunStore, TrialStatus
from tests.conftest import REPO, SERIES_DATA, TINY_EXPERIMENTS, TINY_SEARCH, ConfigWriter
from tests.execution.conftest import plant_worker_bug, trial_facts
from tests.slurm.conftest import SlurmCluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

FLAGS = ["--no-progress", "-q"]

# A random search of 3 trials, 2 jobs at a time, polled twice a second.
SLURM_SEARCH = (TINY_SEARCH.replace('strategy = "popnas"', 'strategy = "random"\nbudget = 3')
                .replace("max_children = 2\nmax_exploration_children = 1\npredictor_epochs = 5\n"
                         "predictor_ensemble = 1\n", "")
                + '\n[P.execution]\nexecutor = "slurm"\ndistribution = "cpu"\nparallel_trials = 2\n'
                  "[P.execution.slurm]\npoll_seconds = 0.5\ntime_minutes = 10\n")


def _run_dir(results: Path, experiment: str) -> Path:
    (run,) = sorted((results / experiment).iterdir())
    return run


def _job_rows(store_path: Path) -> list[tuple[str, str, str | None]]:
    """(name, status, slurm job id) of each trial, read-only while the coordinator writes."""
    try:
        with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute("SELECT name, status, json_extract(extra, '$.slurm_job_id') FROM trials").fetchall()
    except sqlite3.Error:
        return []
    return [(name, status, job) for name, status, job in rows]


def _coordinator(arguments: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(REPO / "src" / "main.py"), *arguments],
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _when(condition: object, deadline_s: float = 600.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {deadline_s:.0f} s")
        time.sleep(0.2)


def test_a_search_runs_its_trials_as_slurm_jobs(slurm_cluster: SlurmCluster, write_config: ConfigWriter,
                                                 tmp_path: Path) -> None:
    folder = write_config(SLURM_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "P", "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 0
    run = _run_dir(results, "P")
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        search = [t for t in store.trials() if t.phase == "search"]
        assert len(search) == 3
        jobs = set()
        for trial in search:
            assert trial.status == TrialStatus.COMPLETED, trial.failure_reason
            assert trial.extra["executor"] == "slurm" and trial.extra["device"] == "cpu" and trial.extra["host"]
            job = trial.extra["slurm_job_id"]
            jobs.add(job)
            assert slurm_cluster.wait(job) == "COMPLETED"
            assert [e.epoch for e in store.epochs(trial.trial_id)] == [1]
            assert (run / "trials" / trial.name / "journal.jsonl").exists()
        assert len(jobs) == 3
        assert store.run().status == "completed"
    assert (run / "best_model/model.keras").exists()


def test_slurm_and_inline_record_the_same_trial(slurm_cluster: SlurmCluster, write_config: ConfigWriter,
                                                tmp_path: Path) -> None:
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\ndistribution = "cpu"\n')
    common = ["T", "T.training.tensorboard=false"]
    assert main(["run", *common, "--config-dir", str(folder), "--results", str(tmp_path / "i"), *FLAGS]) == 0
    assert main(["run", *common, 'T.execution.executor="slurm"', "T.execution.slurm.poll_seconds=0.5",
                 "--config-dir", str(folder), "--results", str(tmp_path / "s"), *FLAGS]) == 0
    facts = []
    for results in (tmp_path / "i", tmp_path / "s"):
        with RunStore.open(_run_dir(results, "T") / "store.sqlite", readonly=True) as store:
            (record,) = store.trials()
            facts.append(trial_facts(store, record))
    inline, slurm = facts
    for key in ("architecture", "status", "epochs_completed", "best_epoch", "params", "epochs"):
        assert inline[key] == slurm[key], key
    np.testing.assert_allclose(inline["val_loss"], slurm["val_loss"], rtol=1e-4)  # type: ignore[arg-type]
    final_i, final_s = inline["final"], slurm["final"]
    assert isinstance(final_i, dict) and isinstance(final_s, dict) and final_i.keys() == final_s.keys()
    np.testing.assert_allclose([final_i[k] for k in sorted(final_i)], [final_s[k] for k in sorted(final_i)],
                               rtol=1e-4, atol=1e-6)


def test_a_cancelled_job_is_a_failed_trial_and_the_search_goes_on(slurm_cluster: SlurmCluster,
                                                                   write_config: ConfigWriter,
                                                                   tmp_path: Path) -> None:
    folder = write_config(SLURM_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    process = _coordinator(["run", "P", "--config-dir", str(folder), "--results", str(results), *FLAGS])
    try:
        store_path = lambda: next(iter(results.glob("P/*/store.sqlite")), results / "none")  # noqa: E731
        _when(lambda: any(job for _, _, job in _job_rows(store_path())))
        name, _, job = next(row for row in _job_rows(store_path()) if row[2])
        subprocess.run(["scancel", str(job)], env=slurm_cluster.env, check=True, timeout=30)
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
    with RunStore.open(_run_dir(results, "P") / "store.sqlite", readonly=True) as store:
        cancelled = store.trial(name)
        assert cancelled is not None and cancelled.status == TrialStatus.FAILED
        assert f"Slurm job {job} ended CANCELLED" in (cancelled.failure_reason or "")
        others = [t for t in store.trials() if t.phase == "search" and t.name != name]
        assert len(others) == 2 and all(t.status == TrialStatus.COMPLETED for t in others)


def test_a_cancelled_job_is_resubmitted_when_retries_are_allowed(slurm_cluster: SlurmCluster,
                                                                 write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\ndistribution = "cpu"\nexecutor = "slurm"\n'
                                             "[T.execution.slurm]\nmax_retries = 1\npoll_seconds = 0.5\n")
    results = tmp_path / "results"
    process = _coordinator(["run", "T", "--config-dir", str(folder), "--results", str(results), *FLAGS])
    try:
        store_path = lambda: next(iter(results.glob("T/*/store.sqlite")), results / "none")  # noqa: E731
        _when(lambda: any(job for _, _, job in _job_rows(store_path())))
        (_, _, first_job), = _job_rows(store_path())
        subprocess.run(["scancel", str(first_job)], env=slurm_cluster.env, check=True, timeout=30)
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
    with RunStore.open(_run_dir(results, "T") / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED and trial.extra["slurm_retries"] == 1
        assert trial.extra["slurm_job_id"] != first_job
        assert f"Slurm job {first_job} ended CANCELLED" in trial.extra["slurm_history"][0]


def test_a_resumed_coordinator_reattaches_to_its_running_job(slurm_cluster: SlurmCluster,
                                                             write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\ndistribution = "cpu"\nexecutor = "slurm"\n'
                                             "[T.execution.slurm]\npoll_seconds = 0.5\n")
    results = tmp_path / "results"
    process = _coordinator(["run", "T", "T.training.epochs=3", "--config-dir", str(folder), "--results",
                            str(results), *FLAGS])
    try:
        store_path = lambda: next(iter(results.glob("T/*/store.sqlite")), results / "none")  # noqa: E731
        _when(lambda: any(job for _, _, job in _job_rows(store_path())))
        process.send_signal(signal.SIGKILL)  # the coordinator dies; its job goes on
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    (_, _, job), = _job_rows(store_path())
    run = _run_dir(results, "T")
    assert main(["run", "--resume", str(run), *FLAGS]) == 0
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED and trial.epochs_completed == 3
        assert trial.extra["slurm_job_id"] == job  # the same job: not trained again
    assert slurm_cluster.wait(str(job)) == "COMPLETED"
    assert len(list((run / "slurm").rglob("*_submission.sh"))) == 1  # submitted once


def test_a_bug_in_a_job_stops_the_run_saved_and_resumable(slurm_cluster: SlurmCluster, write_config: ConfigWriter,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a failed trial, not retried: the job writes an internal_error line and exits with 70."""
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\ndistribution = "cpu"\nexecutor = "slurm"\n'
                                             "[T.execution.slurm]\nmax_retries = 2\npoll_seconds = 0.5\n")
    results = tmp_path / "results"
    plant_worker_bug(monkeypatch, tmp_path / "bug")  # the job inherits the environment of sbatch
    assert main(["run", "T", "T.training.tensorboard=false", "--config-dir", str(folder), "--results",
                 str(results), *FLAGS]) == 1
    run = _run_dir(results, "T")
    log = (run / "run.log").read_text()  # the worker's traceback and why the run stopped
    assert "measure_costs" in log and "trial trial-0000 stopped on an unexpected TypeError" in log
    assert "not a failed trial" in log
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.RUNNING and trial.failure_reason is None
        assert trial.extra["slurm_retries"] == 0 and store.run().status == "interrupted"
        job = str(trial.extra["slurm_job_id"])
    assert slurm_cluster.wait(job) == "FAILED"
    assert re.search(r"ExitCode=70:0", subprocess.run(["scontrol", "show", "job", job], env=slurm_cluster.env,
                                                       capture_output=True, text=True, check=True).stdout)

    monkeypatch.undo()  # the bug fixed
    assert main(["run", "--resume", str(run), *FLAGS]) == 0
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED and trial.attempts == 2
        assert trial.extra["slurm_job_id"] != job and store.run().status == "completed"
