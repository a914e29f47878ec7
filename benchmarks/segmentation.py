"""Segmentation: a scinas encoder-decoder against a plain Keras U-Net of (at most) the same size.

Run::

    .venv/bin/python benchmarks/segmentation.py [--epochs 8] [--samples 480] [--cell "[...]"]

Data: the ``fluorescence_cells`` generator as the shipped ``cells`` dataset draws it (48x48, 2-6
cells, radii 5-11 px, 60 photons), ``--samples`` images split 70/15/15, inputs standardised
with one training mean and deviation, no augmentation (the same batches for both networks).

* ``scinas``: scinas' cell-network generator on ``--cell`` (default ``[(-1, 3x3 conv, -1, 3x3
  conv)]``) with ``filters = 8, motifs = 3, normal_cells_per_motif = 1``: the searched cells
  encode, the decoder upsamples with skip connections (docs/segmentation.md).  The default cell
  is fixed here, not found by a search in this script; pass the best cell of a ``SEG`` run to
  measure a searched one.
* ``unet``: a U-Net written here in Keras: two downsamplings like the encoder, blocks of two 3x3
  convolutions (no bias, BN, ReLU), transposed-free bilinear upsampling and concatenation, the
  widest base width whose parameter count does not exceed scinas'.

Both train ``--epochs`` epochs with Adam 3e-3, batch 16, the pixel cross-entropy; the test mean
IoU is the streamed MeanIoU of scinas.  The overhead: the default cell's network written by hand
in Keras (the same layers, checked by its parameter count) against the generated one, CPU time
per training step after warm-up, median of rounds; ``overhead_ratio`` = generated / hand-written
time per step (≤ 1.05 is the aim).  Prints JSON; benchmarks never assert.
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
from scinas.data.microscopy import FluorescenceParameters, draw_cells
from scinas.models.cell_network import CellNetworkGenerator
from scinas.models.segmentation import MeanIoU, PixelAccuracy, PixelCrossentropy
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig

__all__ = ["main"]

DEFAULT_CELL = "[(-1, 3x3 conv, -1, 3x3 conv)]"
MACRO = MacroConfig(filters=8, motifs=3, normal_cells_per_motif=1)
CLASSES = 3


def _data(samples: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    p = FluorescenceParameters(size=(48, 48), cells=(2, 6), cell_radius=(5.0, 11.0), photons=60.0)
    rng = np.random.default_rng(seed)
    pairs = [draw_cells(p, rng) for _ in range(samples)]
    x, y = np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs])
    n_val = n_test = round(0.15 * samples)
    n_train = samples - n_val - n_test
    mean, std = float(x[:n_train].mean()), float(x[:n_train].std())
    x = (x - mean) / std
    return {"train": (x[:n_train], y[:n_train]), "validation": (x[n_train:n_train + n_val], y[n_train:n_train + n_val]),
            "test": (x[n_train + n_val:], y[n_train + n_val:])}


def _conv_bn_act(x: Any, filters: int, strides: int = 1) -> Any:
    x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=MACRO.batch_norm_momentum)(x)
    return keras.layers.Activation("relu")(x)


def unet(width: int, shape: tuple[int, int, int]) -> keras.Model:
    """A two-level U-Net of base width ``width``."""
    inputs = keras.Input(shape)
    e0 = _conv_bn_act(_conv_bn_act(inputs, width), width)
    e1 = _conv_bn_act(_conv_bn_act(keras.layers.MaxPooling2D()(e0), 2 * width), 2 * width)
    bottom = _conv_bn_act(_conv_bn_act(keras.layers.MaxPooling2D()(e1), 4 * width), 4 * width)
    d1 = keras.layers.Concatenate()([keras.layers.UpSampling2D(interpolation="bilinear")(bottom), e1])
    d1 = _conv_bn_act(_conv_bn_act(d1, 2 * width), 2 * width)
    d0 = keras.layers.Concatenate()([keras.layers.UpSampling2D(interpolation="bilinear")(d1), e0])
    d0 = _conv_bn_act(_conv_bn_act(d0, width), width)
    return keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax", dtype="float32")(d0), name="unet")


def hand_written(shape: tuple[int, int, int]) -> keras.Model:
    """The default cell's encoder-decoder written by hand: five cells (normal, reduction, normal,
    reduction, normal), each the sum of two 3x3 conv-BN-ReLU of its previous cell, then the decoder."""
    inputs = keras.Input(shape)
    filters, outputs, x = MACRO.filters, [], inputs
    for kind in MACRO.cell_kinds():
        strides = 2 if kind == "reduction" else 1
        filters *= strides
        x = keras.layers.Add()([_conv_bn_act(x, filters, strides), _conv_bn_act(x, filters, strides)])
        outputs.append(x)
    for level, skip in ((1, outputs[2]), (0, outputs[0])):
        x = keras.layers.Concatenate()([keras.layers.UpSampling2D(interpolation="bilinear")(x), skip])
        x = _conv_bn_act(x, MACRO.filters * 2 ** level)
    return keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax", dtype="float32")(x), name="hand")


def _compile(model: keras.Model) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=PixelCrossentropy(),
                  metrics=[MeanIoU(CLASSES), PixelAccuracy(CLASSES)])
    return model


def _train(model: keras.Model, data: dict[str, tuple[np.ndarray, np.ndarray]], epochs: int, seed: int
           ) -> dict[str, Any]:
    started = time.perf_counter()
    history = model.fit(*data["train"], validation_data=data["validation"], epochs=epochs, batch_size=16,
                        shuffle=True, verbose=0)
    test = model.evaluate(*data["test"], batch_size=16, verbose=0, return_dict=True)
    return {"params": int(model.count_params()), "test_mean_iou": float(test["mean_iou"]),
            "test_pixel_accuracy": float(test["pixel_accuracy"]),
            "val_mean_iou": [round(float(v), 4) for v in history.history["val_mean_iou"]],
            "wall_s": round(time.perf_counter() - started, 1)}


def _step_cpu_s(model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int) -> float:
    """CPU seconds per training step (the process's, which other load leaves alone)."""
    for _ in range(3):  # warm-up: tracing
        model.train_on_batch(x, y)
    started = time.process_time()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return (time.process_time() - started) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--samples", type=int, default=480)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", default=DEFAULT_CELL)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    data = _data(args.samples, args.seed)
    shape = tuple(int(d) for d in data["train"][0].shape[1:])
    info = DatasetInfo("cells", "segmentation", shape, shape[:2], {s: len(v[0]) for s, v in data.items()}, CLASSES)
    architecture = CellArchitecture(Cell.from_text(args.cell), MACRO)
    generator = CellNetworkGenerator()
    budget = generator.count_params(architecture, info)
    width = max(w for w in range(1, 64) if w == 1 or unet(w, shape).count_params() <= budget)  # type: ignore[arg-type]
    keras.backend.clear_session()

    keras.utils.set_random_seed(args.seed)
    scinas_result = _train(_compile(generator.build(architecture, info)), data, args.epochs, args.seed)
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    unet_result = _train(_compile(unet(width, shape)), data, args.epochs, args.seed)  # type: ignore[arg-type]
    unet_result["width"] = width
    keras.backend.clear_session()

    default = generator.build(CellArchitecture(Cell.from_text(DEFAULT_CELL), MACRO), info)
    written = hand_written(shape)  # type: ignore[arg-type]
    if written.count_params() != default.count_params():
        raise SystemExit(f"the hand-written network has {written.count_params()} weights, the generated one "
                         f"{default.count_params()}: they are not the same network")
    x, y = data["train"][0][:16], data["train"][1][:16]
    models = {"generated": _compile(default), "hand_written": _compile(written)}
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):  # alternate, so a change of load hits both
        for name, model in models.items():
            times[name].append(_step_cpu_s(model, x, y, args.steps))
    generated, hand = statistics.median(times["generated"]), statistics.median(times["hand_written"])

    result = {
        "scinas_miou": scinas_result["test_mean_iou"], "unet_miou": unet_result["test_mean_iou"],
        "scinas_params": scinas_result["params"], "unet_params": unet_result["params"],
        "overhead_ratio": round(generated / hand, 4),
        "cell": args.cell, "epochs": args.epochs, "samples": args.samples,
        "scinas": scinas_result, "unet": unet_result,
        "step_cpu_s": {"generated": round(generated, 5), "hand_written": round(hand, 5),
                       "rounds": {k: [round(v, 5) for v in vs] for k, vs in times.items()}},
        "machine": machine_facts(tensorflow=tf.__version__, keras=keras.__version__),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
