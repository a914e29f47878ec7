"""The cell search space: which operators a block may use, how far back it may look, how many
blocks a cell may have — and the checks that a cell belongs to it.

Example ``configurations.toml``::

    [A.search_space]
    blocks = 5                 # the most blocks a cell may have
    lookback_depth = 2         # blocks may read the outputs of the last 2 cells (-1, -2)
    operators = ["identity", "3x3 conv", "3x3 dconv", "2x2 maxpool"]
    # optional: the only operator pairs a block may use (either order), e.g. a reduced space
    # written by `scinas autobuild`; without it every pair of the operators is allowed
    operator_pairs = [["3x3 conv", "identity"], ["3x3 conv", "2x2 maxpool"]]

``"darts"`` in ``operators`` stands for the seven DARTS operations and a DARTS name
(``"sep_conv_3x3"``) for its scinas operator (:mod:`scinas.search_space.darts_ops`), so a POPNAS
search can explore the operators of a DARTS search; ``"none"`` is refused (it only has a meaning
inside a DARTS mixed edge, which adds it by itself).

and from Python::

    space = SearchSpace(operators=("identity", "3x3 conv"), max_blocks=3)
    cell = space.cell("[(-1, 3x3 conv, -2, identity)]")
    len(space.one_block_cells())          # 10: unordered pairs of (input, operator) sides
    children = space.expand(cell)         # every non-equivalent cell with one more block
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.search_space.cell import Block, Cell
from scinas.search_space.darts_ops import DARTS_SET, NONE, expand_operators, scinas_operator
from scinas.search_space.operators import parse_operator
from scinas.search_space.operators.patterns import RANK_NAMES

__all__ = ["SearchSpace"]


@dataclass(frozen=True)
class SearchSpace:
    """Operators (canonical texts), the most blocks per cell, the lookback depth and the input rank.

    ``operator_pairs``, when set, are the only operator pairs a block may use (unordered: each pair
    is stored sorted, canonical texts); ``None`` allows every pair of :attr:`operators`.
    """

    operators: tuple[str, ...]
    max_blocks: int = 5
    lookback_depth: int = 2
    rank: int = 2
    operator_pairs: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        if self.rank not in (1, 2) or isinstance(self.rank, bool):
            raise ConfigError(f"a search space's rank must be 1 (series) or 2 (images), not {self.rank!r}")
        for name, value in (("max_blocks", self.max_blocks), ("lookback_depth", self.lookback_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"a search space's {name} must be an integer >= 1, not {value!r}")
        if isinstance(self.operators, str) or not self.operators:
            raise ConfigError(f"a search space needs a non-empty sequence of operators, not {self.operators!r}",
                              fix='e.g. SearchSpace(operators=("identity", "3x3 conv"))')
        canonical = tuple(parse_operator(op, self.rank).text for op in self.operators)
        duplicates = sorted({text for text in canonical if canonical.count(text) > 1})
        if duplicates:
            raise ConfigError(f"operators {list(self.operators)} name {', '.join(duplicates)} more than once",
                              fix="list each operator once")
        object.__setattr__(self, "operators", canonical)
        if self.operator_pairs is not None:
            object.__setattr__(self, "operator_pairs", self._canonical_pairs(self.operator_pairs))

    def _canonical_pairs(self, pairs: Any) -> tuple[tuple[str, str], ...]:
        if isinstance(pairs, str) or not pairs:
            raise ConfigError(f"operator_pairs must be a non-empty sequence of operator pairs (or None for every "
                              f"pair), not {pairs!r}", fix='e.g. operator_pairs=(("3x3 conv", "identity"),)')
        canonical: list[tuple[str, str]] = []
        for pair in pairs:
            if isinstance(pair, str) or len(pair) != 2:
                raise ConfigError(f"each operator pair must hold two operators, not {pair!r}",
                                  fix='e.g. ("3x3 conv", "identity")')
            texts = sorted(parse_operator(op, self.rank).text for op in pair)
            for text in texts:
                if text not in self.operators:
                    raise ConfigError(f'the pair {list(pair)} uses operator "{text}", which is not among the '
                                      f"operators ({', '.join(self.operators)})", fix=f'add "{text}" to operators')
            if (texts[0], texts[1]) in canonical:
                raise ConfigError(f"the pair {list(pair)} is listed twice", fix="list each pair once")
            canonical.append((texts[0], texts[1]))
        return tuple(canonical)

    def allows(self, op1: str, op2: str) -> bool:
        """Whether a block may use the (canonical) operators ``op1`` and ``op2`` together."""
        if op1 not in self.operators or op2 not in self.operators:
            return False
        return self.operator_pairs is None or tuple(sorted((op1, op2))) in self.operator_pairs

    @classmethod
    def parse(cls, table: Table, *, rank: int) -> SearchSpace:
        """Read ``[X.search_space]`` (operators checked for inputs of ``rank``)."""
        max_blocks = table.integer("blocks", 5, minimum=1)
        lookback_depth = table.integer("lookback_depth", 2, minimum=1)
        raw = table.array("operators")
        if not raw:
            raise table.error("operators", "expected at least one operator",
                              fix='e.g. operators = ["identity", "3x3 conv", "2x2 maxpool"]')
        operators: list[str] = []
        for index, item in enumerate(raw):
            path = f"{table.key_path('operators')}[{index}]"
            if item == DARTS_SET:  # the DARTS operations, by name
                operators.extend(op for op in expand_operators([DARTS_SET], rank) if op not in operators)
                continue
            text = _operator_text(item, rank, file=table.file, path=path)
            written = scinas_operator(item, rank) or item if isinstance(item, str) else item
            if text in operators:
                raise ConfigError(f'operator "{text}" is listed twice (as operators[{operators.index(text)}] too)',
                                  file=table.file, path=path, value=written, fix="remove one of the two")
            operators.append(text)
        pairs = _parse_pairs(table, operators, rank) if table.has("operator_pairs") else None
        table.finish()
        return cls(tuple(operators), max_blocks, lookback_depth, rank, pairs)

    # -- membership ------------------------------------------------------------------------------
    def validate(self, cell: Cell, *, file: str | None = None, path: str | None = None) -> Cell:
        """``cell`` with canonical operator texts; a ConfigError when it is not in this space.

        The error names the offending value and block, and where the cell came from (``file``,
        ``path``); without a path the message quotes the cell itself.
        """
        table = _search_space_table(path)

        def error(problem: str, fix: str | None) -> ConfigError:
            if path is None:
                return ConfigError(f"{problem}, in cell {cell.to_text()}", file=file, fix=fix)
            return ConfigError(problem, file=file, path=path, value=cell.to_text(), fix=fix)

        if cell.n_blocks > self.max_blocks:
            raise error(f"the cell has {cell.n_blocks} blocks, the search space allows {self.max_blocks}",
                        f"remove blocks or set {table} blocks = {cell.n_blocks}")
        blocks = []
        for index, block in enumerate(cell.blocks):
            texts = []
            for side, (source, op) in enumerate(block.sides, start=1):
                if source < -self.lookback_depth:
                    raise error(f"block {index} input {side} is {source}, beyond lookback_depth = "
                                f"{self.lookback_depth} (inputs may be -1..-{self.lookback_depth} or earlier blocks)",
                                f"set {table} lookback_depth = {-source} or read -1..-{self.lookback_depth}")
                try:
                    text = parse_operator(op, self.rank).text
                except ConfigError as exc:
                    raise error(f"block {index} operator {side}: {exc.problem}", exc.fix) from None
                if text not in self.operators:
                    raise error(f'block {index} uses operator "{text}", which is not in the search space '
                                f"({', '.join(self.operators)})",
                                f'add "{text}" to {table} operators or use one of those')
                texts.append(text)
            if not self.allows(texts[0], texts[1]):
                shown = ", ".join(f"[{a!r}, {b!r}]" for a, b in self.operator_pairs or ())
                raise error(f'block {index} pairs "{texts[0]}" with "{texts[1]}", a pair the search space does not '
                            f"allow (operator_pairs: {shown})",
                            f'add ["{texts[0]}", "{texts[1]}"] to {table} operator_pairs or use an allowed pair')
            blocks.append(Block(block.in1, texts[0], block.in2, texts[1]))
        return Cell(tuple(blocks))

    def contains(self, cell: Cell) -> bool:
        """Whether :meth:`validate` accepts ``cell``."""
        try:
            self.validate(cell)
        except ConfigError:
            return False
        return True

    def cell(self, text: str, *, file: str | None = None, path: str | None = None) -> Cell:
        """Parse ``text`` (see :meth:`Cell.from_text`) and :meth:`validate` it.

        Example::

            space.cell("[(-1, 3x3 conv, -2, identity)]", file="configurations.toml", path="A.structure.cell")
        """
        try:
            parsed = Cell.from_text(text)
        except ConfigError as exc:  # the message quotes the text already
            raise ConfigError(exc.problem, file=file, path=path, fix=exc.fix) from None
        return self.validate(parsed, file=file, path=path)

    # -- enumeration -----------------------------------------------------------------------------
    def legal_blocks(self, n_existing: int) -> tuple[Block, ...]:
        """Every block a cell of ``n_existing`` blocks may gain: each side reads a lookback
        ``-1..-lookback_depth`` or one of the ``n_existing`` blocks with one of the operators; each
        unordered pair of sides appears once (``(a, b)`` and ``(b, a)`` are the same block).  With
        :attr:`operator_pairs`, only blocks whose two operators form an allowed pair."""
        if n_existing < 0:
            raise ValueError(f"n_existing must be >= 0, not {n_existing}")
        inputs = [*self.lookbacks, *range(n_existing)]
        sides = [(source, op) for source in inputs for op in self.operators]
        return tuple(Block(a[0], a[1], b[0], b[1]) for a, b in itertools.combinations_with_replacement(sides, 2)
                     if self.operator_pairs is None or self.allows(a[1], b[1]))

    def expand(self, cell: Cell) -> tuple[Cell, ...]:
        """Every non-equivalent cell made of ``cell`` plus one legal block, sorted by text (empty
        when ``cell`` already has :attr:`max_blocks` blocks)."""
        if cell.n_blocks >= self.max_blocks:
            return ()
        children = {cell.with_block(block) for block in self.legal_blocks(cell.n_blocks)}
        return tuple(sorted(children, key=Cell.to_text))

    def one_block_cells(self) -> tuple[Cell, ...]:
        """Every non-equivalent single-block cell, sorted by text."""
        return self.expand(Cell())

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """``{"operators": [...], "blocks": B, "lookback_depth": L, "rank": R}`` (plus
        ``"operator_pairs": [[a, b], ...]`` when the pairs are restricted)."""
        data: dict[str, Any] = {"operators": list(self.operators), "blocks": self.max_blocks,
                                "lookback_depth": self.lookback_depth, "rank": self.rank}
        if self.operator_pairs is not None:
            data["operator_pairs"] = [list(pair) for pair in self.operator_pairs]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchSpace:
        """The inverse of :meth:`to_json`."""
        try:
            pairs = data.get("operator_pairs")
            return cls(tuple(data["operators"]), int(data["blocks"]), int(data["lookback_depth"]), int(data["rank"]),
                       None if pairs is None else tuple(tuple(pair) for pair in pairs))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not the JSON of a search space ({exc})",
                              fix='expected {"operators": [...], "blocks": B, "lookback_depth": L, "rank": R}'
                              ) from None

    @property
    def lookbacks(self) -> tuple[int, ...]:
        """The lookback inputs a block may read, ``(-1, -2, ..., -lookback_depth)``."""
        return tuple(range(-1, -self.lookback_depth - 1, -1))

    def describe(self) -> str:
        """One line for logs, e.g. "4 operators for 2D (image) inputs, up to 5 blocks, lookback depth 2"."""
        pairs = "" if self.operator_pairs is None else f" in {len(self.operator_pairs)} allowed pairs"
        return (f"{len(self.operators)} operators{pairs} for {RANK_NAMES[self.rank]} inputs, up to {self.max_blocks} "
                f"blocks, lookback depth {self.lookback_depth}")


def _operator_text(item: Any, rank: int, *, file: str, path: str) -> str:
    """The canonical text of one operator written in ``[X.search_space]`` (a DARTS name is mapped)."""
    if item == NONE:
        raise ConfigError("`none` (the zero operation) is no operator of a cell; a DARTS search adds it to "
                          "every mixed edge by itself", file=file, path=path, value=item, fix='remove "none"')
    written = scinas_operator(item, rank) or item if isinstance(item, str) else item
    # parse_operator names the path and value for a non-string too
    return parse_operator(written, rank, file=file, path=path).text


def _parse_pairs(table: Table, operators: list[str], rank: int) -> tuple[tuple[str, str], ...]:
    """``operator_pairs``: a non-empty array of two-operator arrays, each operator one of ``operators``,
    each unordered pair once; errors name the entry (``operator_pairs[2][1]``)."""
    raw = table.array("operator_pairs")
    key = table.key_path("operator_pairs")
    if not raw:
        raise table.error("operator_pairs", "expected at least one pair: with none, no block could be built",
                          fix='e.g. operator_pairs = [["3x3 conv", "identity"]], or remove the key to allow every '
                              "pair of the operators")
    pairs: list[tuple[str, str]] = []
    for index, pair in enumerate(raw):
        path = f"{key}[{index}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError("expected a pair of two operators", file=table.file, path=path, value=pair,
                              fix='write it as ["3x3 conv", "identity"]')
        texts = []
        for side, item in enumerate(pair):
            text = _operator_text(item, rank, file=table.file, path=f"{path}[{side}]")
            if text not in operators:
                raise ConfigError(f'operator "{text}" is not in operators ({", ".join(operators)})',
                                  file=table.file, path=f"{path}[{side}]", value=item,
                                  fix=f'add "{text}" to {table.key_path("operators")} or pair operators listed there')
            texts.append(text)
        first, second = sorted(texts)
        if (first, second) in pairs:
            raise ConfigError(f"the pair is listed twice (as operator_pairs[{pairs.index((first, second))}] too; a "
                              "pair is unordered)", file=table.file, path=path, value=pair,
                              fix="remove one of the two")
        pairs.append((first, second))
    return tuple(pairs)


def _search_space_table(path: str | None) -> str:
    """``[A.search_space]`` for a cell at ``A.structure.cell`` (the table fixes point to)."""
    experiment = path.split(".", 1)[0] if path else ""
    return f"[{experiment}.search_space]" if experiment else "[search_space]"
