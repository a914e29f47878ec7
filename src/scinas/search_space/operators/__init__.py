"""Operators: the grammar of operator strings and one allocator per operator family.

Importing this package registers every built-in family (identity, conv, stacked_conv, dconv,
tconv, zconv, maxpool, avgpool, SE, lstm, gru).  Parse a string with :func:`parse_operator`, get
its family's allocator with :func:`allocator_for`, and build a Keras layer for one place of a
network::

    from scinas.search_space.operators import LayerRequest, allocator_for, parse_operator

    spec = parse_operator("3x3:2dr conv", rank=2)
    allocator = allocator_for(spec)
    request = LayerRequest(rank=2, in_channels=16, filters=32, strides=2, name="cell0_op1")
    layer = allocator.build(spec, request)      # (b, 7, 9, 16) -> (b, 4, 5, 32)
    assert layer.count_params() == allocator.count_params(spec, request)   # once built

Add a family of your own with :func:`register_allocator` and check it with
:func:`scinas.testing.allocators.check_allocator`.
"""

from __future__ import annotations

from scinas.search_space.operators.base import (
    ALLOCATORS,
    LayerRequest,
    OpAllocator,
    OpSpec,
    Variant,
    normalize_operator_text,
    register_allocator,
)
from scinas.search_space.operators.convolution import ConvSpec, DepthwiseConvSpec, StackedConvSpec
from scinas.search_space.operators.grammar import allocator_for, parse_operator, valid_forms
from scinas.search_space.operators.identity import IdentitySpec
from scinas.search_space.operators.pooling import PoolSpec
from scinas.search_space.operators.recurrent import RecurrentSpec
from scinas.search_space.operators.resampled_convolution import TransposeConvSpec, ZoomedConvSpec
from scinas.search_space.operators.squeeze_excitation import SqueezeExcitationSpec

__all__ = [
    "ALLOCATORS",
    "ConvSpec",
    "DepthwiseConvSpec",
    "IdentitySpec",
    "LayerRequest",
    "OpAllocator",
    "OpSpec",
    "PoolSpec",
    "RecurrentSpec",
    "SqueezeExcitationSpec",
    "StackedConvSpec",
    "TransposeConvSpec",
    "Variant",
    "ZoomedConvSpec",
    "allocator_for",
    "normalize_operator_text",
    "parse_operator",
    "register_allocator",
    "valid_forms",
]
