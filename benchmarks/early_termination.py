"""How much learning-curve early termination saves on real trainings, and what it costs in ranking.

Run::

    .venv/bin/python benchmarks/early_termination.py [--models 20] [--epochs 25] [--samples N]
    .venv/bin/python benchmarks/early_termination.py --save-curves curves.json   # keep the curves
    .venv/bin/python benchmarks/early_termination.py --load-curves curves.json   # replay only

``--models`` distinct random cells are drawn from a small 2D cell space (identity, 3x3 conv,
3x3 dconv, 2x2 maxpool; up to 3 blocks) and built by scinas' cell-network generator; each is
trained once for the whole ``--epochs`` budget on scikit-learn's digits (8x8 images, 10
classes), recording the validation accuracy and the time of every epoch.  The rule is then
replayed on the recorded curves: its decisions depend on the history alone, so this is what
training with ``[X.training.early_termination]`` on would have done (the fits' own time is
measured during the replay and counted as overhead).  Every curve family is replayed; the
top-level numbers are the default family's (A4NN's ``a - b**(c - x)``, min_epochs 4, window 3,
±0.5 points).

It prints one JSON object: ``epochs_saved_fraction``, ``time_saved_fraction`` (epoch times plus
the fits' time), ``converged_fraction``, ``mean_convergence_epoch``, ``median_abs_error_points`` and
``mean_abs_error_points`` (converged prediction vs the accuracy reached at the full budget),
``kendall_tau`` (ranking by fitness — the prediction when converged, else the measured value —
vs ranking by the full-budget accuracy), ``kendall_tau_at_stop`` (ranking by the accuracy
measured at the same stopping epochs, without the prediction: what the prediction adds), and the
same per family under ``families``.  Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import scinas
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import scinas

import keras

from scinas.config.experiment import EarlyTerminationConfig
from scinas.predictors.curve_families import CURVE_FAMILIES, DEFAULT_CURVE
from scinas.predictors.termination import CurveTermination

__all__ = ["main", "record_curves", "replay"]

OPERATORS = ("identity", "3x3 conv", "3x3 dconv", "2x2 maxpool")


def _digits(seed: int, samples: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(labels))[: samples or len(labels)]
    x = images[order].reshape(-1, 8, 8, 1).astype(np.float32)
    y = labels[order].astype(np.int32)
    cut = int(0.7 * len(y))
    # standardised with the training split's statistics, as scinas' `inputs = "global"` does
    mean, std = float(x[:cut].mean()), float(x[:cut].std())
    x = (x - mean) / std
    return x[:cut], y[:cut], x[cut:], y[cut:]


class _EpochTimer(keras.callbacks.Callback):
    """Collects every epoch's wall time in ``times``."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self.started = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.times.append(time.perf_counter() - self.started)


def record_curves(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train ``args.models`` random cells for the full budget; their validation-accuracy curves."""
    from scinas.data.base import DatasetInfo
    from scinas.models.cell_network import CellNetworkGenerator
    from scinas.search.cell_domain import CellDomain
    from scinas.search_space.macro import MacroConfig
    from scinas.search_space.space import SearchSpace

    x_train, y_train, x_val, y_val = _digits(args.seed, args.samples)
    info = DatasetInfo("digits", "classification", (8, 8, 1), (),
                       {"train": len(y_train), "validation": len(y_val), "test": 0}, n_classes=10)
    domain = CellDomain(SearchSpace(OPERATORS, max_blocks=args.blocks, lookback_depth=1, rank=2),
                        MacroConfig(filters=args.filters, motifs=2, normal_cells_per_motif=1))
    rng = np.random.default_rng(args.seed)
    architectures: dict[str, Any] = {}
    while len(architectures) < args.models:
        architecture = domain.sample(rng)
        architectures.setdefault(domain.key(architecture), architecture)
    curves: list[dict[str, Any]] = []
    for index, (key, architecture) in enumerate(architectures.items()):
        keras.utils.set_random_seed(args.seed + index)
        model = CellNetworkGenerator().build(architecture, info, name=f"m{index}")
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        timer = _EpochTimer()
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                            batch_size=args.batch_size, verbose=0, callbacks=[timer])
        times: list[float] = timer.times
        curves.append({"architecture": key, "params": int(model.count_params()),
                       "val_accuracy": [float(v) for v in history.history["val_accuracy"]], "epoch_time_s": times})
        print(f"[{index + 1}/{len(architectures)}] {key}: final val_accuracy "
              f"{curves[-1]['val_accuracy'][-1]:.4f} in {sum(times):.1f} s", file=sys.stderr)
        keras.backend.clear_session()
    return curves


def _kendall(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import kendalltau

    if len(a) < 2:
        return None
    tau = kendalltau(a, b).statistic
    return None if tau is None or not np.isfinite(tau) else round(float(tau), 4)


def replay(curves: list[dict[str, Any]], settings: EarlyTerminationConfig) -> dict[str, Any]:
    """The rule replayed on every recorded curve (see the module docstring)."""
    budget = min(len(curve["val_accuracy"]) for curve in curves)
    used_epochs = used_time = full_time = fit_time = 0.0
    errors: list[float] = []
    stops: list[int] = []
    fitness: list[float] = []
    at_stop: list[float] = []
    final: list[float] = []
    for curve in curves:
        values = curve["val_accuracy"][:budget]
        times = curve["epoch_time_s"][:budget]
        rule = CurveTermination(settings, budget)
        for value in values:
            verdict = rule.observe(value)
            fit_time += verdict.fit_time_s or 0.0
            if rule.converged:
                break
        stop = rule.epoch
        summary = rule.summary(measured=values[stop - 1])
        used_epochs += stop
        used_time += sum(times[:stop])
        full_time += sum(times)
        final.append(values[-1])
        at_stop.append(values[stop - 1])
        fitness.append(summary.fitness if summary.fitness is not None else values[stop - 1])
        if rule.converged and summary.fitness is not None:
            stops.append(stop)
            errors.append(abs(summary.fitness - values[-1]) * 100.0)
    total_epochs = budget * len(curves)
    return {
        "epochs_saved_fraction": round(1.0 - used_epochs / total_epochs, 4),
        "time_saved_fraction": round(1.0 - (used_time + fit_time) / full_time, 4) if full_time else None,
        "fit_time_fraction": round(fit_time / full_time, 5) if full_time else None,
        "converged_fraction": round(len(stops) / len(curves), 4),
        "mean_convergence_epoch": round(statistics.fmean(stops), 2) if stops else None,
        "median_abs_error_points": round(statistics.median(errors), 3) if errors else None,
        "mean_abs_error_points": round(statistics.fmean(errors), 3) if errors else None,
        "kendall_tau": _kendall(fitness, final),
        "kendall_tau_at_stop": _kendall(at_stop, final),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--models", type=int, default=20, help="distinct random cells to train (default 20)")
    parser.add_argument("--epochs", type=int, default=25, help="the training budget (default 25)")
    parser.add_argument("--samples", type=int, default=None, help="use only this many digits (default all 1797)")
    parser.add_argument("--blocks", type=int, default=3, help="most blocks per cell (default 3)")
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-epochs", type=int, default=4)
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.5, help="points of percent (default 0.5)")
    parser.add_argument("--save-curves", type=Path, help="write the recorded curves to this JSON file")
    parser.add_argument("--load-curves", type=Path, help="replay curves saved earlier instead of training")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    curves = json.loads(args.load_curves.read_text()) if args.load_curves else record_curves(args)
    training_s = time.perf_counter() - started
    if args.save_curves:
        args.save_curves.write_text(json.dumps(curves))
    base = EarlyTerminationConfig(monitor="val_accuracy", mode="max", min_epochs=args.min_epochs,
                                  window=args.window, tolerance=args.tolerance)
    families = {name: replay(curves, dataclasses.replace(base, curve=name))
                for name in CURVE_FAMILIES.names()}
    final = [curve["val_accuracy"][-1] for curve in curves]
    report = {
        "dataset": "digits", "models": len(curves), "budget_epochs": min(len(c["val_accuracy"]) for c in curves),
        "rule": {"curve": DEFAULT_CURVE, "min_epochs": args.min_epochs, "window": args.window,
                 "tolerance_points": args.tolerance},
        **families[DEFAULT_CURVE],
        "final_accuracy_range": [round(min(final), 4), round(max(final), 4)],
        "families": families,
        "training_s": round(training_s, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "scinas": scinas.__version__
                    if hasattr(scinas, "__version__") else None},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
