"""The DARTS supernet: every edge of a cell a softmax(α)-weighted mixture of candidate operators.

A search cell has two input nodes (the outputs of the two previous cells, each brought to the
cell's channels by an activation, a pointwise convolution and batch normalisation) and ``nodes``
intermediate nodes; node ``i`` sums one *mixed edge* from every earlier node (the two inputs and
nodes ``0 .. i-1``), so a cell has ``2·nodes + nodes·(nodes-1)/2`` edges (14 for 4 nodes).  The
cell's output concatenates its intermediate nodes.  A mixed edge computes
``Σ_k softmax(α_edge)_k · op_k(x)`` over the candidate operators, which are built by the
ordinary op allocators (:mod:`scinas.search_space.operators`), plus ``none``, the zero operation,
which contributes nothing but takes its share of the softmax.

The network is a stem (convolution + batch normalisation to ``stem_multiplier · filters``
channels), ``layers`` cells of which those at ``layers // 3`` and ``2·layers // 3`` are reduction
cells (their edges from the input nodes have strides 2 and the filters double), global average
pooling and a float32 dense head (softmax for classification; linear, reshaped to the targets,
for regression).  All normal cells share one α (``alpha_normal``, edges × operators), all
reduction cells another (``alpha_reduce``); :attr:`Supernet.architecture_weights` are the two,
:attr:`Supernet.network_weights` everything else that trains.

Example::

    settings = SupernetSettings(operators=("identity", "3x3 dconv", "3x3 maxpool"), layers=3, nodes=2, filters=4)
    model = Supernet(settings, info, seed=0)
    model(x)                                   # class probabilities
    model.edge_weights("normal")               # softmax(α) per edge, a NumPy array
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.search_space.darts_ops import NONE
from scinas.search_space.macro import BATCH_NORM_MOMENTUM
from scinas.search_space.operators import LayerRequest, allocator_for, parse_operator
from scinas.search_space.operators.layer_parts import activation, batch_norm, convolution

__all__ = ["CELL_KINDS", "MixedEdge", "SearchCell", "Supernet", "SupernetSettings", "edge_sources",
           "reduction_layers"]

CELL_KINDS: tuple[str, str] = ("normal", "reduce")
"""The two kinds of cell, each with its own α (DARTS' names)."""


def edge_sources(nodes: int) -> list[tuple[int, int]]:
    """``(source, target)`` of every edge, in α's row order: sources ``0``, ``1`` are the input
    nodes, ``2 + i`` intermediate node ``i``; targets are ``2 + i``."""
    return [(source, 2 + node) for node in range(nodes) for source in range(2 + node)]


def reduction_layers(layers: int) -> tuple[int, int]:
    """The indices of the two reduction cells of a ``layers``-deep network (at 1/3 and 2/3)."""
    return layers // 3, 2 * layers // 3


@dataclass(frozen=True)
class SupernetSettings:
    """The shape of a supernet.  ``operators`` are scinas operator texts (``none`` excluded: it is
    added first when ``include_none``); ``file``/``path`` locate the TOML keys for errors."""

    operators: tuple[str, ...]
    layers: int = 8
    nodes: int = 4
    filters: int = 16
    stem_multiplier: int = 3
    include_none: bool = True
    activation: str = "relu"
    batch_norm_momentum: float = BATCH_NORM_MOMENTUM
    file: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "operators", tuple(self.operators))
        if self.nodes < 1:
            raise self._error("nodes", self.nodes, "a cell needs at least one intermediate node", "nodes = 4")
        if self.layers < 3:
            raise self._error("layers", self.layers, "the network needs at least 3 cells for its two reduction "
                              "cells (at layers // 3 and 2 * layers // 3)", "layers = 8 (at least 3)")
        if self.filters < 1 or self.stem_multiplier < 1:
            raise self._error("filters", self.filters, "filters and stem_multiplier must be >= 1", "filters = 16")
        if not self.operators:
            raise self._error("operators", [], "a mixed edge needs at least one operator besides none",
                              'operators = ["darts"]')
        if NONE in self.operators:
            raise self._error("operators", list(self.operators), "`none` is added to every mixed edge by the "
                              "search; it is not an operator to list", "remove \"none\" from operators")

    def _error(self, key: str, value: Any, problem: str, fix: str) -> ConfigError:
        where = (f"{self.path}.{key}" if self.path else key) if key != "operators" else \
            (self.path.rsplit(".", 1)[0] + ".search_space.operators" if self.path else "search_space.operators")
        return ConfigError(problem, file=self.file or None, path=where, value=value, fix=fix)

    @property
    def candidates(self) -> tuple[str, ...]:
        """The operations of a mixed edge, in α's column order (``none`` first when included)."""
        return ((NONE,) if self.include_none else ()) + self.operators

    @property
    def n_edges(self) -> int:
        return len(edge_sources(self.nodes))


class _Preprocess(keras.layers.Layer):
    """Activation, pointwise convolution (with ``strides``) and batch normalisation."""

    def __init__(self, rank: int, filters: int, strides: int, function: str, momentum: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.act = activation(function, name="act", dtype=None)
        self.conv = convolution(rank, filters, (1,) * rank, strides=strides, name="conv", dtype=None)
        self.bn = batch_norm(name="bn", dtype=None, momentum=momentum)

    def call(self, inputs: Any) -> Any:
        return self.bn(self.conv(self.act(inputs)))


class MixedEdge(keras.layers.Layer):
    """``Σ_k w_k · op_k(x)`` over the candidate operators (``None`` stands for ``none``: zero)."""

    def __init__(self, operators: Sequence[keras.layers.Layer | None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.operators = [op for op in operators if op is not None]
        self.columns = [k for k, op in enumerate(operators) if op is not None]

    def call(self, inputs: Any, weights: Any) -> Any:
        total = None
        for column, op in zip(self.columns, self.operators, strict=True):
            term = weights[column] * op(inputs)
            total = term if total is None else total + term
        return total


class SearchCell(keras.layers.Layer):
    """One cell of the supernet (see the module docstring)."""

    def __init__(self, settings: SupernetSettings, rank: int, filters: int, *, reduction: bool,
                 reduction_prev: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.reduction = reduction
        momentum, function = settings.batch_norm_momentum, settings.activation
        self.pre0 = _Preprocess(rank, filters, 2 if reduction_prev else 1, function, momentum, name="pre0")
        self.pre1 = _Preprocess(rank, filters, 1, function, momentum, name="pre1")
        self.edges: list[MixedEdge] = []
        for index, (source, target) in enumerate(edge_sources(settings.nodes)):
            strides = 2 if reduction and source < 2 else 1
            operators: list[keras.layers.Layer | None] = []
            for column, text in enumerate(settings.candidates):
                if text == NONE:
                    operators.append(None)
                    continue
                spec = parse_operator(text, rank)
                request = LayerRequest(rank=rank, in_channels=filters, filters=filters, strides=strides,
                                       activation=function, name=f"e{index}_op{column}", batch_norm_momentum=momentum)
                operators.append(allocator_for(spec).build(spec, request))
            self.edges.append(MixedEdge(operators, name=f"edge{index}_{source}to{target}"))

    def call(self, inputs: Any, weights: Any) -> Any:
        states = [self.pre0(inputs[0]), self.pre1(inputs[1])]
        row = 0
        for _ in range(self.settings.nodes):
            node = None
            for state in list(states):
                term = self.edges[row](state, weights[row])
                node = term if node is None else node + term
                row += 1
            states.append(node)
        return keras.ops.concatenate(states[2:], axis=-1)


class Supernet(keras.Model):
    """The weight-sharing network of a DARTS search (see the module docstring)."""

    def __init__(self, settings: SupernetSettings, info: DatasetInfo, *, seed: int = 0, **kwargs: Any) -> None:
        kwargs.setdefault("name", "supernet")
        super().__init__(**kwargs)
        rank = len(info.input_shape) - 1
        if rank not in (1, 2):
            raise ConfigError(f"a DARTS supernet needs series or images, not inputs of shape {info.input_shape}",
                              file=settings.file or None, path=settings.path or None)
        self.settings = settings
        self.info = info
        self.rank = rank
        stem_filters = settings.stem_multiplier * settings.filters
        self.stem_conv = convolution(rank, stem_filters, (3,) * rank, name="stem_conv", dtype=None)
        self.stem_bn = batch_norm(name="stem_bn", dtype=None, momentum=settings.batch_norm_momentum)
        reductions = reduction_layers(settings.layers)
        self.cells: list[SearchCell] = []
        filters, reduction_prev = settings.filters, False
        for index in range(settings.layers):
            reduction = index in reductions
            if reduction:
                filters *= 2
            self.cells.append(SearchCell(settings, rank, filters, reduction=reduction, reduction_prev=reduction_prev,
                                         name=f"cell{index}_{'reduce' if reduction else 'normal'}"))
            reduction_prev = reduction
        pool = keras.layers.GlobalAveragePooling1D if rank == 1 else keras.layers.GlobalAveragePooling2D
        self.pool = pool(name="gap")
        # float32 outputs under mixed precision (the softmax and the loss stay accurate); float64 under floatx float64
        policy = keras.config.dtype_policy()
        head_dtype = "float32" if policy.compute_dtype != policy.variable_dtype else None
        if info.task == "classification":
            self.head = keras.layers.Dense(info.n_classes, activation="softmax", dtype=head_dtype, name="output")
        else:
            self.head = keras.layers.Dense(info.n_targets, dtype=head_dtype, name="output")
        self.target_shape = tuple(info.target_shape) if info.task != "classification" else ()
        rng = np.random.default_rng(seed)
        shape = (settings.n_edges, len(settings.candidates))
        # DARTS starts α near zero (1e-3 · N(0, 1)): every operation of an edge equally weighted
        self.alpha_normal = self.add_weight(shape=shape, name="alpha_normal",
                                            initializer=keras.initializers.Constant(1e-3 * rng.standard_normal(shape)))
        self.alpha_reduce = self.add_weight(shape=shape, name="alpha_reduce",
                                            initializer=keras.initializers.Constant(1e-3 * rng.standard_normal(shape)))

    @property
    def architecture_weights(self) -> list[Any]:
        """``[alpha_normal, alpha_reduce]``."""
        return [self.alpha_normal, self.alpha_reduce]

    @property
    def network_weights(self) -> list[Any]:
        """Every trainable weight but α (the operators', stems', preprocessing and head weights)."""
        alphas = {id(weight) for weight in self.architecture_weights}
        return [weight for weight in self.trainable_weights if id(weight) not in alphas]

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        weights = {"normal": keras.ops.softmax(self.alpha_normal, axis=-1),
                   "reduce": keras.ops.softmax(self.alpha_reduce, axis=-1)}
        stem = self.stem_bn(self.stem_conv(inputs))
        s0 = s1 = stem
        for cell in self.cells:
            s0, s1 = s1, cell([s0, s1], weights["reduce" if cell.reduction else "normal"])
        outputs = self.head(self.pool(s1))
        if len(self.target_shape) > 1:
            outputs = keras.ops.reshape(outputs, (-1, *self.target_shape))
        return outputs

    def edge_weights(self, kind: str) -> np.ndarray:
        """softmax(α) of the ``kind`` cells (``"normal"`` or ``"reduce"``): edges × operations."""
        alpha = self.alpha_normal if kind == "normal" else self.alpha_reduce
        values = np.asarray(keras.ops.convert_to_numpy(alpha), dtype=np.float64)
        values = np.exp(values - values.max(axis=1, keepdims=True))
        return np.asarray(values / values.sum(axis=1, keepdims=True))
