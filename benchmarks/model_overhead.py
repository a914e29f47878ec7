"""What a generated cell network costs against the same network written by hand in plain Keras.

Run::

    .venv/bin/python benchmarks/model_overhead.py [--rounds R] [--samples N] [--batch-size B]

For three cells — two on 2D images, one on 1D series — the cell network scinas generates
(:class:`scinas.models.cell_network.CellNetworkGenerator`, one composite Keras layer per
operator) is compared with the same network written here layer by layer with plain Keras
layers (Conv2D, BatchNormalization, Activation, MaxPooling2D, Add, ...).  Both are built in the
same process, their parameter counts are checked equal, and their training speed is measured
alternately (one epoch of the generated model, one of the hand-written one, ``R`` rounds)
because a shared machine makes single timings noisy.

It prints one JSON object: per case ``generated_steps_per_s``, ``hand_steps_per_s``,
``overhead_ratio`` (hand / generated steps per second, median over rounds: above 1 means the
generated model is slower), ``build_compile_s`` of each, and the parameter counts; the top-level
``overhead_ratio`` is the worst of the three cases.  Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    import scinas  # noqa: F401  (only: is it importable?)
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import keras

from _machine import machine_facts
from scinas.data.base import DatasetInfo
from scinas.models.cell_network import CellNetworkGenerator
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig

__all__ = ["CASES", "Case", "main", "measure_case"]

Tensor = Any
L = keras.layers


# -- plain Keras building blocks (what a user would write by hand) ------------------------------
def _conv(rank: int) -> Any:
    return L.Conv1D if rank == 1 else L.Conv2D


def conv_bn_relu(x: Tensor, filters: int, kernel: int, strides: int = 1, *, separable: bool = False) -> Tensor:
    rank = len(x.shape) - 2
    layer = (L.SeparableConv1D if rank == 1 else L.SeparableConv2D) if separable else _conv(rank)
    x = layer(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    return L.Activation("relu")(x)


def project(x: Tensor, filters: int, strides: int = 1) -> Tensor:
    rank = len(x.shape) - 2
    x = _conv(rank)(filters, 1, strides=strides, padding="same", use_bias=False)(x)
    return L.BatchNormalization()(x)


def pool(x: Tensor, size: int, strides: int = 1, *, kind: str = "max") -> Tensor:
    rank = len(x.shape) - 2
    if rank == 1:
        layer = L.MaxPooling1D if kind == "max" else L.AveragePooling1D
    else:
        layer = L.MaxPooling2D if kind == "max" else L.AveragePooling2D
    return layer(size, strides=strides, padding="same")(x)


def head(x: Tensor, units: int, *, softmax: bool) -> Tensor:
    rank = len(x.shape) - 2
    x = (L.GlobalAveragePooling1D() if rank == 1 else L.GlobalAveragePooling2D())(x)
    return L.Dense(units, activation="softmax" if softmax else None, dtype="float32")(x)


# -- the three networks, by hand ------------------------------------------------------------------
# Macro-architecture of every case: 2 motifs of 1 normal cell, i.e. cells normal (16 filters),
# reduction (32 filters, stride 2), normal (32 filters).
def hand_conv_pool(inputs: Tensor, units: int) -> Tensor:
    """``[(-1, 3x3 conv, -1, 2x2 maxpool)]``."""
    def cell(x: Tensor, filters: int, strides: int) -> Tensor:
        side = pool(x, 2, strides)
        if x.shape[-1] != filters:
            side = project(side, filters)
        return L.Add()([conv_bn_relu(x, filters, 3, strides), side])

    c0 = cell(inputs, 16, 1)
    c1 = cell(c0, 32, 2)
    c2 = cell(c1, 32, 1)
    return head(c2, units, softmax=True)


def hand_separable_two_blocks(inputs: Tensor, units: int) -> Tensor:
    """``[(-2, 3x3 dconv, -1, 3x3 conv); (0, identity, -1, 2x2 avgpool)]`` (reads two cells back)."""
    def cell(prev: Tensor, prev2: Tensor, filters: int, strides_prev: int, strides_prev2: int) -> Tensor:
        b0 = L.Add()([conv_bn_relu(prev2, filters, 3, strides_prev2, separable=True),
                      conv_bn_relu(prev, filters, 3, strides_prev)])
        side = pool(prev, 2, strides_prev, kind="avg")
        if prev.shape[-1] != filters:
            side = project(side, filters)
        return L.Add()([b0, side])  # block 0 is read by block 1, so block 1 alone is the output

    c0 = cell(inputs, inputs, 16, 1, 1)
    c1 = cell(c0, inputs, 32, 2, 2)
    c2 = cell(c1, c0, 32, 1, 2)
    return head(c2, units, softmax=True)


def hand_series_concat(inputs: Tensor, units: int) -> Tensor:
    """``[(-1, 7 conv, -1, 3 maxpool); (-1, 5 dconv, -2, identity)]`` on series (two blocks concatenated)."""
    def cell(prev: Tensor, prev2: Tensor, filters: int, strides_prev: int, strides_prev2: int) -> Tensor:
        side = pool(prev, 3, strides_prev)
        if prev.shape[-1] != filters:
            side = project(side, filters)
        b0 = L.Add()([conv_bn_relu(prev, filters, 7, strides_prev), side])
        skip = prev2 if (prev2.shape[-1] == filters and strides_prev2 == 1) else project(prev2, filters, strides_prev2)
        b1 = L.Add()([conv_bn_relu(prev, filters, 5, strides_prev, separable=True), skip])
        return project(L.Concatenate()([b0, b1]), filters)

    c0 = cell(inputs, inputs, 16, 1, 1)
    c1 = cell(c0, inputs, 32, 2, 2)
    c2 = cell(c1, c0, 32, 1, 2)
    return head(c2, units, softmax=False)


@dataclass(frozen=True)
class Case:
    name: str
    cell: str
    info: DatasetInfo
    hand: Callable[[Tensor, int], Tensor]

    @property
    def units(self) -> int:
        return self.info.n_classes if self.info.task == "classification" else self.info.n_targets  # type: ignore[return-value]


SIZES = {"train": 1024, "validation": 0, "test": 0}
CASES = (
    Case("2d_conv_pool", "[(-1, 3x3 conv, -1, 2x2 maxpool)]",
         DatasetInfo("images", "classification", (32, 32, 3), (), SIZES, n_classes=10), hand_conv_pool),
    Case("2d_separable_two_blocks", "[(-2, 3x3 dconv, -1, 3x3 conv); (0, identity, -1, 2x2 avgpool)]",
         DatasetInfo("images", "classification", (32, 32, 3), (), SIZES, n_classes=10), hand_separable_two_blocks),
    Case("1d_series_concat", "[(-1, 7 conv, -1, 3 maxpool); (-1, 5 dconv, -2, identity)]",
         DatasetInfo("series", "regression", (256, 3), (4,), SIZES), hand_series_concat),
)
MACRO = MacroConfig(filters=16, motifs=2, normal_cells_per_motif=1)


def _compile(model: keras.Model, task: str) -> keras.Model:
    loss = "sparse_categorical_crossentropy" if task == "classification" else "mse"
    model.compile(optimizer="adam", loss=loss)
    return model


def _data(case: Case, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, *case.info.input_shape)).astype("float32")
    if case.info.task == "classification":
        y = rng.integers(0, case.units, n).astype("float32")
    else:
        y = rng.standard_normal((n, case.units)).astype("float32")
    return x, y


def measure_case(case: Case, *, rounds: int, samples: int, batch_size: int) -> dict[str, Any]:
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    architecture = CellArchitecture(Cell.from_text(case.cell), MACRO)
    started = time.perf_counter()
    generated = _compile(CellNetworkGenerator().build(architecture, case.info, name="generated"), case.info.task)
    generated_build = time.perf_counter() - started
    started = time.perf_counter()
    inputs = keras.Input(case.info.input_shape)
    hand = _compile(keras.Model(inputs, case.hand(inputs, case.units), name="hand"), case.info.task)
    hand_build = time.perf_counter() - started

    x, y = _data(case, samples)
    steps = -(-samples // batch_size)
    for model in (generated, hand):  # tracing and first-call allocation are not timed
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    rates: dict[str, list[float]] = {"generated": [], "hand": []}
    for _ in range(rounds):
        for label, model in (("generated", generated), ("hand", hand)):
            started = time.perf_counter()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
            rates[label].append(steps / (time.perf_counter() - started))
    ratios = [h / g for h, g in zip(rates["hand"], rates["generated"], strict=True)]
    return {
        "cell": case.cell,
        "input_shape": list(case.info.input_shape),
        "task": case.info.task,
        "params_generated": int(generated.count_params()),
        "params_hand": int(hand.count_params()),
        "params_formula": CellNetworkGenerator().count_params(architecture, case.info),
        "layers_generated": len(generated.layers),
        "layers_hand": len(hand.layers),
        "generated_steps_per_s": statistics.median(rates["generated"]),
        "hand_steps_per_s": statistics.median(rates["hand"]),
        "overhead_ratio": statistics.median(ratios),
        "generated_build_compile_s": generated_build,
        "hand_build_compile_s": hand_build,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating timed epochs per model (default 5)")
    parser.add_argument("--samples", type=int, default=1024, help="training samples per epoch (default 1024)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    cases = {case.name: measure_case(case, rounds=args.rounds, samples=args.samples, batch_size=args.batch_size)
             for case in CASES}
    result = {
        "benchmark": "model_overhead",
        "overhead_ratio": max(case["overhead_ratio"] for case in cases.values()),
        "build_compile_s": max(case["generated_build_compile_s"] for case in cases.values()),
        "params_match": all(c["params_generated"] == c["params_hand"] == c["params_formula"] for c in cases.values()),
        "cases": cases,
        "settings": {"rounds": args.rounds, "samples": args.samples, "batch_size": args.batch_size},
        "machine": machine_facts(keras=keras.__version__, backend=keras.backend.backend()),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
