"""DARTS genotypes: the discrete cells a differentiable search ends with, in DARTS' text and ours.

A genotype holds a normal and a reduction cell.  Each is a list of ``(operation, source)`` pairs,
two per intermediate node: node ``i`` (numbered ``2 + i``) sums the two operations applied to
its two sources, ``0`` and ``1`` being the cell's inputs (the outputs of the cell before the
previous one and of the previous one) and ``2 + j`` node ``j``.  The cell's output concatenates
the nodes listed in ``normal_concat`` / ``reduce_concat`` (DARTS writes ``range(2, 6)``).

DARTS' text, as its logs print it, is accepted as ``[X.structure] genotype`` and written into a
search's run folder::

    Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)],
             normal_concat=range(2, 4), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1),
             ('avg_pool_3x3', 0), ('dil_conv_5x5', 2)], reduce_concat=range(2, 4))

It is **parsed** by the small recursive-descent parser of this module, never evaluated: an error
says at which character what was expected, and an operation that no allocator knows is named with
its position.  Operations are DARTS names (``sep_conv_3x3``, see
:mod:`scinas.search_space.darts_ops`) or any scinas operator (``'3x3 conv'``); a genotype keeps
scinas operator texts and writes DARTS names back where they exist.

scinas' own form of a genotype is its two cells in the cell text form
(:mod:`scinas.search_space.cell`): source ``0`` is lookback ``-2``, source ``1`` is ``-1``, node
``j`` is block ``j``.

:func:`derive_genotype` is DARTS' rule: per node, the two incoming edges whose strongest
operation other than ``none`` is strongest, each with that operation.

Example::

    genotype = parse_genotype(text, rank=2)
    genotype.to_text()          # DARTS' text again (canonical spacing)
    genotype.cells()            # {"normal": Cell(...), "reduce": Cell(...)}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scinas.errors import ConfigError
from scinas.search_space.cell import Block, Cell
from scinas.search_space.darts_ops import NONE, darts_name, is_parameter_free, scinas_operator

__all__ = ["GENOTYPE_EXAMPLE", "Genotype", "derive_genotype", "parse_genotype"]

GENOTYPE_EXAMPLE = ("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=range(2, 3), "
                    "reduce=[('max_pool_3x3', 0), ('avg_pool_3x3', 1)], reduce_concat=range(2, 3))")
"""A one-node genotype, quoted by error messages."""

KINDS: tuple[str, str] = ("normal", "reduce")

Pair = tuple[str, int]


@dataclass(frozen=True)
class Genotype:
    """A normal and a reduction cell (see the module docstring); operations are scinas operator
    texts for inputs of ``rank`` (1 series, 2 images)."""

    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]
    rank: int = 2

    def __post_init__(self) -> None:
        for kind in KINDS:
            pairs = tuple((str(op), int(source)) for op, source in getattr(self, kind))
            object.__setattr__(self, kind, pairs)
            object.__setattr__(self, f"{kind}_concat", tuple(int(i) for i in getattr(self, f"{kind}_concat")))
            _check_cell(kind, pairs, getattr(self, f"{kind}_concat"))

    @property
    def nodes(self) -> int:
        """Intermediate nodes per cell."""
        return len(self.normal) // 2

    def pairs(self, kind: str) -> tuple[Pair, ...]:
        return self.normal if kind == "normal" else self.reduce

    def concat(self, kind: str) -> tuple[int, ...]:
        return self.normal_concat if kind == "normal" else self.reduce_concat

    def to_text(self) -> str:
        """DARTS' text (DARTS names where they exist, ``range(a, b)`` for a contiguous concat)."""
        parts = []
        for kind in KINDS:
            pairs = ", ".join(f"({_quote(darts_name(op, self.rank))}, {source})" for op, source in self.pairs(kind))
            parts.append(f"{kind}=[{pairs}]")
            parts.append(f"{kind}_concat={_concat_text(self.concat(kind))}")
        return f"Genotype({', '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        return {"normal": [list(p) for p in self.normal], "normal_concat": list(self.normal_concat),
                "reduce": [list(p) for p in self.reduce], "reduce_concat": list(self.reduce_concat),
                "rank": self.rank}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Genotype:
        return cls(tuple((str(op), int(src)) for op, src in data["normal"]), tuple(data["normal_concat"]),
                   tuple((str(op), int(src)) for op, src in data["reduce"]), tuple(data["reduce_concat"]),
                   int(data.get("rank", 2)))

    def cells(self) -> dict[str, Cell]:
        """scinas' form: each cell in the cell text form (source 0 → ``-2``, 1 → ``-1``, node j → block j)."""
        def source(index: int) -> int:
            return -2 if index == 0 else -1 if index == 1 else index - 2

        return {kind: Cell(tuple(Block(source(a_src), a_op, source(b_src), b_op)
                                 for (a_op, a_src), (b_op, b_src) in zip(pairs[0::2], pairs[1::2], strict=True)))
                for kind in KINDS for pairs in [self.pairs(kind)]}

    def parameter_free(self) -> dict[str, int]:
        """How many operations of each cell are skips or poolings (a sign of DARTS' collapse)."""
        return {kind: sum(1 for op, _ in self.pairs(kind) if is_parameter_free(op)) for kind in KINDS}

    def operators(self) -> tuple[str, ...]:
        return tuple(op for kind in KINDS for op, _ in self.pairs(kind))


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _concat_text(concat: Sequence[int]) -> str:
    if concat and list(concat) == list(range(concat[0], concat[-1] + 1)):
        return f"range({concat[0]}, {concat[-1] + 1})"
    return "[" + ", ".join(str(i) for i in concat) + "]"


def _check_cell(kind: str, pairs: Sequence[Pair], concat: Sequence[int]) -> None:
    if not pairs or len(pairs) % 2:
        raise ConfigError(f"the {kind} cell of a genotype needs two (operation, source) pairs per node, got "
                          f"{len(pairs)}", fix=f"write e.g. {GENOTYPE_EXAMPLE}")
    nodes = len(pairs) // 2
    for index, (op, source) in enumerate(pairs):
        node = index // 2
        if op == NONE:
            raise ConfigError(f"the {kind} cell's node {node} uses `none`, which is no operation of a derived "
                              "cell", fix="use another operation (none only exists inside a search's mixed edges)")
        if not 0 <= source < 2 + node:
            raise ConfigError(f"the {kind} cell's node {node} (numbered {2 + node}) reads source {source}; it may "
                              f"read 0 and 1 (the cell's inputs) or an earlier node (2 .. {1 + node})",
                              fix="a node reads only the inputs and earlier nodes")
    for index in concat:
        if not 2 <= index < 2 + nodes:
            raise ConfigError(f"{kind}_concat lists node {index}, but the {kind} cell's nodes are 2 .. {1 + nodes}",
                              fix=f"write {kind}_concat=range(2, {2 + nodes})")
    if not concat:
        raise ConfigError(f"{kind}_concat is empty", fix=f"write {kind}_concat=range(2, {2 + nodes})")


def derive_genotype(weights: Mapping[str, np.ndarray], candidates: Sequence[str], nodes: int, rank: int) -> Genotype:
    """DARTS' genotype of softmax(α) ``weights`` (``{"normal": edges × candidates, "reduce": ...}``,
    rows in :func:`scinas.models.supernet.edge_sources` order): per node the two incoming edges
    whose strongest operation other than ``none`` is strongest, with that operation; ties go to
    the earlier edge and the earlier candidate.  Every node is concatenated."""
    usable = [k for k, name in enumerate(candidates) if name != NONE]
    if not usable:
        raise ValueError("a genotype needs a candidate other than none")
    cells: dict[str, tuple[Pair, ...]] = {}
    for kind in KINDS:
        matrix = np.asarray(weights[kind], dtype=np.float64)
        pairs: list[Pair] = []
        row = 0
        for node in range(nodes):
            incoming = range(2 + node)
            best = [(-float(matrix[row + s, usable].max()), s) for s in incoming]
            for _, s in sorted(best)[:2]:
                column = usable[int(np.argmax(matrix[row + s, usable]))]
                pairs.append((candidates[column], s))
            row += len(incoming)
        cells[kind] = tuple(pairs)
    concat = tuple(range(2, 2 + nodes))
    return Genotype(cells["normal"], concat, cells["reduce"], concat, rank)


# ---------------------------------------------------------------------- the parser

_TOKEN = re.compile(r"""\s*(?:(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<int>[+-]?\d+)"""
                    r"""|(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<punct>[()\[\],=]))""")


@dataclass(frozen=True)
class _Token:
    kind: str  # name, int, str, punct, end
    text: str
    at: int  # 0-based character offset


def _tokens(text: str, error: Any) -> list[_Token]:
    tokens, at = [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            tokens.append(_Token("end", "", at))
            return tokens
        match = _TOKEN.match(text, at)
        if match is None or match.lastgroup is None:
            raise error(f"unexpected character {text[at]!r}", at)
        start = match.start(match.lastgroup)
        tokens.append(_Token(match.lastgroup, match.group(match.lastgroup), start))
        at = match.end()


class _Parser:
    def __init__(self, text: str, rank: int, file: str | None, path: str | None) -> None:
        self.text, self.rank, self.file, self.path = text, rank, file, path
        self.tokens = _tokens(text, self.error)
        self.index = 0

    def error(self, problem: str, at: int, fix: str | None = None) -> ConfigError:
        line = self.text.replace("\n", " ")
        return ConfigError(f"the genotype does not parse: {problem} at character {at + 1}:\n  {line}\n  {' ' * at}^",
                           file=self.file, path=self.path, fix=fix or f"write it as DARTS prints it, e.g. "
                           f"{GENOTYPE_EXAMPLE}")

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def take(self, kind: str, text: str | None = None, what: str | None = None) -> _Token:
        token = self.token
        if token.kind != kind or (text is not None and token.text != text):
            found = "the end of the text" if token.kind == "end" else repr(token.text)
            raise self.error(f"expected {what or repr(text) if text else what or kind}, found {found}", token.at)
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        if self.token.kind == "punct" and self.token.text == text:
            self.index += 1
            return True
        return False

    def genotype(self) -> Genotype:
        if self.token.kind == "name" and self.token.text == "genotype" and self.tokens[self.index + 1].text == "=":
            self.index += 2  # `genotype = Genotype(...)`, as DARTS' log prints it
        self.take("name", "Genotype", "Genotype(")
        self.take("punct", "(")
        fields: dict[str, Any] = {}
        while not self.accept(")"):
            name = self.take("name", what="a field name (normal, normal_concat, reduce, reduce_concat)")
            if name.text not in ("normal", "normal_concat", "reduce", "reduce_concat"):
                raise self.error(f"unknown field {name.text!r} (fields: normal, normal_concat, reduce, "
                                 "reduce_concat)", name.at)
            if name.text in fields:
                raise self.error(f"field {name.text!r} given twice", name.at)
            self.take("punct", "=")
            fields[name.text] = self.concat() if name.text.endswith("_concat") else self.pairs()
            if not self.accept(","):
                self.take("punct", ")", "',' or ')'")
                break
        self.take("end", what="the end of the text")
        for required in KINDS:
            if required not in fields:
                raise self.error(f"the field {required!r} is missing", len(self.text))
        return self.build(fields)

    def pairs(self) -> list[tuple[str, int, int]]:
        self.take("punct", "[")
        pairs = []
        while not self.accept("]"):
            self.take("punct", "(", "'(' (an (operation, source) pair)")
            op = self.take("str", what="an operation in quotes, e.g. 'sep_conv_3x3'")
            self.take("punct", ",")
            source = self.take("int", what="the source node (an integer)")
            self.take("punct", ")")
            pairs.append((self.operator(op), int(source.text), source.at))
            if not self.accept(","):
                self.take("punct", "]", "',' or ']'")
                break
        return pairs

    def concat(self) -> list[int]:
        if self.token.kind == "name" and self.token.text == "range":
            self.index += 1
            self.take("punct", "(")
            start = int(self.take("int", what="an integer").text)
            self.take("punct", ",")
            stop = int(self.take("int", what="an integer").text)
            self.take("punct", ")")
            return list(range(start, stop))
        self.take("punct", "[", "range(a, b) or a list of nodes")
        values = []
        while not self.accept("]"):
            values.append(int(self.take("int", what="a node number").text))
            if not self.accept(","):
                self.take("punct", "]", "',' or ']'")
                break
        return values

    def operator(self, token: _Token) -> str:
        from scinas.search_space.operators import parse_operator  # deferred: operators import Keras

        raw = token.text[1:-1].replace("\\'", "'").replace('\\"', '"')
        if raw.strip() == NONE:
            raise self.error("`none` is no operation of a derived cell", token.at + 1,
                             fix="none exists only inside a search's mixed edges; use another operation")
        text = scinas_operator(raw.strip(), self.rank) or raw
        try:
            return parse_operator(text, self.rank).text
        except ConfigError as exc:
            raise self.error(f"unknown operation {raw!r} ({exc.problem})", token.at + 1,
                             fix=f"use a DARTS name ({', '.join(_darts_names())}) or a scinas operator; "
                             + (exc.fix or "")) from None

    def build(self, fields: Mapping[str, Any]) -> Genotype:
        values: dict[str, Any] = {}
        for kind in KINDS:
            pairs = fields[kind]
            for index, (_, source, at) in enumerate(pairs):
                if not 0 <= source < 2 + index // 2:
                    raise self.error(f"node {index // 2} of the {kind} cell (numbered {2 + index // 2}) cannot read "
                                     f"source {source}: only 0, 1 (the inputs) and earlier nodes", at)
            values[kind] = tuple((op, source) for op, source, _ in pairs)
            values[f"{kind}_concat"] = tuple(fields.get(f"{kind}_concat", range(2, 2 + len(pairs) // 2)))
        try:
            return Genotype(rank=self.rank, **values)
        except ConfigError as exc:
            raise ConfigError(f"the genotype does not describe two cells: {exc.problem}", file=self.file,
                              path=self.path, fix=exc.fix) from None


def _darts_names() -> list[str]:
    from scinas.search_space.darts_ops import DARTS_NAMES

    return list(DARTS_NAMES)


def parse_genotype(text: str, rank: int, *, file: str | None = None, path: str | None = None) -> Genotype:
    """The genotype written as DARTS prints it (see the module docstring); ``file`` and ``path``
    (the TOML key) are attached to every error."""
    if not isinstance(text, str):
        raise ConfigError(f"a genotype is a string, not {type(text).__name__}", file=file, path=path,
                          fix=f"write e.g. {GENOTYPE_EXAMPLE}")
    return _Parser(text, rank, file, path).genotype()
