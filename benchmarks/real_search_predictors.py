"""How well the predictors rank in real searches: Kendall τ per step, on trials they had not seen (JSON to stdout).

Runs the shipped searches — ``A`` (digits, 2D cells), ``AS`` (Michaelis–Menten spectra as series,
1D cells) and ``X15`` (XFEL patterns at 1e15 ph/µm², with learning-curve early termination) —
with steps large enough to rank (``--children`` cells per step plus a quarter as many exploration
cells), over several seeds.  A progressive search fits its GIN score predictor and its cost
predictor on every trial trained so far *before* each step ``B2, B3, ...``, predicts the cells it
then trains, and once the step's results are in writes the predictions against the measured
values to ``predictors/<predictor>_B<step>.json`` (what the run report's "predictor quality"
section shows).  This script reads those files back with the report's own reader, so the score
and the cost are exactly what the search was told (its score, its cost function), and prints::

    {"searches": {"A": {"1": {"run": ..., "trials": 52, "wall_s": ..., "steps": {"B2": {"gin": {...},
                                "svr_time": {...}}, ...}, "gin_kendall_mean": ..., "cost_kendall_mean": ...}}},
     "per_search": {"A": {"gin_kendall_mean": ..., "cost_kendall_mean": ...}},
     "gin_kendall_mean": ..., "cost_kendall_mean": ..., "settings": {...}, "machine": {...}}

Each ``steps`` entry is the report's quality record (``n``, ``kendall``, ``spearman``, ``mae``,
``mape``) per predictor: ``gin`` for the score, ``svr_<cost>`` for each cost.  The means are over
steps (every step of every search and seed counts once; a step whose τ is undefined, e.g.
constant predictions, is left out and counted in ``undefined_steps``).

Usage::

    python benchmarks/real_search_predictors.py --searches A,AS,X15 --seeds 1,2,3 --children 16
    python benchmarks/real_search_predictors.py --quick                  # A, one seed, small steps
    python benchmarks/real_search_predictors.py --searches AS --samples 2000 --epochs 3 --keep results/bench
    python benchmarks/real_search_predictors.py --runs results/bench/A/*  # measure run folders only
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _machine import machine_facts
from scinas.analysis.report_data import read_predictor_quality
from scinas.store.layout import RunLayout

REPO = Path(__file__).resolve().parents[1]
SEARCHES = ("A", "AS", "X15")
#: The score predictor's key in the per-step files; every other key is a cost predictor's.
SCORE_PREDICTOR = "gin"


def overrides(name: str, dataset: str, seed: int, args: argparse.Namespace) -> list[str]:
    """The command-line overrides that turn the shipped search ``name`` into the measured one.

    Selection and the final training are cut to one epoch of one cell: only the search is measured.
    """
    exploration = args.children // 4 if args.exploration is None else args.exploration
    items = [
        f"{name}.seed={seed}",
        f"{name}.search.max_children={args.children}",
        f"{name}.search.max_exploration_children={exploration}",
        f"{name}.selection.top_k=1",
        f"{name}.selection.epochs=1",
        f"{name}.selection.variants=[{{}}]",
        f"{name}.final.epochs=1",
        f"{name}.tracking.trackers=[]",
    ]
    if args.steps is not None:  # predicted steps start at B2: blocks = steps + 1
        items.append(f"{name}.search_space.blocks={args.steps + 1}")
    if args.epochs is not None:
        items.append(f"{name}.training.epochs={args.epochs}")
    if args.samples is not None:
        items.append(f"data.{dataset}.shape.n_samples={args.samples}")
    return items


def run_search(name: str, seed: int, args: argparse.Namespace, results: Path) -> Path:
    """Run the search ``name`` with ``seed`` under ``results``; return its run folder."""
    from scinas.config.loading import load_config
    from scinas.experiment.plan import plan_experiments
    from scinas.experiment.run import ExperimentRun

    dataset = str(load_config(args.config_dir).experiment_table(name)["dataset"]["training"])
    raw = load_config(args.config_dir, overrides(name, dataset, seed, args))
    plan = plan_experiments(raw, [name])[0]
    run = ExperimentRun.start(
        plan, results, cache_root=results / ".cache", argv=["benchmark", name, str(seed)], progress=False, verbose=0
    )
    try:
        result = run.execute()
    finally:
        run.close()
    if result.status != "completed":
        logging.warning("%s seed %d ended %s: %s", name, seed, result.status, result.failures[:3])
    return run.run_dir


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def run_quality(run_dir: Path) -> dict[str, Any]:
    """One run's per-step quality (the report's reader) and the means of its steps' τ."""
    steps: dict[str, dict[str, Any]] = {}
    for predictor, by_step in read_predictor_quality(RunLayout(run_dir).predictors).items():
        for step, quality in by_step.items():
            steps.setdefault(step, {})[predictor] = {k: _finite(v) for k, v in quality.items()}
    steps = dict(sorted(steps.items(), key=lambda item: (len(item[0]), item[0])))
    entry: dict[str, Any] = {"run": str(run_dir), "trials": _search_trials(run_dir), "steps": steps}
    entry.update(_means([entry]))
    return entry


def _search_trials(run_dir: Path) -> int:
    """Completed search trials of the run."""
    from scinas.store import RunStore, TrialPhase, TrialStatus

    with RunStore.open(RunLayout(run_dir).store, readonly=True) as store:
        return sum(1 for t in store.trials(TrialStatus.COMPLETED) if t.phase == TrialPhase.SEARCH)


def _taus(entries: Sequence[Mapping[str, Any]]) -> tuple[list[float | None], list[float | None]]:
    score: list[float | None] = []
    cost: list[float | None] = []
    for entry in entries:
        for step in entry["steps"].values():
            for predictor, quality in step.items():
                (score if predictor == SCORE_PREDICTOR else cost).append(quality.get("kendall"))
    return score, cost


def _means(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    score, cost = _taus(entries)
    return {
        "gin_kendall_mean": _mean(score),
        "cost_kendall_mean": _mean(cost),
        "gin_steps": len(score),
        "cost_steps": len(cost),
        "undefined_steps": sum(v is None for v in [*score, *cost]),
    }


def summarise(searches: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Per-search and overall means over steps of ``{search: {seed: run_quality(...)}}``."""
    per_search = {name: _means(list(seeds.values())) for name, seeds in searches.items()}
    everything = [entry for seeds in searches.values() for entry in seeds.values()]
    return {"searches": searches, "per_search": per_search, **_means(everything)}


def _measured_runs(paths: Sequence[Path]) -> dict[str, dict[str, dict[str, Any]]]:
    """``--runs``: each folder's experiment and seed from its manifest."""
    searches: dict[str, dict[str, dict[str, Any]]] = {}
    for run_dir in paths:
        manifest = json.loads(RunLayout(run_dir).manifest.read_text(encoding="utf-8"))
        seeds = searches.setdefault(str(manifest["experiment"]), {})
        seeds[str(manifest.get("seed", len(seeds)))] = run_quality(run_dir)
    return searches


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", default=",".join(SEARCHES), help="shipped searches to run (comma list)")
    parser.add_argument("--seeds", default="1,2,3", help="seeds, one run each (comma list)")
    parser.add_argument("--children", type=int, default=16, help="cells per step (the Pareto front)")
    parser.add_argument(
        "--exploration", type=int, default=None, help="exploration cells per step (default: children // 4)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="predicted steps (blocks - 1; default: the search's own)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="training epochs per trial (default: the search's)")
    parser.add_argument("--samples", type=int, default=None, help="samples of a generated dataset (default: its own)")
    parser.add_argument("--quick", action="store_true", help="A only, seed 1, 8 children, 1 step, 2 epochs")
    parser.add_argument("--config-dir", type=Path, default=REPO / "config")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the run folders here (default: a temporary folder, removed)"
    )
    parser.add_argument("--runs", type=Path, nargs="+", default=None, help="measure these run folders; train nothing")
    args = parser.parse_args(argv)
    if args.quick:
        args.searches, args.seeds, args.children, args.steps, args.epochs = "A", "1", 8, 1, 2
    if args.children < 1 or (args.steps is not None and args.steps < 1):
        parser.error("--children and --steps must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    if args.runs is not None:
        report = summarise(_measured_runs(args.runs))
    else:
        results = args.keep or Path(tempfile.mkdtemp(prefix="scinas-bench-"))
        searches: dict[str, dict[str, dict[str, Any]]] = {}
        try:
            for name in [s for s in args.searches.split(",") if s]:
                for seed in [int(s) for s in args.seeds.split(",") if s]:
                    begun = time.perf_counter()
                    entry = run_quality(run_search(name, seed, args, results))
                    entry["wall_s"] = round(time.perf_counter() - begun, 1)
                    searches.setdefault(name, {})[str(seed)] = entry
                    logging.warning(
                        "%s seed %d: GIN τ %s, cost τ %s (%.0f s)",
                        name,
                        seed,
                        entry["gin_kendall_mean"],
                        entry["cost_kendall_mean"],
                        entry["wall_s"],
                    )
        finally:
            if args.keep is None:
                shutil.rmtree(results, ignore_errors=True)
        report = summarise(searches)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "runs"}
    report["settings"] = settings
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["machine"] = machine_facts()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
