"""The plan of a cell network: every layer of the model, decided before Keras is touched.

:func:`plan_network` turns a cell, a :class:`~scinas.search_space.macro.MacroConfig` and a
:class:`~scinas.data.base.DatasetInfo` into a :class:`NetworkPlan`: which cells are built, the
spatial level and filters of each, the operator layer requests (variant, strides, channels), the
projections, squeeze-excitations and heads.  The Keras builder
(:mod:`scinas.models.cell_network`) and the analytic parameter count (:meth:`NetworkPlan.count_params`)
both walk the same plan, so they cannot disagree.

Shapes are tracked as a *level* (how many times the spatial size was halved, rounding up:
``ceil(size / 2**level)``, which is what chained ``ceil(size / 2)`` gives) and a channel count.
A tensor of level ``l`` read by a cell of level ``L`` needs strides ``2**(L - l)``.

Example::

    plan = plan_network(cell, MacroConfig(filters=8, motifs=2), info)
    [c.index for c in plan.cells], plan.count_params()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.search_space.cell import Cell
from scinas.search_space.macro import BATCH_NORM_MOMENTUM, CellKind, MacroConfig
from scinas.search_space.operators import LayerRequest, OpSpec, allocator_for, parse_operator

__all__ = [
    "BlockPlan",
    "CellPlan",
    "DecoderStage",
    "HeadPlan",
    "NetworkPlan",
    "OpPlan",
    "Projection",
    "SqueezeExcitation",
    "network_rank",
    "plan_network",
]

BN_WEIGHTS_PER_CHANNEL = 4
"""gamma, beta, moving mean and moving variance."""
DECODER_KERNEL = 3
"""Kernel size of a segmentation decoder stage's convolution."""


@dataclass(frozen=True)
class Projection:
    """A pointwise convolution without bias followed by batch normalisation (layer names
    ``{name}_conv`` and ``{name}_bn``): brings a tensor to ``filters`` channels and divides its
    spatial size by ``strides``."""

    name: str
    in_channels: int
    filters: int
    strides: int = 1

    def count_params(self) -> int:
        return self.in_channels * self.filters + BN_WEIGHTS_PER_CHANNEL * self.filters


@dataclass(frozen=True)
class SqueezeExcitation:
    """Squeeze-and-excitation of a ``channels``-channel tensor through ``units`` hidden units
    (layers ``{name}_squeeze``, ``{name}_reduce``, ``{name}_expand``, ``{name}_scale``)."""

    name: str
    channels: int
    units: int

    def count_params(self) -> int:
        return (self.channels + 1) * self.units + (self.units + 1) * self.channels


@dataclass(frozen=True)
class OpPlan:
    """One operator layer: what it reads (``source``: a lookback ``< 0`` or a block ``>= 0`` of
    the same cell), its parsed operator and the request handed to its allocator."""

    source: int
    spec: OpSpec
    request: LayerRequest

    def count_params(self) -> int:
        return int(allocator_for(self.spec).count_params(self.spec, self.request))


@dataclass(frozen=True)
class BlockPlan:
    """Block ``index`` of a cell: two operators joined by ``join`` (``"add"`` or ``"avg"``)."""

    index: int
    left: OpPlan
    right: OpPlan
    join: str


@dataclass(frozen=True)
class CellPlan:
    """One built cell.

    ``inputs`` maps each lookback it reads to the cell whose output that is (``None``: the model
    input); ``reshapes`` the lookbacks first brought to the cell's shape (``lookback_reshape``);
    ``concat`` the blocks concatenated into the output, projected by ``projection`` when more
    than one; ``residual`` says whether the ``-1`` input is added to the output, through
    ``residual_projection`` when its shape differs.
    """

    index: int
    kind: CellKind
    level: int
    filters: int
    inputs: dict[int, int | None]
    reshapes: dict[int, Projection]
    blocks: tuple[BlockPlan, ...]
    concat: tuple[int, ...]
    projection: Projection | None
    squeeze_excitation: SqueezeExcitation | None
    residual: bool
    residual_projection: Projection | None

    @property
    def name(self) -> str:
        return f"c{self.index}"

    def count_params(self) -> int:
        total = sum(p.count_params() for p in self.reshapes.values())
        total += sum(b.left.count_params() + b.right.count_params() for b in self.blocks)
        extras = (self.projection, self.squeeze_excitation, self.residual_projection)
        return total + sum(extra.count_params() for extra in extras if extra is not None)


@dataclass(frozen=True)
class DecoderStage:
    """One step of a segmentation decoder, back to spatial ``level``: bilinear upsampling by 2 of
    the previous tensor, concatenated with ``skip`` (a cell's output at that level, ``None``: the
    model input, absent when ``has_skip`` is false), then a 3x3 convolution without bias to
    ``filters``, batch normalisation and the activation (layers ``{name}_up``, ``{name}_concat``,
    ``{name}_conv``, ``{name}_bn``, ``{name}_act``)."""

    name: str
    level: int
    has_skip: bool
    skip: int | None
    in_channels: int
    filters: int

    def count_params(self) -> int:
        return DECODER_KERNEL ** 2 * self.in_channels * self.filters + BN_WEIGHTS_PER_CHANNEL * self.filters


@dataclass(frozen=True)
class HeadPlan:
    """An output head on the output of cell ``source`` (``None``: the model input): global average
    pooling, dropout when > 0, a float32 dense layer (softmax for classification), and a reshape
    to ``target_shape`` when that has more than one dimension.  ``output`` is the output's name.

    A ``pixelwise`` head (segmentation) has no pooling: dropout, then the dense layer applied to
    every pixel (a 1x1 convolution) with a float32 softmax over the classes."""

    output: str
    source: int | None
    in_channels: int
    units: int
    softmax: bool
    dropout: float
    target_shape: tuple[int, ...] | None
    loss_weight: float
    pixelwise: bool = False

    @property
    def prefix(self) -> str:
        return "head" if self.output == "output" else self.output.removesuffix("_output") + "_head"

    def count_params(self) -> int:
        return (self.in_channels + 1) * self.units


@dataclass(frozen=True)
class NetworkPlan:
    """Everything :func:`plan_network` decided; see the module docstring."""

    rank: int
    input_shape: tuple[int, ...]
    activation: str
    cells: tuple[CellPlan, ...]
    heads: tuple[HeadPlan, ...]
    batch_norm_momentum: float = BATCH_NORM_MOMENTUM
    decoder: tuple[DecoderStage, ...] = ()
    """Segmentation only: the stages from the last cell's level back to the input's resolution."""

    def count_params(self) -> int:
        """The exact number of weights (trainable and not) of the model built from this plan."""
        return (sum(c.count_params() for c in self.cells) + sum(h.count_params() for h in self.heads)
                + sum(d.count_params() for d in self.decoder))

    def loss_weights(self) -> dict[str, float]:
        return {head.output: head.loss_weight for head in self.heads}


def network_rank(info: DatasetInfo) -> int:
    """1 for series ``(length, channels)``, 2 for images ``(height, width, channels)``."""
    rank = len(info.input_shape) - 1
    if rank not in (1, 2):
        raise ConfigError(f"cell networks take series (length, channels) or images (height, width, channels), "
                          f"but dataset {info.name!r} has inputs of shape {tuple(info.input_shape)}",
                          fix="use a fixed [structure] layer stack for this dataset, or reshape its inputs")
    return rank


def plan_network(cell: Cell, macro: MacroConfig, info: DatasetInfo) -> NetworkPlan:
    """The plan of ``cell`` stacked by ``macro`` on ``info``'s inputs and targets.

    Raises ConfigError for inputs that are neither series nor images, a classification dataset
    without classes, or an operator that does not exist for the data's rank.

    A segmentation dataset gets an encoder-decoder: the cells are the encoder, and a decoder
    (:class:`DecoderStage`) climbs back from the last cell's level to the input's resolution,
    joining at each level the output of the last built cell of that level (the model input at
    level 0 when no cell is built there); a pixelwise softmax head ends it.
    """
    rank = network_rank(info)
    if info.task == "segmentation":
        _check_segmentation(macro, info, rank)
    specs = _operator_parser(rank)
    levels = macro.reductions()
    kinds = macro.cell_kinds()
    shapes: dict[int | None, tuple[int, int]] = {None: (0, int(info.input_shape[-1]))}  # source -> (level, ch)
    cells: list[CellPlan] = []
    for index in macro.reachable_cells(cell):
        filters = macro.filters * 2 ** levels[index]
        inputs: dict[int, int | None] = {}
        for lookback in macro.cell_inputs(cell):
            source = index + lookback
            inputs[lookback] = source if source >= 0 else None
        plan = _plan_cell(cell, macro, index, kinds[index], levels[index], filters, inputs, shapes, rank, specs)
        cells.append(plan)
        shapes[index] = (plan.level, plan.filters)
    if info.task == "segmentation":
        decoder = _plan_decoder(macro, cells, shapes)
        channels = decoder[-1].filters if decoder else shapes[cells[-1].index if cells else None][1]
        head = HeadPlan("output", cells[-1].index if cells else None, channels, int(info.n_classes or 0), True,
                        macro.dropout, None, 1.0, pixelwise=True)
        return NetworkPlan(rank, tuple(info.input_shape), macro.activation, tuple(cells), (head,),
                           macro.batch_norm_momentum, decoder)
    return NetworkPlan(rank, tuple(info.input_shape), macro.activation, tuple(cells),
                       _plan_heads(macro, info, cells, shapes), macro.batch_norm_momentum)


def _check_segmentation(macro: MacroConfig, info: DatasetInfo, rank: int) -> None:
    """A segmentation network needs images, classes, one output, and sizes the decoder can restore."""
    if rank != 2:
        raise ConfigError(f"segmentation needs images (height, width, channels), but dataset {info.name!r} has "
                          f"inputs of shape {tuple(info.input_shape)}", fix="segment images, or classify the series")
    if info.n_classes is None or info.n_classes < 2:
        raise ConfigError(f"segmentation dataset {info.name!r} gives no number of classes (>= 2)",
                          value=info.n_classes, fix="set n_classes in the dataset's DatasetInfo")
    if macro.multi_output:
        raise ConfigError("segmentation networks have one pixelwise output", path="architecture.multi_output",
                          value=True, fix="remove multi_output (it adds classification heads after each cell)")
    factor = 2 ** (macro.motifs - 1)
    height, width = int(info.input_shape[0]), int(info.input_shape[1])
    if height % factor or width % factor:
        fitting = ", ".join(str(factor * k) for k in range(max(1, height // factor), height // factor + 3))
        raise ConfigError(f"the decoder upsamples by 2 per reduction, so with motifs = {macro.motifs} the images "
                          f"of dataset {info.name!r} ({height}x{width}) must have a height and width divisible "
                          f"by {factor}", path="architecture.motifs", value=macro.motifs,
                          fix=f"use fewer motifs, or resize or crop the images to a multiple of {factor} "
                              f"(e.g. {fitting})")


def _plan_decoder(macro: MacroConfig, cells: list[CellPlan],
                  shapes: dict[int | None, tuple[int, int]]) -> tuple[DecoderStage, ...]:
    if not cells:
        return ()
    last_at: dict[int, int] = {}
    for cell in cells:
        last_at[cell.level] = cell.index  # cells ascend: the last one of each level wins
    channels = cells[-1].filters
    stages = []
    for level in range(cells[-1].level - 1, -1, -1):
        skip: int | None = last_at.get(level)
        has_skip = skip is not None or level == 0
        in_channels = channels + (shapes[skip][1] if has_skip else 0)
        filters = macro.filters * 2 ** level
        stages.append(DecoderStage(f"d{level}", level, has_skip, skip, in_channels, filters))
        channels = filters
    return tuple(stages)


def _operator_parser(rank: int) -> Callable[[str], OpSpec]:
    parsed: dict[str, OpSpec] = {}

    def spec_of(text: str) -> OpSpec:
        if text not in parsed:
            parsed[text] = parse_operator(text, rank=rank)
        return parsed[text]

    return spec_of


def _plan_cell(cell: Cell, macro: MacroConfig, index: int, kind: CellKind, level: int, filters: int,
               inputs: dict[int, int | None], shapes: dict[int | None, tuple[int, int]], rank: int,
               specs: Callable[[str], OpSpec]) -> CellPlan:
    name = f"c{index}"
    # the (level, channels) each lookback has as the blocks see it
    seen: dict[int, tuple[int, int]] = {lookback: shapes[source] for lookback, source in inputs.items()}
    reshapes: dict[int, Projection] = {}
    if macro.lookback_reshape:
        for lookback, (source_level, channels) in seen.items():
            if (source_level, channels) != (level, filters):
                reshapes[lookback] = Projection(f"{name}_lb{-lookback}_reshape", channels, filters,
                                                2 ** (level - source_level))
                seen[lookback] = (level, filters)

    def op(source: int, text: str, block: int, side: str) -> OpPlan:
        source_level, channels = seen[source] if source < 0 else (level, filters)
        request = LayerRequest(rank=rank, in_channels=channels, filters=filters,
                               strides=2 ** (level - source_level), activation=macro.activation,
                               name=f"{name}_b{block}_{side}", batch_norm_momentum=macro.batch_norm_momentum)
        return OpPlan(source, specs(text), request)

    blocks = tuple(BlockPlan(j, op(b.in1, b.op1, j, "left"), op(b.in2, b.op2, j, "right"), macro.block_join)
                   for j, b in enumerate(cell.blocks))
    concat = tuple(cell.unused_blocks) if macro.concat_only_unused_blocks else tuple(range(cell.n_blocks))
    projection = Projection(f"{name}_concat", len(concat) * filters, filters) if len(concat) > 1 else None
    squeeze = (SqueezeExcitation(f"{name}_se", filters, max(1, filters // macro.se_ratio))
               if macro.se_cell_output else None)
    residual = None
    if macro.residual_cells and seen[-1] != (level, filters):
        source_level, channels = seen[-1]
        residual = Projection(f"{name}_residual", channels, filters, 2 ** (level - source_level))
    return CellPlan(index, kind, level, filters, inputs, reshapes, blocks, concat, projection, squeeze,
                    macro.residual_cells, residual)


def _plan_heads(macro: MacroConfig, info: DatasetInfo, cells: list[CellPlan],
                shapes: dict[int | None, tuple[int, int]]) -> tuple[HeadPlan, ...]:
    if info.task == "classification":
        if info.n_classes is None or info.n_classes < 2:
            raise ConfigError(f"classification dataset {info.name!r} gives no number of classes (>= 2)",
                              value=info.n_classes, fix="set n_classes in the dataset's DatasetInfo")
        units, softmax, target_shape = info.n_classes, True, None
    else:
        units, softmax = info.n_targets, False
        target_shape = tuple(info.target_shape) if len(info.target_shape) > 1 else None
    last = cells[-1].index if cells else None
    sources: list[int | None] = [c.index for c in cells] if macro.multi_output and cells else [last]
    heads: list[HeadPlan] = []
    for source in sources:
        distance = last - source if source is not None and last is not None else 0
        heads.append(HeadPlan("output" if source == last else f"cell_{source}_output", source, shapes[source][1], units,
                              softmax, macro.dropout, target_shape, 1.0 / 2 ** distance))
    return tuple(heads)

