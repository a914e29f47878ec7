"""``tensorboard``: run-level TensorBoard logs in ``<run folder>/tensorboard/``.

Layout (open it with ``tensorboard --logdir results/<experiment>/<run-id>/tensorboard``, or
``--logdir results/`` for every run)::

    tensorboard/                     run-level scalars: trials/<score>, trials/<cost> per trial number
    tensorboard/<trial>/             epoch/<metric> per epoch (loss, val_loss, ..., epoch_time_s,
                                     learning-curve prediction), final/<split>/<metric> and cost/<name>
                                     at the last epoch, and the hparams plugin's session of the trial

Each trial is one session of TensorBoard's HParams dashboard: its hparams are the architecture
text, the phase (search, selection, final), the trial number and the run's objectives; its
metrics are the scalars above, so the table shows every trial's final score and costs side by
side.  The per-trial Keras logs (``trials/<trial>/tensorboard/``, ``[X.training] tensorboard``)
are separate and unchanged.

Events are written with TensorBoard's own event-file writer (no TensorFlow ops), so logging never
touches the devices, distribution strategy or graph of the training it observes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scinas.config.tracking import TrackingConfig
from scinas.store import EpochRecord, TrialRecord, TrialStatus
from scinas.store.layout import RunLayout
from scinas.tracking.base import TRACKERS, FinalMetrics, RunInfo, RunSummary, Tracker

__all__ = ["TENSORBOARD_DIR", "TensorBoardTracker"]

logger = logging.getLogger(__name__)

#: Folder of the run-level logs inside the run folder.
TENSORBOARD_DIR = RunLayout(Path()).tensorboard.name
_COSTS = ("params", "flops", "latency_s", "train_time_s", "time_cost_s")


@TRACKERS.register("tensorboard")
class TensorBoardTracker(Tracker):
    """Writes the run-level TensorBoard logs described in the module docstring."""

    def __init__(self, config: TrackingConfig, options: Any = None) -> None:
        super().__init__(config, options)
        self._run: RunInfo | None = None
        self._root: Path | None = None
        self._writers: dict[str, Any] = {}

    def run_started(self, run: RunInfo) -> None:
        self._run = run
        self._root = RunLayout(run.run_dir).tensorboard
        self._root.mkdir(parents=True, exist_ok=True)

    def trial_started(self, trial: TrialRecord) -> None:
        from tensorboard.plugins.hparams import api as hp

        run = self._require_run()
        hparams = {"architecture": trial.architecture, "phase": trial.phase.value,
                   "number": trial.number, "objectives": run.objectives, "experiment": run.experiment}
        self._write(trial.name, hp.hparams_pb(hparams, trial_id=trial.name, start_time_secs=time.time()), step=0)

    def epoch_recorded(self, trial: TrialRecord, epoch: EpochRecord) -> None:
        values: dict[str, float | None] = {f"epoch/{name}": value for name, value in epoch.metrics.items()}
        values["epoch/epoch_time_s"] = epoch.epoch_time_s
        values["epoch/learning_rate"] = epoch.learning_rate
        values["epoch/curve_prediction"] = epoch.prediction
        self._write(trial.name, _scalars(values), step=epoch.epoch)

    def trial_finished(self, trial: TrialRecord, metrics: FinalMetrics) -> None:
        run = self._require_run()
        step = trial.epochs_completed or 0
        values: dict[str, float | None] = {f"final/{split}/{name}": value
                                           for split, named in metrics.items() for name, value in named.items()}
        values.update({f"cost/{name}": getattr(trial, name) for name in _COSTS})
        values["estimate"] = trial.estimate
        self._write(trial.name, _scalars(values), step=step)
        self._write(trial.name, _session_end(trial.status), step=step)
        self._close_writer(trial.name)
        if trial.status is TrialStatus.COMPLETED:
            score = run.score or "loss"
            per_trial = {f"trials/validation_{score}": metrics.get("validation", {}).get(score)}
            per_trial.update({f"trials/{name}": getattr(trial, name) for name in _COSTS})
            self._write("", _scalars(per_trial), step=trial.number)

    def run_finished(self, summary: RunSummary) -> None:
        lines = [f"status: {summary.status.value}", f"trials: {dict(summary.trials)}"]
        if summary.pareto_front:
            lines.append(f"Pareto front (best first): {', '.join(summary.pareto_front)}")
        if summary.best_model is not None:
            lines.append(f"best model: {summary.best_model}")
        self._write("", _text("run/summary", "\n\n".join(lines)), step=0)
        logger.info("TensorBoard: tensorboard --logdir %s", self._root)

    def close(self) -> None:
        for name in list(self._writers):
            self._close_writer(name)

    # ------------------------------------------------------------------ writing

    def _require_run(self) -> RunInfo:
        if self._run is None:
            raise RuntimeError("the tensorboard tracker got an event before run_started")
        return self._run

    def _write(self, trial: str, summary: Any, *, step: int) -> None:
        """Append ``summary`` to the event file of ``trial`` (``""``: the run level) and flush it."""
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        if self._root is None:
            raise RuntimeError("the tensorboard tracker got an event before run_started")
        writer = self._writers.get(trial)
        if writer is None:
            directory = self._root / trial if trial else self._root
            directory.mkdir(parents=True, exist_ok=True)
            writer = self._writers[trial] = EventFileWriter(str(directory))
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))
        writer.flush()

    def _close_writer(self, trial: str) -> None:
        writer = self._writers.pop(trial, None)
        if writer is not None:
            writer.close()


def _scalars(values: Mapping[str, float | int | None]) -> Any:
    """A summary of the finite values (``None`` and NaN are left out: a gap, not a zero)."""
    from tensorboard.compat.proto import summary_pb2

    summary = summary_pb2.Summary()
    for tag, value in values.items():
        if value is not None and math.isfinite(float(value)):
            summary.value.add(tag=tag, simple_value=float(value))
    return summary


def _text(tag: str, text: str) -> Any:
    """A summary the Text dashboard shows (markdown)."""
    from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.plugins.text import metadata

    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[text.encode("utf-8")],
                                    tensor_shape=tensor_shape_pb2.TensorShapeProto())
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(tag, ""), tensor=tensor)
    return summary


def _session_end(status: TrialStatus) -> Any:
    """The hparams plugin's end-of-session record: succeeded or failed."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    code = api_pb2.STATUS_SUCCESS if status is TrialStatus.COMPLETED else api_pb2.STATUS_FAILURE
    data = plugin_data_pb2.HParamsPluginData(
        session_end_info=plugin_data_pb2.SessionEndInfo(status=code, end_time_secs=time.time()))
    summary = summary_pb2.Summary()
    summary.value.add(tag=metadata.SESSION_END_INFO_TAG, metadata=metadata.create_summary_metadata(data),
                      tensor=metadata.NULL_TENSOR)
    return summary
