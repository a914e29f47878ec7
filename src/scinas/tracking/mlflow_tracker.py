"""``mlflow``: one MLflow run per experiment run, one nested run per trial.

Where it records (first that applies):

1. ``[X.tracking.mlflow] tracking_uri`` (a server ``http://host:5000``, ``databricks``, a database);
2. the ``MLFLOW_TRACKING_URI`` environment variable;
3. an embedded store in the results folder: ``sqlite:///<results>/mlflow.db`` with artifacts
   in ``<results>/mlartifacts/``, browsable with no server running::

       mlflow ui --backend-store-uri sqlite:///results/mlflow.db

What it records, in the MLflow experiment ``experiment_name`` (default: the scinas experiment):

* the parent run (named after the run id): the resolved configuration as params (dotted keys,
  ``training.epochs``), tags ``scinas.experiment``, ``scinas.run_id``, ``scinas.strategy``,
  ``scinas.objectives``, ``scinas.status``; the run's configuration files, and at the end the
  Pareto front CSV, the plots, ``best_model/`` and the result files as artifacts; per finished
  trial the validation score at step = trial number;
* a nested run per trial (tag ``mlflow.parentRunId``): params ``architecture``, ``phase``,
  ``number``; every epoch's metrics with ``step`` = epoch; at the end ``final_<split>_<metric>``
  and the costs (``params``, ``flops``, ``latency_s``, ``train_time_s``, ``time_cost_s``, ``estimate``); its status.

Resume: the parent run id and the trials' run ids are kept in the run folder's ``tracking.json``;
a resumed run reopens the same MLflow runs (no second parent, no duplicate nested run).  Only
``MlflowClient`` is used (no process-global active run), so several runs in one process never mix.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scinas.config.tracking import TrackingConfig
from scinas.configurable import option
from scinas.errors import ConfigError
from scinas.store import EpochRecord, RunStatus, TrialRecord, TrialStatus
from scinas.tracking.base import TRACKERS, FinalMetrics, RunInfo, RunSummary, Tracker, TrackerState

__all__ = ["ARTIFACTS_DIR", "DEFAULT_DATABASE", "MlflowSettings", "MlflowTracker", "resolve_tracking_uri"]

logger = logging.getLogger(__name__)

#: The embedded store's database and artifact folder, inside the results folder.
DEFAULT_DATABASE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
_RUN_STATUS = {RunStatus.COMPLETED: "FINISHED", RunStatus.FAILED: "FAILED", RunStatus.INTERRUPTED: "KILLED",
               RunStatus.RUNNING: "RUNNING"}
_COSTS = ("params", "flops", "latency_s", "train_time_s", "time_cost_s", "estimate", "measured", "best_epoch",
          "epochs_completed")
_PARAM_LENGTH = 6000  # MLflow's limit on a param value
_TAG_LENGTH = 8000  # and on a tag value
_BATCH = 100  # params or tags per log_batch call


def resolve_tracking_uri(uri: str | None, results_root: Path, environ: Mapping[str, str]) -> tuple[str, bool]:
    """``(tracking URI, embedded)``: the configured URI, else ``MLFLOW_TRACKING_URI``, else the embedded store."""
    if uri:
        return uri, False
    if environ.get("MLFLOW_TRACKING_URI"):
        return environ["MLFLOW_TRACKING_URI"], False
    return f"sqlite:///{(results_root / DEFAULT_DATABASE).resolve().as_posix()}", True


@dataclass(frozen=True)
class MlflowSettings:
    """``[X.tracking.mlflow]``; ``None`` means the default described in the module docstring."""

    tracking_uri: str | None = option(None, doc="the MLflow server (default: $MLFLOW_TRACKING_URI, else "
                                      "the embedded sqlite:///<results>/mlflow.db)")
    experiment_name: str | None = option(None, doc="the MLflow experiment (default: the experiment's name)")
    artifacts: bool = option(True, doc="log the Pareto front, plots and best model as artifacts")

    def check(self) -> None:
        for key in ("tracking_uri", "experiment_name"):
            value = getattr(self, key)
            if value is not None and not value.strip():
                raise ConfigError("expected a non-empty string", path=key, value=value,
                                  fix=f"write {key} = \"...\" or leave it out")


@TRACKERS.register("mlflow")
class MlflowTracker(Tracker):
    """Records the run in MLflow as described in the module docstring."""

    package = "mlflow"
    extra = "mlflow"
    Options = MlflowSettings

    def __init__(self, config: TrackingConfig, options: MlflowSettings | None = None) -> None:
        super().__init__(config, options)
        self.settings: MlflowSettings = self.options
        self._client: Any = None
        self._state: TrackerState | None = None
        self._run: RunInfo | None = None
        self._experiment_id = ""
        self._parent = ""
        self._trials: dict[str, str] = {}
        self._open: set[str] = set()
        self._uri = ""

    # ------------------------------------------------------------------ events

    def run_started(self, run: RunInfo) -> None:
        client_class = _mlflow_client()
        uri, embedded = resolve_tracking_uri(self.settings.tracking_uri, run.results_root, os.environ)
        self._client, self._run, self._uri = client_class(tracking_uri=uri), run, uri
        self._state = TrackerState(run.run_dir)
        saved = self._state.load("mlflow")
        if saved.get("run_id") and self._exists(str(saved["run_id"])):
            self._parent = str(saved["run_id"])
            self._experiment_id = self._client.get_run(self._parent).info.experiment_id
            self._trials = {str(k): str(v) for k, v in dict(saved.get("trials") or {}).items()}
            self._trials.update({k: v for k, v in self._children().items() if k not in self._trials})
            self._client.update_run(self._parent, status="RUNNING")
            self._client.set_tag(self._parent, "scinas.status", RunStatus.RUNNING.value)
            logger.info("MLflow: reattached to run %s at %s", self._parent, _shown(uri))
        else:
            if saved.get("run_id"):
                logger.warning("MLflow: run %s of tracking.json is not in %s; starting a new MLflow run",
                               saved["run_id"], _shown(uri))
            self._experiment_id = self._experiment(run, uri if embedded else None)
            self._parent = self._client.create_run(self._experiment_id, run_name=run.run_id,
                                                   tags=self._tags(status="running")).info.run_id
            self._trials = {}
            self._log_params(self._parent, _flatten(run.config))
            for name in ("configurations.toml", "data.toml", "manifest.json"):
                if (run.run_dir / name).is_file():
                    self._client.log_artifact(self._parent, str(run.run_dir / name), "config")
            logger.info("MLflow: run %s in experiment %s at %s", self._parent, self._experiment_id, _shown(uri))
        self._save()

    def trial_started(self, trial: TrialRecord) -> None:
        run_id = self._nested(trial)
        self._client.update_run(run_id, status="RUNNING")
        self._client.set_tag(run_id, "scinas.status", TrialStatus.RUNNING.value)
        self._open.add(trial.name)

    def epoch_recorded(self, trial: TrialRecord, epoch: EpochRecord) -> None:
        values: dict[str, float | None] = dict(epoch.metrics)
        values.update(epoch_time_s=epoch.epoch_time_s, learning_rate=epoch.learning_rate,
                      curve_prediction=epoch.prediction)
        self._log_metrics(self._nested(trial), values, step=epoch.epoch)

    def trial_finished(self, trial: TrialRecord, metrics: FinalMetrics) -> None:
        run_id = self._nested(trial)
        values: dict[str, float | None] = {f"final_{split}_{name}": value
                                           for split, named in metrics.items() for name, value in named.items()}
        values.update({name: getattr(trial, name) for name in _COSTS})
        self._log_metrics(run_id, values, step=trial.epochs_completed or 0)
        self._client.set_tag(run_id, "scinas.status", trial.status.value)
        if trial.failure_reason:
            self._client.set_tag(run_id, "scinas.failure_reason", trial.failure_reason[:_TAG_LENGTH])
        self._client.set_terminated(run_id, "FINISHED" if trial.status is TrialStatus.COMPLETED else "FAILED")
        self._open.discard(trial.name)
        run = self._require_run()
        score = run.score or "loss"
        if trial.status is TrialStatus.COMPLETED:
            self._log_metrics(self._parent, {f"trial_validation_{score}": metrics.get("validation", {}).get(score)},
                              step=trial.number)

    def run_finished(self, summary: RunSummary) -> None:
        client = self._client
        numbers = {f"summary_{k}": v for k, v in summary.summary.items() if _is_number(v)}
        numbers.update({f"trials_{status}": count for status, count in summary.trials.items()})
        self._log_metrics(self._parent, numbers, step=0)
        if summary.pareto_front:
            client.set_tag(self._parent, "scinas.pareto_front", ", ".join(summary.pareto_front)[:_TAG_LENGTH])
        if self.settings.artifacts:
            if summary.pareto_front_csv is not None:
                client.log_artifact(self._parent, str(summary.pareto_front_csv), "pareto_front")
            for plot in summary.plots:
                client.log_artifact(self._parent, str(plot), "plots")
            if summary.best_model is not None:
                client.log_artifacts(self._parent, str(summary.best_model), "best_model")
            for path in summary.files:
                client.log_artifact(self._parent, str(path), "results")
        for name in sorted(self._open):  # trials cut short by an interruption or a failure
            client.set_tag(self._trials[name], "scinas.status", "interrupted")
            client.set_terminated(self._trials[name], "KILLED")
        self._open.clear()
        client.set_tag(self._parent, "scinas.status", summary.status.value)
        client.set_terminated(self._parent, _RUN_STATUS[summary.status])

    # ------------------------------------------------------------------ helpers

    def _require_run(self) -> RunInfo:
        if self._run is None or self._client is None:
            raise RuntimeError("the mlflow tracker got an event before run_started")
        return self._run

    def _tags(self, **extra: str) -> dict[str, str]:
        run = self._require_run()
        tags = {"scinas.experiment": run.experiment, "scinas.run_id": run.run_id, "scinas.strategy": run.strategy,
                "scinas.objectives": run.objectives}
        tags.update({f"scinas.{key}": value for key, value in extra.items()})
        return tags

    def _experiment(self, run: RunInfo, uri: str | None) -> str:
        """The MLflow experiment's id, created if needed (with artifacts beside the embedded store)."""
        name = self.settings.experiment_name or run.experiment
        experiment = self._client.get_experiment_by_name(name)
        if experiment is None:
            location = (run.results_root / ARTIFACTS_DIR).resolve().as_uri() if uri is not None else None
            return str(self._client.create_experiment(name, artifact_location=location))
        if experiment.lifecycle_stage == "deleted":
            self._client.restore_experiment(experiment.experiment_id)
        return str(experiment.experiment_id)

    def _exists(self, run_id: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self._client.get_run(run_id)
        except MlflowException:
            return False
        return True

    def _children(self) -> dict[str, str]:
        """``{trial name: run id}`` of the parent's nested runs (those tracking.json may have missed)."""
        found: dict[str, str] = {}
        token = None
        while True:
            page = self._client.search_runs([self._experiment_id],
                                            filter_string=f"tags.mlflow.parentRunId = '{self._parent}'",
                                            max_results=1000, page_token=token)
            for child in page:
                name = child.data.tags.get("scinas.trial")
                if name:
                    found.setdefault(name, child.info.run_id)
            token = page.token
            if not token:
                return found

    def _nested(self, trial: TrialRecord) -> str:
        """The nested run of ``trial``: the existing one, or a new one with the trial's params."""
        run_id = self._trials.get(trial.name)
        if run_id is not None:
            return run_id
        tags = self._tags(trial=trial.name, phase=trial.phase.value, status="running")
        tags["mlflow.parentRunId"] = self._parent
        run_id = str(self._client.create_run(self._experiment_id, run_name=trial.name, tags=tags).info.run_id)
        self._log_params(run_id, {"architecture": trial.architecture, "phase": trial.phase.value,
                                  "number": str(trial.number)})
        self._trials[trial.name] = run_id
        self._save()
        return run_id

    def _save(self) -> None:
        if self._state is not None:
            self._state.save("mlflow", {"tracking_uri": _shown(self._uri), "experiment_id": self._experiment_id,
                                        "run_id": self._parent, "trials": dict(sorted(self._trials.items()))})

    def _log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(_key(k), v if len(v) <= _PARAM_LENGTH else v[:_PARAM_LENGTH - 1] + "…")
                 for k, v in params.items()]
        for start in range(0, len(items), _BATCH):
            self._client.log_batch(run_id, params=items[start:start + _BATCH])

    def _log_metrics(self, run_id: str, values: Mapping[str, float | int | None], *, step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(_key(k), float(v), now, int(step)) for k, v in values.items()
                 if v is not None and not math.isnan(float(v))]
        for start in range(0, len(items), 1000):
            self._client.log_batch(run_id, metrics=items[start:start + 1000])


def _mlflow_client() -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise ImportError("the mlflow tracker needs MLflow: make install EXTRAS=mlflow "
                          "(or pip install 'scinas[mlflow]')") from exc
    return MlflowClient


def _shown(uri: str) -> str:
    """``uri`` without a password (``https://user:secret@host`` → ``https://user:***@host``)."""
    return re.sub(r"(//[^/:@]+):[^/@]*@", r"\1:***@", uri)


def _key(name: str) -> str:
    """A valid MLflow key: letters, digits and ``_ - . / space``; anything else becomes ``_``."""
    return re.sub(r"[^\w\-./ ]", "_", name)[:250]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted keys → text values (``{"training": {"epochs": 2}}`` → ``{"training.epochs": "2"}``)."""
    flat: dict[str, str] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = _text(value)
    return flat


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_text(v)}" for k, v in value.items()) + "}"
    return str(value)
