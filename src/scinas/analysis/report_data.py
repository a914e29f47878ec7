"""What the run report shows, read from a run folder: store records, settings, predictor files.

:meth:`RunData.load` opens the run store read-only (a live run can be reported) and gathers, per
trial, the record, its epochs and its final validation metrics, plus the few settings a report
needs from the run's resolved configuration (the search's score and costs, the epoch budget, the
early-termination scale) and the predictors' per-step quality files (``predictors/*.json``).

The final training (phase ``final``) learns from train + validation, so a validation score
measured on it says nothing about the model: it gets no score, stays out of :meth:`RunData.ranked`,
and is judged by its test metrics (:attr:`TrialData.test`).
It imports no TensorFlow, so ``scinas report`` starts fast.

Example::

    data = RunData.load(Path("results/A/20261122-083012-3fa2"))
    [(t.record.name, t.score) for t in data.ranked()]
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scinas.config.reader import Table
from scinas.config.search import metric_direction, parse_search
from scinas.errors import ConfigError
from scinas.store import EpochRecord, RunRecord, RunStore, StoreError, TrialRecord, TrialStatus
from scinas.store.layout import BestModelLayout, RunLayout

__all__ = ["STORE_FILE", "RunData", "RunSettings", "TrialData", "device_of", "read_predictor_quality",
           "read_search_summary"]

logger = logging.getLogger(__name__)

#: The run store's file name inside a run folder.
STORE_FILE = RunLayout(Path()).store.name


@dataclass(frozen=True)
class RunSettings:
    """The settings of a run that a report needs (from its resolved configuration).

    ``score`` is the search's score metric (read on the validation split); a fixed run scores
    by the validation loss.  ``costs`` are the search's minimised costs (empty for a fixed run).
    """

    score: str = "loss"
    maximize: bool = False
    costs: tuple[str, ...] = ()
    searched: bool = False
    epochs: int = 10
    selection_epochs: int | None = None
    termination_scale: str = "auto"
    termination_mode: str = "auto"

    @classmethod
    def from_config(cls, config_text: str, experiment: str) -> RunSettings:
        """Read the settings from the resolved ``configurations.toml`` text (defaults where absent)."""
        try:
            table = tomllib.loads(config_text).get(experiment, {})
        except tomllib.TOMLDecodeError as exc:
            logger.warning("the run's configuration does not parse (%s); the report uses defaults", exc)
            return cls()
        training = table.get("training", {}) if isinstance(table.get("training"), Mapping) else {}
        epochs = training.get("epochs", 10)
        termination = training.get("early_termination")
        termination = termination if isinstance(termination, Mapping) else {}
        selection = table.get("selection") if isinstance(table.get("selection"), Mapping) else {}
        settings = cls(epochs=int(epochs) if isinstance(epochs, int) else 10,
                       selection_epochs=selection.get("epochs") if isinstance(selection.get("epochs"), int) else None,
                       termination_scale=str(termination.get("scale", "auto")),
                       termination_mode=str(termination.get("mode", "auto")))
        if "search" not in table:
            return settings
        try:
            search = parse_search(Table(table, file="configurations.toml", path=experiment))
        except ConfigError as exc:
            logger.warning("the run's [%s.search] table does not parse (%s); the report ranks by loss", experiment, exc)
            return settings
        return RunSettings(score=search.score, maximize=search.maximize, costs=search.costs, searched=True,
                           epochs=settings.epochs, selection_epochs=settings.selection_epochs,
                           termination_scale=settings.termination_scale,
                           termination_mode=settings.termination_mode)

    def monitor_maximized(self, monitor: str) -> bool:
        """Whether larger values of an early-termination ``monitor`` are better (as the parser decides)."""
        if self.termination_mode in ("max", "min"):
            return self.termination_mode == "max"
        if monitor in (self.score, f"val_{self.score}") and self.searched:
            return self.maximize
        return metric_direction(monitor) is not False


def device_of(record: TrialRecord, default_host: str) -> str:
    """Where a trial ran: ``host/device`` from its ``extra`` (``local`` and the run's host by default)."""
    device = str(record.extra.get("device") or "local")
    host = str(record.extra.get("host") or default_host)
    return f"{host}/{device}" if host else device


@dataclass(frozen=True)
class TrialData:
    """One trial of the report: its record, epochs, final validation and test metrics, and score.

    ``score`` is the validation score the search ranks by; ``None`` for a trial that did not
    complete and for the final training, which trained on the validation split.
    """

    record: TrialRecord
    epochs: tuple[EpochRecord, ...]
    validation: Mapping[str, float]
    score: float | None
    phase: str
    device: str
    test: Mapping[str, float] = field(default_factory=dict)

    @property
    def trained_on_validation(self) -> bool:
        """Whether the validation split was part of this trial's training data (the final training)."""
        return self.phase == "final"

    @property
    def name(self) -> str:
        return self.record.name

    def budget(self, settings: RunSettings) -> int:
        """The epochs this trial was allowed (its phase's ``epochs``)."""
        if self.phase == "selection" and settings.selection_epochs:
            return settings.selection_epochs
        return max(settings.epochs, self.record.epochs_completed or 0) if self.phase == "final" else settings.epochs

    def series(self, metric: str) -> list[tuple[int, float]]:
        """``(epoch, value)`` of a logged metric (``loss``, ``val_accuracy``, ...), finite values only."""
        points = []
        for epoch in self.epochs:
            value = epoch.metrics.get(metric)
            if value is None and metric in ("loss", "val_loss"):
                value = getattr(epoch, metric)
            if value is not None and math.isfinite(value):
                points.append((epoch.epoch, float(value)))
        return points


@dataclass(frozen=True)
class RunData:
    """Everything the report shows about one run folder."""

    run_dir: Path
    run: RunRecord
    settings: RunSettings
    trials: tuple[TrialData, ...]
    predictor_quality: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    best_model: Mapping[str, Any] | None = None
    search_summary: Mapping[str, Any] | None = None
    autobuild: Mapping[str, Any] | None = None
    """``autobuild/autobuild.json`` when ``scinas autobuild`` ran on the run (units ranked, reduced space)."""

    @classmethod
    def load(cls, run_dir: Path) -> RunData:
        """Read the run folder ``run_dir``.

        Raises:
            ConfigError: ``run_dir`` is not a run folder (no readable run store).
        """
        run_dir = Path(run_dir)
        if not RunLayout(run_dir).store.is_file():
            raise ConfigError(f"{run_dir} is not a scinas run folder (no {STORE_FILE})", file="command line",
                              fix="pass a folder printed when a run started: results/<experiment>/<run-id>")
        try:
            with RunStore.open(RunLayout(run_dir).store, readonly=True) as store:
                run = store.run()
                settings = RunSettings.from_config(run.config_text, run.experiment)
                host = _manifest_host(run.manifest)
                trials = tuple(_trial_data(store, record, settings, host) for record in store.trials())
        except StoreError as exc:
            raise ConfigError(str(exc), file="command line", fix="pass a scinas run folder") from exc
        return cls(run_dir, run, settings, trials, read_predictor_quality(RunLayout(run_dir).predictors),
                   _read_json(BestModelLayout(RunLayout(run_dir).best_model).summary_json),
                   read_search_summary(run_dir), _read_json(RunLayout(run_dir).autobuild.summary))

    def completed(self, phase: str | None = None) -> list[TrialData]:
        """Completed trials, of one ``phase`` (``search``, ``selection``, ``final``) or all."""
        return [t for t in self.trials if t.record.status == TrialStatus.COMPLETED
                and (phase is None or t.phase == phase)]

    def ranked(self) -> list[TrialData]:
        """Completed trials with a score, best first (ties by fewer parameters, then name).

        The final training has no score (see the module docstring), so it is never ranked.
        """
        sign = -1.0 if self.settings.maximize else 1.0
        scored = [t for t in self.completed() if t.score is not None]
        return sorted(scored, key=lambda t: (sign * (t.score or 0.0), t.record.params or 0, t.name))

    @property
    def autobuild_best_cell(self) -> dict[str, Any]:
        """``autobuild/best_cell.json`` (an empty dict when absent or unreadable)."""
        return _read_json(RunLayout(self.run_dir).autobuild.best_cell) or {}

    @property
    def uses_termination(self) -> bool:
        """Whether learning-curve early termination followed any trial."""
        return any(t.record.monitor for t in self.trials)


def _manifest_host(manifest: Mapping[str, Any]) -> str:
    host = manifest.get("host")
    if isinstance(host, Mapping):
        return str(host.get("name") or "")
    return str(host or "")


def _trial_data(store: RunStore, record: TrialRecord, settings: RunSettings, host: str) -> TrialData:
    validation = {m.name: m.value for m in store.metrics(record.trial_id, split="validation", epoch="final")}
    test = {m.name: m.value for m in store.metrics(record.trial_id, split="test", epoch="final")}
    phase = record.phase.value
    score: float | None = None
    if record.status == TrialStatus.COMPLETED and phase != "final":
        # as the search ranks: the converged prediction of the validation score, else the measured score
        if (record.estimate is not None and record.monitor == f"val_{settings.score}"
                and math.isfinite(record.estimate)):
            score = float(record.estimate)
        elif settings.score in validation and math.isfinite(validation[settings.score]):
            score = float(validation[settings.score])
    return TrialData(record, tuple(store.epochs(record.trial_id)), validation, score, phase,
                     device_of(record, host), test)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_search_summary(run_dir: Path) -> dict[str, Any] | None:
    """``<run_dir>/search_summary.json`` (``None`` when absent or unreadable).

    Its ``strategy_summary`` is an object; runs written before it was made one hold it as a JSON
    string, which is decoded here so readers see the same shape for old and new runs.
    """
    summary = _read_json(RunLayout(run_dir).search_summary)
    text = summary.get("strategy_summary") if summary is not None else None
    if summary is not None and isinstance(text, str):
        with contextlib.suppress(ValueError):  # text that is not JSON stays as it was
            summary["strategy_summary"] = json.loads(text)
    return summary


def read_predictor_quality(directory: Path) -> dict[str, dict[str, dict[str, float]]]:
    """``{predictor: {step: quality}}`` from the ``<predictor>_<step>.json`` files a search writes."""
    quality: dict[str, dict[str, dict[str, float]]] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        summary = _read_json(path)
        if summary is None or not isinstance(summary.get("predictor"), str) or not isinstance(summary.get("step"), str):
            continue
        values = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        quality.setdefault(summary["predictor"], {})[summary["step"]] = values
    for predictor, steps in quality.items():
        quality[predictor] = dict(sorted(steps.items(), key=lambda item: _step_key(item[0])))
    return quality


def _step_key(step: str) -> tuple[int, str]:
    digits = "".join(c for c in step if c.isdigit())
    return (int(digits) if digits else 0, step)

