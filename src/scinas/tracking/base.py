"""The tracker interface: an observer of one run's events, and the registry of trackers by TOML name.

A :class:`Tracker` sees a run through five events, in this order:

1. :meth:`~Tracker.run_started` — the run's identity, resolved configuration and manifest
   (:class:`RunInfo`); also on resume, when the tracker should reattach to what it made before;
2. :meth:`~Tracker.trial_started` — a trial (with its architecture) started, or started again;
3. :meth:`~Tracker.epoch_recorded` — an epoch of a trial was recorded in the store;
4. :meth:`~Tracker.trial_finished` — a trial completed or failed, with its final metrics per split;
5. :meth:`~Tracker.run_finished` — the run ended (:class:`RunSummary`: status, search summary,
   Pareto front, plots, best model), then :meth:`~Tracker.close`.

The events come from the run store (:mod:`scinas.tracking.session`): a tracker records what the
store committed, never what a worker merely attempted.  Only the three events every dashboard
needs are abstract.  Trackers may raise: the fan-out (:class:`scinas.tracking.session.Trackers`)
logs the error and switches that tracker off; the run and its store never notice.

Example (a tracker that writes one line per trial)::

    @TRACKERS.register("lines")
    class LineTracker(Tracker):
        def run_started(self, run: RunInfo) -> None:
            self.path = run.run_dir / "trials.txt"
        def trial_finished(self, trial: TrialRecord, metrics: FinalMetrics) -> None:
            with self.path.open("a") as f:
                f.write(f"{trial.name} {trial.status} {metrics.get('test', {})}\\n")
        def run_finished(self, summary: RunSummary) -> None:
            pass
"""

from __future__ import annotations

import abc
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from scinas.atomic import write_json_atomic
from scinas.config.tracking import TrackingConfig
from scinas.configurable import Configurable
from scinas.errors import ConfigError
from scinas.registry import Registry
from scinas.store import EpochRecord, RunStatus, TrialRecord
from scinas.store.layout import RunLayout

__all__ = ["STATE_FILE", "TRACKERS", "FinalMetrics", "RunInfo", "RunSummary", "Tracker", "TrackerState",
           "require_package"]

#: Final metrics of one trial: ``{split: {metric: value}}`` (splits: train, validation, test).
FinalMetrics = Mapping[str, Mapping[str, float]]

#: File in the run folder where trackers keep what resume needs (e.g. MLflow run ids); no secrets.
STATE_FILE = RunLayout(Path()).tracking_state.name


@dataclass(frozen=True)
class RunInfo:
    """What a tracker knows of the run when it starts.

    ``config_text`` is the resolved ``configurations.toml`` of the run (as written in its folder),
    ``config`` the experiment's resolved table; ``strategy`` the search strategy (``"fixed"``
    for an experiment that trains one architecture); ``score``/``maximize``/``costs`` the
    search's objectives (``score`` ``None`` without a search); ``resumed`` whether the run folder
    was already used by trackers (a resumed run).
    """

    experiment: str
    run_id: str
    run_dir: Path
    config_text: str
    config: Mapping[str, Any]
    manifest: Mapping[str, Any]
    seed: int | None = None
    strategy: str = "fixed"
    score: str | None = None
    maximize: bool = True
    costs: tuple[str, ...] = ()
    resumed: bool = False

    @property
    def results_root(self) -> Path:
        """The results folder holding ``<experiment>/<run-id>/``."""
        return self.run_dir.parent.parent

    @property
    def objectives(self) -> str:
        """The objectives in words, e.g. ``max validation accuracy; min time, params``."""
        if self.score is None:
            return "min validation loss"
        text = f"{'max' if self.maximize else 'min'} validation {self.score}"
        return text + (f"; min {', '.join(self.costs)}" if self.costs else "")


@dataclass(frozen=True)
class RunSummary:
    """How the run ended and where its results are (paths inside the run folder, ``None`` if absent).

    ``summary`` holds the search summary (``search_summary.json``: trials, front size, best
    trial and score, wall time) when there was a search; ``pareto_front`` the names of the trials
    on the front, best first; ``files`` other results worth keeping (final metrics, training
    results, the report).
    """

    status: RunStatus
    run_dir: Path
    trials: Mapping[str, int] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    pareto_front: tuple[str, ...] = ()
    pareto_front_csv: Path | None = None
    plots: tuple[Path, ...] = ()
    best_model: Path | None = None
    files: tuple[Path, ...] = ()


class Tracker(Configurable, abc.ABC):
    """An experiment tracker fed by a run's events (see the module docstring).

    Subclasses are made with the run's :class:`~scinas.config.tracking.TrackingConfig` and their
    ``options`` (read from ``[X.tracking.<name>]`` by :meth:`from_table`: declare them once as an
    ``Options`` dataclass, see :mod:`scinas.configurable`), and registered in :data:`TRACKERS`
    under their TOML name.  ``package``/``extra`` name the module
    a tracker imports (lazily, in its methods) and the scinas extra that installs it.
    """

    package: ClassVar[str | None] = None
    extra: ClassVar[str | None] = None

    def __init__(self, config: TrackingConfig, options: Any = None) -> None:
        self.config = config
        self.options = self.default_options() if options is None else options

    @classmethod
    def check(cls, config: TrackingConfig, options: Any, environ: Mapping[str, str]) -> None:
        """Raise a ConfigError if this tracker cannot run with ``options`` (package missing,
        credentials absent).

        Called when the experiment is planned, before any trial; the default checks the package.
        """
        if cls.package is not None:
            require_package(cls.package, cls.extra or cls.package, config, tracker=cls.package)

    @abc.abstractmethod
    def run_started(self, run: RunInfo) -> None:
        """The run (re)started: open or reattach to what this tracker records the run in."""

    def trial_started(self, trial: TrialRecord) -> None:
        """Trial ``trial`` started (or, resumed, started again: ``trial.attempts`` > 1)."""
        return None

    def epoch_recorded(self, trial: TrialRecord, epoch: EpochRecord) -> None:
        """Epoch ``epoch.epoch`` (1-based) of ``trial`` was recorded."""
        return None

    @abc.abstractmethod
    def trial_finished(self, trial: TrialRecord, metrics: FinalMetrics) -> None:
        """``trial`` completed or failed (``trial.status``); ``metrics`` are its final evaluations."""

    @abc.abstractmethod
    def run_finished(self, summary: RunSummary) -> None:
        """The run ended (completed, failed or interrupted): log its results."""

    def close(self) -> None:
        """Release files and connections; called once after :meth:`run_finished` or on failure."""
        return None


#: Trackers by their name in ``[X.tracking] trackers``; each module of :mod:`scinas.tracking`
#: registers its own (``@TRACKERS.register("mlflow")``), found on the first lookup: a new tracker
#: is one module there.
TRACKERS: Registry[type[Tracker]] = Registry("tracker", discover="scinas.tracking")


def require_package(module: str, extra: str, config: TrackingConfig, *, tracker: str) -> None:
    """A ConfigError naming the extra to install unless ``module`` can be imported."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError(f"the {tracker} tracker needs the {module!r} package, which is not installed",
                          file=config.file or None, path=config.key_path("trackers"), value=tracker,
                          fix=f"make install EXTRAS={extra}  (or pip install 'scinas[{extra}]'), or remove "
                              f"{tracker!r} from the trackers")


class TrackerState:
    """The run folder's ``tracking.json``: one JSON object per tracker, for resume.

    Trackers store identifiers (an MLflow run id, a Neptune custom run id), never credentials.
    Writes are atomic (a temporary file renamed into place).
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = RunLayout(run_dir).tracking_state

    def load(self, tracker: str) -> dict[str, Any]:
        """What ``tracker`` saved (empty when nothing was, or the file is unreadable)."""
        section = self._read().get(tracker)
        return dict(section) if isinstance(section, dict) else {}

    def save(self, tracker: str, values: Mapping[str, Any]) -> None:
        """Replace what ``tracker`` saved with ``values``."""
        document = self._read()
        document[tracker] = dict(values)
        write_json_atomic(self.path, document, sort_keys=True)

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}
