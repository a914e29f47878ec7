"""Experiment trackers: TensorBoard, MLflow and Neptune behind one :class:`Tracker` interface.

A run's trackers are named in ``[X.tracking]`` (see :mod:`scinas.config.tracking`) and fed by
the run store's events (:mod:`scinas.tracking.session`)::

    [E.tracking]
    trackers = ["tensorboard", "mlflow"]

The store stays the truth: a tracker that fails is switched off and the run goes on.  MLflow
and Neptune are optional extras, imported only when a run uses them.
"""

from __future__ import annotations

from scinas.tracking.base import STATE_FILE, TRACKERS, FinalMetrics, RunInfo, RunSummary, Tracker, TrackerState
from scinas.tracking.mlflow_tracker import MlflowTracker
from scinas.tracking.neptune_tracker import NeptuneTracker
from scinas.tracking.session import RunTracking, Trackers, check_tracking, start_tracking
from scinas.tracking.tensorboard_tracker import TensorBoardTracker

__all__ = [
    "STATE_FILE",
    "TRACKERS",
    "FinalMetrics",
    "MlflowTracker",
    "NeptuneTracker",
    "RunInfo",
    "RunSummary",
    "RunTracking",
    "TensorBoardTracker",
    "Tracker",
    "TrackerState",
    "Trackers",
    "check_tracking",
    "start_tracking",
]
