"""The ``lstm`` and ``gru`` operator families (series only).

Forms: ``"lstm"``, ``"gru"`` — no parameters: the units are the place's ``filters`` and the whole
sequence is returned.  On images they are a configuration error saying they need 1D (series)
inputs.  A reduction place adds a max pooling of size and stride ``strides`` after the recurrent
layer (see :class:`~scinas.search_space.operators.context_layers.RecurrentOp`).

Parameter counts (Keras defaults; GRU with ``reset_after=True``, hence two biases per gate):
LSTM ``4·(in·f + f·f + f)``, GRU ``3·(in·f + f·f + 2f)``.

Example::

    spec = parse_operator("lstm", rank=1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras

from scinas.search_space.operators.base import LayerRequest, OpAllocator, OpSpec, register_allocator
from scinas.search_space.operators.context_layers import RecurrentOp
from scinas.search_space.operators.patterns import check_request, split_words

__all__ = ["GRUAllocator", "LSTMAllocator", "RecurrentSpec"]


@dataclass(frozen=True)
class RecurrentSpec(OpSpec):
    """``lstm`` or ``gru`` (the family says which): no parameters."""


class _RecurrentAllocator(OpAllocator[RecurrentSpec]):
    """The shared grammar of the recurrent families."""

    ranks = frozenset({1})
    gates: ClassVar[int] = 0
    biases_per_gate: ClassVar[int] = 1

    def parse(self, text: str, rank: int) -> RecurrentSpec | None:
        words = split_words(text, self.family)
        if words is None:
            return None
        if words.params:
            raise self.error(
                text, f"{self.family} takes no parameters (its units are the cell's filters)",
                fix=f'write "{self.family}"', rank=rank,
            )
        return RecurrentSpec(family=self.family, text=self.family, rank=rank)

    def count_params(self, spec: RecurrentSpec, request: LayerRequest) -> int:
        units = request.filters
        return self.gates * (request.in_channels * units + units * units + self.biases_per_gate * units)

    def build(self, spec: RecurrentSpec, request: LayerRequest) -> keras.layers.Layer:
        check_request(spec, request)
        return RecurrentOp(
            rank=request.rank, filters=request.filters, kind=self.family, strides=request.strides, name=request.name,
            batch_norm_momentum=request.batch_norm_momentum,
        )


@register_allocator
class LSTMAllocator(_RecurrentAllocator):
    """``lstm``: a long short-term memory layer."""

    family = "lstm"
    forms = ("lstm",)
    gates = 4


@register_allocator
class GRUAllocator(_RecurrentAllocator):
    """``gru``: a gated recurrent unit layer (``reset_after=True``)."""

    family = "gru"
    forms = ("gru",)
    gates = 3
    biases_per_gate = 2
