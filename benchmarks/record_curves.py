"""Record full learning curves of random cells for the stopper replay (``benchmarks/recordings/``).

Run::

    .venv/bin/python benchmarks/record_curves.py --dataset digits --seed 0
    .venv/bin/python benchmarks/record_curves.py --dataset spectra --seed 1 --samples 1200
    .venv/bin/python benchmarks/record_curves.py --dataset xfel15 --seed 0 --samples 600 --pixels 31

Each of ``--models`` distinct random cells (the cell space of ``benchmarks/early_termination.py``:
identity, conv, dconv, maxpool; up to 3 blocks; built by scinas' cell-network generator with its
default batch-normalisation momentum) is trained for the whole ``--epochs`` budget on the CPU,
and every epoch's monitored validation score, validation loss and wall time is kept.  A cell
whose curve holds a non-finite value is reported and replaced by the next one drawn, so a
recording always holds complete curves.  The file is ``<out>/<dataset>_seed<seed>.json`` in the
format of :mod:`_recordings`; the script prints a JSON summary (cells, final-score range,
training time).  Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import json
import math
import os
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
from _recordings import write_recording
from early_termination import DATASETS, _EpochTimer, _task

__all__ = ["main"]

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def record(args: argparse.Namespace) -> tuple[list[dict[str, Any]], str, int]:
    """Train the cells; their curves, the monitored metric and how many cells were replaced."""
    from scinas.models.cell_network import CellNetworkGenerator
    from scinas.search.cell_domain import CellDomain
    from scinas.search_space.macro import MacroConfig
    from scinas.search_space.space import SearchSpace

    task = _task(args.dataset, args.seed, args.samples, args.pixels)
    x_train, y_train, x_val, y_val = task.arrays
    domain = CellDomain(SearchSpace(task.operators, max_blocks=args.blocks, lookback_depth=1, rank=task.rank),
                        MacroConfig(filters=args.filters, motifs=2, normal_cells_per_motif=1))
    rng = np.random.default_rng(args.seed)
    seen: set[str] = set()
    curves: list[dict[str, Any]] = []
    replaced = 0
    while len(curves) < args.models:
        architecture = domain.sample(rng)
        key = domain.key(architecture)
        if key in seen:
            continue
        seen.add(key)
        index = len(seen) - 1
        keras.utils.set_random_seed(args.seed * 1000 + index)
        model = CellNetworkGenerator().build(architecture, task.info, name=f"m{index}")
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=task.loss, metrics=[task.metric()])
        timer = _EpochTimer()
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                            batch_size=args.batch_size, verbose=0, callbacks=[timer])
        values = [float(v) for v in history.history[task.monitor]]
        losses = [float(v) for v in history.history["val_loss"]]
        keras.backend.clear_session()
        if len(values) != args.epochs or not all(math.isfinite(v) for v in values + losses):
            replaced += 1
            print(f"cell {key}: a non-finite or missing epoch; replaced", file=sys.stderr)
            continue
        curves.append({"architecture": key, "params": int(model.count_params()), "values": values,
                       "val_loss": losses, "epoch_time_s": timer.times})
        print(f"[{len(curves)}/{args.models}] {key}: final {task.monitor} {values[-1]:.4f} in "
              f"{sum(timer.times):.1f} s", file=sys.stderr)
    return curves, task.monitor, replaced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--seed", type=int, default=0, help="data split, cells drawn and initialisations")
    parser.add_argument("--models", type=int, default=20, help="distinct random cells (default 20)")
    parser.add_argument("--epochs", type=int, default=25, help="the budget (default 25)")
    parser.add_argument("--samples", type=int, default=None,
                        help="samples (default: all 1797 digits, 2000 spectra, 800 XFEL patterns)")
    parser.add_argument("--pixels", type=int, default=127, help="xfel15 only: detector pixels per side")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--out", type=Path, default=RECORDINGS, help="folder of the recording (default: "
                        "benchmarks/recordings)")
    args = parser.parse_args(argv)
    started, cpu_started = time.perf_counter(), time.process_time()
    curves, monitor, replaced = record(args)
    settings = {key: getattr(args, key) for key in ("models", "epochs", "samples", "pixels", "blocks", "filters",
                                                     "batch_size", "learning_rate")}
    settings["replaced_cells"] = replaced
    path = args.out / f"{args.dataset}_seed{args.seed}.json"
    write_recording(path, dataset=args.dataset, seed=args.seed, monitor=monitor, budget_epochs=args.epochs,
                    curves=curves, settings=settings, machine=machine_facts(keras=keras.__version__))
    finals = [curve["values"][-1] for curve in curves]
    print(json.dumps({"recording": str(path.name), "cells": len(curves), "replaced_cells": replaced,
                      "final_range": [round(min(finals), 4), round(max(finals), 4)],
                      "wall_s": round(time.perf_counter() - started, 1),
                      "cpu_s": round(time.process_time() - cpu_started, 1)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
