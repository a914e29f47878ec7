"""The ``SE`` operator family (both ranks): squeeze-excitation with reduction ratio R.

Form: ``"Rr SE"`` (R >= 1), e.g. ``"8r SE"``.  The keyword is written upper case in the canonical
text; like every keyword it is matched without regard to case, so ``"8r se"`` is accepted and
becomes ``"8r SE"``.  The squeeze layer has ``max(1, filters // R)`` units and uses the
request's activation; the excitation gate is a sigmoid (see
:class:`~scinas.search_space.operators.context_layers.SqueezeExcitationOp`).

Example::

    spec = parse_operator("8r se", rank=1)   # SqueezeExcitationSpec(ratio=8, text="8r SE")
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from scinas.search_space.operators.base import LayerRequest, OpAllocator, OpSpec, Variant, register_allocator
from scinas.search_space.operators.context_layers import SqueezeExcitationOp, se_units
from scinas.search_space.operators.patterns import check_request, parse_suffix, split_words

__all__ = ["SqueezeExcitationAllocator", "SqueezeExcitationSpec"]


@dataclass(frozen=True)
class SqueezeExcitationSpec(OpSpec):
    """Squeeze-excitation: ``ratio`` >= 1 divides the channels in the bottleneck."""

    ratio: int


@register_allocator
class SqueezeExcitationAllocator(OpAllocator[SqueezeExcitationSpec]):
    """``Rr SE``."""

    family = "SE"
    forms = ("Rr SE",)

    def parse(self, text: str, rank: int) -> SqueezeExcitationSpec | None:
        words = split_words(text, "SE")
        if words is None:
            return None
        if not words.params:
            raise self.error(text, "the reduction ratio is missing", fix='e.g. "8r SE"', rank=rank)
        ratio = parse_suffix(self, text, words.params, "r", minimum=1, rank=rank, meaning="reduction ratio")
        return SqueezeExcitationSpec(family=self.family, text=f"{ratio}r SE", rank=rank, ratio=ratio)

    def count_params(self, spec: SqueezeExcitationSpec, request: LayerRequest) -> int:
        filters = request.filters
        units = se_units(filters, spec.ratio)
        gate = filters * units + units + units * filters + filters
        if request.variant is Variant.NORMAL:
            return gate
        return gate + request.in_channels * filters + 4 * filters

    def build(self, spec: SqueezeExcitationSpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return SqueezeExcitationOp(
            rank=request.rank, filters=request.filters, ratio=spec.ratio, strides=request.strides,
            activation=request.activation, name=request.name,
            batch_norm_momentum=request.batch_norm_momentum,
        )
