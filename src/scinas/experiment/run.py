"""The coordinator of one experiment run: owns its folder, loops ask → execute → tell, records
everything in the run store, and resumes an interrupted run from its folder.

The folder ``results/<experiment>/<run-id>/`` is described, path by path, by
:class:`scinas.store.layout.RunLayout`.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import tomli_w

from scinas.atomic import write_text_atomic
from scinas.config.loading import load_config
from scinas.config.structure import SearchStructure
from scinas.data.pipeline import PreparedDataset
from scinas.errors import ConfigError, InternalError, ScinasError
from scinas.execution.base import Executor
from scinas.execution.registry import ExecutionContext, create_executor
from scinas.experiment.loop import TrialLoop, load_strategy_state
from scinas.experiment.manifest import build_manifest
from scinas.experiment.plan import ExperimentPlan, plan_experiments
from scinas.interrupt import interruptible
from scinas.models.plot import graphviz_note
from scinas.search.fixed import FixedStrategy
from scinas.store import RunStatus, RunStore, TrialPhase, TrialStatus
from scinas.store.layout import RunLayout
from scinas.tracking import start_tracking

__all__ = ["STORE_FILE", "ExperimentRun", "RunResult", "new_run_id"]

logger = logging.getLogger(__name__)
STORE_FILE = RunLayout(Path()).store.name


def new_run_id() -> str:
    """``20261122-083012-3fa2``: sortable by time, unique across concurrent starts."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def _write_atomic(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def _write_report(run_dir: Path) -> None:
    """``report.html`` of a finished run; a report that cannot be written is logged, never fails the run."""
    try:
        from scinas.analysis.report import write_report

        write_report(run_dir)
    except Exception:  # the run's results are saved already; the report can be rewritten with `scinas report`
        logger.exception("the run report could not be written; write it with `scinas report %s`", run_dir)


def _check_same_version(run_dir: Path) -> None:
    """A run resumes only with the scinas version that started it (state formats may differ)."""
    try:
        manifest = json.loads(RunLayout(run_dir).manifest.read_text())
    except (OSError, ValueError):
        return
    started = (manifest.get("packages") or {}).get("scinas")
    current = _scinas_version()
    if started and current and started != current:
        raise ConfigError(f"{run_dir} was started by scinas {started}; this is scinas {current}, and a run resumes "
                          "only with the version that started it", file="--resume",
                          fix=f"install scinas=={started} to resume it, or start a new run")


def _scinas_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("scinas")
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass
class RunResult:
    """How one experiment run ended."""

    experiment: str
    run_dir: Path
    status: RunStatus
    failures: list[str] = field(default_factory=list)
    test_metrics: dict[str, float] = field(default_factory=dict)


class ExperimentRun:
    """One run of one experiment; create with :meth:`start` or :meth:`resume`."""

    def __init__(self, plan: ExperimentPlan, run_dir: Path, store: RunStore, *, cache_root: Path,
                 progress: bool = True, verbose: int | None = None) -> None:
        self.plan = plan
        self.run_dir = run_dir
        self.store = store
        self.cache_root = cache_root
        self.progress = progress
        self.verbose = verbose

    @classmethod
    def start(cls, plan: ExperimentPlan, results_root: Path, *, cache_root: Path | None = None,
              argv: Sequence[str] = (), progress: bool = True, verbose: int | None = None) -> ExperimentRun:
        """Create ``results_root/<experiment>/<run-id>/`` with its config, manifest and store."""
        run_id = new_run_id()
        run_dir = results_root / plan.name / run_id
        run_dir.mkdir(parents=True, mode=0o700)  # owner-only: workers read task files from it
        experiments_doc, data_doc = plan.resolved_toml()
        layout = RunLayout(run_dir)
        _write_atomic(layout.experiments_config, tomli_w.dumps(experiments_doc))
        _write_atomic(layout.data_config, tomli_w.dumps(data_doc))
        manifest = build_manifest(experiment=plan.name, run_id=run_id, seed=plan.config.seed, argv=list(argv))
        _write_atomic(layout.manifest, json.dumps(manifest, indent=2))
        store = RunStore.create(layout.store, run_id=run_id, experiment=plan.name,
                                seed=plan.config.seed, config_text=tomli_w.dumps(experiments_doc),
                                manifest=manifest)
        return cls(plan, run_dir, store, cache_root=cache_root or results_root / ".cache",
                   progress=progress, verbose=verbose)

    @classmethod
    def resume(cls, run_dir: Path, *, cache_root: Path | None = None, progress: bool = True,
               verbose: int | None = None) -> ExperimentRun:
        """Reopen an interrupted run from its folder (its own resolved configuration)."""
        if not RunLayout(run_dir).store.exists():
            raise ConfigError(f"{run_dir} is not a scinas run folder (no {STORE_FILE})", file="--resume",
                              fix="pass the folder printed when the run started: results/<experiment>/<run-id>")
        _check_same_version(run_dir)
        raw = load_config(run_dir)
        plans = plan_experiments(raw, raw.default or ())
        store = RunStore.open(RunLayout(run_dir).store)
        return cls(plans[0], run_dir, store, cache_root=cache_root or run_dir.parent.parent / ".cache",
                   progress=progress, verbose=verbose)

    def close(self) -> None:
        self.store.close()

    def execute(self) -> RunResult:
        """Run (or finish) the experiment; KeyboardInterrupt leaves the run resumable.

        While it runs, SIGINT (Ctrl-C, ``kill -INT``, the dashboard's stop) is handled by
        :func:`scinas.interrupt.interruptible`, so an interrupt that arrives where Python cannot
        raise it (between two search steps, while predictors are fitted) still stops the run
        within a moment instead of being dropped.  The trackers of ``[X.tracking]`` follow the run
        through the store's events and are told how it ended, whichever way it ends (see
        :mod:`scinas.tracking`).
        """
        handler = logging.FileHandler(RunLayout(self.run_dir).run_log, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package_logger = logging.getLogger("scinas")
        package_logger.addHandler(handler)  # the trackers' messages belong in run.log too
        try:
            tracking = start_tracking(self.plan.config, self.store, self.run_dir)
            try:
                with interruptible():
                    return self._execute()
            finally:
                tracking.finish(self.store.run().status)
        finally:
            package_logger.removeHandler(handler)
            handler.close()

    def _execute(self) -> RunResult:
        """The run itself (see :meth:`execute`)."""
        self.store.set_run_status(RunStatus.RUNNING)
        try:
            logger.info("run %s of experiment %s in %s", self.run_dir.name, self.plan.name, self.run_dir)
            if (note := graphviz_note()) is not None:  # said once here, not per drawing
                logger.info(note)
            dataset = PreparedDataset.prepare(self.plan.generator, self.cache_root,
                                              stats_samples=self.plan.config.dataset.use_stats_of,
                                              progress=self.progress)
            executor = create_executor(ExecutionContext(self.plan.config, self.store, self.run_dir, self.cache_root,
                                                        dataset, self.verbose))
            if self.plan.config.search is None:
                self._run_fixed(executor)
            else:
                self._run_search(dataset, executor)
            result = self._result()
        except KeyboardInterrupt:
            self.store.set_run_status(RunStatus.INTERRUPTED)
            self.store.export_csv(RunLayout(self.run_dir).csv)
            logger.warning("interrupted: resume with `scinas run --resume %s`", self.run_dir)
            raise
        except InternalError as exc:  # a worker stopped by a bug (see below)
            self._stopped(exc)
            raise InternalError(f"{exc}; the run {self.run_dir} is saved: resume it with "
                                f"`scinas run --resume {self.run_dir}` once fixed") from exc
        except ScinasError as exc:
            self.store.set_run_status(RunStatus.FAILED)
            self.store.export_csv(RunLayout(self.run_dir).csv)
            logger.error("run failed: %s", exc)
            return RunResult(self.plan.name, self.run_dir, RunStatus.FAILED, [str(exc)])
        except Exception as exc:  # not a trial's failure (those are failed trials): stop, saved and resumable
            self._stopped(exc)
            if isinstance(exc, OSError):  # the machine's (a full disk, a lost mount), reported as such
                raise
            raise InternalError(f"the run {self.run_dir} stopped on an unexpected {type(exc).__name__}: {exc} "
                                "(a bug in scinas or in a class registered from user code, not a failed "
                                f"trial; traceback in {RunLayout(self.run_dir).run_log}); the run is saved: resume "
                                f"it with `scinas run --resume {self.run_dir}` once fixed") from exc
        self.store.set_run_status(result.status)
        self.store.export_csv(RunLayout(self.run_dir).csv)
        _write_report(self.run_dir)
        return result

    def _stopped(self, exc: Exception) -> None:
        """Leave a run that an unexpected error stopped resumable: interrupted, its tables exported."""
        self.store.set_run_status(RunStatus.INTERRUPTED)
        self.store.export_csv(RunLayout(self.run_dir).csv)
        logger.error("the run stopped on an unexpected error; its state is saved: resume with "
                     "`scinas run --resume %s`", self.run_dir, exc_info=exc)

    def _run_fixed(self, executor: Executor) -> None:
        """The experiment's one trial, through the run's trial loop (phase ``fixed``)."""
        strategy = FixedStrategy(self.plan.architecture)
        state_path = RunLayout(self.run_dir).strategy_state
        saved = load_strategy_state(state_path)
        if saved is not None:
            strategy.load_state(saved[1])
        TrialLoop(strategy, executor, self.store, phase=TrialPhase.FIXED, trials_dir=RunLayout(self.run_dir).trials,
                  state_path=state_path, strategy_name="fixed",
                  after_tell=lambda _: self.store.export_csv(RunLayout(self.run_dir).csv)).run()

    def _run_search(self, dataset: PreparedDataset, executor: Executor) -> None:
        """Search, then select and train the final model (see :mod:`scinas.experiment.search`)."""
        from scinas.experiment.search import SearchPhase
        from scinas.experiment.selection import PostSearch
        from scinas.search.cell_domain import CellDomain
        from scinas.search.domain import Objectives
        from scinas.search.registry import strategy_from_config

        config = self.plan.config
        search = config.search
        structure = config.structure
        if search is None or not isinstance(structure, SearchStructure) or structure.space is None:
            raise ScinasError(f"experiment {config.name} has no search to run")
        domain = CellDomain(structure.space, structure.macro)
        objectives = Objectives(search.score, search.maximize, search.costs, search.target)
        strategy = strategy_from_config(search, domain, objectives, seed=config.seed, output_dir=self.run_dir)
        state_path = RunLayout(self.run_dir).strategy_state
        saved = load_strategy_state(state_path)
        if saved is not None:
            if saved[0] != search.strategy:
                raise ConfigError(f"{state_path} holds the state of a {saved[0]!r} search, but the "
                                  f"run's configuration says strategy = {search.strategy!r}",
                                  file=str(RunLayout(self.run_dir).experiments_config), path=f"{search.path}.strategy",
                                  fix="resume with the configuration the run started with")
            strategy.load_state(saved[1])
        # the command line shows the search's progress from the store's events (scinas.console)
        phase = SearchPhase(strategy, domain, objectives, executor, self.store, self.run_dir, state_path,
                            strategy_name=search.strategy)
        timing = phase.run()
        self.store.export_csv(RunLayout(self.run_dir).csv)
        logger.info("search done: %.1f s, of which %.1f s training trials (overhead %.1f%%)", timing.wall_s,
                    timing.trials_s, 100 * timing.to_json()["overhead_share"])
        front = [record for row in phase.front(phase.rows()) if (record := self.store.trial(row["name"]))]
        post = PostSearch(config, dataset, self.store, self.run_dir, objectives, verbose=self.verbose)
        chosen = post.select(front)
        if config.final is not None:
            post.final(chosen)
        else:
            post.export_chosen(chosen)

    def _result(self) -> RunResult:
        failures = [f"{t.name}: {t.failure_reason}" for t in self.store.trials(TrialStatus.FAILED)]
        searched = self.plan.config.search is not None
        final: dict[str, dict[str, dict[str, float]]] = {}
        test_metrics: dict[str, float] = {}
        for trial in self.store.trials(TrialStatus.COMPLETED):
            per_split: dict[str, dict[str, float]] = {}
            for record in self.store.metrics(trial.trial_id, epoch="final"):
                per_split.setdefault(record.split, {})[record.name] = record.value
            final[trial.name] = per_split
            test_metrics = per_split.get("test", test_metrics)
        # JSON has no NaN: a metric that could not be computed is written as null
        readable = {trial: {split: {k: (None if math.isnan(v) else v) for k, v in values.items()}
                            for split, values in splits.items()} for trial, splits in final.items()}
        _write_atomic(RunLayout(self.run_dir).final_metrics, json.dumps(readable, indent=2, sort_keys=True))
        # A search goes on past failed trials: it failed only when nothing completed.
        completed = bool(self.store.trials(TrialStatus.COMPLETED))
        status = RunStatus.FAILED if (failures and not searched) or not completed else RunStatus.COMPLETED
        return RunResult(self.plan.name, self.run_dir, status, failures, test_metrics)
