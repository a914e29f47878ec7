"""The fan-out: trackers see every event in order; one that raises is switched off, the run never notices."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scinas.config.tracking import TrackingConfig
from scinas.store import EpochRecord, RunStatus, RunStore, TrialRecord, TrialStatus
from scinas.tracking import FinalMetrics, RunInfo, RunSummary, RunTracking, Tracker, Trackers
from scinas.tracking.session import run_info
from tests.tracking.conftest import RUN_ID, FedRunFactory


class Recorder(Tracker):
    """Remembers every event it saw; raises in ``fail_in`` (once it is reached)."""

    def __init__(self, fail_in: str | None = None) -> None:
        super().__init__(TrackingConfig())
        self.fail_in = fail_in
        self.events: list[tuple[str, str]] = []
        self.closed = 0

    def _seen(self, event: str, detail: str) -> None:
        self.events.append((event, detail))
        if event == self.fail_in:
            raise OSError("the tracking server went away")

    def run_started(self, run: RunInfo) -> None:
        self._seen("run_started", run.run_id)

    def trial_started(self, trial: TrialRecord) -> None:
        self._seen("trial_started", trial.name)

    def epoch_recorded(self, trial: TrialRecord, epoch: EpochRecord) -> None:
        self._seen("epoch_recorded", f"{trial.name}:{epoch.epoch}")

    def trial_finished(self, trial: TrialRecord, metrics: FinalMetrics) -> None:
        self._seen("trial_finished", f"{trial.name}:{trial.status.value}:{sorted(metrics)}")

    def run_finished(self, summary: RunSummary) -> None:
        self._seen("run_finished", f"{summary.status.value}:{','.join(summary.pareto_front)}")

    def close(self) -> None:
        self.closed += 1


def _track(run_dir: Path, store: RunStore, **trackers: Tracker) -> RunTracking:
    return RunTracking(Trackers(trackers), store, run_dir)


def test_events_in_order_and_a_failing_tracker_is_isolated(fed_run: FedRunFactory,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    run = fed_run(())
    healthy, broken = Recorder(), Recorder(fail_in="epoch_recorded")
    tracking = _track(run.run_dir, run.store, broken=broken, healthy=healthy)
    run.tracking = tracking
    tracking.trackers.run_started(run_info(run.config, run.store, run.run_dir))
    run.store.add_listener(tracking)
    with caplog.at_level(logging.WARNING, logger="scinas.tracking"):
        first = run.train("trial-0000", epochs=2)
        run.train("trial-0001", epochs=1, fail=True)
    run.write_outputs()
    run.finish()

    assert healthy.events == [
        ("run_started", RUN_ID),
        ("trial_started", "trial-0000"), ("epoch_recorded", "trial-0000:1"), ("epoch_recorded", "trial-0000:2"),
        ("trial_finished", "trial-0000:completed:['test', 'train', 'validation']"),
        ("trial_started", "trial-0001"), ("epoch_recorded", "trial-0001:1"),
        ("trial_finished", "trial-0001:failed:[]"),
        ("run_finished", "completed:trial-0000"),
    ]
    assert broken.events[-1] == ("epoch_recorded", "trial-0000:1")  # called no more after its failure
    assert broken.closed == 1 and healthy.closed == 1
    assert tracking.trackers.names == []
    assert "tracker broken failed in epoch_recorded and is switched off" in caplog.text
    # the store lost nothing: every write went through
    assert [e.epoch for e in run.store.epochs(first)] == [1, 2]
    assert [t.status for t in run.store.trials()] == [TrialStatus.COMPLETED, TrialStatus.FAILED]


def test_finish_is_idempotent_and_a_crashed_run_ends_failed(fed_run: FedRunFactory) -> None:
    run = fed_run(())
    recorder = Recorder()
    tracking = _track(run.run_dir, run.store, recorder=recorder)
    run.store.add_listener(tracking)
    tracking.finish(RunStatus.RUNNING)  # the coordinator died of a bug: the run did not complete
    tracking.finish(RunStatus.COMPLETED)
    assert recorder.events == [("run_finished", "failed:")]
    run.train("trial-0000", epochs=1)  # after finish the store no longer feeds the trackers
    assert recorder.events == [("run_finished", "failed:")]


def test_a_tracker_failing_at_start_leaves_the_others(fed_run: FedRunFactory) -> None:
    run = fed_run(())
    first, second = Recorder(fail_in="run_started"), Recorder()
    trackers = Trackers({"first": first, "second": second})
    trackers.run_started(run_info(run.config, run.store, run.run_dir))
    assert trackers.names == ["second"] and bool(trackers)


def test_start_tracking_without_trackers_adds_no_listener(fed_run: FedRunFactory) -> None:
    run = fed_run(())
    tracking = run.start()
    assert not tracking.trackers
    assert run.store._listeners == []  # nothing to feed, nothing attached
    run.finish()
    assert not (run.run_dir / "tracking.json").exists()
