"""The NAS-Bench-201 network of a cell, built in Keras (random weights): what the data-free priors score.

NAS-Bench-201's macro skeleton: a 3×3 convolution stem (``channels`` filters, batch norm), three
stages of ``cells`` copies of the cell with ``channels``, 2× and 4× filters, a residual reduction
block between stages (ReLU-conv 3×3 stride 2-BN, ReLU-conv 3×3-BN, and an average-pool + 1×1
convolution shortcut), then batch norm, ReLU, global average pooling and a dense classifier.  In
the cell, node ``j`` is the sum of its incoming edges ``i → j``; ``nor_conv_kxk`` is ReLU → k×k
convolution → batch norm, ``avg_pool_3x3`` a 3×3 average pooling (stride 1), ``skip_connect`` the
identity and ``none`` no edge (a node without incoming edges is zero; operations fed by it are
still built, as in the benchmark's networks).  The benchmark trains 5 cells per stage; the
priors default to 1 (five times fewer layers to build, the same operations per cell).

Example::

    model = build_nb201_network(("nor_conv_3x3",) * 6, ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

__all__ = ["build_nb201_network"]


def _relu_conv_bn(x: Any, filters: int, kernel: int, stride: int = 1) -> Any:
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    return keras.layers.BatchNormalization()(x)


def _edge(x: Any, op: str, filters: int) -> Any:
    if op == "skip_connect":
        return x
    if op == "nor_conv_1x1":
        return _relu_conv_bn(x, filters, 1)
    if op == "nor_conv_3x3":
        return _relu_conv_bn(x, filters, 3)
    if op == "avg_pool_3x3":
        return keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)
    raise ValueError(f"unknown NAS-Bench-201 operation {op!r}")


def _cell(x: Any, ops: Sequence[str], edges: Sequence[tuple[int, int]], filters: int) -> Any:
    nodes = [x]
    for target in range(1, max(t for _, t in edges) + 1):
        incoming = [_edge(nodes[source], op, filters) for op, (source, t) in zip(ops, edges, strict=True)
                    if t == target and op != "none"]
        if not incoming:
            nodes.append(keras.ops.zeros_like(x))
        elif len(incoming) == 1:
            nodes.append(incoming[0])
        else:
            nodes.append(keras.layers.Add()(incoming))
    return nodes[-1]


def _reduction(x: Any, filters: int) -> Any:
    main = _relu_conv_bn(x, filters, 3, stride=2)
    main = _relu_conv_bn(main, filters, 3)
    shortcut = keras.layers.AveragePooling2D(2, strides=2)(x)
    shortcut = keras.layers.Conv2D(filters, 1, use_bias=False)(shortcut)
    return keras.layers.Add()([main, shortcut])


def build_nb201_network(ops: Sequence[str], edges: Sequence[tuple[int, int]], *, channels: int = 16, cells: int = 1,
                        input_size: int = 32, classes: int = 10, seed: int = 0) -> keras.Model:
    """The network of the cell ``ops`` (one per edge of ``edges``), with random weights seeded by ``seed``."""
    if len(ops) != len(edges):
        raise ValueError(f"{len(ops)} operations for {len(edges)} edges")
    if channels < 1 or cells < 1 or input_size < 4 or classes < 1:
        raise ValueError(f"channels, cells and classes must be positive and input_size at least 4, got "
                         f"{channels}, {cells}, {input_size}, {classes}")
    inputs = keras.Input((input_size, input_size, 3))
    x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    for stage in range(3):
        filters = channels * 2**stage
        if stage:
            x = _reduction(x, filters)
        for _ in range(cells):
            x = _cell(x, ops, edges, filters)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes)(x)
    model = keras.Model(inputs, outputs, name="nb201_network")
    _seed_weights(model, seed)
    return model


def _seed_weights(model: keras.Model, seed: int) -> None:
    """Re-draw every kernel from Glorot-uniform with a NumPy generator (reproducible, no global seed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for weight in model.trainable_weights:
        shape = tuple(int(d) for d in weight.shape)
        if len(shape) < 2:
            continue
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
        weight.assign(rng.uniform(-limit, limit, size=shape).astype("float32"))
