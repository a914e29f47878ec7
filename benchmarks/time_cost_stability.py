"""How stable is a trial's time cost against the machine's other load, compared with its wall time?

Run::

    .venv/bin/python benchmarks/time_cost_stability.py [--repeats 2] [--epochs 3] [--load-processes 2]

Three small Keras models of clearly different step cost (``dense_small``: 32 units, ``dense_wide``:
two layers of 512, ``conv``: two 3x3 convolutions of 32 and 64 filters) are trained on
scikit-learn's 8x8 digits (bundled, no download; 1 437 training images, batch 32: 45 steps per
epoch) ``--repeats`` times each, without and with artificial load (``--load-processes``
busy-loop subprocesses that run while the training does).  Each training is measured three ways:

* ``wall``: the wall time of ``model.fit`` (tracing included), what ``train_time_s`` was;
* ``time_cost``: :class:`scinas.training.step_time.StepTimer`'s time cost (median wall time of a
  step after warm-up × steps per epoch × epochs), what ``time_cost_s`` is;
* ``cpu_cost``: the same with the process's CPU time per step instead of the wall time.

It prints one JSON object: per model and measure, the coefficient of variation over repeats
(``cv_no_load``, ``cv_load``: standard deviation / mean) and the ratio of the mean under load to
the mean without (``load_ratio``; 1 is insensitive to load), and per measure Kendall's τ between
the ordering of the models without and with load (``kendall_tau``), plus the machine facts.
Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = ("dense_small", "dense_wide", "conv")
MEASURES = ("wall", "time_cost", "cpu_cost")
CONDITIONS = ("no_load", "load")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="trainings per model and condition (>= 1)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per training (>= 1)")
    parser.add_argument("--load-processes", type=int, default=2, help="busy-loop processes under load (>= 1)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--samples", type=int, default=0, help="training images (0: all 1 437)")
    args = parser.parse_args(argv)
    for name in ("repeats", "epochs", "load_processes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.samples < 0:
        parser.error(f"--samples must be >= 0, got {args.samples}")
    return args


@contextlib.contextmanager
def busy_load(processes: int) -> Iterator[None]:
    """``processes`` busy-loop subprocesses while the block runs."""
    children = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        time.sleep(0.5)  # let them reach the scheduler
        yield
    finally:
        for child in children:
            child.kill()
        for child in children:
            child.wait()


def _digits(samples: int) -> tuple[Any, Any]:
    import numpy as np
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(labels))
    train = order[:1437] if samples == 0 else order[:samples]
    x = (images[train].reshape(-1, 8, 8, 1) / 16.0).astype("float32")
    return x, labels[train].astype("int64")


def _model(name: str) -> Any:
    import keras

    layers: list[Any] = [keras.Input((8, 8, 1))]
    if name == "dense_small":
        layers += [keras.layers.Flatten(), keras.layers.Dense(32, activation="relu")]
    elif name == "dense_wide":
        layers += [
            keras.layers.Flatten(),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(512, activation="relu"),
        ]
    else:
        layers += [
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
        ]
    model = keras.Sequential([*layers, keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def train_once(name: str, data: tuple[Any, Any], epochs: int, seed: int) -> dict[str, float]:
    """One training of model ``name``: its wall time, time cost and CPU-time cost (seconds)."""
    import keras

    from scinas.training.step_time import StepTimer

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = _model(name)
    timer = StepTimer()
    started = time.perf_counter()
    model.fit(*data, batch_size=32, epochs=epochs, verbose=0, callbacks=[timer])
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "time_cost": timer.time_cost_s(epochs, clock="wall") or float("nan"),
        "cpu_cost": timer.time_cost_s(epochs, clock="cpu") or float("nan"),
    }


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's τ-a of two equally long sequences (pairs tied in either count as neither)."""
    n = len(a)
    if n < 2:
        return float("nan")
    score = 0
    for i in range(n):
        for j in range(i + 1, n):
            product = (a[i] - a[j]) * (b[i] - b[j])
            score += (product > 0) - (product < 0)
    return score / (n * (n - 1) / 2)


def _cv(values: Sequence[float]) -> float:
    mean = statistics.fmean(values)
    return statistics.pstdev(values) / mean if len(values) > 1 and mean > 0 else float("nan")


def summarise(runs: dict[str, dict[str, dict[str, list[float]]]]) -> dict[str, Any]:
    """``runs[condition][model][measure]`` (one value per repeat) → the figures of the module docstring."""
    models = list(runs["no_load"])
    per_model: dict[str, Any] = {}
    for model in models:
        per_model[model] = {}
        for measure in MEASURES:
            idle, loaded = runs["no_load"][model][measure], runs["load"][model][measure]
            per_model[model][measure] = {
                "mean_no_load_s": round(statistics.fmean(idle), 4),
                "mean_load_s": round(statistics.fmean(loaded), 4),
                "cv_no_load": round(_cv(idle), 4),
                "cv_load": round(_cv(loaded), 4),
                "load_ratio": round(statistics.fmean(loaded) / statistics.fmean(idle), 4),
            }
    taus = {
        measure: kendall_tau(
            [statistics.fmean(runs["no_load"][m][measure]) for m in models],
            [statistics.fmean(runs["load"][m][measure]) for m in models],
        )
        for measure in MEASURES
    }
    return {"models": per_model, "kendall_tau": taus}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _machine import machine_facts

    data = _digits(args.samples)
    runs: dict[str, dict[str, dict[str, list[float]]]] = {
        c: {m: {k: [] for k in MEASURES} for m in args.models} for c in CONDITIONS
    }
    for repeat in range(args.repeats):  # conditions alternate, so a drift of the machine hits both
        for condition in CONDITIONS:
            load = busy_load(args.load_processes) if condition == "load" else contextlib.nullcontext()
            with load:
                for model in args.models:
                    for measure, value in train_once(model, data, args.epochs, seed=repeat).items():
                        runs[condition][model][measure].append(value)
    result = {"settings": vars(args), **summarise(runs), "runs": runs, "machine": machine_facts()}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
