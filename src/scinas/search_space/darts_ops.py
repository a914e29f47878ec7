"""The DARTS operation names and how they map onto scinas operators.

A differentiable search (``[X.search] strategy = "darts"``) mixes candidate operators on every
edge of its cell.  The candidates are scinas operator strings (built by the ordinary op
allocators) plus ``none``, the zero operation that lets an edge switch itself off.  Users coming
from DARTS know the operations by DARTS' names; this module translates both ways, per input rank
(1 series, 2 images), and names the DARTS set, so ``operators = ["darts"]`` in
``[X.search_space]`` means the seven DARTS operations (``none`` is always added by the search).

=================  =====================  ================
DARTS name         scinas, images         scinas, series
=================  =====================  ================
``skip_connect``   ``identity``           ``identity``
``max_pool_3x3``   ``3x3 maxpool``        ``3 maxpool``
``avg_pool_3x3``   ``3x3 avgpool``        ``3 avgpool``
``sep_conv_3x3``   ``3x3 dconv``          ``3 dconv``
``sep_conv_5x5``   ``5x5 dconv``          ``5 dconv``
``dil_conv_3x3``   ``3x3:2dr dconv``      ``3:2dr dconv``
``dil_conv_5x5``   ``5x5:2dr dconv``      ``5:2dr dconv``
=================  =====================  ================

An operator without a DARTS name keeps its scinas text in a genotype (``('3x3 conv', 0)``).

Example::

    expand_operators(["darts"], rank=2)          # the seven scinas operators of the DARTS set
    darts_name("3x3 dconv", rank=2)              # 'sep_conv_3x3'
    scinas_operator("dil_conv_5x5", rank=1)      # '5:2dr dconv'
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DARTS_NAMES", "DARTS_SET", "NONE", "PARAMETER_FREE_FAMILIES", "darts_name", "expand_operators",
           "is_parameter_free", "scinas_operator"]

NONE = "none"
"""The zero operation of a mixed edge (never part of a derived genotype)."""

DARTS_SET = "darts"
"""The name that stands for the DARTS operations in ``[X.search_space] operators``."""

# DARTS name -> (kernel, scinas family with its dilation suffix); the kernel is written per rank
_DARTS: dict[str, tuple[int | None, str]] = {
    "skip_connect": (None, "identity"),
    "max_pool_3x3": (3, "maxpool"),
    "avg_pool_3x3": (3, "avgpool"),
    "sep_conv_3x3": (3, "dconv"),
    "sep_conv_5x5": (5, "dconv"),
    "dil_conv_3x3": (3, ":2dr dconv"),
    "dil_conv_5x5": (5, ":2dr dconv"),
}

DARTS_NAMES: tuple[str, ...] = tuple(_DARTS)
"""The DARTS operations other than ``none``, in DARTS' order."""

PARAMETER_FREE_FAMILIES: frozenset[str] = frozenset({"identity", "maxpool", "avgpool"})
"""Families whose normal variant has no weights: what a collapsed DARTS search piles onto."""


def scinas_operator(name: str, rank: int) -> str | None:
    """The scinas operator text of DARTS operation ``name`` for inputs of ``rank``, or ``None``
    when ``name`` is not a DARTS name."""
    if name not in _DARTS:
        return None
    kernel, family = _DARTS[name]
    if kernel is None:
        return family
    size = f"{kernel}x{kernel}" if rank == 2 else str(kernel)
    return f"{size}{family}" if family.startswith(":") else f"{size} {family}"


def darts_name(operator: str, rank: int) -> str:
    """DARTS' name of scinas ``operator`` when it has one, else ``operator`` itself."""
    for name in _DARTS:
        if scinas_operator(name, rank) == operator:
            return name
    return operator


def expand_operators(operators: Sequence[str], rank: int) -> list[str]:
    """``operators`` with ``"darts"`` replaced by the DARTS set and DARTS names by scinas texts
    (order kept, duplicates dropped).  ``none`` is left for the caller to refuse or add."""
    expanded: list[str] = []
    for operator in operators:
        items = [scinas_operator(name, rank) or name for name in DARTS_NAMES] if operator == DARTS_SET else \
            [scinas_operator(operator, rank) or operator]
        expanded.extend(item for item in items if item not in expanded)
    return expanded


def is_parameter_free(operator: str) -> bool:
    """Whether scinas ``operator`` (or a DARTS name) is a skip or a pooling (no weights when normal)."""
    word = operator.strip().split(" ")[-1].lower()
    return word in PARAMETER_FREE_FAMILIES or operator in ("skip_connect", "max_pool_3x3", "avg_pool_3x3")
