"""Cells and blocks: the unit a cell-based search explores.

A :class:`Block` ``(in1, op1, in2, op2)`` applies operator ``op1`` to input ``in1`` and ``op2`` to
``in2`` and joins the two results.  Inputs: ``-1`` is the previous cell's output, ``-2`` the one
before (down to ``-lookback_depth``); ``0, 1, ...`` are the outputs of earlier blocks of the same
cell.  A :class:`Cell` is a tuple of blocks; blocks that no other block reads are concatenated
into the cell's output.

Equivalent cells are equal and hash equal: the constructor puts every cell into a canonical form
where the two sides of each block are in a fixed order and the blocks are in a fixed
topological order (so blocks that do not depend on each other may be written in any order, with
the references renumbered).  ``blocks`` is always that canonical form, and so is ``to_text()``.

Text form (round-trips through :meth:`Cell.from_text`)::

    [(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]

``[]`` is the empty cell (the network is input → pooling → head).  Operators are kept as
written, with white space normalised; checking them against a search space (and the input
rank) is :meth:`scinas.search_space.space.SearchSpace.validate`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scinas.errors import ConfigError
from scinas.search_space.operators.base import normalize_operator_text

__all__ = ["Block", "Cell"]

TEXT_FORM = "[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]"
_INTEGER = re.compile(r"^[+-]?\d+$")


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

    def to_text(self) -> str:
        return f"({self.in1}, {self.op1}, {self.in2}, {self.op2})"


def _check_structure(blocks: Sequence[Block]) -> None:
    """Every input is a lookback (< 0) or an earlier block; operators are non-empty strings."""
    for index, block in enumerate(blocks):
        for side, (source, op) in enumerate(zip(block.inputs, block.operators, strict=True), start=1):
            if isinstance(source, bool) or not isinstance(source, int):
                raise ConfigError(f"block {index} input {side} must be an integer, not {source!r}",
                                  value=Cell.text_of(blocks), fix=f"write cells as {TEXT_FORM}")
            if source >= index:
                allowed = "the lookbacks -1, -2, ..." + (f" or blocks 0..{index - 1}" if index else "")
                raise ConfigError(f"block {index} input {side} refers to block {source}, which is not earlier "
                                  f"(block {index} may read {allowed})",
                                  value=Cell.text_of(blocks), fix="refer only to earlier blocks")
            if not isinstance(op, str) or not normalize_operator_text(op):
                raise ConfigError(f"block {index} operator {side} is empty", value=Cell.text_of(blocks),
                                  fix=f"write cells as {TEXT_FORM}")


def _canonical(blocks: Sequence[Block]) -> tuple[Block, ...]:
    """The canonical form of a structurally valid block list (see the module docstring)."""
    keys: list[str] = []

    def input_key(source: int) -> str:
        return f"L{source}" if source < 0 else f"B{keys[source]}"

    side_keys: list[tuple[str, str]] = []
    for block in blocks:
        sides = sorted(f"{input_key(s)}|{op}" for s, op in zip(block.inputs, block.operators, strict=True))
        side_keys.append((sides[0], sides[1]))
        keys.append("(" + ";".join(sides) + ")")

    # Topological order, ties broken by key: equal for every equivalent numbering.
    readers: list[set[int]] = [set() for _ in blocks]
    pending = [0] * len(blocks)
    for index, block in enumerate(blocks):
        sources = {s for s in block.inputs if s >= 0}
        pending[index] = len(sources)
        for source in sources:
            readers[source].add(index)
    order: list[int] = []
    ready = [i for i, count in enumerate(pending) if count == 0]
    while ready:
        ready.sort(key=lambda i: keys[i])
        current = ready.pop(0)
        order.append(current)
        for reader in readers[current]:
            pending[reader] -= 1
            if pending[reader] == 0:
                ready.append(reader)
    renumber = {old: new for new, old in enumerate(order)}

    canonical = []
    for old in order:
        block = blocks[old]
        pairs: list[tuple[int, str]] = sorted(zip(block.inputs, block.operators, strict=True),
                                              key=lambda side: f"{input_key(side[0])}|{side[1]}")
        (a, op_a), (b, op_b) = ((renumber[s] if s >= 0 else s, op) for s, op in pairs)
        canonical.append(Block(a, op_a, b, op_b))
    return tuple(canonical)


@dataclass(frozen=True)
class Cell:
    """An immutable, hashable cell; ``blocks`` is always in canonical form (see the module docstring).

    Example::

        cell = Cell.from_text("[(-1, 3x3 conv, -2, 2x2 maxpool)]")
        cell == Cell((Block(-2, "2x2 maxpool", -1, "3x3 conv"),))   # True: sides swapped
    """

    blocks: tuple[Block, ...] = ()

    def __post_init__(self) -> None:
        blocks = tuple(Block(b.in1, normalize_operator_text(b.op1), b.in2, normalize_operator_text(b.op2))
                       if isinstance(b.op1, str) and isinstance(b.op2, str) else b for b in self.blocks)
        _check_structure(blocks)
        object.__setattr__(self, "blocks", _canonical(blocks))

    # -- text and JSON ---------------------------------------------------------------------------
    @staticmethod
    def text_of(blocks: Sequence[Block]) -> str:
        """The text form of ``blocks`` as they are (not canonicalised)."""
        return "[" + "; ".join(block.to_text() for block in blocks) + "]"

    def to_text(self) -> str:
        """The canonical text, e.g. ``[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]``."""
        return self.text_of(self.blocks)

    def __str__(self) -> str:
        return self.to_text()

    @classmethod
    def from_text(cls, text: str) -> Cell:
        """Parse the text form; a malformed text is a ConfigError naming the part that is wrong."""
        if not isinstance(text, str):
            raise ConfigError("a cell must be written as a string", value=text, fix=f"write e.g. {TEXT_FORM}")
        stripped = text.strip()
        if not (stripped.startswith("[") and stripped.endswith("]")):
            raise ConfigError("a cell is a list of blocks in square brackets", value=text,
                              fix=f"write e.g. {TEXT_FORM} (or [] for the empty cell)")
        inner = stripped[1:-1].strip()
        if not inner:
            return cls(())
        blocks = []
        for index, part in enumerate(inner.split(";")):
            blocks.append(_parse_block(part.strip(), index, text))
        return cls(tuple(blocks))

    def to_json(self) -> list[list[Any]]:
        """``[[in1, op1, in2, op2], ...]`` (canonical)."""
        return [[b.in1, b.op1, b.in2, b.op2] for b in self.blocks]

    @classmethod
    def from_json(cls, data: Any) -> Cell:
        """The inverse of :meth:`to_json`."""
        if not isinstance(data, list):
            raise ConfigError("a cell in JSON is a list of [in1, op1, in2, op2] lists", value=data)
        blocks = []
        for index, item in enumerate(data):
            if not (isinstance(item, list) and len(item) == 4):
                raise ConfigError(f"block {index} must be a list [in1, op1, in2, op2]", value=item)
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
        """The lookback inputs the cell reads, ``-1`` first (``(-1, -2)``, ``(-2,)``, ...)."""
        return tuple(sorted({s for b in self.blocks for s in b.inputs if s < 0}, reverse=True))

    @property
    def unused_blocks(self) -> tuple[int, ...]:
        """Indices of the blocks no other block reads (concatenated into the cell output)."""
        read = {s for b in self.blocks for s in b.inputs if s >= 0}
        return tuple(i for i in range(self.n_blocks) if i not in read)

    @property
    def operators(self) -> tuple[str, ...]:
        """The distinct operators used, in order of first appearance."""
        return tuple(dict.fromkeys(op for b in self.blocks for op in b.operators))

    @property
    def dependencies(self) -> int:
        """The number of block → block edges."""
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


def _parse_block(part: str, index: int, text: str) -> Block:
    expected = f"write each block as (input, operator, input, operator), e.g. {TEXT_FORM}"
    if not (part.startswith("(") and part.endswith(")")):
        raise ConfigError(f"block {index} {part!r} is not in parentheses", value=text, fix=expected)
    fields = [field.strip() for field in part[1:-1].split(",")]
    if len(fields) != 4:
        raise ConfigError(f"block {index} {part!r} has {len(fields)} fields, expected 4", value=text, fix=expected)
    in1, op1, in2, op2 = fields
    for name, field in (("1", in1), ("2", in2)):
        if not _INTEGER.match(field):
            raise ConfigError(f"block {index} input {name} {field!r} is not an integer", value=text, fix=expected)
    for name, field in (("1", op1), ("2", op2)):
        if not field:
            raise ConfigError(f"block {index} operator {name} is empty", value=text, fix=expected)
    return Block(int(in1), op1, int(in2), op2)
