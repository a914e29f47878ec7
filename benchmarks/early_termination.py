"""How much learning-curve early termination saves on real trainings, and what it costs in ranking.

Run::

    .venv/bin/python benchmarks/early_termination.py [--dataset digits|spectra|xfel15] [--models 20]
        [--epochs 25] [--samples N] [--pixels 63]
    .venv/bin/python benchmarks/early_termination.py --save-curves curves.json   # keep the curves
    .venv/bin/python benchmarks/early_termination.py --load-curves curves.json   # replay only
    .venv/bin/python benchmarks/early_termination.py --load-curves curves.json --subset odd --fit-window 6

``--models`` distinct random cells are drawn from a small cell space (identity, conv, dconv,
maxpool; up to 3 blocks, 8 filters, 2 motifs) and built by scinas' cell-network generator; each
is trained once for the whole ``--epochs`` budget, recording the validation score and the time
of every epoch.  ``--dataset``: ``digits`` (scikit-learn's 8x8 digits, 10 classes, accuracy),
``spectra`` (Michaelis–Menten spectra as 101x3 series with 1D cells, 12 standardised targets,
R²) or ``xfel15`` (127x127 XFEL patterns at 1e15, open vs closed adenylate kinase, accuracy;
``--pixels 63`` gives 63x63 patterns over the same resolution range).
The rule is then replayed on the recorded curves: its decisions depend on the history alone, so
this is what training with ``[X.training.early_termination]`` on would have done (the fits' own
time is measured during the replay and counted as overhead).

Replayed: ``default`` (scinas' defaults, or the rule options given on the command line), ``seed``
(the A4NN rule: the whole history fitted, ``skip_lag = false``, ``fit_window = 0``) and every
curve family with the chosen options (``family:<name>``).  ``--subset even|odd`` replays one half
of the curves, to choose options on one half and judge them on the other.

It prints one JSON object whose top level is the ``default`` rule's: ``epochs_saved_fraction``,
``time_saved_fraction`` (epoch times plus the fits' time), ``prediction_time_ms_per_epoch``,
``converged_fraction``, ``mean_convergence_epoch``, ``median_abs_error_points`` and
``mean_abs_error_points`` (converged prediction vs the score reached at the full budget, in
points of percent), ``kendall_tau`` (ranking by fitness — the prediction when converged, else
the measured value — vs ranking by the full-budget score), ``kendall_tau_at_stop`` (ranking by
the score measured at the same stopping epochs, without the prediction: what the prediction
adds), and the same for every replayed rule under ``rules``; then what the curves' own noise
allows whatever the rule: ``kendall_tau_ceiling`` (ranking by the score one epoch before the end
vs by the final score) and ``median_last_epoch_change_points``.  Benchmarks measure; they never
assert.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import scinas  # noqa: F401  (only: is it importable?)
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import keras

from _machine import machine_facts
from scinas.config.experiment import EarlyTerminationConfig
from scinas.predictors.curve_families import CURVE_FAMILIES
from scinas.predictors.learning_curve import ScoreSpace
from scinas.predictors.termination import CurveTermination

__all__ = ["main", "record_curves", "replay"]

OPERATORS = ("identity", "3x3 conv", "3x3 dconv", "2x2 maxpool")


DATASETS = ("digits", "spectra", "xfel15")
"""``--dataset`` choices: scikit-learn digits (accuracy), Michaelis–Menten spectra (R²), XFEL 1e15 (accuracy)."""

_SPECTRA = {"k1_min": 0.01, "k1_max": 0.05, "k2_min": 0.01, "k2_max": 0.05, "k3_min": 0.01, "k3_max": 0.05,
            "E0_min": 0.1, "E0_max": 0.3, "S0_min": 0.1, "S0_max": 0.3, "spectra_min": -1, "spectra_max": 1,
            "amplitude_min": 0.2, "amplitude_max": 0.8, "layout": "series", "n_times": 101}


@dataclasses.dataclass
class _Task:
    """One dataset's arrays, cell space and how a model is compiled and scored."""

    info: Any
    operators: tuple[str, ...]
    rank: int
    loss: str
    monitor: str
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

    def metric(self) -> Any:
        if self.monitor == "val_r_squared":
            from scinas.models.metrics import RSquared

            return RSquared()
        return "accuracy"


def _split(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """70/30 train/validation split, inputs standardised per feature with the training split's statistics."""
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    cut = int(0.7 * len(y))
    mean, std = x[:cut].mean(axis=0), x[:cut].std(axis=0)
    x = ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
    return x[:cut], y[:cut], x[cut:], y[cut:]


def _task(dataset: str, seed: int, samples: int | None, pixels: int = 127) -> _Task:
    from scinas.config.reader import Table
    from scinas.data.base import DatasetInfo, ShapeConfig

    if dataset == "digits":
        from sklearn.datasets import load_digits

        images, labels = load_digits(return_X_y=True)
        order = np.random.default_rng(seed).permutation(len(labels))[: samples or len(labels)]
        x = images[order].reshape(-1, 8, 8, 1).astype(np.float32)
        y = labels[order].astype(np.int32)
        cut = int(0.7 * len(y))
        # standardised with the training split's statistics, as scinas' `inputs = "global"` does
        mean, std = float(x[:cut].mean()), float(x[:cut].std())
        x = (x - mean) / std
        arrays = (x[:cut], y[:cut], x[cut:], y[cut:])
        info = DatasetInfo("digits", "classification", (8, 8, 1), (),
                           {"train": cut, "validation": len(y) - cut, "test": 0}, n_classes=10)
        return _Task(info, ("identity", "3x3 conv", "3x3 dconv", "2x2 maxpool"), 2,
                     "sparse_categorical_crossentropy", "val_accuracy", arrays)
    if dataset == "spectra":
        from scinas.data.michaelis_menten import MichaelisMentenParameters, draw_samples, samples_from_draws

        parameters = MichaelisMentenParameters.parse(Table(_SPECTRA, file="benchmark", path="spectra.parameters"))
        n = samples or 2000
        x, y = samples_from_draws(parameters, draw_samples(np.random.default_rng(seed), parameters, n))
        x = x.reshape((n, *parameters.input_shape))
        x_train, y_train, x_val, y_val = _split(x, y, seed)
        mean, std = y_train.mean(axis=0), y_train.std(axis=0)  # targets standardised per feature too
        y_train, y_val = ((y_train - mean) / std).astype(np.float32), ((y_val - mean) / std).astype(np.float32)
        info = DatasetInfo("spectra", "regression", parameters.input_shape, (y.shape[1],),
                           {"train": len(y_train), "validation": len(y_val), "test": 0})
        return _Task(info, ("identity", "3 conv", "5 dconv", "3 maxpool"), 1, "mean_squared_error",
                     "val_r_squared", (x_train, y_train, x_val, y_val))
    from scinas.data.xfel import XfelGenerator, XfelParameters

    n = samples or 800
    # a coarser detector over the same resolution range: pixel size and beam stop scale with 127/pixels
    scale = 127 / pixels
    parameters = XfelParameters.parse(Table({"beam_intensity": 1e15, "n_pixels": pixels, "pixel_size": 6e-4 * scale,
                                             "beam_stop_radius": 16.0 / scale},
                                            file="benchmark", path="xfel15.parameters"))
    generator = XfelGenerator("xfel15", parameters, ShapeConfig(seed, n, 1, 32, n, (0.7, 0.3, 0.0)))
    x, y = generator.generate_shard(0, n, np.random.default_rng(seed))
    x = (x - x.mean()) / x.std()
    cut = int(0.7 * n)
    arrays = (x[:cut], y[:cut].astype(np.int32), x[cut:], y[cut:].astype(np.int32))
    info = DatasetInfo("xfel15", "classification", x.shape[1:], (), {"train": cut, "validation": n - cut,
                                                                    "test": 0}, n_classes=2)
    return _Task(info, ("identity", "3x3 conv", "3x3 dconv", "2x2 maxpool"), 2,
                 "sparse_categorical_crossentropy", "val_accuracy", arrays)


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
    """Train ``args.models`` random cells for the full budget; their validation-score curves."""
    from scinas.models.cell_network import CellNetworkGenerator
    from scinas.search.cell_domain import CellDomain
    from scinas.search_space.macro import MacroConfig
    from scinas.search_space.space import SearchSpace

    task = _task(args.dataset, args.seed, args.samples, args.pixels)
    x_train, y_train, x_val, y_val = task.arrays
    domain = CellDomain(SearchSpace(task.operators, max_blocks=args.blocks, lookback_depth=1, rank=task.rank),
                        MacroConfig(filters=args.filters, motifs=2, normal_cells_per_motif=1))
    rng = np.random.default_rng(args.seed)
    architectures: dict[str, Any] = {}
    while len(architectures) < args.models:
        architecture = domain.sample(rng)
        architectures.setdefault(domain.key(architecture), architecture)
    curves: list[dict[str, Any]] = []
    for index, (key, architecture) in enumerate(architectures.items()):
        keras.utils.set_random_seed(args.seed + index)
        model = CellNetworkGenerator().build(architecture, task.info, name=f"m{index}")
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=task.loss, metrics=[task.metric()])
        timer = _EpochTimer()
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                            batch_size=args.batch_size, verbose=0, callbacks=[timer])
        values = [float(v) for v in history.history[task.monitor]]
        curves.append({"dataset": args.dataset, "architecture": key, "params": int(model.count_params()),
                       "monitor": task.monitor, "values": values,
                       "val_loss": [float(v) for v in history.history["val_loss"]], "epoch_time_s": timer.times})
        print(f"[{index + 1}/{len(architectures)}] {key}: final {task.monitor} {values[-1]:.4f} "
              f"in {sum(timer.times):.1f} s", file=sys.stderr)
        if args.save_curves:  # after every model, so an interrupted recording keeps what it trained
            args.save_curves.write_text(json.dumps(curves))
        keras.backend.clear_session()
    return curves


def curve_values(curve: dict[str, Any]) -> list[float]:
    """The monitored values of a recorded curve (files from before ``--dataset`` keep them as ``val_accuracy``)."""
    values = curve.get("values", curve.get("val_accuracy"))
    return [float(v) for v in values]


def _kendall(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import kendalltau

    if len(a) < 2:
        return None
    tau = kendalltau(a, b).statistic
    return None if tau is None or not np.isfinite(tau) else round(float(tau), 4)


def replay(curves: list[dict[str, Any]], settings: EarlyTerminationConfig) -> dict[str, Any]:
    """The rule replayed on every recorded curve (see the module docstring)."""
    budget = min(len(curve_values(curve)) for curve in curves)
    used_epochs = used_time = full_time = fit_time = 0.0
    fits = 0
    errors: list[float] = []
    stops: list[int] = []
    fitness: list[float] = []
    at_stop: list[float] = []
    final: list[float] = []
    for curve in curves:
        values = curve_values(curve)[:budget]
        times = curve["epoch_time_s"][:budget]
        rule = CurveTermination(dataclasses.replace(settings, monitor=curve.get("monitor", "val_accuracy")), budget)
        for value in values:
            verdict = rule.observe(value)
            fit_time += verdict.fit_time_s or 0.0
            fits += verdict.fit is not None
            if rule.converged:
                break
        stop = rule.epoch
        summary = rule.summary(measured=values[stop - 1])
        used_epochs += stop
        used_time += sum(times[:stop])
        full_time += sum(times)
        final.append(values[-1])
        at_stop.append(values[stop - 1])
        fitness.append(summary.estimate if summary.estimate is not None else values[stop - 1])
        if rule.converged and summary.estimate is not None:
            stops.append(stop)
            errors.append(abs(summary.estimate - values[-1]) * rule.space().factor)
    total_epochs = budget * len(curves)
    return {
        "epochs_saved_fraction": round(1.0 - used_epochs / total_epochs, 4),
        "time_saved_fraction": round(1.0 - (used_time + fit_time) / full_time, 4) if full_time else None,
        "fit_time_fraction": round(fit_time / full_time, 5) if full_time else None,
        "prediction_time_ms_per_epoch": round(1000.0 * fit_time / fits, 2) if fits else None,
        "converged_fraction": round(len(stops) / len(curves), 4),
        "mean_convergence_epoch": round(statistics.fmean(stops), 2) if stops else None,
        "median_abs_error_points": round(statistics.median(errors), 3) if errors else None,
        "mean_abs_error_points": round(statistics.fmean(errors), 3) if errors else None,
        "kendall_tau": _kendall(fitness, final),
        "kendall_tau_at_stop": _kendall(at_stop, final),
    }


def noise_floor(curves: list[dict[str, Any]]) -> dict[str, Any]:
    """What the curves' own epoch-to-epoch noise allows, whatever the rule.

    ``kendall_tau_ceiling``: Kendall τ between the ranking by the score one epoch before the end
    and the ranking by the final score (a rule that stops one epoch early and predicts no change);
    ``median_last_epoch_change_points``: the median |final − previous| score, in points.
    """
    budget = min(len(curve_values(curve)) for curve in curves)
    if budget < 2:
        return {"kendall_tau_ceiling": None, "median_last_epoch_change_points": None}
    last = [curve_values(curve)[budget - 1] for curve in curves]
    before = [curve_values(curve)[budget - 2] for curve in curves]
    factor = ScoreSpace.resolve("auto", curves[0].get("monitor", "val_accuracy"), True, last + before).factor
    return {"kendall_tau_ceiling": _kendall(before, last),
            "median_last_epoch_change_points": round(statistics.median(abs(a - b) * factor
                                                                        for a, b in zip(last, before, strict=True)), 3)}


def rules(args: argparse.Namespace) -> dict[str, EarlyTerminationConfig]:
    """The settings replayed: scinas' defaults (or the command line's), the A4NN seed's rule, every family."""
    default = EarlyTerminationConfig(mode="max")
    chosen = dataclasses.replace(
        default, min_epochs=args.min_epochs or default.min_epochs, window=args.window or default.window,
        tolerance=args.tolerance or default.tolerance,
        skip_lag=default.skip_lag if args.skip_lag is None else args.skip_lag == "true",
        fit_window=default.fit_window if args.fit_window is None else args.fit_window)
    settings = {"default": chosen, "seed": dataclasses.replace(default, skip_lag=False, fit_window=0)}
    settings.update({f"family:{name}": dataclasses.replace(chosen, curve=name) for name in CURVE_FAMILIES.names()})
    return settings


def subset(curves: list[dict[str, Any]], which: str) -> list[dict[str, Any]]:
    """``all`` curves, or the ``even``/``odd``-numbered half (for choosing settings on one, judging on the other)."""
    return curves if which == "all" else curves[(0 if which == "even" else 1)::2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="digits", help="what the cells learn (default digits)")
    parser.add_argument("--models", type=int, default=20, help="distinct random cells to train (default 20)")
    parser.add_argument("--epochs", type=int, default=25, help="the training budget (default 25)")
    parser.add_argument("--samples", type=int, default=None,
                        help="samples (default: all 1797 digits, 2000 spectra, 800 XFEL patterns)")
    parser.add_argument("--pixels", type=int, default=127,
                        help="xfel15 only: detector pixels per side; fewer, larger pixels over the same resolution "
                             "range (default 127)")
    parser.add_argument("--blocks", type=int, default=3, help="most blocks per cell (default 3)")
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-epochs", type=int, help="the rule's min_epochs (default: scinas' default)")
    parser.add_argument("--window", type=int, help="the rule's window (default: scinas' default)")
    parser.add_argument("--tolerance", type=float, help="points of percent (default: scinas' default)")
    parser.add_argument("--skip-lag", choices=("true", "false"), help="the rule's skip_lag (default: scinas')")
    parser.add_argument("--fit-window", type=int, help="the rule's fit_window (default: scinas' default)")
    parser.add_argument("--subset", choices=("all", "even", "odd"), default="all",
                        help="replay on every curve or on one half of them (default all)")
    parser.add_argument("--save-curves", type=Path, help="write the recorded curves to this JSON file")
    parser.add_argument("--load-curves", type=Path, help="replay curves saved earlier instead of training")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    curves = json.loads(args.load_curves.read_text()) if args.load_curves else record_curves(args)
    training_s = time.perf_counter() - started
    if args.save_curves:
        args.save_curves.write_text(json.dumps(curves))
    curves = subset(curves, args.subset)
    settings = rules(args)
    replayed = {name: replay(curves, rule) for name, rule in settings.items()}
    final = [curve_values(curve)[-1] for curve in curves]
    chosen = settings["default"]
    report = {
        "dataset": curves[0].get("dataset", "digits"), "monitor": curves[0].get("monitor", "val_accuracy"),
        "models": len(curves), "subset": args.subset, "budget_epochs": min(len(curve_values(c)) for c in curves),
        "rule": {"curve": chosen.curve, "min_epochs": chosen.min_epochs, "window": chosen.window,
                 "tolerance_points": chosen.tolerance, "skip_lag": chosen.skip_lag, "fit_window": chosen.fit_window},
        **replayed["default"],
        "final_value_range": [round(min(final), 4), round(max(final), 4)],
        **noise_floor(curves),
        "rules": replayed,
        "training_s": round(training_s, 1),
        "machine": machine_facts(),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
