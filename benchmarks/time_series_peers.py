"""scinas against peers that are not ours, on real time series: test accuracy (R² for regression) and wall time.

The UCR/UEA datasets bundled inside aeon (no download): GunPoint, ItalyPowerDemand, JapaneseVowels,
ACSF1 (classification) and Covid3Month (regression).  Each is read once by scinas's time-series
generator (``source = "aeon"``, every series and channel z-normalised, padded to the longest) and
every entry sees the same arrays: the dataset's own TRAIN file for training, its TEST file for the
test score.  Entries:

* ``scinas_cell``: the shipped example ``G`` (one 1D cell) with the dataset swapped in, run through
  scinas's normal path (configuration files → plan → run → store); it validates on 20 % of the
  training file;
* ``scinas_search``: the shipped search ``T`` (POPNAS over 1D cells) with the dataset swapped in and
  ``budget = --trials`` search trials; its selection and final training (on train + validation)
  are included in the wall time;
* ``minirocket``: aeon's ``MiniRocketClassifier`` / ``MiniRocketRegressor`` (its defaults: 10 000
  kernels, ridge regression);
* ``fcn``, ``resnet``, ``inception_time``: aeon's deep classifiers / regressors with their documented
  defaults (optimiser, learning rate, batch size, callbacks; InceptionTime is an ensemble of five
  networks) except ``n_epochs``, which is ``--epochs``, the budget every scinas training gets.

Every scinas training (the cell, each search trial, the selection and final trainings) gets
``--epochs`` epochs.  Prints one JSON object ``{dataset: {entry: {"test_score": s, "wall_s": w}}}``
plus ``"meta"`` (settings, which score each dataset reports, the machine).  Benchmarks measure;
they never assert.

Run::

    python benchmarks/time_series_peers.py --epochs 15 --trials 20 --seed 0
    python benchmarks/time_series_peers.py --datasets GunPoint,Covid3Month --entries scinas_cell,minirocket
    python benchmarks/time_series_peers.py --quick     # 2 epochs, 3 trials, two small datasets: a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

try:
    import scinas  # noqa: F401  (only: is it importable?)
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

__all__ = ["DATASETS", "ENTRIES", "Problem", "main", "parse_args", "run_benchmark"]

DATASETS = ("ItalyPowerDemand", "GunPoint", "JapaneseVowels", "ACSF1", "Covid3Month")
ENTRIES = ("scinas_cell", "scinas_search", "minirocket", "fcn", "resnet", "inception_time")
QUICK_DATASETS = ("ItalyPowerDemand", "Covid3Month")
SHIPPED = Path(__file__).resolve().parents[1] / "config" / "configurations.toml"
CELL_EXPERIMENT, SEARCH_EXPERIMENT = "G", "T"


@dataclass(frozen=True)
class Problem:
    """One dataset as every entry sees it: arrays ``(n, length, channels)`` and the task."""

    name: str
    task: str
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    data_table: dict[str, Any]

    @property
    def regression(self) -> bool:
        return self.task == "regression"


def data_table(name: str, seed: int) -> dict[str, Any]:
    """The ``data.toml`` table scinas reads the dataset with (and the peers' arrays come from)."""
    return {
        "generator": "time_series",
        "parameters": {"source": "aeon", "name": name, "z_normalize": True},
        "shape": {"seed": seed, "batch_size": 16, "splits": [0.8, 0.2, 0.0]},
        "normalization": {"inputs": "none"},
    }


def load_problem(name: str, seed: int) -> Problem:
    """Read the dataset through scinas's time-series generator, built from its TOML table exactly
    as an experiment builds it."""
    from scinas.data.spec import build_generator

    table = data_table(name, seed)
    with tempfile.TemporaryDirectory() as folder:
        arrays = build_generator(_raw_config(Path(folder), {}, {"ts": table}), "ts").load()
    if arrays.x_test is None or arrays.y_test is None:
        raise RuntimeError(f"{name}: aeon's copy has no test file")
    y, y_test = arrays.y, arrays.y_test
    if arrays.task == "regression":
        y, y_test = y.reshape(len(y)), y_test.reshape(len(y_test))
    return Problem(name, arrays.task, arrays.x, y, arrays.x_test, y_test, table)


def chance(problem: Problem) -> float:
    """The majority class's share of the test split; 0 for regression (R² of a constant is ≤ 0)."""
    if problem.regression:
        return 0.0
    counts = np.bincount(problem.y_test.astype(int))
    return round(float(counts.max() / counts.sum()), 4)


# -- scinas entries: the shipped experiments G and T with the dataset swapped in --


def shipped_experiment(name: str) -> dict[str, Any]:
    with SHIPPED.open("rb") as handle:
        experiments = tomllib.load(handle)
    return dict(experiments[name])


def scinas_experiment(kind: str, problem: Problem, epochs: int, trials: int, seed: int) -> dict[str, Any]:
    """The experiment table: shipped ``G`` (``kind = "cell"``) or ``T`` (``"search"``), adapted."""
    table = shipped_experiment(CELL_EXPERIMENT if kind == "cell" else SEARCH_EXPERIMENT)
    table.pop("extends", None)
    table["seed"] = seed
    table["dataset"] = {"training": "ts"}
    table["training"] = {**table.get("training", {}), "epochs": epochs, "tensorboard": False}
    compile_table = dict(table.get("compile", {}))
    if problem.regression:
        compile_table["metrics"] = ["R_squared"]
    table["compile"] = compile_table
    table.pop("tracking", None)
    if kind == "search":
        search = dict(table["search"])
        search["budget"] = trials
        if problem.regression:
            search["score"] = "r_squared"  # the name the metric R_squared records
        table["search"] = search
        for phase in ("selection", "final"):
            if phase in table:
                table[phase] = {**table[phase], "epochs": epochs}
    return table


def _raw_config(folder: Path, experiments: dict[str, Any], datasets: dict[str, Any]) -> Any:
    import tomli_w

    from scinas.config.loading import load_config

    (folder / "configurations.toml").write_text(tomli_w.dumps(experiments))
    (folder / "data.toml").write_text(tomli_w.dumps(datasets))
    return load_config(folder)


def run_scinas(kind: str, problem: Problem, epochs: int, trials: int, seed: int, work: Path) -> float:
    """Run the experiment through scinas's normal path; its test accuracy (or R²)."""
    import keras

    from scinas.experiment.plan import plan_experiments
    from scinas.experiment.run import ExperimentRun
    from scinas.store import RunStatus

    folder = work / f"{problem.name}-{kind}"
    folder.mkdir(parents=True)
    name = f"bench_{kind}"
    raw = _raw_config(
        folder, {name: scinas_experiment(kind, problem, epochs, trials, seed)}, {"ts": problem.data_table}
    )
    plan = plan_experiments(raw, [name])[0]
    run = ExperimentRun.start(plan, folder / "results", progress=False, verbose=0)
    try:
        result = run.execute()
    finally:
        run.close()
        keras.backend.clear_session()
    if result.status != RunStatus.COMPLETED:
        raise RuntimeError(f"{problem.name} {kind}: the run ended {result.status}: {result.failures}")
    metric = "r_squared" if problem.regression else "accuracy"
    return float(result.test_metrics[metric])


# -- aeon's entries: the same arrays, (n, channels, length) as aeon expects --


def _aeon_arrays(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = np.ascontiguousarray(np.transpose(problem.x, (0, 2, 1)), dtype=np.float64)
    x_test = np.ascontiguousarray(np.transpose(problem.x_test, (0, 2, 1)), dtype=np.float64)
    y, y_test = (
        (problem.y.astype(np.float64), problem.y_test.astype(np.float64))
        if problem.regression
        else (problem.y.astype(str), problem.y_test.astype(str))
    )
    return x, y, x_test, y_test


def _score(problem: Problem, estimator: Any) -> float:
    x, y, x_test, y_test = _aeon_arrays(problem)
    with contextlib.redirect_stdout(sys.stderr):  # Keras progress bars stay off the JSON
        estimator.fit(x, y)
        predicted = estimator.predict(x_test)
    if problem.regression:
        from sklearn.metrics import r2_score

        return float(r2_score(y_test, predicted))
    return float(np.mean(np.asarray(predicted) == y_test))


def run_minirocket(problem: Problem, epochs: int, trials: int, seed: int, work: Path) -> float:
    if problem.regression:
        from aeon.regression.convolution_based import MiniRocketRegressor

        return _score(problem, MiniRocketRegressor(random_state=seed))
    from aeon.classification.convolution_based import MiniRocketClassifier

    return _score(problem, MiniRocketClassifier(random_state=seed))


def _deep(kind: str, problem: Problem, epochs: int, seed: int, work: Path) -> float:
    import keras
    from aeon.classification import deep_learning as classifiers
    from aeon.regression import deep_learning as regressors

    names = {"fcn": "FCN", "resnet": "ResNet", "inception_time": "InceptionTime"}
    module, suffix = (regressors, "Regressor") if problem.regression else (classifiers, "Classifier")
    folder = work / f"{problem.name}-{kind}"
    folder.mkdir(parents=True)
    estimator = getattr(module, names[kind] + suffix)(n_epochs=epochs, random_state=seed, file_path=f"{folder}/")
    try:
        return _score(problem, estimator)
    finally:
        keras.backend.clear_session()


Runner = Callable[[Problem, int, int, int, Path], float]
RUNNERS: dict[str, Runner] = {
    "scinas_cell": lambda p, e, t, s, w: run_scinas("cell", p, e, t, s, w),
    "scinas_search": lambda p, e, t, s, w: run_scinas("search", p, e, t, s, w),
    "minirocket": run_minirocket,
    "fcn": lambda p, e, t, s, w: _deep("fcn", p, e, s, w),
    "resnet": lambda p, e, t, s, w: _deep("resnet", p, e, s, w),
    "inception_time": lambda p, e, t, s, w: _deep("inception_time", p, e, s, w),
}


def _names(text: str, known: tuple[str, ...], what: str, parser: argparse.ArgumentParser) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        parser.error(f"unknown {what} {unknown or text!r}; known: {', '.join(known)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=None, help=f"comma-separated, of {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--entries", default=",".join(ENTRIES), help="comma-separated entries (default: all)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every training (default 15; quick 2)")
    parser.add_argument("--trials", type=int, default=None, help="search trials of scinas_search (default 20; quick 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: 2 epochs, 3 trials, {' and '.join(QUICK_DATASETS)} unless --datasets",
    )
    args = parser.parse_args(argv)
    args.datasets = _names(
        args.datasets or ",".join(QUICK_DATASETS if args.quick else DATASETS), DATASETS, "datasets", parser
    )
    args.entries = _names(args.entries, ENTRIES, "entries", parser)
    args.epochs = args.epochs if args.epochs is not None else (2 if args.quick else 15)
    args.trials = args.trials if args.trials is not None else (3 if args.quick else 20)
    for option in ("epochs", "trials"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be at least 1")
    return args


def run_benchmark(
    args: argparse.Namespace,
    runners: dict[str, Runner] | None = None,
    load: Callable[[str, int], Problem] | None = None,
) -> dict[str, Any]:
    """``{dataset: {entry: {"test_score", "wall_s"}}, "meta": {...}}``; a failed entry records its error."""
    runners = runners or RUNNERS
    load = load or load_problem
    result: dict[str, Any] = {}
    scores: dict[str, str] = {}
    chances: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="scinas-peers-") as folder:
        for dataset in args.datasets:
            problem = load(dataset, args.seed)
            scores[dataset] = "r2" if problem.regression else "accuracy"
            chances[dataset] = chance(problem)
            per_entry: dict[str, Any] = {}
            for entry in args.entries:
                started = time.perf_counter()
                try:
                    score = runners[entry](problem, args.epochs, args.trials, args.seed, Path(folder))
                except Exception as exc:  # a benchmark records a failing entry and goes on
                    per_entry[entry] = {
                        "test_score": None,
                        "wall_s": round(time.perf_counter() - started, 2),
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                else:
                    per_entry[entry] = {
                        "test_score": round(score, 4),
                        "wall_s": round(time.perf_counter() - started, 2),
                    }
                print(json.dumps({dataset: {entry: per_entry[entry]}}), file=sys.stderr, flush=True)
            result[dataset] = per_entry
    result["meta"] = {
        "epochs": args.epochs,
        "trials": args.trials,
        "seed": args.seed,
        "score": scores,
        "chance": chances,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = run_benchmark(args)
    import keras
    import tensorflow as tf

    from _machine import machine_facts

    result["meta"]["machine"] = machine_facts(tensorflow=tf.__version__, keras=keras.__version__)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
