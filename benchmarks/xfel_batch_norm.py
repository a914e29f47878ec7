"""Why an XFEL network validates far below its training accuracy: batch-norm statistics, with and without precise BN.

Run::

    .venv/bin/python benchmarks/xfel_batch_norm.py [--dataset xfel15] [--epochs 6] [--seeds 15]
        [--cell "[(-1, 3x3 conv, -1, 3x3 conv)]"] [--motifs 2] [--precise-batches 30] [--config-dir config]

One cell network (scinas' cell-network generator, 8 filters, ``--motifs`` motifs of one normal
cell, Adam 2e-3 as in the shipped ``X15``) is trained on a shipped XFEL dataset exactly as a trial
reads it (``PreparedDataset``: fresh, turned and reflected training patterns every epoch; fixed,
cached validation and test patterns), once with Keras' moving BN statistics only and once with
:class:`scinas.training.precise_bn.PreciseBatchNorm` over ``--precise-batches`` fresh batches.
The same seed gives both runs the same weights trajectory (precise BN changes only the moving
statistics), so any difference in validation and test accuracy is the statistics'.

It prints one JSON object ``{"off"|"on": {"seed<k>": {"train_accuracy": [per epoch, from the
training batches], "val_accuracy": [per epoch], "test_accuracy": t, "cpu_s": c}}, "settings":
{...}, "machine": {...}}``.  Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import scinas  # noqa: F401  (only: is it importable?)
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import keras
import tensorflow as tf

from _machine import machine_facts
from scinas.config.loading import load_config
from scinas.data.pipeline import PreparedDataset
from scinas.data.spec import build_generator
from scinas.models.cell_network import CellNetworkGenerator
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig
from scinas.training.precise_bn import PreciseBatchNorm

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]


def _train(data: PreparedDataset, args: argparse.Namespace, *, precise: bool, seed: int) -> dict[str, Any]:
    keras.utils.set_random_seed(seed)
    macro = MacroConfig(filters=8, motifs=args.motifs, normal_cells_per_motif=1)
    model = CellNetworkGenerator().build(CellArchitecture(Cell.from_text(args.cell), macro), data.info)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks: list[keras.callbacks.Callback] = []
    if precise:
        callbacks.append(PreciseBatchNorm(lambda: data.split("train", shuffle=True, augment=False, seed=seed),
                                          max_batches=args.precise_batches))
    started = time.process_time()
    history = model.fit(data.split("train", seed=seed), validation_data=data.split("validation"),
                        epochs=args.epochs, verbose=0, callbacks=callbacks)
    cpu = time.process_time() - started
    test = model.evaluate(data.split("test"), verbose=0, return_dict=True)
    return {"train_accuracy": [round(float(v), 4) for v in history.history["accuracy"]],
            "val_accuracy": [round(float(v), 4) for v in history.history["val_accuracy"]],
            "test_accuracy": round(float(test["accuracy"]), 4), "cpu_s": round(cpu, 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="xfel15", help="a data.toml entry with fresh_training (default xfel15)")
    parser.add_argument("--config-dir", type=Path, default=REPO / "config")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[15])
    parser.add_argument("--cell", default="[(-1, 3x3 conv, -1, 3x3 conv)]")
    parser.add_argument("--motifs", type=int, default=2)
    parser.add_argument("--precise-batches", type=int, default=30)
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides of the configuration")
    args = parser.parse_args(argv)
    raw = load_config(args.config_dir, args.overrides)
    result: dict[str, Any] = {"off": {}, "on": {}}
    with tempfile.TemporaryDirectory(prefix="xfel-bn-") as cache:
        data = PreparedDataset.prepare(build_generator(raw, args.dataset), Path(cache), progress=False)
        for mode, precise in (("off", False), ("on", True)):
            for seed in args.seeds:
                result[mode][f"seed{seed}"] = _train(data, args, precise=precise, seed=seed)
                keras.backend.clear_session()
    result["settings"] = {"dataset": args.dataset, "epochs": args.epochs, "seeds": args.seeds, "cell": args.cell,
                          "filters": 8, "motifs": args.motifs, "precise_batches": args.precise_batches,
                          "optimizer": "adam 2e-3", "overrides": args.overrides}
    result["machine"] = machine_facts(tensorflow=tf.__version__, keras=keras.__version__)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
