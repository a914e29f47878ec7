"""DARTS against POPNAS on the same cell space, in the same run (JSON to stdout).

For each dataset — ``digits`` (scikit-learn's 8×8 images, 10 classes: the shipped ``DD`` against
``A``) and ``dseries`` (Michaelis–Menten spectra as series, 12 regression targets: ``DDS`` against
``AS``) — and each seed, it runs

* ``darts``: the shipped DARTS search (supernet, the genotype's short retraining, final training);
* ``popnas``: the shipped POPNAS search **over the DARTS search's space**: the same operators,
  ``blocks`` = the supernet's ``nodes`` and ``lookback_depth = 2`` (a DARTS cell reads the two
  cells before it), trained for the same ``[X.training] epochs`` per trial and the same final
  epochs; selection is cut to the best cell as it is (one epoch, no macro variants), so both end
  in one final training of one architecture;
* ``darts_stop`` (with ``--stop-parameter-free N``): the DARTS search with the collapse
  counter-measure ``[X.search] stop_parameter_free = N`` and ``stop_warmup = --stop-warmup``
  (docs/darts.md).

and prints, per dataset and method, the mean and spread over seeds of::

    search_s            wall time of the search phase (search_timing.json: supernets and genotype
                        retrainings for DARTS; every trained cell and the predictors for POPNAS)
    test_score          the final model's test accuracy (digits) or mean R² (dseries)
    params              the final model's parameters
    parameter_free_ops  DARTS: skip and pooling operations in the genotype (both cells)

``{"digits": {"darts": {"seeds": {"0": {...}}, "test_score": {"mean", "std", "min", "max"}, ...},
"popnas": {...}, "aim": {...}}, "meta": {...}}``.  ``aim`` (``aim_darts_stop``) compares the means with the issue's aim:
DARTS within 0.5 accuracy points / 0.02 R² of POPNAS's test score, in at most a third of its
search time.

Usage::

    python benchmarks/darts.py                                # both datasets, seed 0, shipped sizes
    python benchmarks/darts.py --seeds 0,1,2 --samples 2000   # dseries cut to 2 000 spectra
    python benchmarks/darts.py --stop-parameter-free 2        # also DARTS with early stopping on α
    python benchmarks/darts.py --datasets digits --methods darts,darts_stop --stop-parameter-free 2 \
        --stop-warmup 8 --supernet-epochs 16                  # the counter-measure alone, a longer supernet
    python benchmarks/darts.py --tiny                         # digits, one seed, everything minimal
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _machine import machine_facts
from scinas.store.layout import RunLayout

REPO = Path(__file__).resolve().parents[1]
#: dataset → (DARTS experiment, POPNAS experiment) shipped in config/configurations.toml.
DATASETS: dict[str, tuple[str, str]] = {"digits": ("DD", "A"), "dseries": ("DDS", "AS")}
METHODS = ("darts", "darts_stop", "popnas")
#: The aim of the issue: DARTS' test score within this of POPNAS's (accuracy, R²) ...
SCORE_TOLERANCE = {"classification": 0.005, "regression": 0.02}
#: ... in at most this share of POPNAS's search time.
TIME_SHARE = 1 / 3


def _toml(value: Any) -> str:
    return json.dumps(value)  # a JSON string or list of strings is valid TOML


def overrides(method: str, dataset: str, seed: int, args: argparse.Namespace, darts_table: Mapping[str, Any]
              ) -> list[str]:
    """The command-line overrides that make the measured ``method`` search of ``dataset``."""
    darts, popnas = DATASETS[dataset]
    name = popnas if method == "popnas" else darts
    items = [f"{name}.seed={seed}", f"{name}.final.epochs={args.final_epochs}"]
    if args.epochs is not None:
        items.append(f"{name}.training.epochs={args.epochs}")
    if method == "popnas":
        search = darts_table["search"]
        operators = darts_table["search_space"]["operators"]
        items += [f"{name}.search_space.operators={_toml(list(operators))}",
                  f"{name}.search_space.blocks={args.blocks or search['nodes']}",
                  f"{name}.search_space.lookback_depth=2",
                  f"{name}.search.max_children={args.children}",
                  f"{name}.search.max_exploration_children={args.exploration}",
                  f"{name}.selection.top_k=1", f"{name}.selection.epochs=1", f"{name}.selection.variants=[{{}}]",
                  f"{name}.tracking.trackers=[]"]
        if args.epochs is None:  # the DARTS search's retraining epochs, for both
            items.append(f"{name}.training.epochs={darts_table['training']['epochs']}")
        if args.budget is not None:
            items.append(f"{name}.search.budget={args.budget}")
        if args.tiny:
            items += [f"{name}.search.predictor_epochs=2", f"{name}.search.predictor_ensemble=1",
                      f"{name}.architecture.filters=4"]
    else:
        if args.supernet_epochs is not None:
            items.append(f"{name}.search.epochs={args.supernet_epochs}")
        if method == "darts_stop":
            items.append(f"{name}.search.stop_parameter_free={args.stop_parameter_free}")
            items.append(f"{name}.search.stop_warmup={args.stop_warmup}")
        if args.tiny:
            items += [f"{name}.search.layers=3", f"{name}.search.nodes=1", f"{name}.search.filters=2",
                      f"{name}.search.eval_layers=3", f"{name}.search.eval_filters=2"]
    if args.samples is not None and dataset == "dseries":  # digits has its 1 797 images
        items.append(f"data.{dataset}.shape.n_samples={args.samples}")
    return items


def run_search(method: str, dataset: str, seed: int, args: argparse.Namespace, results: Path) -> Path:
    """Run one search with its final training under ``results``; return its run folder."""
    from scinas.config.loading import load_config
    from scinas.experiment.plan import plan_experiments
    from scinas.experiment.run import ExperimentRun

    darts, popnas = DATASETS[dataset]
    name = popnas if method == "popnas" else darts
    darts_table = load_config(args.config_dir).experiment_table(darts)
    raw = load_config(args.config_dir, overrides(method, dataset, seed, args, darts_table))
    plan = plan_experiments(raw, [name])[0]
    run = ExperimentRun.start(plan, results / method, cache_root=results / ".cache",
                              argv=["benchmark", method, dataset, str(seed)], progress=False, verbose=0)
    try:
        result = run.execute()
    finally:
        run.close()
    if result.status != "completed":
        logging.warning("%s on %s, seed %d, ended %s: %s", method, dataset, seed, result.status,
                        result.failures[:3])
    return Path(run.run_dir)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _score(test_metrics: Mapping[str, Any], score: str) -> float | None:
    """The test value of the search's ``score`` (metric names differ in case: r_squared, R_squared)."""
    wanted = score.lower().replace("_", "")
    for key, value in test_metrics.items():
        if key.lower().replace("_", "") == wanted and isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None


def measure(run_dir: Path, score: str, run_s: float) -> dict[str, Any]:
    """What a finished run folder says: search time, the final model's test score and size, and
    (DARTS) the parameter-free operations of the genotype the final model was built from."""
    layout = RunLayout(run_dir)
    best = _read(layout.best_model / "summary.json")
    entry: dict[str, Any] = {"run_s": round(run_s, 1), "search_s": _read(layout.search_timing).get("wall_s"),
                             "test_score": _score(best.get("test_metrics") or {}, score),
                             "params": best.get("params"), "architecture": best.get("architecture")}
    genotypes = _read(layout.search_summary).get("strategy_summary") or {}
    if isinstance(genotypes, Mapping) and all(isinstance(g, Mapping) and "parameter_free" in g
                                              for g in genotypes.values()) and genotypes:
        counts = [sum(g["parameter_free"].values()) for g in genotypes.values()]
        entry["parameter_free_ops"] = counts[0] if len(counts) == 1 else counts
        entry["parameter_free_per_cell"] = [g["parameter_free"] for g in genotypes.values()]
    return entry


def spread(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean, standard deviation (sample; 0 for one value), min and max of the known values."""
    kept = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not kept:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": statistics.fmean(kept), "std": statistics.stdev(kept) if len(kept) > 1 else 0.0,
            "min": min(kept), "max": max(kept), "n": len(kept)}


def summarise_method(seeds: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The per-seed entries of one method and the spread of each measured quantity over seeds."""
    out: dict[str, Any] = {"seeds": dict(seeds)}
    for key in ("search_s", "test_score", "params", "parameter_free_ops"):
        values = [entry.get(key) for entry in seeds.values()]
        if any(v is not None for v in values):
            out[key] = spread([v for v in values if not isinstance(v, list)])
    return out


def aim(darts: Mapping[str, Any], popnas: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The issue's aim on the means: DARTS' test score within the tolerance of POPNAS's best, in at
    most a third of its search time (``None`` where a number is missing)."""
    def mean(entry: Mapping[str, Any], key: str) -> float | None:
        value = entry.get(key, {}).get("mean") if isinstance(entry.get(key), Mapping) else None
        return value if isinstance(value, float) else None

    d_score = mean(darts, "test_score")
    d_time, p_time = mean(darts, "search_s"), mean(popnas, "search_s")
    p_best = max((v for v in (e.get("test_score") for e in popnas.get("seeds", {}).values()) if v is not None),
                 default=None)
    tolerance = SCORE_TOLERANCE[task]
    score_met = None if d_score is None or p_best is None else d_score >= p_best - tolerance
    time_share = None if d_time is None or not p_time else d_time / p_time
    time_met = None if time_share is None else time_share <= TIME_SHARE
    return {"score_gap": None if d_score is None or p_best is None else d_score - p_best,
            "popnas_best": p_best, "tolerance": tolerance, "score_met": score_met,
            "time_share": time_share, "time_met": time_met,
            "met": None if score_met is None or time_met is None else score_met and time_met}


def _task(dataset: str) -> str:
    return "classification" if dataset == "digits" else "regression"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma list of: " + ", ".join(DATASETS))
    parser.add_argument("--seeds", default="0", help="seeds, one search per method each (comma list)")
    parser.add_argument("--supernet-epochs", type=int, default=None, help="DARTS supernet epochs (default: shipped)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per trained cell: DARTS' genotype retraining and every POPNAS trial "
                             "(default: the DARTS search's [X.training] epochs, for both)")
    parser.add_argument("--final-epochs", type=int, default=10, help="epochs of the final training (both)")
    parser.add_argument("--children", type=int, default=6, help="POPNAS cells per step (max_children)")
    parser.add_argument("--exploration", type=int, default=2, help="POPNAS exploration cells per step")
    parser.add_argument("--budget", type=int, default=None,
                        help="POPNAS: the most cells trained (default: none; step 1 trains every one-block cell)")
    parser.add_argument("--blocks", type=int, default=None, help="POPNAS blocks (default: the supernet's nodes)")
    parser.add_argument("--samples", type=int, default=None, help="samples of dseries (default: its 5 000)")
    parser.add_argument("--stop-parameter-free", type=int, default=None,
                        help="also run DARTS with [X.search] stop_parameter_free = N (method darts_stop)")
    parser.add_argument("--stop-warmup", type=int, default=0,
                        help="darts_stop: [X.search] stop_warmup, epochs before the threshold is checked")
    parser.add_argument("--methods", default=None,
                        help="comma list of: " + ", ".join(METHODS) + " (default: darts, popnas and, with "
                             "--stop-parameter-free, darts_stop)")
    parser.add_argument("--tiny", action="store_true",
                        help="digits, one seed, a 1-epoch 1-node supernet, 2 POPNAS cells, 1 epoch everywhere")
    parser.add_argument("--config-dir", type=Path, default=REPO / "config")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folders here (default: removed)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.datasets, args.seeds = "digits", args.seeds.split(",")[0]
        args.supernet_epochs, args.epochs, args.final_epochs, args.children, args.exploration = 1, 1, 1, 1, 0
        args.blocks, args.budget = 1, 2
    args.dataset_list = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in args.dataset_list if d not in DATASETS]
    if unknown or not args.dataset_list:
        parser.error(f"--datasets: unknown {unknown}; known: {', '.join(DATASETS)}")
    default = [m for m in METHODS if m != "darts_stop" or args.stop_parameter_free is not None]
    args.method_list = default if args.methods is None else [m.strip() for m in args.methods.split(",") if m.strip()]
    if not args.method_list or any(m not in METHODS for m in args.method_list):
        parser.error(f"--methods: expected a comma list of {', '.join(METHODS)}, got {args.methods!r}")
    if "darts_stop" in args.method_list and args.stop_parameter_free is None:
        parser.error("--methods darts_stop needs --stop-parameter-free N")
    try:
        args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be a comma list of integers, got {args.seeds!r}")
    if not args.seed_list:
        parser.error("--seeds: at least one seed")
    for flag in ("supernet_epochs", "epochs", "blocks", "budget", "samples", "stop_parameter_free"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.final_epochs < 1 or args.children < 1 or args.exploration < 0 or args.stop_warmup < 0:
        parser.error("--final-epochs and --children must be at least 1, --exploration and --stop-warmup at least 0")
    return args


def run_benchmark(args: argparse.Namespace, results: Path) -> dict[str, Any]:
    from scinas.config.loading import load_config

    methods = args.method_list
    out: dict[str, Any] = {}
    for dataset in args.dataset_list:
        darts_name = DATASETS[dataset][0]
        score = str(load_config(args.config_dir).experiment_table(darts_name)["search"]["score"])
        per_method: dict[str, dict[str, Any]] = {}
        for seed in args.seed_list:
            for method in methods:
                started = time.perf_counter()
                run_dir = run_search(method, dataset, seed, args, results)
                entry = measure(run_dir, score, time.perf_counter() - started)
                per_method.setdefault(method, {})[str(seed)] = entry
                logging.warning("%s %s seed %d: %s", dataset, method, seed, json.dumps(entry))
        out[dataset] = {method: summarise_method(seeds) for method, seeds in per_method.items()}
        for method, key in (("darts", "aim"), ("darts_stop", "aim_darts_stop")):
            if method in out[dataset] and "popnas" in out[dataset]:
                out[dataset][key] = aim(out[dataset][method], out[dataset]["popnas"], _task(dataset))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    import keras
    import tensorflow as tf

    started = time.perf_counter()
    results = args.keep or Path(tempfile.mkdtemp(prefix="scinas-darts-bench-"))
    try:
        out = run_benchmark(args, results)
    finally:
        if args.keep is None:
            shutil.rmtree(results, ignore_errors=True)
    settings = {k: v for k, v in vars(args).items()
                if k not in {"config_dir", "keep", "dataset_list", "seed_list", "method_list"}}
    out["meta"] = {"settings": settings, "seeds": args.seed_list, "wall_s": round(time.perf_counter() - started, 1),
                   "aim": "DARTS within 0.5 accuracy points / 0.02 R² of POPNAS's best test score, "
                          "in at most a third of its search time",
                   "machine": machine_facts(tensorflow=tf.__version__, keras=keras.__version__)}
    json.dump(out, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
