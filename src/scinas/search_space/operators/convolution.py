"""The convolution families that work at full resolution: ``conv``, ``stacked_conv`` and ``dconv``.

Forms (2D images / 1D series):

* ``conv``: ``"KxK conv"``, ``"KxK:Ddr conv"`` (dilation rate D >= 1), ``"AxB conv"`` (non-square,
  both odd) / ``"K conv"``, ``"K:Ddr conv"``.  ``":1dr"`` is the default and is dropped from the
  canonical text (``"3x3:1dr conv"`` is ``"3x3 conv"``).
* ``stacked_conv`` (2D only): ``"AxB-BxA conv"``, two convolutions one after the other, the
  second kernel the first one transposed (``"1x3-3x1 conv"``, ``"1x7-7x1 conv"``).
* ``dconv`` (depthwise-separable): ``"KxK dconv"``, ``"KxK:Ddr dconv"`` / ``"K dconv"``,
  ``"K:Ddr dconv"``; square kernels only.

Convolution kernels must be odd: 'same' padding of an even kernel is lopsided and shifts features
by half a pixel, so ``"2x2 conv"`` is refused.  Each convolution is bias-free, followed by batch
normalisation and the activation (see :class:`~scinas.search_space.operators.conv_layers.ConvOp`).

Example::

    spec = parse_operator("3x3:2dr conv", rank=2)    # ConvSpec(kernel=(3, 3), dilation=2)
    layer = allocator_for(spec).build(spec, LayerRequest(rank=2, in_channels=8, filters=8))
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import keras

from scinas.search_space.operators.base import LayerRequest, OpAllocator, OpSpec, register_allocator
from scinas.search_space.operators.conv_layers import ConvOp
from scinas.search_space.operators.patterns import (
    check_request,
    format_kernel,
    no_suffix,
    parse_kernel,
    parse_suffix,
    split_suffix,
    split_words,
)

__all__ = [
    "ConvAllocator",
    "ConvSpec",
    "DepthwiseConvAllocator",
    "DepthwiseConvSpec",
    "StackedConvAllocator",
    "StackedConvSpec",
    "parse_kernel_and_dilation",
]

_STACKED = re.compile(r"\d-")


@dataclass(frozen=True)
class ConvSpec(OpSpec):
    """A convolution: ``kernel`` has one odd size per spatial dimension; ``dilation`` >= 1."""

    kernel: tuple[int, ...]
    dilation: int


@dataclass(frozen=True)
class StackedConvSpec(OpSpec):
    """Two convolutions in a row (2D): ``kernels`` = ((A, B), (B, A))."""

    kernels: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class DepthwiseConvSpec(OpSpec):
    """A depthwise-separable convolution: square odd ``kernel``, ``dilation`` >= 1."""

    kernel: tuple[int, ...]
    dilation: int


def parse_kernel_and_dilation(
    allocator: OpAllocator[Any], text: str, params: str, rank: int, *, square: bool
) -> tuple[tuple[int, ...], int]:
    """``"3x3:2dr"`` → ``((3, 3), 2)``; ``"3x3"`` → ``((3, 3), 1)`` (odd kernels only)."""
    if not params:
        raise allocator.error(text, "the kernel size is missing", rank=rank)
    head, suffix = split_suffix(params)
    kernel = parse_kernel(allocator, text, head, rank, odd=True, square=square)
    dilation = 1
    if suffix is not None:
        dilation = parse_suffix(allocator, text, suffix, "dr", minimum=1, rank=rank, meaning="dilation rate")
    return kernel, dilation


def _canonical(kernel: tuple[int, ...], dilation: int, keyword: str) -> str:
    rate = "" if dilation == 1 else f":{dilation}dr"
    return f"{format_kernel(kernel)}{rate} {keyword}"


def _conv_weights(in_channels: int, filters: int, kernel: tuple[int, ...]) -> int:
    """A bias-free convolution followed by batch normalisation (4 numbers per channel)."""
    return in_channels * filters * math.prod(kernel) + 4 * filters


@register_allocator
class ConvAllocator(OpAllocator[ConvSpec]):
    """``KxK conv`` / ``KxK:Ddr conv`` / ``AxB conv`` (2D), ``K conv`` / ``K:Ddr conv`` (1D)."""

    family = "conv"
    forms = ("KxK conv", "KxK:Ddr conv", "AxB conv", "K conv", "K:Ddr conv")
    forms_by_rank: ClassVar[dict[int, tuple[str, ...]]] = {
        2: ("KxK conv", "KxK:Ddr conv", "AxB conv"),
        1: ("K conv", "K:Ddr conv"),
    }

    def parse(self, text: str, rank: int) -> ConvSpec | None:
        words = split_words(text, "conv")
        if words is None or _STACKED.search(words.params):
            return None  # not a convolution, or the stacked form (stacked_conv's)
        kernel, dilation = parse_kernel_and_dilation(self, text, words.params, rank, square=False)
        return ConvSpec(
            family=self.family, text=_canonical(kernel, dilation, "conv"), rank=rank, kernel=kernel, dilation=dilation
        )

    def count_params(self, spec: ConvSpec, request: LayerRequest) -> int:
        return _conv_weights(request.in_channels, request.filters, spec.kernel)

    def build(self, spec: ConvSpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return ConvOp(
            rank=request.rank, filters=request.filters, kernels=[spec.kernel], dilation=spec.dilation,
            strides=request.strides, activation=request.activation, name=request.name,
            batch_norm_momentum=request.batch_norm_momentum,
        )


@register_allocator
class StackedConvAllocator(OpAllocator[StackedConvSpec]):
    """``AxB-BxA conv`` (2D only): an AxB convolution then a BxA one, each with BN and activation.

    The first convolution applies the reduction strides.
    """

    family = "stacked_conv"
    forms = ("AxB-BxA conv",)
    ranks = frozenset({2})

    def parse(self, text: str, rank: int) -> StackedConvSpec | None:
        words = split_words(text, "conv")
        if words is None or not _STACKED.search(words.params):
            return None
        head, suffix = split_suffix(words.params)
        no_suffix(self, text, suffix, rank)
        parts = head.split("-")
        if len(parts) != 2:
            raise self.error(text, f'"{head}" must be two kernels joined by "-"', rank=rank)
        first, second = (parse_kernel(self, text, part, rank, odd=True, square=False) for part in parts)
        if second != first[::-1]:
            raise self.error(
                text, "the second kernel must be the first one transposed",
                fix=f'use "{format_kernel(first)}-{format_kernel(first[::-1])} conv"', rank=rank,
            )
        canonical = f"{format_kernel(first)}-{format_kernel(second)} conv"
        return StackedConvSpec(family=self.family, text=canonical, rank=rank, kernels=(first, second))

    def count_params(self, spec: StackedConvSpec, request: LayerRequest) -> int:
        first, second = spec.kernels
        return _conv_weights(request.in_channels, request.filters, first) + _conv_weights(
            request.filters, request.filters, second
        )

    def build(self, spec: StackedConvSpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return ConvOp(
            rank=request.rank, filters=request.filters, kernels=list(spec.kernels), strides=request.strides,
            activation=request.activation, name=request.name,
            batch_norm_momentum=request.batch_norm_momentum,
        )


@register_allocator
class DepthwiseConvAllocator(OpAllocator[DepthwiseConvSpec]):
    """``KxK dconv`` / ``KxK:Ddr dconv`` (2D), ``K dconv`` / ``K:Ddr dconv`` (1D): a depthwise
    convolution (one kernel per input channel) then a pointwise one to ``filters``, BN, activation."""

    family = "dconv"
    forms = ("KxK dconv", "KxK:Ddr dconv", "K dconv", "K:Ddr dconv")
    forms_by_rank: ClassVar[dict[int, tuple[str, ...]]] = {
        2: ("KxK dconv", "KxK:Ddr dconv"),
        1: ("K dconv", "K:Ddr dconv"),
    }

    def parse(self, text: str, rank: int) -> DepthwiseConvSpec | None:
        words = split_words(text, "dconv")
        if words is None:
            return None
        kernel, dilation = parse_kernel_and_dilation(self, text, words.params, rank, square=True)
        return DepthwiseConvSpec(
            family=self.family, text=_canonical(kernel, dilation, "dconv"), rank=rank, kernel=kernel,
            dilation=dilation,
        )

    def count_params(self, spec: DepthwiseConvSpec, request: LayerRequest) -> int:
        depthwise = request.in_channels * math.prod(spec.kernel)
        return depthwise + request.in_channels * request.filters + 4 * request.filters

    def build(self, spec: DepthwiseConvSpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return ConvOp(
            rank=request.rank, filters=request.filters, kernels=[spec.kernel], dilation=spec.dilation,
            strides=request.strides, activation=request.activation, separable=True, name=request.name,
            batch_norm_momentum=request.batch_norm_momentum,
        )
