"""The search phase of a run: ask the strategy, train what it asks for, tell it the results.

The store is the truth: a trial's fitness and costs are always read back from its record (the
validation value of the score metric, or the learning curve's prediction of it when early
termination stopped the trial; its training time, parameters, FLOPs and latency), so a
resumed run tells the strategy exactly what an uninterrupted one would.  After every result the
strategy's JSON state is written atomically; a run killed at any point resumes from the store
and that state, trains nothing that finished, and restarts an interrupted trial from its first
epoch (so its result, and everything the strategy decides from it, is the same as without the
interruption).

Outputs beside the store (POPNAS users know them)::

    csv/training_results.csv       one row per trial: step, architecture, status, score, costs
    csv/search_summary.csv         wall time split into training and overhead, trials per status
    csv/predictions_B*.csv, ...    written by the strategy (predictions, Pareto and exploration fronts)
    predictors/                    the predictors' training data and quality per step
    plots/                         Pareto front per step, predictor quality, operator usage
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scinas.atomic import atomic_path, write_text_atomic
from scinas.errors import ConfigError
from scinas.execution.base import Executor
from scinas.experiment.loop import TrialLoop
from scinas.search.base import SearchStrategy, TrialOutcome, TrialRequest
from scinas.search.domain import COSTS, Objectives, ProgressiveDomain, SearchDomain
from scinas.search.outcome import score_of, target_of
from scinas.search.pareto import non_dominated
from scinas.search_space.architecture import CellArchitecture
from scinas.store import RunStore, TrialPhase, TrialStatus
from scinas.store.layout import RunLayout

__all__ = ["SearchPhase", "SearchTiming"]

logger = logging.getLogger(__name__)


@dataclass
class SearchTiming:
    """Where the search phase's wall time went: training trials vs everything else."""

    wall_s: float = 0.0
    trials_s: float = 0.0
    train_s: float = 0.0

    @property
    def overhead_s(self) -> float:
        return max(self.wall_s - self.trials_s, 0.0)

    def to_json(self) -> dict[str, float]:
        share = self.overhead_s / self.wall_s if self.wall_s > 0 else 0.0
        return {"wall_s": self.wall_s, "trials_s": self.trials_s, "train_s": self.train_s,
                "overhead_s": self.overhead_s, "overhead_share": share}


@dataclass
class SearchPhase:
    """Runs ``strategy`` to its end through ``executor`` in the run's trial loop, recording into ``store``."""

    strategy: SearchStrategy
    domain: SearchDomain
    objectives: Objectives
    executor: Executor
    store: RunStore
    run_dir: Path
    state_path: Path
    strategy_name: str = ""
    progress: Callable[[int], object] | None = None
    timing: SearchTiming = field(default_factory=SearchTiming)

    def run(self) -> SearchTiming:
        """Loop ask → train → tell (:class:`~scinas.experiment.loop.TrialLoop`) until the strategy
        is finished; returns the timing.

        ``trials_s`` counts the time the coordinator waited for trials, so the overhead is its
        own time (predictors, expansion, bookkeeping).  Interrupted trials start again from their
        first epoch, so a resumed search is the same as an uninterrupted one.
        """
        previous = _load_json(RunLayout(self.run_dir).search_timing)
        started = time.perf_counter() - previous.get("wall_s", 0.0)
        waited_before = previous.get("trials_s", 0.0)
        loop = TrialLoop(self.strategy, self.executor, self.store, phase=TrialPhase.SEARCH,
                         trials_dir=RunLayout(self.run_dir).trials, objectives=self.objectives,
                         state_path=self.state_path,
                         strategy_name=self.strategy_name, restart_unfinished=True, annotate=self._step)

        def told(outcomes: Sequence[TrialOutcome]) -> None:
            self.timing.trials_s = waited_before + loop.waited_s
            self.timing.wall_s = time.perf_counter() - started
            _write_atomic(RunLayout(self.run_dir).search_timing, json.dumps(self.timing.to_json()))
            if self.progress is not None:
                self.progress(len(outcomes))

        loop.after_tell = told
        self.timing.trials_s = waited_before
        loop.run()
        self.timing.trials_s = waited_before + loop.waited_s
        self.timing.wall_s = time.perf_counter() - started
        self.timing.train_s = sum(t.train_time_s or 0.0 for t in self.store.trials()
                                  if t.phase == TrialPhase.SEARCH)
        _write_atomic(RunLayout(self.run_dir).search_timing, json.dumps(self.timing.to_json()))
        self.write_outputs()
        return self.timing

    def _step(self, request: TrialRequest) -> dict[str, Any]:
        """The ``extra`` of a new trial: its block count in a progressive search (POPNAS' step)."""
        if isinstance(self.domain, ProgressiveDomain) and isinstance(request.architecture, CellArchitecture):
            return {"blocks": self.domain.blocks(request.architecture)}
        return {}

    # ------------------------------------------------------------------ outputs

    def rows(self) -> list[dict[str, Any]]:
        """One row per search trial (what ``csv/training_results.csv`` holds)."""
        rows = []
        for record in self.store.trials():
            if record.phase != TrialPhase.SEARCH:
                continue
            score = score_of(self.store, record, self.objectives) if record.status == TrialStatus.COMPLETED else None
            row: dict[str, Any] = {"name": record.name, "step": record.extra.get("blocks", ""),
                                   "architecture": record.architecture, "status": record.status.value,
                                   self.objectives.score: score}
            if self.objectives.target is not None:  # the formula's value, or why it has none
                target, problem = (target_of(self.store, record, self.objectives) if score is not None
                                   else (None, None))
                row["target"], row["target_problem"] = target, problem or ""
            for cost in COSTS:
                row[cost] = getattr(record, COSTS[cost])
            row["epochs"] = record.epochs_completed
            row["failure_reason"] = record.failure_reason or ""
            rows.append(row)
        return rows

    def front(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The completed trials on the Pareto front (score↑, costs↓), best score first."""
        ranked = self.objectives.ranked_by
        done = [row for row in rows if row[ranked] is not None
                and all(row[cost] is not None for cost in self.objectives.costs)
                and self.strategy.selectable(self._architecture_json(row["name"]))]
        if not done:
            return []
        points = [[self.objectives.fitness(row[ranked]), *(-float(row[c]) for c in self.objectives.costs)]
                  for row in done]
        keep = non_dominated(points)
        chosen = [done[i] for i in keep]
        return sorted(chosen, key=lambda row: -self.objectives.fitness(row[ranked]))

    def _architecture_json(self, name: str) -> dict[str, Any]:
        record = self.store.trial(name)
        data = json.loads(record.architecture_json) if record is not None and record.architecture_json else {}
        return data if isinstance(data, dict) else {}

    def write_outputs(self) -> None:
        """The CSVs, summary and plots of the search (rewritten from the store, idempotent)."""
        rows = self.rows()
        layout = RunLayout(self.run_dir)
        layout.csv.mkdir(exist_ok=True)
        _write_csv(layout.training_results_csv, rows)
        front = self.front(rows)
        _write_csv(layout.pareto_front_csv, front)
        statuses = {status.value: sum(1 for row in rows if row["status"] == status.value) for status in TrialStatus}
        summary = {"strategy": self.strategy_name or type(self.strategy).__name__,
                   "objectives": self.objectives.to_json(),
                   "trials": len(rows), **{f"trials_{k}": v for k, v in statuses.items() if v},
                   "pareto_front_size": len(front),
                   "best": front[0]["name"] if front else None,
                   "best_score": front[0][self.objectives.score] if front else None,
                   **({"best_target": front[0]["target"] if front else None} if self.objectives.target else {}),
                   **self.timing.to_json()}
        if hasattr(self.strategy, "summary"):  # an object in the JSON file (a JSON string in the CSV)
            summary["strategy_summary"] = json.loads(json.dumps(self.strategy.summary(), default=str))
        _write_csv(layout.search_summary_csv, [
            {"key": k, "value": json.dumps(v, default=str, sort_keys=True) if isinstance(v, dict | list) else v}
            for k, v in summary.items()])
        _write_atomic(layout.search_summary, json.dumps(summary, indent=2, default=str))
        self._plots(rows)

    def _plots(self, rows: Sequence[dict[str, Any]]) -> None:
        try:
            from scinas.analysis.search_plots import plot_operator_usage, plot_pareto_fronts
        except ImportError:  # the analysis package is optional for a library user
            return
        plots = RunLayout(self.run_dir).plots
        plots.mkdir(exist_ok=True)
        score = self.objectives.score
        by_step: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_step.setdefault(f"B{row['step']}" if row["step"] != "" else "all", []).append(row)
        for cost in self.objectives.costs:
            points: dict[str, list[tuple[str, float, float]]] = {}
            cumulative: list[tuple[str, float, float]] = []
            for step, step_rows in by_step.items():
                cumulative = cumulative + [(r["name"], float(r[score]), float(r[cost])) for r in step_rows
                                           if r[score] is not None and r[cost] is not None]
                points[step] = list(cumulative)
            plot_pareto_fronts(points, f"validation {score}", cost, plots / f"pareto_front_{cost}.png")
        usage: dict[str, dict[str, int]] = {}
        for step, step_rows in by_step.items():
            counts: dict[str, int] = {}
            for row in step_rows:
                record = self.store.trial(row["name"])
                if record is None or not record.architecture_json:
                    continue
                try:
                    architecture = self.domain.from_json(json.loads(record.architecture_json))
                except (ConfigError, ValueError):  # not of the domain: a DARTS supernet or genotype
                    continue
                for operator in self.domain.operators_of(architecture):
                    counts[operator] = counts.get(operator, 0) + 1
            usage[step] = counts
        plot_operator_usage(usage, plots / "operator_usage.png")


def _load_json(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_atomic(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    with atomic_path(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
