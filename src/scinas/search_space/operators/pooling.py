"""The ``maxpool`` and ``avgpool`` operator families (both ranks).

Forms: ``"KxK maxpool"`` / ``"KxK avgpool"`` for images, ``"K maxpool"`` / ``"K avgpool"`` for
series.  Any size >= 1 is allowed, even ones (``"2x2 maxpool"``): pooling uses 'same' padding and
has no weights, so the padding asymmetry of even sizes does no harm.  Sizes must be square.

A pool keeps the channels; when the place asks for other channels a 1x1 convolution + batch
normalisation follows it (see :class:`~scinas.search_space.operators.shortcut_layers.PoolOp`).

Example::

    spec = parse_operator("2x2 maxpool", rank=2)     # PoolSpec(pool_size=(2, 2), text="2x2 maxpool")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras

from scinas.search_space.operators.base import LayerRequest, OpAllocator, OpSpec, register_allocator
from scinas.search_space.operators.patterns import (
    check_request,
    format_kernel,
    no_suffix,
    parse_kernel,
    split_suffix,
    split_words,
)
from scinas.search_space.operators.shortcut_layers import PoolOp

__all__ = ["AvgPoolAllocator", "MaxPoolAllocator", "PoolSpec"]


@dataclass(frozen=True)
class PoolSpec(OpSpec):
    """A pooling operator: ``pool_size`` has one size per spatial dimension."""

    pool_size: tuple[int, ...]


class _PoolAllocator(OpAllocator[PoolSpec]):
    """The shared grammar and parameter count of the two pooling families."""

    kind: ClassVar[str] = ""

    def parse(self, text: str, rank: int) -> PoolSpec | None:
        words = split_words(text, self.family)
        if words is None:
            return None
        if not words.params:
            raise self.error(text, "the pool size is missing", rank=rank)
        head, suffix = split_suffix(words.params)
        no_suffix(self, text, suffix, rank)
        size = parse_kernel(self, text, head, rank, odd=False, square=True, what="pool size")
        return PoolSpec(family=self.family, text=f"{format_kernel(size)} {self.family}", rank=rank, pool_size=size)

    def count_params(self, spec: PoolSpec, request: LayerRequest) -> int:
        if request.in_channels == request.filters:
            return 0
        return request.in_channels * request.filters + 4 * request.filters

    def build(self, spec: PoolSpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return PoolOp(
            rank=request.rank, filters=request.filters, kind=self.kind, pool_size=spec.pool_size,
            strides=request.strides, name=request.name,
            batch_norm_momentum=request.batch_norm_momentum,
        )


@register_allocator
class MaxPoolAllocator(_PoolAllocator):
    """``KxK maxpool`` / ``K maxpool``: the largest value of each window."""

    family = "maxpool"
    kind = "max"
    forms = ("KxK maxpool", "K maxpool")
    forms_by_rank: ClassVar[dict[int, tuple[str, ...]]] = {2: ("KxK maxpool",), 1: ("K maxpool",)}


@register_allocator
class AvgPoolAllocator(_PoolAllocator):
    """``KxK avgpool`` / ``K avgpool``: the mean of each window (padding excluded)."""

    family = "avgpool"
    kind = "avg"
    forms = ("KxK avgpool", "K avgpool")
    forms_by_rank: ClassVar[dict[int, tuple[str, ...]]] = {2: ("KxK avgpool",), 1: ("K avgpool",)}
