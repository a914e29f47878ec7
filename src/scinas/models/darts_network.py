"""The evaluation network of a DARTS genotype (model generator ``"darts_network"``).

:class:`DartsNetworkGenerator` builds a :class:`~scinas.search_space.darts_architecture.DartsArchitecture`
as a functional ``keras.Model`` of standard and scinas operator layers (so it saves, exports to
ONNX and predicts like every scinas model):

* a stem: a 3×3 (series: 3-wide) convolution and batch normalisation to ``stem_multiplier ·
  filters`` channels;
* ``layers`` cells; those at ``layers // 3`` and ``2 · layers // 3`` are reduction cells (the
  genotype's ``reduce`` cell, filters doubled, strides 2 on the operations reading the cell's
  inputs), the others normal cells.  A cell brings its two inputs to its channels (activation,
  pointwise convolution with strides 2 when the cell before the previous one is larger, batch
  normalisation), sums two operations per node, and concatenates the nodes of its ``concat``;
* with ``drop_path > 0`` every operation other than a plain ``identity`` is followed by
  :class:`DropPath` (a whole sample's path zeroed with that probability in training, the rest
  scaled up);
* global average pooling and a dense head named ``output`` (softmax for classification; linear,
  reshaped to the targets, for regression); with ``auxiliary_weight > 0`` a second head
  ``auxiliary`` (activation, pooling, dense) after the second reduction cell, trained with that
  loss weight and dropped from the exported model, as in DARTS.

Layer names say where a layer is: ``c4_n1_op0`` (cell 4, node 1, first operation), ``c4_pre0_conv``,
``c4_n1_add``, ``c4_concat``, ``stem_conv``, ``head_gap``, ``output``, ``auxiliary``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from scinas.data.base import DatasetInfo
from scinas.models.base import ModelGenerator, register_model_generator
from scinas.models.supernet import reduction_layers
from scinas.search_space.architecture import Architecture
from scinas.search_space.darts_architecture import DartsArchitecture
from scinas.search_space.macro import BATCH_NORM_MOMENTUM
from scinas.search_space.operators import LayerRequest, allocator_for, parse_operator
from scinas.search_space.operators.layer_parts import activation, batch_norm, convolution

__all__ = ["DartsNetworkGenerator", "DropPath", "build_darts_network"]

Tensor = Any


@keras.saving.register_keras_serializable(package="scinas")
class DropPath(keras.layers.Layer):
    """Zeroes a whole sample's input with probability ``rate`` in training (the others scaled by
    ``1 / (1 - rate)``); the identity at inference."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate <= 0:
            return inputs
        keep = 1.0 - self.rate
        shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        mask = keras.ops.cast(keras.random.uniform(shape, seed=self.seed_generator) < keep, inputs.dtype)
        return inputs * mask / keep

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config


@register_model_generator("darts_network")
class DartsNetworkGenerator(ModelGenerator):
    """Builds :class:`DartsArchitecture` models; see the module docstring."""

    architecture_type: ClassVar[type[Architecture]] = DartsArchitecture

    def build(self, architecture: Architecture, info: DatasetInfo, *, name: str = "model") -> keras.Model:
        return build_darts_network(self.accepted(architecture, DartsArchitecture), info, name=name)

    def loss_weights(self, architecture: Architecture) -> dict[str, float] | None:
        weight = self.accepted(architecture, DartsArchitecture).network.auxiliary_weight
        return {"output": 1.0, "auxiliary": weight} if weight > 0 else None


def _head(tensor: Tensor, info: DatasetInfo, rank: int, prefix: str, output: str) -> Tensor:
    pool = keras.layers.GlobalAveragePooling1D if rank == 1 else keras.layers.GlobalAveragePooling2D
    tensor = pool(name=f"{prefix}_gap")(tensor)
    if info.task == "classification":
        return keras.layers.Dense(info.n_classes, activation="softmax", dtype="float32", name=output)(tensor)
    if len(info.target_shape) > 1:
        tensor = keras.layers.Dense(info.n_targets, dtype="float32", name=f"{prefix}_dense")(tensor)
        return keras.layers.Reshape(tuple(info.target_shape), dtype="float32", name=output)(tensor)
    return keras.layers.Dense(info.n_targets, dtype="float32", name=output)(tensor)


def _preprocess(tensor: Tensor, rank: int, filters: int, strides: int, name: str, function: str) -> Tensor:
    tensor = activation(function, name=f"{name}_act", dtype=None)(tensor)
    tensor = convolution(rank, filters, (1,) * rank, strides=strides, name=f"{name}_conv", dtype=None)(tensor)
    return batch_norm(name=f"{name}_bn", dtype=None, momentum=BATCH_NORM_MOMENTUM)(tensor)


def build_darts_network(architecture: DartsArchitecture, info: DatasetInfo, *, name: str = "model",
                        function: str = "relu") -> keras.Model:
    """The functional model of ``architecture`` for ``info`` (see the module docstring)."""
    genotype, network = architecture.genotype, architecture.network
    rank = len(info.input_shape) - 1
    if rank not in (1, 2):
        raise ValueError(f"a DARTS network needs series or images, not inputs of shape {info.input_shape}")
    inputs = keras.Input(shape=info.input_shape, name="input")
    stem = convolution(rank, network.stem_multiplier * network.filters, (3,) * rank, name="stem_conv",
                       dtype=None)(inputs)
    stem = batch_norm(name="stem_bn", dtype=None, momentum=BATCH_NORM_MOMENTUM)(stem)
    s0 = s1 = stem
    filters, reduction_prev = network.filters, False
    reductions = reduction_layers(network.layers)
    auxiliary: Tensor | None = None
    for index in range(network.layers):
        reduction = index in reductions
        if reduction:
            filters *= 2
        kind = "reduce" if reduction else "normal"
        prefix = f"c{index}"
        states = [_preprocess(s0, rank, filters, 2 if reduction_prev else 1, f"{prefix}_pre0", function),
                  _preprocess(s1, rank, filters, 1, f"{prefix}_pre1", function)]
        pairs = genotype.pairs(kind)
        for node in range(len(pairs) // 2):
            terms = []
            for side, (op, source) in enumerate(pairs[2 * node: 2 * node + 2]):
                strides = 2 if reduction and source < 2 else 1
                spec = parse_operator(op, rank)
                request = LayerRequest(rank=rank, in_channels=filters, filters=filters, strides=strides,
                                       activation=function, name=f"{prefix}_n{node}_op{side}")
                term = allocator_for(spec).build(spec, request)(states[source])
                if network.drop_path > 0 and not (spec.family == "identity" and strides == 1):
                    term = DropPath(network.drop_path, name=f"{prefix}_n{node}_drop{side}")(term)
                terms.append(term)
            states.append(keras.layers.Add(name=f"{prefix}_n{node}_add")(terms))
        chosen = [states[i] for i in genotype.concat(kind)]
        output = chosen[0] if len(chosen) == 1 else keras.layers.Concatenate(axis=-1, name=f"{prefix}_concat")(chosen)
        s0, s1 = s1, output
        reduction_prev = reduction
        if network.auxiliary_weight > 0 and index == reductions[1]:
            auxiliary = activation(function, name="auxiliary_act", dtype=None)(output)
            auxiliary = _head(auxiliary, info, rank, "auxiliary", "auxiliary")
    main = _head(s1, info, rank, "head", "output")
    return keras.Model(inputs, [main, auxiliary] if auxiliary is not None else main, name=name)
