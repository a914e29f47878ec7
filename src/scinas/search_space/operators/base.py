"""The operator interface: one :class:`OpAllocator` per operator family.

Operators are written as POPNAS users write them (``"3x3 conv"``, ``"3x3:2dr conv"``,
``"2x2 maxpool"``, ``"7 conv"`` for series, ``"lstm"``).  An allocator owns one family: it parses
its own pattern into a typed :class:`OpSpec`, counts the parameters of the layer it builds
analytically, and builds that layer as a serialisable Keras 3 layer in one of three variants:

* **normal** — same spatial size, ``in_channels == filters``;
* **reduction** — spatial size divided by ``strides`` (> 1), any ``in_channels``;
* **adaptation** — same spatial size, ``in_channels != filters`` (the depth is adapted).

:class:`LayerRequest` says which variant is wanted (:attr:`LayerRequest.variant`).

Register a family of your own from Python::

    from scinas.search_space.operators import OpAllocator, register_allocator

    @register_allocator
    class MishConv(OpAllocator[MyConvSpec]):
        family = "mishconv"
        forms = ("KxK mishconv",)
        ...

and check it with :func:`scinas.testing.allocators.check_allocator`.
"""

from __future__ import annotations

import abc
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import keras

from scinas.configurable import Configurable
from scinas.errors import ConfigError
from scinas.registry import Registry
from scinas.search_space.macro import BATCH_NORM_MOMENTUM
from scinas.search_space.operators.layer_parts import check_momentum

__all__ = [
    "ALLOCATORS",
    "LayerRequest",
    "OpAllocator",
    "OpSpec",
    "Variant",
    "normalize_operator_text",
    "register_allocator",
]


class Variant(enum.StrEnum):
    """Which form of an operator a cell needs at a given place."""

    NORMAL = "normal"
    REDUCTION = "reduction"
    ADAPTATION = "adaptation"


@dataclass(frozen=True)
class OpSpec:
    """A parsed operator.  Subclasses add the family's typed fields (kernel, dilation, ...).

    ``family`` is the allocator's registry name; ``text`` the canonical operator string (equal
    operators have equal texts); ``rank`` the number of spatial dimensions (1 series, 2 images).
    """

    family: str
    text: str
    rank: int


@dataclass(frozen=True)
class LayerRequest:
    """What a cell asks of an operator at one place of the network.

    ``rank``: spatial dimensions of the input (1 or 2); ``in_channels``: channels of the input;
    ``filters``: channels wanted at the output; ``strides``: spatial reduction factor (1 = none);
    ``activation``: the macro-architecture's activation; ``name``: the Keras layer name;
    ``batch_norm_momentum``: the momentum of the operator's batch normalisations, if it has any.
    """

    rank: int
    in_channels: int
    filters: int
    strides: int = 1
    activation: str = "relu"
    name: str = "op"
    batch_norm_momentum: float = BATCH_NORM_MOMENTUM

    def __post_init__(self) -> None:
        if self.rank not in (1, 2):
            raise ValueError(f"rank must be 1 or 2, not {self.rank}")
        if self.in_channels < 1 or self.filters < 1 or self.strides < 1:
            raise ValueError(f"in_channels, filters and strides must be >= 1: {self}")
        check_momentum(self.batch_norm_momentum)

    @property
    def variant(self) -> Variant:
        if self.strides > 1:
            return Variant.REDUCTION
        if self.in_channels != self.filters:
            return Variant.ADAPTATION
        return Variant.NORMAL


SpecT = TypeVar("SpecT", bound=OpSpec)

_SPACES = re.compile(r"\s+")


def normalize_operator_text(text: str) -> str:
    """Trim and collapse white space (``" 3x3   conv "`` → ``"3x3 conv"``); case is kept."""
    return _SPACES.sub(" ", text.strip())


class OpAllocator(Configurable, abc.ABC, Generic[SpecT]):
    """One operator family.  Subclasses set :attr:`forms` (and :attr:`ranks`) and implement the
    three abstract methods; they are registered with :func:`register_allocator`.

    Allocators are stateless: one instance may serve any number of cells and models.
    """

    family: ClassVar[str] = ""
    """The registry name, also the name used in error messages (``"conv"``, ``"maxpool"``...)."""
    forms: ClassVar[tuple[str, ...]] = ()
    """Human-readable patterns, shown when an operator string is wrong (e.g. ``"KxK:Ddr conv"``)."""
    ranks: ClassVar[frozenset[int]] = frozenset({1, 2})
    """Input ranks the family supports (1 = series, 2 = images)."""
    forms_by_rank: ClassVar[Mapping[int, tuple[str, ...]]] = {}
    """Optional: the forms valid for each rank (``{2: ("KxK conv",), 1: ("K conv",)}``), so that
    error messages list only the forms that apply.  Empty: :attr:`forms` apply to every rank."""

    @classmethod
    def forms_for(cls, rank: int) -> tuple[str, ...]:
        """The forms valid for inputs of ``rank`` (none when the family does not support it)."""
        if rank not in cls.ranks:
            return ()
        return tuple(cls.forms_by_rank.get(rank, cls.forms))

    @abc.abstractmethod
    def parse(self, text: str, rank: int) -> SpecT | None:
        """Parse ``text`` (already white-space normalised) for inputs of ``rank``.

        Return ``None`` when the text is not of this family.  Raise :class:`ConfigError` when it
        is of this family but invalid (kernel 0, even kernel where odd is required, a rank the
        family does not support), naming the value and listing :attr:`forms`.
        """

    @abc.abstractmethod
    def count_params(self, spec: SpecT, request: LayerRequest) -> int:
        """The exact number of weights (trainable and not) of ``build(spec, request)``."""

    @abc.abstractmethod
    def build(self, spec: SpecT, request: LayerRequest) -> keras.layers.Layer:
        """A new Keras layer for ``request`` (its variant, channels and strides)."""

    def error(self, text: str, problem: str, *, fix: str | None = None, rank: int | None = None) -> ConfigError:
        """A ConfigError about operator ``text`` that lists this family's valid forms (those of
        ``rank`` when it is given and the family supports it)."""
        listed = (self.forms_for(rank) if rank is not None else ()) or self.forms
        forms = ", ".join(f'"{form}"' for form in listed)
        return ConfigError(f'invalid operator "{text}": {problem}; valid forms: {forms}', value=text, fix=fix)


ALLOCATORS: Registry[type[OpAllocator[Any]]] = Registry("operator family")
"""Every known operator family, by :attr:`OpAllocator.family`."""

AllocatorT = TypeVar("AllocatorT", bound=type[OpAllocator[Any]])


def register_allocator(cls: AllocatorT) -> AllocatorT:
    """Class decorator registering an allocator under its :attr:`~OpAllocator.family`."""
    if not cls.family:
        raise ValueError(f"{cls.__name__} must set the class attribute `family`")
    ALLOCATORS.register(cls.family)(cls)
    return cls
