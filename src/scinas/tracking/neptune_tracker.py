"""``neptune``: a Neptune run per experiment run, for teams with their own Neptune server.

Neptune's hosted service (app.neptune.ai) closed on 5 March 2026 and its data was deleted; this
tracker talks only to a server you run yourself (or writes offline files).  MLflow and
TensorBoard are the maintained dashboard paths of scinas.

Credentials come from the environment only and are never written by scinas (not in the
resolved configuration, the manifest, ``tracking.json`` or the logs): ``NEPTUNE_API_TOKEN`` and
``NEPTUNE_PROJECT`` (``workspace/project``), read by the Neptune client itself.  Modes:

* ``async`` (default): send to the server in the background; needs both variables, checked when
  the experiment is planned (a configuration error before any trial);
* ``offline``: write to ``$NEPTUNE_DATA_DIRECTORY`` (default ``.neptune/`` in the working
  folder), upload later with ``neptune sync``; needs no credentials;
* ``debug``: keep everything in memory (for trying a configuration).

Layout of the Neptune run: ``scinas/*`` (experiment, run id, strategy, objectives, status),
``config/parameters/*`` (the resolved experiment table), ``config/files/*``, ``manifest/*``,
``trials/<trial>/{architecture,phase,number,status}``, ``trials/<trial>/epoch/<metric>`` (series,
step = epoch), ``trials/<trial>/final/<split>/<metric>`` and costs, ``scores/validation_<score>``
(step = trial number), ``results/*`` (summary, Pareto front, plots, best model files).

Resume: the run is opened with a custom run id derived from the scinas run (kept in
``tracking.json``), so on a server a resumed run continues the same Neptune run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scinas.config.reader import Table
from scinas.config.tracking import TrackingConfig
from scinas.configurable import option
from scinas.errors import ConfigError
from scinas.store import EpochRecord, TrialRecord, TrialStatus
from scinas.tracking.base import TRACKERS, FinalMetrics, RunInfo, RunSummary, Tracker, TrackerState

__all__ = ["CREDENTIALS", "NEPTUNE_MODES", "NeptuneSettings", "NeptuneTracker"]

logger = logging.getLogger(__name__)

#: Neptune connection modes scinas supports (see :class:`NeptuneSettings`).
NEPTUNE_MODES: tuple[str, ...] = ("async", "offline", "debug")
#: The environment variables a server connection needs (never read or written by scinas itself).
CREDENTIALS = ("NEPTUNE_API_TOKEN", "NEPTUNE_PROJECT")
_COSTS = ("params", "flops", "latency_s", "train_time_s", "time_cost_s", "estimate", "measured", "best_epoch",
          "epochs_completed")
_CUSTOM_ID_LENGTH = 36  # Neptune's limit on a custom run id


@dataclass(frozen=True)
class NeptuneSettings:
    """``[X.tracking.neptune]``: the connection ``mode`` (credentials come from the environment)."""

    mode: str = option("async", choices=NEPTUNE_MODES, doc="async talks to a server (it needs NEPTUNE_API_TOKEN "
                       "and NEPTUNE_PROJECT in the environment), offline writes to disk for `neptune sync`, debug "
                       "keeps everything in memory")


@TRACKERS.register("neptune")
class NeptuneTracker(Tracker):
    """Records the run in Neptune as described in the module docstring."""

    package = "neptune"
    extra = "neptune"
    Options = NeptuneSettings

    def __init__(self, config: TrackingConfig, options: NeptuneSettings | None = None) -> None:
        super().__init__(config, options)
        self.mode: str = self.options.mode
        self._neptune_run: Any = None
        self._run: RunInfo | None = None

    @classmethod
    def from_table(cls, table: Table) -> NeptuneSettings:
        """The settings, after refusing credentials written into the file."""
        for secret in ("api_token", "project"):
            if table.has(secret):
                raise table.error(secret, "Neptune credentials are read from the environment only, never from a "
                                  "file (the resolved configuration is copied into every run folder)",
                                  value="<hidden>" if secret == "api_token" else table.raw[secret],
                                  fix=f"remove it and export NEPTUNE_{secret.upper()} instead")
        settings: NeptuneSettings = super().from_table(table)
        return settings

    @classmethod
    def check(cls, config: TrackingConfig, options: NeptuneSettings, environ: Mapping[str, str]) -> None:
        super().check(config, options, environ)
        if options.mode in ("offline", "debug"):
            return
        missing = [name for name in CREDENTIALS if not environ.get(name)]
        if missing:
            raise ConfigError(f"Neptune mode {options.mode!r} connects to a Neptune server and needs "
                              f"{' and '.join(missing)} in the environment (credentials are never read from "
                              "configuration files)", file=config.file or None,
                              path=config.key_path("neptune", "mode"), value=options.mode,
                              fix="export NEPTUNE_API_TOKEN=... NEPTUNE_PROJECT=workspace/project for your own "
                                  "Neptune server, or set mode = \"offline\" (MLflow or TensorBoard are the "
                                  "maintained dashboards)")

    def run_started(self, run: RunInfo) -> None:
        try:
            import neptune
            from neptune.types import File
            from neptune.utils import stringify_unsupported
        except ImportError as exc:
            raise ImportError("the neptune tracker needs Neptune: make install EXTRAS=neptune "
                              "(or pip install 'scinas[neptune]')") from exc
        state = TrackerState(run.run_dir)
        saved = state.load("neptune")
        custom_id = str(saved.get("custom_run_id") or f"{run.run_id}-{run.experiment}"[:_CUSTOM_ID_LENGTH])
        self._run = run
        # The mode is one of NEPTUNE_MODES (checked when parsed); the custom run id makes a server
        # continue the same Neptune run when the scinas run is resumed.
        self._neptune_run = neptune.init_run(
            mode=self.mode,  # type: ignore[arg-type]
            custom_run_id=custom_id,
            name=f"{run.experiment}/{run.run_id}",
            tags=["scinas", run.experiment, run.strategy],
            capture_stdout=False,
            capture_stderr=False,
        )
        handle = self._neptune_run
        handle["scinas"] = {"experiment": run.experiment, "run_id": run.run_id, "strategy": run.strategy,
                            "objectives": run.objectives, "status": "running", "seed": run.seed or 0}
        if not saved:
            handle["config/parameters"] = stringify_unsupported(dict(run.config))
            handle["config/files/configurations"].upload(File.from_content(run.config_text, extension="toml"))
            handle["manifest"] = stringify_unsupported(dict(run.manifest))
        state.save("neptune", {"custom_run_id": custom_id, "mode": self.mode})
        logger.info("Neptune (%s): run %s", self.mode, custom_id)

    def trial_started(self, trial: TrialRecord) -> None:
        base = f"trials/{trial.name}"
        handle = self._handle()
        handle[base] = {"architecture": trial.architecture, "phase": trial.phase.value,
                        "number": trial.number, "status": TrialStatus.RUNNING.value, "attempts": trial.attempts}

    def epoch_recorded(self, trial: TrialRecord, epoch: EpochRecord) -> None:
        values: dict[str, float | None] = dict(epoch.metrics)
        values.update(epoch_time_s=epoch.epoch_time_s, learning_rate=epoch.learning_rate,
                      curve_prediction=epoch.prediction)
        handle = self._handle()
        for name, value in values.items():
            if _finite(value):
                handle[f"trials/{trial.name}/epoch/{name}"].append(float(value), step=epoch.epoch)  # type: ignore[arg-type]

    def trial_finished(self, trial: TrialRecord, metrics: FinalMetrics) -> None:
        base = f"trials/{trial.name}"
        handle = self._handle()
        for split, named in metrics.items():
            for name, value in named.items():
                if _finite(value):
                    handle[f"{base}/final/{split}/{name}"] = float(value)
        for name in _COSTS:
            value = getattr(trial, name)
            if _finite(value):
                handle[f"{base}/{name}"] = float(value)
        handle[f"{base}/status"] = trial.status.value
        if trial.failure_reason:
            handle[f"{base}/failure_reason"] = trial.failure_reason
        run = self._run
        score = (run.score if run is not None else None) or "loss"
        measured = metrics.get("validation", {}).get(score)
        if trial.status is TrialStatus.COMPLETED and _finite(measured):
            handle[f"scores/validation_{score}"].append(float(measured), step=trial.number)  # type: ignore[arg-type]

    def run_finished(self, summary: RunSummary) -> None:
        from neptune.utils import stringify_unsupported

        handle = self._handle()
        handle["scinas/status"] = summary.status.value
        handle["results/trials"] = dict(summary.trials)
        if summary.summary:
            handle["results/summary"] = stringify_unsupported(dict(summary.summary))
        if summary.pareto_front:
            handle["results/pareto_front_trials"] = ", ".join(summary.pareto_front)
        if summary.pareto_front_csv is not None:
            handle["results/pareto_front"].upload(str(summary.pareto_front_csv))
        for plot in summary.plots:
            handle[f"results/plots/{_segment(plot.stem)}"].upload(str(plot))
        if summary.best_model is not None:
            handle["results/best_model"].upload_files([str(summary.best_model)])
        for path in summary.files:
            handle[f"results/files/{_segment(path.name)}"].upload(str(path))

    def close(self) -> None:
        if self._neptune_run is not None:
            handle, self._neptune_run = self._neptune_run, None
            handle.stop()

    def _handle(self) -> Any:
        if self._neptune_run is None:
            raise RuntimeError("the neptune tracker got an event before run_started (or after close)")
        return self._neptune_run


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


def _segment(name: str) -> str:
    """A Neptune field name for a file (dots would read as a file extension in the UI)."""
    return name.replace(".", "_")
