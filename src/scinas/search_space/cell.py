"""Cells and blocks: the unit a cell-based search explores.

A :class:`Block` ``(in1, op1, in2, op2)`` applies operator ``op1`` to input ``in1`` and ``op2`` to
``in2`` and joins the two results.  Inputs: ``-1`` is the previous cell's output, ``-2`` the one
before (down to ``-lookback_depth``); ``0, 1, ...`` are the outputs of earlier blocks of the same
cell.  A :class:`Cell` is a tuple of blocks; blocks that no other block reads are concatenated
into the cell's output.

**Canonical form.**  Two cells are equivalent when one is the other with the two sides of some
blocks swapped and the blocks renumbered in another order that respects the dependencies (blocks
that do not read each other may be written in any order, the references follow).  The
constructor puts every cell into one canonical form, so ``blocks`` is always canonical, equivalent
cells are equal and hash equal, and ``to_text()`` / ``to_json()`` are canonical.  How: of all
the numberings in which every block reads only earlier blocks, the canonical one spells the
smallest sequence of blocks, each with its references renumbered and its two sides sorted (block
references first, by number, then ``-1``, ``-2``, ...; ties by operator text); see
:func:`_canonical`.

Text form (round-trips through :meth:`Cell.from_text`; white space is free)::

    [(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]

``[]`` is the empty cell (the network is input → pooling → head).  JSON form: a list of
``[in1, op1, in2, op2]`` lists (``[]`` for the empty cell).  Operators are kept as written, with
white space collapsed; checking them against a search space and the input rank is
:meth:`scinas.search_space.space.SearchSpace.validate`'s job, so this module needs no Keras.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scinas.errors import ConfigError, format_value

__all__ = ["TEXT_FORM", "Block", "Cell"]

TEXT_FORM = "[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]"
"""An example of the text form, quoted by error messages."""

_INTEGER = re.compile(r"[+-]?\d+")
_SPACES = re.compile(r"\s+")
_BLOCK_FIX = f"write each block as (input, operator, input, operator) and separate blocks with ';', e.g. {TEXT_FORM}"


def _collapse(op: str) -> str:
    """White space trimmed and collapsed (the operator grammar canonicalises the rest)."""
    return _SPACES.sub(" ", op.strip())


@dataclass(frozen=True)
class Block:
    """Two operators on two inputs, joined (by add or average, a macro-architecture setting)."""

    in1: int
    op1: str
    in2: int
    op2: str

    @property
    def inputs(self) -> tuple[int, int]:
        return (self.in1, self.in2)

    @property
    def operators(self) -> tuple[str, str]:
        return (self.op1, self.op2)

    @property
    def sides(self) -> tuple[tuple[int, str], tuple[int, str]]:
        """``((in1, op1), (in2, op2))``."""
        return ((self.in1, self.op1), (self.in2, self.op2))

    def to_text(self) -> str:
        return f"({self.in1}, {self.op1}, {self.in2}, {self.op2})"


# -- structure and canonical form ------------------------------------------------------------------
def _check_structure(blocks: Sequence[Block]) -> None:
    """Every input is a lookback (< 0) or an earlier block; operators are non-empty strings.

    The messages quote the whole cell, so they are clear without a TOML path."""
    def error(problem: str, fix: str = f"write cells as {TEXT_FORM}") -> ConfigError:
        return ConfigError(f"{problem}, in cell {Cell.text_of(blocks)}", fix=fix)

    for index, block in enumerate(blocks):
        if not isinstance(block, Block):
            raise error(f"block {index} must be a Block, not {block!r}")
        for side, (source, op) in enumerate(block.sides, start=1):
            if isinstance(source, bool) or not isinstance(source, int):
                raise error(f"block {index} input {side} must be an integer, not {source!r}")
            if source >= index:
                allowed = "the lookbacks -1, -2, ..." + (f" or blocks 0..{index - 1}" if index else "")
                raise error(f"block {index} input {side} refers to block {source}, which is not earlier "
                            f"(block {index} may read {allowed})", "refer only to earlier blocks")
            if not isinstance(op, str) or not op:
                raise error(f"block {index} operator {side} is empty or not a string: {op!r}")


# A side of a block, as the canonical form orders it: block references first (by number), then
# the lookbacks -1, -2, ...; ties broken by the operator text.
_Side = tuple[int, int, str]
_Serial = tuple[_Side, _Side]


def _side(source: int, op: str, numbering: Mapping[int, int]) -> _Side:
    return (0, numbering[source], op) if source >= 0 else (1, -source, op)


def _serial(block: Block, numbering: Mapping[int, int]) -> _Serial:
    """``block`` with its references renumbered and its two sides in canonical order."""
    first, second = sorted(_side(s, op, numbering) for s, op in zip(block.inputs, block.operators, strict=True))
    return (first, second)


def _swap_is_symmetry(blocks: Sequence[Block], x: int, y: int) -> bool:
    """Whether exchanging the twin blocks ``x`` and ``y`` maps the cell onto itself (every other
    block reads them alike), so that numbering either one first gives the same canonical form."""
    swap = {x: y, y: x}
    for index, block in enumerate(blocks):
        if index in swap:
            continue
        sides = list(zip(block.inputs, block.operators, strict=True))
        if sorted(sides) != sorted((swap.get(s, s), op) for s, op in sides):
            return False
    return True


def _canonical(blocks: Sequence[Block]) -> tuple[Block, ...]:
    """The canonical form of a structurally valid block list (see the module docstring).

    Of all the numberings in which every block reads only earlier blocks, the canonical one gives
    the lexicographically smallest sequence of blocks, each serialised with its references
    renumbered and its sides sorted.  Equivalent cells have the same set of such sequences, so
    the same minimum; the minimum spells the whole cell, so non-equivalent cells differ.

    It is found greedily (the next block is a smallest one among those whose inputs are numbered)
    with a branch only where exact twins tie — blocks with the same inputs and operators whose
    readers differ — which is rare and small.  The old key-sorting scheme broke such ties by
    input position, so ``[(-1, a, -1, a); (-1, a, -1, a); (0, b, -1, b); (1, c, -1, c)]`` and
    the same cell with ``b`` and ``c`` reading the other twin came out different.
    """
    n = len(blocks)
    needs = [frozenset(s for s in block.inputs if s >= 0) for block in blocks]
    best: list[tuple[list[_Serial], list[int]]] = []

    def search(order: list[int], numbering: dict[int, int], serial: list[_Serial]) -> None:
        if len(order) == n:
            if not best or serial < best[0][0]:
                best[:] = [(list(serial), list(order))]
            return
        keys = {i: _serial(blocks[i], numbering) for i in range(n)
                if i not in numbering and needs[i] <= numbering.keys()}
        smallest = min(keys.values())
        position = len(serial)
        if best and [*serial, smallest] > best[0][0][:position + 1]:
            return  # this branch cannot beat the best complete numbering found so far
        tried: list[int] = []
        for index, key in keys.items():
            if key != smallest or any(_swap_is_symmetry(blocks, index, other) for other in tried):
                continue
            tried.append(index)
            numbering[index] = position
            order.append(index)
            serial.append(key)
            search(order, numbering, serial)
            serial.pop()
            order.pop()
            del numbering[index]

    search([], {}, [])
    return tuple(Block(*_source_and_op(first), *_source_and_op(second)) for first, second in best[0][0])


def _source_and_op(side: _Side) -> tuple[int, str]:
    kind, number, op = side
    return (number, op) if kind == 0 else (-number, op)


@dataclass(frozen=True)
class Cell:
    """An immutable, hashable cell; ``blocks`` is always in canonical form (see the module docstring).

    Example::

        cell = Cell.from_text("[(-1, 3x3 conv, -2, 2x2 maxpool)]")
        cell == Cell((Block(-2, "2x2 maxpool", -1, "3x3 conv"),))   # True: sides swapped
        cell.to_text()                                             # '[(-1, 3x3 conv, -2, 2x2 maxpool)]'
    """

    blocks: tuple[Block, ...] = ()

    def __post_init__(self) -> None:
        blocks = tuple(Block(b.in1, _collapse(b.op1), b.in2, _collapse(b.op2))
                       if isinstance(b, Block) and isinstance(b.op1, str) and isinstance(b.op2, str) else b
                       for b in self.blocks)
        _check_structure(blocks)
        object.__setattr__(self, "blocks", _canonical(blocks) if blocks else ())

    # -- text and JSON ---------------------------------------------------------------------------
    @staticmethod
    def text_of(blocks: Sequence[Block]) -> str:
        """The text form of ``blocks`` as they are (not canonicalised)."""
        return "[" + "; ".join(block.to_text() if isinstance(block, Block) else repr(block) for block in blocks) + "]"

    def to_text(self) -> str:
        """The canonical text, e.g. ``[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]``."""
        return self.text_of(self.blocks)

    def __str__(self) -> str:
        return self.to_text()

    @classmethod
    def from_text(cls, text: str) -> Cell:
        """Parse the text form.  A malformed text is a ConfigError that names the text, the part
        that is wrong with its position (1-based character), and the expected form."""
        if not isinstance(text, str):
            raise ConfigError(f"a cell must be written as a string, not {text!r}", fix=f"write e.g. {TEXT_FORM}")
        start, end = len(text) - len(text.lstrip()), len(text.rstrip())
        if start == end or text[start] != "[" or text[end - 1] != "]" or end - start < 2:
            where = start if start == end or text[start] != "[" else end - 1
            raise ConfigError(f"a cell is a list of blocks in square brackets (at character {where + 1} of "
                              f"{format_value(text)})", fix=f"write e.g. {TEXT_FORM} (or [] for the empty cell)")
        if not text[start + 1:end - 1].strip():
            return cls(())
        parts = _split(text, start + 1, end - 1, ";")
        return cls(tuple(_parse_block(text, offset, part, index) for index, (offset, part) in enumerate(parts)))

    def to_json(self) -> list[list[Any]]:
        """``[[in1, op1, in2, op2], ...]`` (canonical; ``[]`` for the empty cell)."""
        return [[b.in1, b.op1, b.in2, b.op2] for b in self.blocks]

    @classmethod
    def from_json(cls, data: Any) -> Cell:
        """The inverse of :meth:`to_json` (any equivalent block order is accepted)."""
        if not isinstance(data, (list, tuple)):
            raise ConfigError(f"a cell in JSON is a list of [in1, op1, in2, op2] lists, not {data!r}")
        blocks = []
        for index, item in enumerate(data):
            if not (isinstance(item, (list, tuple)) and len(item) == 4):
                raise ConfigError(f"block {index} of a cell in JSON must be a list [in1, op1, in2, op2], not {item!r}")
            blocks.append(Block(item[0], item[1], item[2], item[3]))
        return cls(tuple(blocks))

    # -- structure -------------------------------------------------------------------------------
    def canonical(self) -> Cell:
        """This cell (cells are always canonical); kept for readability at call sites."""
        return self

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def is_empty(self) -> bool:
        return not self.blocks

    @property
    def used_lookbacks(self) -> tuple[int, ...]:
        """The lookback inputs the cell reads, ``-1`` first (``(-1, -2)``, ``(-2,)``, ``()`` if empty)."""
        return tuple(sorted({s for b in self.blocks for s in b.inputs if s < 0}, reverse=True))

    @property
    def unused_blocks(self) -> tuple[int, ...]:
        """Indices of the blocks no other block reads (concatenated into the cell output)."""
        read = {s for b in self.blocks for s in b.inputs if s >= 0}
        return tuple(i for i in range(self.n_blocks) if i not in read)

    @property
    def operators(self) -> tuple[str, ...]:
        """The distinct operators used, in order of first appearance in the canonical blocks."""
        return tuple(dict.fromkeys(op for b in self.blocks for op in b.operators))

    @property
    def dependencies(self) -> int:
        """The number of block → block edges (a block reading another twice counts twice)."""
        return sum(1 for b in self.blocks for s in b.inputs if s >= 0)

    @property
    def depth(self) -> int:
        """Blocks on the longest path from an input to the output (0 for the empty cell)."""
        depths: list[int] = []
        for block in self.blocks:
            depths.append(1 + max((depths[s] for s in block.inputs if s >= 0), default=0))
        return max(depths, default=0)

    def with_block(self, block: Block) -> Cell:
        """A new cell with ``block`` appended (its block references use this cell's numbering)."""
        return Cell((*self.blocks, block))


# -- parsing -----------------------------------------------------------------------------------------
def _split(text: str, start: int, end: int, separator: str) -> list[tuple[int, str]]:
    """``text[start:end]`` split at ``separator``: (offset of the stripped part, stripped part)."""
    parts, offset = [], start
    for piece in text[start:end].split(separator):
        parts.append((offset + len(piece) - len(piece.lstrip()), piece.strip()))
        offset += len(piece) + len(separator)
    return parts


def _parse_block(text: str, offset: int, part: str, index: int) -> Block:
    def error(problem: str, at: int) -> ConfigError:
        return ConfigError(f"block {index} {problem} (at character {at + 1} of {format_value(text)})", fix=_BLOCK_FIX)

    if not part:
        raise error("is empty (a stray ';'?)", offset)
    if not part.startswith("("):
        raise error(f"{part!r} does not start with '('", offset)
    close = part.find(")")
    if close == -1:
        raise error(f"{part!r} has no closing ')'", offset + len(part) - 1)
    if close != len(part) - 1:
        hint = "blocks are separated by ';', not ','" if part[close + 1:].lstrip().startswith(",") else \
            "a block ends at its ')'"
        raise error(f"{part!r} goes on after its ')': {hint}", offset + close + 1)
    if "(" in part[1:]:
        raise error(f"{part!r} has a '(' inside", offset + 1 + part[1:].index("("))
    fields = _split(part, 1, len(part) - 1, ",")
    if len(fields) != 4:
        raise error(f"{part!r} has {len(fields)} fields, expected 4 (input, operator, input, operator)", offset)
    (at1, in1), (at_op1, op1), (at2, in2), (at_op2, op2) = ((offset + at, field) for at, field in fields)
    for side, field, at in ((1, in1, at1), (2, in2, at2)):
        if not _INTEGER.fullmatch(field):
            raise error(f"input {side} {field!r} is not an integer (a lookback -1, -2, ... or an earlier block "
                        "0, 1, ...)", at)
    for side, field, at in ((1, op1, at_op1), (2, op2, at_op2)):
        if not field:
            raise error(f"operator {side} is empty", at)
    return Block(int(in1), op1, int(in2), op2)
