"""The cell search space of a real experiment as a :class:`~scinas.search.domain.ProgressiveDomain`.

Architectures are :class:`~scinas.search_space.architecture.CellArchitecture` objects: a cell of
the :class:`~scinas.search_space.space.SearchSpace` stacked by one fixed
:class:`~scinas.search_space.macro.MacroConfig`.  Cells are canonical, so equivalent cells share a
key and a strategy never trains the same network twice.  The GIN predictor reads
:func:`~scinas.search_space.encoding.encode_cell` graphs; the cost predictors read the 9
:func:`~scinas.predictors.cell_features.cell_cost_features`, where ``cells_stacked`` counts the
cells the macro-architecture actually builds for that cell (those reachable from the output).

Example::

    space = SearchSpace(operators=("identity", "3x3 conv"), max_blocks=2)
    domain = CellDomain(space, MacroConfig(filters=8))
    [domain.key(a) for a in domain.one_block()][:2]
    children = domain.expand(domain.one_block()[0])      # every non-equivalent 2-block cell
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from scinas.errors import ConfigError
from scinas.search.domain import ProgressiveDomain
from scinas.search_space.architecture import Architecture, CellArchitecture
from scinas.search_space.cell import Block, Cell
from scinas.search_space.encoding import CellGraph, encode_cell
from scinas.search_space.encoding import max_nodes as graph_nodes
from scinas.search_space.macro import MacroConfig
from scinas.search_space.space import SearchSpace

__all__ = ["CellDomain"]

#: Random single changes tried before :meth:`CellDomain.mutate` gives up on a cell.
_MUTATION_TRIES = 100


class CellDomain(ProgressiveDomain):
    """Cells of ``space`` under the macro-architecture ``macro``; see the module docstring."""

    def __init__(self, space: SearchSpace, macro: MacroConfig | None = None) -> None:
        self.space = space
        self.macro = macro if macro is not None else MacroConfig()
        self._unit_scores = {op: 1.0 for op in space.operators}

    # -- helpers ---------------------------------------------------------------------------------
    def _wrap(self, cell: Cell) -> CellArchitecture:
        return CellArchitecture(cell, self.macro)

    def cell_of(self, architecture: Architecture) -> Cell:
        """The cell of ``architecture`` (a TypeError for other kinds of architecture)."""
        if not isinstance(architecture, CellArchitecture):
            raise TypeError(f"expected a cell architecture, got {type(architecture).__name__}: {architecture}")
        return architecture.cell

    def _inputs_at(self, position: int) -> list[int]:
        return [*self.space.lookbacks, *range(position)]

    # -- SearchDomain ----------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> CellArchitecture:
        """A cell of 1..max_blocks blocks (uniform count), each block uniform among the legal ones."""
        cell = Cell()
        for position in range(int(rng.integers(1, self.space.max_blocks + 1))):
            blocks = self.space.legal_blocks(position)
            cell = cell.with_block(blocks[int(rng.integers(len(blocks)))])
        return self._wrap(cell)

    def _changes(self, cell: Cell) -> list[tuple[int, int, str, int | str]]:
        """Every single change: (block, side, "input" | "op", new value); an operator change only
        where the block's new pair is allowed (``[X.search_space] operator_pairs``)."""
        changes: list[tuple[int, int, str, int | str]] = []
        for index, block in enumerate(cell.blocks):
            for side, (source, op) in enumerate(block.sides):
                other = block.operators[1 - side]
                changes.extend((index, side, "input", value) for value in self._inputs_at(index) if value != source)
                changes.extend((index, side, "op", value) for value in self.space.operators
                               if value != op and self.space.allows(value, other))
        return changes

    @staticmethod
    def _apply(cell: Cell, change: tuple[int, int, str, int | str]) -> Cell:
        index, side, what, value = change
        inputs, ops = list(cell.blocks[index].inputs), list(cell.blocks[index].operators)
        if what == "input":
            inputs[side] = int(value)
        else:
            ops[side] = str(value)
        block = Block(inputs[0], ops[0], inputs[1], ops[1])
        return Cell((*cell.blocks[:index], block, *cell.blocks[index + 1:]))

    def mutate(self, architecture: Architecture, rng: np.random.Generator) -> CellArchitecture:
        """One side of one block reads another input or uses another operator (a different canonical cell)."""
        cell = self.cell_of(architecture)
        changes = self._changes(cell)
        key = cell.to_text()
        for _ in range(_MUTATION_TRIES if changes else 0):
            child = self._apply(cell, changes[int(rng.integers(len(changes)))])
            if child.to_text() != key:
                return self._wrap(child)
        for _ in range(_MUTATION_TRIES):  # no single change gives another cell (e.g. the empty cell)
            other = self.sample(rng)
            if other.cell.to_text() != key:
                return other
        raise ValueError(f"cannot find a mutation of {key}: the search space has a single cell")

    def neighbours(self, architecture: Architecture) -> list[CellArchitecture]:
        """Every different cell one change away, sorted by text."""
        cell = self.cell_of(architecture)
        found = {child.to_text(): child for child in (self._apply(cell, c) for c in self._changes(cell))}
        found.pop(cell.to_text(), None)
        return [self._wrap(found[text]) for text in sorted(found)]

    def from_json(self, data: Any) -> CellArchitecture:
        architecture = CellArchitecture.from_json(data)
        return self._wrap(self.space.validate(architecture.cell))

    def contains(self, architecture: Architecture) -> bool:
        return (isinstance(architecture, CellArchitecture) and architecture.macro == self.macro
                and self.space.contains(architecture.cell))

    def graph(self, architecture: Architecture) -> CellGraph:
        return encode_cell(self.cell_of(architecture), self.space)

    @property
    def max_nodes(self) -> int:
        return graph_nodes(self.space)

    def features(self, architecture: Architecture) -> np.ndarray:
        """The cost features with every operator scored 1."""
        return self.cost_features(architecture, self._unit_scores)

    def operators_of(self, architecture: Architecture) -> tuple[str, ...]:
        """Both operators of every block, in block order."""
        return tuple(op for block in self.cell_of(architecture).blocks for op in block.operators)

    # -- ProgressiveDomain -----------------------------------------------------------------------
    @property
    def max_blocks(self) -> int:
        return self.space.max_blocks

    def blocks(self, architecture: Architecture) -> int:
        return self.cell_of(architecture).n_blocks

    def empty(self) -> CellArchitecture:
        return self._wrap(Cell())

    def one_block(self) -> list[CellArchitecture]:
        return [self._wrap(cell) for cell in self.space.one_block_cells()]

    def expand(self, architecture: Architecture) -> list[CellArchitecture]:
        return [self._wrap(cell) for cell in self.space.expand(self.cell_of(architecture))]

    def inputs_of(self, architecture: Architecture) -> tuple[int, ...]:
        """Both inputs of every block (lookbacks and block numbers), in block order."""
        return tuple(source for block in self.cell_of(architecture).blocks for source in block.inputs)

    def single_operator(self, operator: str) -> CellArchitecture:
        """``(-1, op, -1, op)``; with ``operator_pairs`` not always a cell of the space (popnas only
        looks its key up among the trained cells, to score the operator's cost)."""
        if operator not in self.space.operators:
            raise ConfigError(f"operator {operator!r} is not in the search space ({', '.join(self.space.operators)})")
        return self._wrap(Cell((Block(-1, operator, -1, operator),)))

    @property
    def operators(self) -> tuple[str, ...]:
        return self.space.operators

    @property
    def input_slots(self) -> tuple[int, ...]:
        return self.space.lookbacks

    def cost_features(self, architecture: Architecture, operator_scores: Mapping[str, float]) -> np.ndarray:
        from scinas.predictors.cell_features import cell_cost_features  # deferred: predictors import Keras

        cell = self.cell_of(architecture)
        return cell_cost_features(cell, operator_scores, cells_stacked=len(self.macro.reachable_cells(cell)),
                                  lookbacks=self.space.lookbacks)

    def describe(self) -> str:
        """One line for logs."""
        return f"cells of {self.space.describe()}"

