"""Reading the words of an operator string, shared by the built-in families.

An operator is ``[PARAMETERS ]KEYWORD``: the keyword (``conv``, ``maxpool``, ``SE``...) is its
last word and says the family; the parameters word holds a kernel (``3x3`` for images, ``3`` for
series) and optional ``:``-suffixes (``3x3:2dr``, ``3x3:2z``).  Keywords are matched without
regard to case (``"3x3 Conv"`` is ``"3x3 conv"``, ``"8r se"`` is ``"8r SE"``); the canonical text
of a spec always uses the documented spelling.

These helpers turn every mistake into a :class:`~scinas.errors.ConfigError` that names the value,
lists the family's forms for the rank and, where a fix is obvious, proposes the corrected text
(a 2D kernel on series: ``use the 1D form "3 conv"``).

Example::

    words = split_words("3x3:2dr conv", "conv")          # Words(params="3x3:2dr", keyword="conv")
    head, suffix = split_suffix(words.params)             # ("3x3", "2dr")
    kernel = parse_kernel(allocator, text, head, 2, odd=True, square=True)   # (3, 3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scinas.search_space.operators.base import LayerRequest, OpAllocator, OpSpec

__all__ = [
    "RANK_NAMES",
    "Words",
    "check_request",
    "format_kernel",
    "no_suffix",
    "parse_kernel",
    "parse_suffix",
    "split_suffix",
    "split_words",
]

RANK_NAMES = {1: "1D (series)", 2: "2D (image)"}
"""How error messages name the input ranks."""

_INT = r"([+-]?\d+)"
_KERNEL_1D = re.compile(rf"^{_INT}$")
_KERNEL_2D = re.compile(rf"^{_INT}[xX]{_INT}$")


@dataclass(frozen=True)
class Words:
    """An operator split into its parameters word (``""`` when absent) and its keyword."""

    params: str
    keyword: str


def split_words(text: str, keyword: str) -> Words | None:
    """``Words`` of ``text`` when its last word is ``keyword`` (any case); ``None`` otherwise."""
    words = text.split(" ")
    if words[-1].lower() != keyword.lower():
        return None
    return Words(" ".join(words[:-1]), words[-1])


def split_suffix(params: str) -> tuple[str, str | None]:
    """``"3x3:2dr"`` → ``("3x3", "2dr")``; ``"3x3"`` → ``("3x3", None)``."""
    head, sep, suffix = params.partition(":")
    return head, (suffix if sep else None)


def format_kernel(kernel: tuple[int, ...]) -> str:
    """``(3, 3)`` → ``"3x3"``, ``(7,)`` → ``"7"``."""
    return "x".join(str(k) for k in kernel)


def parse_kernel(
    allocator: OpAllocator[Any],
    text: str,
    head: str,
    rank: int,
    *,
    odd: bool,
    square: bool,
    what: str = "kernel size",
) -> tuple[int, ...]:
    """The kernel written as ``head`` (the start of ``text``), one size per spatial dimension.

    ``odd``: even sizes are refused (convolutions: 'same' padding is symmetric only for odd
    kernels); ``square``: ``AxB`` with ``A != B`` is refused.  Sizes must be >= 1.
    """
    tail = text[len(head):] if text.startswith(head) else " " + text
    one = _KERNEL_1D.match(head)
    two = _KERNEL_2D.match(head)
    if rank == 1 and two:
        first = two.group(1)
        raise allocator.error(
            text, f'"{head}" is a 2D (image) {what} but the inputs are series (1D)',
            fix=f'use the 1D form "{first}{tail}"', rank=rank,
        )
    if rank == 2 and one:
        size = one.group(1)
        raise allocator.error(
            text, f'"{head}" is a 1D (series) {what} but the inputs are images (2D)',
            fix=f'use the 2D form "{size}x{size}{tail}"', rank=rank,
        )
    match = one if rank == 1 else two
    if match is None:
        expected = "K (e.g. 3)" if rank == 1 else "KxK (e.g. 3x3)"
        raise allocator.error(text, f'cannot read the {what} "{head}": expected {expected}', rank=rank)
    kernel = tuple(int(group) for group in match.groups())
    for size in kernel:
        if size < 1:
            raise allocator.error(text, f"{what} {size} must be >= 1", rank=rank)
    if square and len(set(kernel)) > 1:
        raise allocator.error(
            text, f'{what} "{head}" must be square',
            fix=f'use "{format_kernel((kernel[0],) * rank)}{tail}"', rank=rank,
        )
    if odd:
        for size in kernel:
            if size % 2 == 0:
                bigger = format_kernel((size + 1,) * rank)
                raise allocator.error(
                    text,
                    f"{what} {size} is even; {allocator.family} kernels must be odd so that 'same' padding "
                    "stays symmetric",
                    fix=f'use an odd size, e.g. "{bigger}{tail}"',
                    rank=rank,
                )
    return kernel


def parse_suffix(
    allocator: OpAllocator[Any],
    text: str,
    suffix: str,
    unit: str,
    *,
    minimum: int,
    rank: int,
    meaning: str,
) -> int:
    """The integer of a ``N<unit>`` word (``"2dr"`` → 2 for unit ``dr``), at least ``minimum``."""
    match = re.fullmatch(rf"{_INT}{re.escape(unit)}", suffix, flags=re.IGNORECASE)
    if match is None:
        raise allocator.error(text, f'cannot read "{suffix}": expected N{unit} ({meaning})', rank=rank)
    value = int(match.group(1))
    if value < minimum:
        raise allocator.error(text, f"{meaning} {value} must be >= {minimum}", rank=rank)
    return value


def no_suffix(allocator: OpAllocator[Any], text: str, suffix: str | None, rank: int) -> None:
    """Refuse a ``:suffix`` on a family that takes none."""
    if suffix is not None:
        raise allocator.error(text, f'the {allocator.family} family takes no ":{suffix}" suffix', rank=rank)



def check_request(spec: OpSpec, request: LayerRequest) -> None:
    """Refuse a request whose rank differs from the spec's (a programming error, not a user's)."""
    if spec.rank != request.rank:
        raise ValueError(
            f'operator "{spec.text}" was parsed for rank {spec.rank} but the request has rank {request.rank}'
        )
