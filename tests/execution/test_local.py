"""The local process pool: same records as inline, crashed workers fail only their trial, workers
never write the store, and the placement of each trial is recorded."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from scinas.cli import main
from scinas.errors import InternalError
from scinas.execution.journal import JOURNAL_FILE
from scinas.execution.local import LocalExecutor
from scinas.execution.worker import EXIT_BUG
from scinas.search.base import TrialRequest
from scinas.store import RunStore, TrialStatus
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter
from tests.execution.conftest import StartedRun, trial_facts
from tests.experiment.killing import kill_run_when

FLAGS = ["--no-progress", "-q"]


def _facts(results: Path) -> dict[str, object]:
    (run,) = sorted((results / "T").iterdir())
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (record,) = store.trials()
        return {**trial_facts(store, record), "extra": record.extra}


def _assert_same(a: dict[str, object], b: dict[str, object]) -> None:
    for key in ("architecture", "status", "epochs_completed", "best_epoch", "params", "epochs"):
        assert a[key] == b[key], key
    for key in ("epoch_loss", "val_loss"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-6)  # type: ignore[arg-type]
    final_a, final_b = a["final"], b["final"]
    assert isinstance(final_a, dict) and isinstance(final_b, dict) and final_a.keys() == final_b.keys()
    np.testing.assert_allclose([final_a[k] for k in sorted(final_a)], [final_b[k] for k in sorted(final_a)],
                               rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_local_and_inline_executors_record_the_same_trial(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config()
    common = ["T", "T.training.tensorboard=false", "T.execution.distribution=\"cpu\""]
    assert main(["run", *common, "--config-dir", str(folder), "--results", str(tmp_path / "inline"), *FLAGS]) == 0
    assert main(["run", *common, "T.execution.executor=\"local\"", "T.execution.threads_per_worker=1",
                 "--config-dir", str(folder), "--results", str(tmp_path / "local"), *FLAGS]) == 0
    inline, local = _facts(tmp_path / "inline"), _facts(tmp_path / "local")
    _assert_same(inline, local)
    assert inline["status"] == "completed" and inline["epochs"] == [1, 2]
    inline_extra, local_extra = inline["extra"], local["extra"]
    assert isinstance(inline_extra, dict) and isinstance(local_extra, dict)
    assert (inline_extra["executor"], local_extra["executor"]) == ("inline", "local")
    assert inline_extra["device"] == local_extra["device"] == "cpu"
    assert local_extra["host"] and local_extra["worker_pid"] != os.getpid()
    (run,) = sorted((tmp_path / "local" / "T").iterdir())
    assert (run / "trials/trial-0000" / JOURNAL_FILE).exists() and (run / "trials/trial-0000/model.keras").exists()


def _request(started_run: StartedRun, name: str) -> TrialRequest:
    started_run.store.add_trial(name, architecture=started_run.plan.architecture.to_text())
    return TrialRequest(name, started_run.plan.architecture)


def _wait_all(executor: LocalExecutor, deadline_s: float = 600.0) -> dict[str, bool]:
    ended: dict[str, bool] = {}
    deadline = time.monotonic() + deadline_s
    while executor.running and time.monotonic() < deadline:
        for outcome in executor.wait(timeout=5.0):
            ended[outcome.name] = outcome.completed
    return ended


def test_a_killed_worker_fails_only_its_trial(started_run: StartedRun) -> None:
    executor = LocalExecutor(started_run.store, started_run.run_dir, "T", started_run.cache_root, workers=2,
                             threads=1, verbose=0)
    assert executor.capacity == 2 and executor.free == 2
    executor.submit(_request(started_run, "doomed"))
    executor.submit(_request(started_run, "fine"))
    assert executor.free == 0
    # the workers are separate processes: kill one as the out-of-memory killer would
    os.kill(executor._running["doomed"].process.pid, signal.SIGKILL)  # type: ignore[union-attr]
    assert _wait_all(executor) == {"doomed": False, "fine": True}
    doomed, fine = started_run.store.trial("doomed"), started_run.store.trial("fine")
    assert doomed is not None and fine is not None
    assert doomed.status == TrialStatus.FAILED and "killed by SIGKILL" in (doomed.failure_reason or "")
    assert fine.status == TrialStatus.COMPLETED and fine.epochs_completed == 2
    assert [e.epoch for e in started_run.store.epochs(fine.trial_id)] == [1, 2]
    assert fine.extra["executor"] == "local" and fine.extra["device"] == "cpu"
    assert {doomed.extra["worker_slot"], fine.extra["worker_slot"]} == {0, 1}


def test_a_worker_that_exits_with_an_error_is_recorded_with_its_message(started_run: StartedRun,
                                                                        tmp_path: Path) -> None:
    broken = tmp_path / "broken-python"
    broken.write_text("#!/bin/sh\necho 'RuntimeError: the worker could not start' >&2\nexit 7\n")
    broken.chmod(0o755)
    executor = LocalExecutor(started_run.store, started_run.run_dir, "T", started_run.cache_root, workers=1,
                             python=str(broken))
    executor.submit(_request(started_run, "t0"))
    assert _wait_all(executor, 60) == {"t0": False}
    record = started_run.store.trial("t0")
    assert record is not None and record.status == TrialStatus.FAILED
    assert record.failure_reason == "the worker process exited with status 7: RuntimeError: the worker could not start"
    assert record.extra["exit_status"] == 7


def test_a_worker_stopped_by_a_bug_stops_the_run_instead_of_failing_its_trial(started_run: StartedRun,
                                                                              tmp_path: Path) -> None:
    buggy = tmp_path / "buggy-python"  # what the worker does on an unexpected exception: exit EXIT_BUG
    buggy.write_text(f"#!/bin/sh\necho 'TypeError: a bug' >&2\nexit {EXIT_BUG}\n")
    buggy.chmod(0o755)
    executor = LocalExecutor(started_run.store, started_run.run_dir, "T", started_run.cache_root, workers=1,
                             python=str(buggy))
    executor.submit(_request(started_run, "t0"))
    with pytest.raises(InternalError, match=r"trial t0 stopped on an unexpected error.*worker\.log"):
        _wait_all(executor, 60)
    record = started_run.store.trial("t0")
    assert record is not None and record.status != TrialStatus.FAILED and record.failure_reason is None


def test_workers_never_open_the_store_for_writing(started_run: StartedRun) -> None:
    """The coordinator holds the writer lock; a worker that tried to write would fail its trial."""
    executor = LocalExecutor(started_run.store, started_run.run_dir, "T", started_run.cache_root, workers=1,
                             threads=1, verbose=0)
    executor.submit(_request(started_run, "solo"))
    seen_running = False
    while executor.running:
        executor.wait(timeout=0.5)
        with sqlite3.connect(f"file:{started_run.run_dir / 'store.sqlite'}?mode=ro", uri=True) as db:
            status = db.execute("SELECT status FROM trials WHERE name = 'solo'").fetchone()[0]
        seen_running = seen_running or status == "running"
    record = started_run.store.trial("solo")
    assert record is not None and record.status == TrialStatus.COMPLETED and seen_running
    lines = [json.loads(line) for line in (started_run.run_dir / "trials/solo" / JOURNAL_FILE).read_text().splitlines()]
    assert lines[0]["op"] == "update" and lines[1]["op"] == "start" and lines[-1]["op"] == "complete"
    assert sum(line["op"] == "epoch" for line in lines) == 2


def test_shutdown_stops_workers_and_leaves_their_trials_running(started_run: StartedRun) -> None:
    executor = LocalExecutor(started_run.store, started_run.run_dir, "T", started_run.cache_root, workers=1,
                             threads=1, verbose=0)
    executor.submit(_request(started_run, "stopped"))
    process = executor._running["stopped"].process
    executor.shutdown()
    assert process is not None and process.poll() is not None and executor.running == 0
    record = started_run.store.trial("stopped")
    assert record is not None and record.status in (TrialStatus.PENDING, TrialStatus.RUNNING)


@pytest.mark.slow
def test_mixed_precision_and_xla_train_in_a_worker(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config()
    assert main(["run", "T", "T.execution.distribution=\"cpu\"", "T.execution.executor=\"local\"",
                 "T.execution.mixed_precision=true", "T.execution.xla=true", "T.training.batch_size=16",
                 "--config-dir", str(folder), "--results", str(tmp_path / "r"), *FLAGS]) == 0
    facts = _facts(tmp_path / "r")
    assert facts["status"] == "completed" and facts["epochs"] == [1, 2]


def _search_rows(run: Path) -> list[tuple[str, str, str]]:
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        return [(t.name, t.architecture, t.status.value) for t in store.trials()]


@pytest.mark.slow
def test_a_search_killed_with_workers_in_flight_resumes_to_the_inline_result(write_config: ConfigWriter,
                                                                            tmp_path: Path) -> None:
    """2 local workers, the coordinator SIGKILLed while both train; resume = an inline run never killed."""
    search = TINY_SEARCH.replace('costs = ["time"]', 'costs = ["params"]') + (
        '\n[P.execution]\nexecutor = "local"\nstrategy = "cpu"\nparallel_trials = 2\nthreads_per_worker = 1\n')
    folder = write_config(search, SERIES_DATA)
    whole = tmp_path / "whole"
    assert main(["run", "P", 'P.execution.executor="inline"', "P.execution.parallel_trials=1",
                 "--config-dir", str(folder), "--results", str(whole), *FLAGS]) == 0
    results = tmp_path / "killed"

    def two_in_flight() -> bool:
        stores = list(results.glob("P/*/store.sqlite"))
        if not stores:
            return False
        try:
            with sqlite3.connect(f"file:{stores[0]}?mode=ro", uri=True, timeout=1) as db:
                rows = db.execute("SELECT status FROM trials").fetchall()
        except sqlite3.Error:
            return False
        return sum(status == "running" for (status,) in rows) == 2 and len(rows) >= 3

    kill_run_when(["P", "--config-dir", str(folder), "--results", str(results), *FLAGS], two_in_flight)
    (run,) = sorted((results / "P").iterdir())
    before = {name: status for name, _, status in _search_rows(run)}
    assert list(before.values()).count("running") == 2
    assert main(["run", "--resume", str(run), *FLAGS]) == 0
    (reference,) = sorted((whole / "P").iterdir())
    assert _search_rows(run) == _search_rows(reference)
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        for name, status in before.items():
            record = store.trial(name)
            assert record is not None
            if status == "completed":
                assert record.attempts == 1  # never trained twice
            if status == "running":
                assert record.attempts >= 2 and record.extra["executor"] == "local"
