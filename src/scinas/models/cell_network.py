"""The cell-network model generator: a searched cell stacked by a macro-architecture (POPNAS).

:class:`CellNetworkGenerator` turns a :class:`~scinas.search_space.architecture.CellArchitecture`
into a functional ``keras.Model`` for classification (float32 softmax) or regression (linear,
reshaped to the targets' shape), on series ``(length, channels)`` or images
``(height, width, channels)`` of any size.  The network:

* has no stem: cell ``i`` reads lookback ``-k`` = the output of cell ``i - k`` (the model input
  when ``i - k < 0``); only the cells reachable from the last one are built;
* doubles the filters and halves the spatial size (rounding up) at each reduction cell; an
  operator reading a larger lookback gets the strides that bring it to the cell's size, and an
  operator reading other channels than the cell's filters gets its adaptation variant (unless
  ``lookback_reshape`` first projects every mismatching lookback with a pointwise conv + BN);
* joins the two sides of each block by ``Add`` or ``Average``; concatenates the unused blocks (or
  all) and projects them to the filters with a pointwise conv + BN when more than one;
* optionally applies squeeze-excitation and a residual connection to each cell output;
* ends with global average pooling, optional dropout and a float32 dense layer; with
  ``multi_output`` every built cell has such a head (outputs ``cell_<i>_output`` ... ``output``);
* for a segmentation dataset, is an encoder-decoder instead: the cells encode, a decoder
  upsamples by 2 per reduction, joins the last cell output of each level (skip connections) and
  ends with a pixelwise float32 softmax ``(batch, height, width, classes)``.

Layer names say where a layer is: ``c3_b1_left`` (cell 3, block 1, left operator), ``c3_b1_join``,
``c3_concat``, ``c3_lb2_reshape_conv``, ``c3_se_scale``, ``c3_residual_add``, ``head_gap``, ``output``.

Example::

    generator = CellNetworkGenerator()
    arch = CellArchitecture(Cell.from_text("[(-1, 3x3 conv, -2, 2x2 maxpool)]"), MacroConfig(filters=16))
    model = generator.build(arch, info, name="trial_7")
    assert generator.count_params(arch, info) == model.count_params()
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from scinas.data.base import DatasetInfo
from scinas.models.base import ModelGenerator, register_model_generator
from scinas.models.cell_plan import (
    DECODER_KERNEL,
    CellPlan,
    DecoderStage,
    HeadPlan,
    NetworkPlan,
    OpPlan,
    Projection,
    plan_network,
)
from scinas.search_space.architecture import Architecture, CellArchitecture
from scinas.search_space.operators import allocator_for
from scinas.search_space.operators.layer_parts import batch_norm

__all__ = ["CellNetworkGenerator", "build_cell_network"]

Tensor = Any  # a symbolic Keras tensor


@register_model_generator("cell_network")
class CellNetworkGenerator(ModelGenerator):
    """Builds :class:`CellArchitecture` models; see the module docstring."""

    architecture_type: ClassVar[type[Architecture]] = CellArchitecture

    def plan(self, architecture: Architecture, info: DatasetInfo) -> NetworkPlan:
        """Every layer the model will have, decided without Keras (see :mod:`scinas.models.cell_plan`)."""
        arch = self.accepted(architecture, CellArchitecture)
        return plan_network(arch.cell, arch.macro, info)

    def build(self, architecture: Architecture, info: DatasetInfo, *, name: str = "model") -> keras.Model:
        return build_cell_network(self.plan(architecture, info), name=name)

    def count_params(self, architecture: Architecture, info: DatasetInfo) -> int:
        return self.plan(architecture, info).count_params()

    def loss_weights(self, architecture: Architecture) -> dict[str, float]:
        """``1 / 2**distance`` per output, the distance counted in cells back from the last one
        (``{"output": 1.0}`` for single-output networks)."""
        arch = self.accepted(architecture, CellArchitecture)
        cells = arch.macro.reachable_cells(arch.cell)
        if not (arch.macro.multi_output and cells):
            return {"output": 1.0}
        last = cells[-1]
        return {("output" if i == last else f"cell_{i}_output"): 1.0 / 2 ** (last - i) for i in cells}


def build_cell_network(plan: NetworkPlan, *, name: str = "model") -> keras.Model:
    """The functional Keras model of ``plan`` (outputs in the order of ``plan.heads``)."""
    inputs = keras.Input(shape=plan.input_shape, name="input")
    tensors: dict[int | None, Tensor] = {None: inputs}
    for cell in plan.cells:
        tensors[cell.index] = _build_cell(cell, tensors, plan)
    if plan.decoder:
        tensor = tensors[plan.cells[-1].index]
        for stage in plan.decoder:
            tensor = _build_decoder_stage(stage, tensor, tensors, plan)
        return keras.Model(inputs, _build_head(plan.heads[0], tensor, plan.rank), name=name)
    outputs = [_build_head(head, tensors[head.source], plan.rank) for head in plan.heads]
    return keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=name)


def _pointwise(projection: Projection, tensor: Tensor, plan: NetworkPlan) -> Tensor:
    conv = keras.layers.Conv1D if plan.rank == 1 else keras.layers.Conv2D
    tensor = conv(projection.filters, 1, strides=projection.strides, padding="same", use_bias=False,
                  name=f"{projection.name}_conv")(tensor)
    return batch_norm(name=f"{projection.name}_bn", dtype=None, momentum=plan.batch_norm_momentum)(tensor)


def _operator(op: OpPlan, tensor: Tensor) -> Tensor:
    return allocator_for(op.spec).build(op.spec, op.request)(tensor)


def _build_cell(cell: CellPlan, tensors: dict[int | None, Tensor], plan: NetworkPlan) -> Tensor:
    lookbacks = {lookback: tensors[source] for lookback, source in cell.inputs.items()}
    for lookback, projection in cell.reshapes.items():
        lookbacks[lookback] = _pointwise(projection, lookbacks[lookback], plan)
    blocks: list[Tensor] = []
    for block in cell.blocks:
        sides = [_operator(op, lookbacks[op.source] if op.source < 0 else blocks[op.source])
                 for op in (block.left, block.right)]
        join = keras.layers.Add if block.join == "add" else keras.layers.Average
        blocks.append(join(name=f"{cell.name}_b{block.index}_join")(sides))
    if cell.projection is None:
        output = blocks[cell.concat[0]]
    else:
        concatenated = keras.layers.Concatenate(axis=-1, name=f"{cell.name}_concat")([blocks[j] for j in cell.concat])
        output = _pointwise(cell.projection, concatenated, plan)
    if cell.squeeze_excitation is not None:
        se = cell.squeeze_excitation
        pool = keras.layers.GlobalAveragePooling1D if plan.rank == 1 else keras.layers.GlobalAveragePooling2D
        weights = pool(keepdims=True, name=f"{se.name}_squeeze")(output)
        weights = keras.layers.Dense(se.units, activation=plan.activation, name=f"{se.name}_reduce")(weights)
        weights = keras.layers.Dense(se.channels, activation="sigmoid", name=f"{se.name}_expand")(weights)
        output = keras.layers.Multiply(name=f"{se.name}_scale")([output, weights])
    if cell.residual:
        shortcut = lookbacks[-1]
        if cell.residual_projection is not None:
            shortcut = _pointwise(cell.residual_projection, shortcut, plan)
        output = keras.layers.Add(name=f"{cell.name}_residual_add")([output, shortcut])
    return output


def _build_decoder_stage(stage: DecoderStage, tensor: Tensor, tensors: dict[int | None, Tensor],
                         plan: NetworkPlan) -> Tensor:
    tensor = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"{stage.name}_up")(tensor)
    if stage.has_skip:
        tensor = keras.layers.Concatenate(axis=-1, name=f"{stage.name}_concat")([tensor, tensors[stage.skip]])
    tensor = keras.layers.Conv2D(stage.filters, DECODER_KERNEL, padding="same", use_bias=False,
                                 name=f"{stage.name}_conv")(tensor)
    tensor = batch_norm(name=f"{stage.name}_bn", dtype=None, momentum=plan.batch_norm_momentum)(tensor)
    return keras.layers.Activation(plan.activation, name=f"{stage.name}_act")(tensor)


def _build_head(head: HeadPlan, tensor: Tensor, rank: int) -> Tensor:
    if head.pixelwise:  # a softmax over the classes at every pixel (a 1x1 convolution)
        if head.dropout > 0:
            tensor = keras.layers.Dropout(head.dropout, name=f"{head.prefix}_dropout")(tensor)
        return keras.layers.Dense(head.units, activation="softmax", dtype="float32", name=head.output)(tensor)
    pool = keras.layers.GlobalAveragePooling1D if rank == 1 else keras.layers.GlobalAveragePooling2D
    tensor = pool(name=f"{head.prefix}_gap")(tensor)
    if head.dropout > 0:
        tensor = keras.layers.Dropout(head.dropout, name=f"{head.prefix}_dropout")(tensor)
    # float32 outputs keep the softmax and the loss accurate under mixed precision
    dense_name = head.output if head.target_shape is None else f"{head.prefix}_dense"
    tensor = keras.layers.Dense(head.units, activation="softmax" if head.softmax else None, dtype="float32",
                                name=dense_name)(tensor)
    if head.target_shape is not None:
        tensor = keras.layers.Reshape(head.target_shape, dtype="float32", name=head.output)(tensor)
    return tensor
