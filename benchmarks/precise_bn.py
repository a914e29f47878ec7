"""What precise batch normalisation changes on small data: validation accuracy per epoch with and without it.

Run::

    .venv/bin/python benchmarks/precise_bn.py [--epochs 20] [--seeds 0 1] [--digits-sizes 40 160 320 640 0]

The same cell network (scinas' cell-network generator, 8 filters, 2 motifs of 1 normal cell,
batch-normalisation momentum 0.9, Adam 3e-3, batch 32) is trained with and without
:class:`scinas.training.precise_bn.PreciseBatchNorm` on:

* ``gunpoint``: UCR GunPoint as bundled with aeon (no download): 40 of its 50 training series for
  training, the other 10 for validation, its 150 test series for testing; 1D cell, series
  z-normalised one by one;
* ``digits-<n>``: scikit-learn's 8x8 digits, ``n`` training images (0: all the others), 300
  validation images, the rest for testing; 2D cell, inputs standardised with the training
  split's mean and deviation.  ``digits-40`` is the small case; the larger sizes (5 to 40 steps
  per epoch) show where the fix stops mattering, which sets ``precise_bn = "auto"``'s threshold.

It prints one JSON object ``{case: {"steps_per_epoch": s, "off"|"on": {"seed<k>": {"val_accuracy":
[per epoch], "train_accuracy": [per epoch, from the training batches], "test_accuracy": t,
"wall_s": w}}, "summary": {...}}}`` plus the machine facts.  ``summary`` gives, per mode, the
mean over seeds of the final and best validation accuracy, the test accuracy and the share of
epochs whose validation accuracy sat at the majority-class rate (one class predicted).
Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
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
import tensorflow as tf

from _machine import machine_facts
from scinas.data.base import DatasetInfo
from scinas.models.cell_network import CellNetworkGenerator
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig
from scinas.training.precise_bn import PreciseBatchNorm

__all__ = ["main"]

CELLS = {1: "[(-1, 3 conv, -1, 3 dconv); (0, 3 conv, -1, 3 maxpool)]",
         2: "[(-1, 3x3 conv, -1, 3x3 dconv); (0, 3x3 conv, -1, 2x2 maxpool)]"}
MACRO = MacroConfig(filters=8, motifs=2, normal_cells_per_motif=1)
BATCH = 32
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _gunpoint(seed: int) -> Arrays:
    from aeon.datasets import load_gunpoint

    def series(split: str) -> tuple[np.ndarray, np.ndarray]:
        x, y = load_gunpoint(split=split)
        x = np.transpose(np.asarray(x, np.float64), (0, 2, 1))  # (n, length, channels)
        x = (x - x.mean(axis=1, keepdims=True)) / np.maximum(x.std(axis=1, keepdims=True), 1e-8)
        return x.astype(np.float32), (np.asarray(y).astype(int) - 1).astype(np.int32)

    x, y = series("train")
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    x_test, y_test = series("test")
    return x[:40], y[:40], x[40:], y[40:], x_test, y_test


def _digits(n_train: int, seed: int) -> Arrays:
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(labels))
    x = images[order].reshape(-1, 8, 8, 1).astype(np.float32)
    y = labels[order].astype(np.int32)
    validation, rest = (x[:300], y[:300]), (x[300:], y[300:])
    n_train = n_train or len(rest[1]) - 240
    train, test = (rest[0][:n_train], rest[1][:n_train]), (rest[0][n_train:], rest[1][n_train:])
    mean, std = float(train[0].mean()), float(train[0].std())
    scale = lambda a: (a - mean) / std  # noqa: E731
    return scale(train[0]), train[1], scale(validation[0]), validation[1], scale(test[0]), test[1]


def _train(arrays: Arrays, rank: int, precise: bool, epochs: int, seed: int) -> dict[str, Any]:
    x, y, x_val, y_val, x_test, y_test = arrays
    n_classes = int(max(y.max(), y_val.max(), y_test.max())) + 1
    info = DatasetInfo("bench", "classification", x.shape[1:], (),
                       {"train": len(y), "validation": len(y_val), "test": len(y_test)}, n_classes=n_classes)
    keras.utils.set_random_seed(seed)
    model = CellNetworkGenerator().build(CellArchitecture(Cell.from_text(CELLS[rank]), MACRO), info)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed).batch(BATCH)
    validation = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(BATCH)
    callbacks: list[keras.callbacks.Callback] = []
    if precise:
        plain = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
        callbacks.append(PreciseBatchNorm(lambda: plain, max_batches=200))
    started = time.perf_counter()
    history = model.fit(train, validation_data=validation, epochs=epochs, verbose=0, callbacks=callbacks)
    wall = time.perf_counter() - started
    _, test_accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    return {"val_accuracy": [round(float(v), 4) for v in history.history["val_accuracy"]],
            "train_accuracy": [round(float(v), 4) for v in history.history["accuracy"]],
            "test_accuracy": round(float(test_accuracy), 4), "wall_s": round(wall, 2)}


def _summary(runs: dict[str, dict[str, Any]], majority: float) -> dict[str, float]:
    finals = [run["val_accuracy"][-1] for run in runs.values()]
    bests = [max(run["val_accuracy"]) for run in runs.values()]
    tests = [run["test_accuracy"] for run in runs.values()]
    stuck = [v <= majority + 1e-6 for run in runs.values() for v in run["val_accuracy"]]
    return {"final_val_accuracy": round(statistics.fmean(finals), 4),
            "best_val_accuracy": round(statistics.fmean(bests), 4),
            "test_accuracy": round(statistics.fmean(tests), 4),
            "epochs_at_majority_rate": round(sum(stuck) / len(stuck), 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--digits-sizes", type=int, nargs="+", default=[40, 160, 320, 640, 0],
                        help="training images of the digits cases (0: all but validation and 240 test images)")
    parser.add_argument("--no-gunpoint", action="store_true")
    args = parser.parse_args(argv)
    cases: list[tuple[str, int, Any]] = []
    if not args.no_gunpoint:
        cases.append(("gunpoint", 1, _gunpoint))
    cases += [(f"digits-{n or 'all'}", 2, lambda seed, n=n: _digits(n, seed)) for n in args.digits_sizes]
    result: dict[str, Any] = {}
    for name, rank, load in cases:
        entry: dict[str, Any] = {}
        for mode, precise in (("off", False), ("on", True)):
            entry[mode] = {}
            for seed in args.seeds:
                arrays = load(seed)
                entry["steps_per_epoch"] = -(-len(arrays[1]) // BATCH)
                entry["n_train"] = len(arrays[1])
                entry[mode][f"seed{seed}"] = _train(arrays, rank, precise, args.epochs, seed)
                keras.backend.clear_session()
            counts = np.bincount(arrays[3])
            entry.setdefault("summary", {})[mode] = _summary(entry[mode], float(counts.max() / counts.sum()))
        result[name] = entry
        print(json.dumps({name: entry["summary"], "steps_per_epoch": entry["steps_per_epoch"]}), file=sys.stderr)
    result["settings"] = {"epochs": args.epochs, "seeds": args.seeds, "batch_size": BATCH, "cells": CELLS,
                          "filters": MACRO.filters, "motifs": MACRO.motifs, "optimizer": "adam 3e-3"}
    result["machine"] = machine_facts(tensorflow=tf.__version__, keras=keras.__version__)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
