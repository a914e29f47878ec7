"""The convolution families that work at a coarser resolution: ``tconv`` and ``zconv``.

Forms (2D images / 1D series):

* ``tconv``: ``"KxK tconv"`` / ``"K tconv"``.  A convolution with stride 2 then a transpose
  convolution with stride 2 (both ``KxK``, both to ``filters`` channels), BN, activation: the
  operator learns at half resolution and brings the size back.  In a reduction place of factor
  ``s`` the first convolution has stride ``2s``.  The output is cropped to exactly
  ``ceil(n / s)`` per spatial dimension (see
  :class:`~scinas.search_space.operators.conv_layers.TransposeConvOp`).
* ``zconv``: ``"KxK:Zz zconv"`` / ``"K:Zz zconv"`` (zoom Z >= 2, required).  Average pooling by
  ``Z`` (``Z·s`` in a reduction place), a ``KxK`` convolution, BN, activation, nearest-neighbour
  upsampling by ``Z``, cropped to ``ceil(n / s)``.

Kernels are square and odd, as for every convolution.

Example::

    parse_operator("3x3:2z zconv", rank=2)   # ZoomedConvSpec(kernel=(3, 3), zoom=2)
    parse_operator("5 tconv", rank=1)        # TransposeConvSpec(kernel=(5,))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import keras

from scinas.search_space.operators.base import LayerRequest, OpAllocator, OpSpec, register_allocator
from scinas.search_space.operators.conv_layers import TransposeConvOp, ZoomedConvOp
from scinas.search_space.operators.patterns import (
    check_request,
    format_kernel,
    no_suffix,
    parse_kernel,
    parse_suffix,
    split_suffix,
    split_words,
)

__all__ = ["TransposeConvAllocator", "TransposeConvSpec", "ZoomedConvAllocator", "ZoomedConvSpec"]


@dataclass(frozen=True)
class TransposeConvSpec(OpSpec):
    """A half-resolution convolution: square odd ``kernel``."""

    kernel: tuple[int, ...]


@dataclass(frozen=True)
class ZoomedConvSpec(OpSpec):
    """A zoomed convolution: square odd ``kernel``, ``zoom`` >= 2."""

    kernel: tuple[int, ...]
    zoom: int


@register_allocator
class TransposeConvAllocator(OpAllocator[TransposeConvSpec]):
    """``KxK tconv`` / ``K tconv``."""

    family = "tconv"
    forms = ("KxK tconv", "K tconv")
    forms_by_rank: ClassVar[dict[int, tuple[str, ...]]] = {2: ("KxK tconv",), 1: ("K tconv",)}

    def parse(self, text: str, rank: int) -> TransposeConvSpec | None:
        words = split_words(text, "tconv")
        if words is None:
            return None
        if not words.params:
            raise self.error(text, "the kernel size is missing", rank=rank)
        head, suffix = split_suffix(words.params)
        no_suffix(self, text, suffix, rank)
        kernel = parse_kernel(self, text, head, rank, odd=True, square=True)
        return TransposeConvSpec(family=self.family, text=f"{format_kernel(kernel)} tconv", rank=rank, kernel=kernel)

    def count_params(self, spec: TransposeConvSpec, request: LayerRequest) -> int:
        window = math.prod(spec.kernel)
        filters = request.filters
        return request.in_channels * filters * window + filters * filters * window + 4 * filters

    def build(self, spec: TransposeConvSpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return TransposeConvOp(
            rank=request.rank, filters=request.filters, kernel=spec.kernel, strides=request.strides,
            activation=request.activation, name=request.name,
            batch_norm_momentum=request.batch_norm_momentum,
        )


@register_allocator
class ZoomedConvAllocator(OpAllocator[ZoomedConvSpec]):
    """``KxK:Zz zconv`` / ``K:Zz zconv``."""

    family = "zconv"
    forms = ("KxK:Zz zconv", "K:Zz zconv")
    forms_by_rank: ClassVar[dict[int, tuple[str, ...]]] = {2: ("KxK:Zz zconv",), 1: ("K:Zz zconv",)}

    def parse(self, text: str, rank: int) -> ZoomedConvSpec | None:
        words = split_words(text, "zconv")
        if words is None:
            return None
        if not words.params:
            raise self.error(text, "the kernel size and zoom factor are missing", rank=rank)
        head, suffix = split_suffix(words.params)
        kernel = parse_kernel(self, text, head, rank, odd=True, square=True)
        if suffix is None:
            raise self.error(
                text, "the zoom factor is missing", fix=f'e.g. "{format_kernel(kernel)}:2z zconv"', rank=rank
            )
        zoom = parse_suffix(self, text, suffix, "z", minimum=2, rank=rank, meaning="zoom factor")
        canonical = f"{format_kernel(kernel)}:{zoom}z zconv"
        return ZoomedConvSpec(family=self.family, text=canonical, rank=rank, kernel=kernel, zoom=zoom)

    def count_params(self, spec: ZoomedConvSpec, request: LayerRequest) -> int:
        return request.in_channels * request.filters * math.prod(spec.kernel) + 4 * request.filters

    def build(self, spec: ZoomedConvSpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return ZoomedConvOp(
            rank=request.rank, filters=request.filters, kernel=spec.kernel, zoom=spec.zoom,
            strides=request.strides, activation=request.activation, name=request.name,
            batch_norm_momentum=request.batch_norm_momentum,
        )
