"""The ``identity`` operator family (both ranks): the input itself, projected when needed.

``identity`` passes its input through in a normal place; in a reduction place it is a 1x1
convolution with the reduction strides + batch normalisation; in an adaptation place a 1x1
convolution + batch normalisation (see :class:`~scinas.search_space.operators.shortcut_layers.IdentityOp`).

Example::

    spec = parse_operator("identity", rank=2)
    layer = allocator_for(spec).build(spec, LayerRequest(rank=2, in_channels=16, filters=32, strides=2))
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from scinas.search_space.operators.base import LayerRequest, OpAllocator, OpSpec, Variant, register_allocator
from scinas.search_space.operators.patterns import check_request, split_words
from scinas.search_space.operators.shortcut_layers import IdentityOp

__all__ = ["IdentityAllocator", "IdentitySpec"]


@dataclass(frozen=True)
class IdentitySpec(OpSpec):
    """``identity``: no parameters."""


@register_allocator
class IdentityAllocator(OpAllocator[IdentitySpec]):
    """Parses ``identity`` and builds :class:`IdentityOp` layers."""

    family = "identity"
    forms = ("identity",)

    def parse(self, text: str, rank: int) -> IdentitySpec | None:
        words = split_words(text, "identity")
        if words is None:
            return None
        if words.params:
            raise self.error(text, "identity takes no parameters", fix='write "identity"', rank=rank)
        return IdentitySpec(family=self.family, text="identity", rank=rank)

    def count_params(self, spec: IdentitySpec, request: LayerRequest) -> int:
        if request.variant is Variant.NORMAL:
            return 0
        return request.in_channels * request.filters + 4 * request.filters

    def build(self, spec: IdentitySpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return IdentityOp(rank=request.rank, filters=request.filters, strides=request.strides, name=request.name,
                          batch_norm_momentum=request.batch_norm_momentum)
