"""Trackers following a run: the fan-out that isolates their failures, and the store feed.

The coordinator calls :func:`start_tracking` when a run (re)starts and
:meth:`RunTracking.finish` when it ends; in between, the run store's listener hook
(:meth:`scinas.store.RunStore.add_listener`) hands every committed trial start, epoch,
completion and failure to the trackers, whichever executor trained the trial::

    tracking = start_tracking(plan.config, store, run_dir)   # run_started
    ...                                                      # trials write the store
    tracking.finish(store.run().status)                      # run_finished, close

A tracker that raises (a server that went away, a full disk, a bug) is logged once and switched
off for the rest of the run; the other trackers, the store and the search go on.  Only a
configuration problem found by :func:`check_tracking` at planning time stops anything, before the
first trial.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from scinas.config.experiment import ExperimentConfig
from scinas.config.tracking import TrackingConfig
from scinas.store import EpochRecord, RunStatus, RunStore, TrialRecord, TrialStatus
from scinas.store.events import StoreEvent, StoreEventKind
from scinas.store.layout import RunLayout
from scinas.tracking.base import TRACKERS, FinalMetrics, RunInfo, RunSummary, Tracker

__all__ = ["RunTracking", "Trackers", "check_tracking", "resolve_tracker", "run_info", "run_summary",
           "start_tracking"]

logger = logging.getLogger(__name__)


def check_tracking(config: TrackingConfig, environ: Mapping[str, str] | None = None) -> None:
    """Raise a ConfigError if a configured tracker is unknown or cannot run (see Tracker.check)."""
    environ = os.environ if environ is None else environ
    for name in config.trackers:  # each class validates its own sub-table
        cls, options = resolve_tracker(config, name)
        cls.check(config, options, environ)
    for name in config.tables:  # switched off, but still a tracker with a valid table
        if name not in config.trackers:
            resolve_tracker(config, name)


def resolve_tracker(config: TrackingConfig, name: str) -> tuple[type[Tracker], Any]:
    """The class of tracker ``name`` and its options, read from ``[X.tracking.<name>]``."""
    path = config.key_path(name) if name in config.tables else config.key_path("trackers")
    return TRACKERS.resolve(name, config.table(name), path=path)


class Trackers:
    """Several trackers behind one :class:`~scinas.tracking.base.Tracker`-like face.

    Every event goes to every active tracker in order, one event at a time (a lock serialises
    events from several threads).  A tracker that raises is closed and dropped.
    """

    def __init__(self, trackers: Mapping[str, Tracker]) -> None:
        self._active: dict[str, Tracker] = dict(trackers)
        self._lock = threading.RLock()

    @classmethod
    def from_config(cls, config: TrackingConfig) -> Trackers:
        """The trackers ``config`` names; one that cannot even be made is logged and left out."""
        made: dict[str, Tracker] = {}
        for name in config.trackers:
            try:
                tracker_class, options = resolve_tracker(config, name)
                made[name] = tracker_class(config, options)
            except Exception as exc:  # an optional integration must never stop the run
                logger.warning("tracker %s could not be created and is off for this run: %s: %s", name,
                               type(exc).__name__, exc)
        return cls(made)

    @property
    def names(self) -> list[str]:
        """The trackers still active."""
        with self._lock:
            return list(self._active)

    def __bool__(self) -> bool:
        return bool(self.names)

    def run_started(self, run: RunInfo) -> None:
        self._each("run_started", lambda tracker: tracker.run_started(run))

    def trial_started(self, trial: TrialRecord) -> None:
        self._each("trial_started", lambda tracker: tracker.trial_started(trial))

    def epoch_recorded(self, trial: TrialRecord, epoch: EpochRecord) -> None:
        self._each("epoch_recorded", lambda tracker: tracker.epoch_recorded(trial, epoch))

    def trial_finished(self, trial: TrialRecord, metrics: FinalMetrics) -> None:
        self._each("trial_finished", lambda tracker: tracker.trial_finished(trial, metrics))

    def run_finished(self, summary: RunSummary) -> None:
        self._each("run_finished", lambda tracker: tracker.run_finished(summary))

    def close(self) -> None:
        """Close every tracker (errors are logged) and forget them."""
        with self._lock:
            trackers, self._active = self._active, {}
        for name, tracker in trackers.items():
            _close(name, tracker)

    def _each(self, event: str, call: Callable[[Tracker], None]) -> None:
        with self._lock:
            for name, tracker in list(self._active.items()):
                try:
                    call(tracker)
                except Exception as exc:  # isolate: a tracker's failure never reaches the run
                    del self._active[name]
                    logger.warning("tracker %s failed in %s and is switched off for the rest of this run "
                                   "(the run goes on, the store keeps every result): %s: %s", name, event,
                                   type(exc).__name__, exc)
                    logger.debug("the failure of tracker %s", name, exc_info=True)
                    _close(name, tracker)


def _close(name: str, tracker: Tracker) -> None:
    try:
        tracker.close()
    except Exception as exc:  # closing a broken tracker may fail as well
        logger.warning("tracker %s could not be closed: %s: %s", name, type(exc).__name__, exc)


class RunTracking:
    """The trackers of one run, listening to its store (make it with :func:`start_tracking`)."""

    def __init__(self, trackers: Trackers, store: RunStore, run_dir: Path) -> None:
        self.trackers = trackers
        self.store = store
        self.run_dir = run_dir
        self._finished = False

    def __call__(self, event: StoreEvent) -> None:
        """The store listener: turn a committed write into tracker events."""
        if event.kind is StoreEventKind.TRIAL_STARTED:
            self.trackers.trial_started(event.trial)
        elif event.kind is StoreEventKind.EPOCH_RECORDED and event.epoch is not None:
            self.trackers.epoch_recorded(event.trial, event.epoch)
        elif event.kind in (StoreEventKind.TRIAL_COMPLETED, StoreEventKind.TRIAL_FAILED):
            self.trackers.trial_finished(event.trial, final_metrics(self.store, event.trial.trial_id))

    def finish(self, status: RunStatus | str) -> None:
        """Tell the trackers how the run ended (``running`` means it crashed: failed) and close them."""
        if self._finished:
            return
        self._finished = True
        self.store.remove_listener(self)
        if not self.trackers:
            return
        ended = RunStatus(status)
        if ended is RunStatus.RUNNING:
            ended = RunStatus.FAILED
        try:
            summary = run_summary(self.store, self.run_dir, ended)
        except (OSError, ValueError) as exc:  # a damaged results file: report the status at least
            logger.warning("the run's results could not be collected for the trackers: %s", exc)
            summary = RunSummary(ended, self.run_dir)
        self.trackers.run_finished(summary)
        self.trackers.close()


def start_tracking(config: ExperimentConfig, store: RunStore, run_dir: Path) -> RunTracking:
    """Make the trackers of ``[X.tracking]``, tell them the run started, and attach them to ``store``.

    With no tracker configured this costs nothing: no listener is added.
    """
    trackers = Trackers.from_config(config.tracking)
    tracking = RunTracking(trackers, store, run_dir)
    if trackers:
        trackers.run_started(run_info(config, store, run_dir))
        store.add_listener(tracking)
        logger.info("tracking this run with %s", ", ".join(trackers.names) or "no tracker (all failed)")
    return tracking


def run_info(config: ExperimentConfig, store: RunStore, run_dir: Path) -> RunInfo:
    """The :class:`RunInfo` of the run in ``store`` (experiment ``config``, folder ``run_dir``)."""
    record = store.run()
    search = config.search
    return RunInfo(experiment=record.experiment, run_id=record.run_id, run_dir=run_dir,
                   config_text=record.config_text, config=dict(config.table), manifest=record.manifest,
                   seed=record.seed, strategy=search.strategy if search is not None else "fixed",
                   score=search.score if search is not None else None,
                   maximize=search.maximize if search is not None else False,
                   costs=tuple(search.costs) if search is not None else (),
                   resumed=RunLayout(run_dir).tracking_state.exists())


def final_metrics(store: RunStore, trial_id: int) -> dict[str, dict[str, float]]:
    """``{split: {metric: value}}`` of the trial's final evaluation."""
    metrics: dict[str, dict[str, float]] = {}
    for record in store.metrics(trial_id, epoch="final"):
        metrics.setdefault(record.split.value, {})[record.name] = record.value
    return metrics


def run_summary(store: RunStore, run_dir: Path, status: RunStatus) -> RunSummary:
    """What the run left in ``run_dir`` (see :class:`RunSummary`)."""
    counts: dict[str, int] = {}
    for trial in store.trials():
        counts[trial.status.value] = counts.get(trial.status.value, 0) + 1
    layout = RunLayout(run_dir)
    front_csv = layout.pareto_front_csv
    plots_dir = layout.plots
    best_model = layout.best_model
    files = [layout.final_metrics, layout.search_summary, layout.training_results_csv, layout.report]
    return RunSummary(
        status=status, run_dir=run_dir, trials={s.value: counts[s.value] for s in TrialStatus if s.value in counts},
        summary=_read_json(layout.search_summary),
        pareto_front=tuple(_front_names(front_csv)), pareto_front_csv=front_csv if front_csv.is_file() else None,
        plots=tuple(sorted(p for p in plots_dir.iterdir() if p.is_file())) if plots_dir.is_dir() else (),
        best_model=best_model if best_model.is_dir() else None,
        files=tuple(path for path in files if path.is_file()))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _front_names(path: Path) -> Sequence[str]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["name"] for row in csv.DictReader(handle) if row.get("name")]
