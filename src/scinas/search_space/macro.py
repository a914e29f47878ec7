"""Macro-architecture settings of cell networks: how a searched cell is stacked into a model.

A cell network is ``motifs`` motifs, each ``normal_cells_per_motif`` normal cells followed by one
reduction cell (none after the last motif), so ``M * (N + 1) - 1`` cells in all; the filters
double at each reduction cell.  Cell ``i`` reads lookback ``-k`` (the output of cell ``i - k``, or
the model input when ``i - k < 0``), so only the cells reachable from the last one through the
lookbacks a cell uses are built (:meth:`MacroConfig.reachable_cells`).  How deep lookbacks go is
a property of the cell (its blocks' negative inputs), not of the macro-architecture.

Example ``configurations.toml``::

    [A.architecture]
    filters = 24
    motifs = 3
    normal_cells_per_motif = 2
    block_join = "add"            # or "avg"
    lookback_reshape = false
    concat_only_unused_blocks = true
    residual_cells = false
    se_cell_output = false
    se_ratio = 8
    multi_output = false
    dropout = 0.0
    activation = "relu"

and from Python::

    macro = MacroConfig(filters=16, motifs=2, normal_cells_per_motif=1)
    macro.cell_kinds()    # ['normal', 'reduction', 'normal']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from scinas.config.reader import Table, suggest
from scinas.errors import ConfigError

if TYPE_CHECKING:
    from scinas.search_space.cell import Cell

__all__ = ["BATCH_NORM_MOMENTUM", "BLOCK_JOINS", "CellKind", "MacroConfig", "known_activations"]

BLOCK_JOINS: tuple[str, ...] = ("add", "avg")
"""How the two sides of a block are joined: element-wise sum or mean."""

CellKind = Literal["normal", "reduction"]

_NO_CELL = "one motif of no normal cell leaves no cell to build"
_NO_CELL_FIX = "use normal_cells_per_motif >= 1 or motifs >= 2"
_NOT_ACTIVATIONS = frozenset({"get", "serialize", "deserialize"})


@cache
def known_activations() -> tuple[str, ...]:
    """The names ``keras.activations.get`` accepts (``"relu"``, ``"swish"``, ``"gelu"``, ...)."""
    import keras  # deferred: reading a configuration should not need TensorFlow started

    names = (name for name in dir(keras.activations) if not name.startswith("_") and name not in _NOT_ACTIVATIONS)
    return tuple(sorted(name for name in names if callable(getattr(keras.activations, name))))


BATCH_NORM_MOMENTUM = 0.9
"""The default momentum of a cell network's batch normalisations (``batch_norm_momentum``).

Keras' own default, 0.99, averages the batch statistics over about 100 steps; in the short
trainings of a search the weights move faster than that, so the moving statistics used at
validation lag behind and a network that classifies well in training can score at chance on
validation for epochs (measured on XFEL patterns: 0.50 for 8 epochs with 0.99, 0.78 rising to
0.92 with 0.9).  0.9 is PyTorch's default (its ``momentum=0.1``), used by DARTS and NAS-Bench-201.
"""


@dataclass(frozen=True)
class MacroConfig:
    """The macro-architecture hyperparameters of a cell network (``[X.architecture]``).

    Every field has a default, so ``MacroConfig()`` is the POPNAS-like default network.
    Invalid values raise :class:`~scinas.errors.ConfigError` (from Python, the path is the field).
    """

    filters: int = 24
    """Channels of the cells of the first motif (doubled at each reduction cell); >= 1."""
    motifs: int = 3
    """Number of motifs M (a reduction cell separates consecutive motifs); >= 1."""
    normal_cells_per_motif: int = 2
    """Normal cells N at the start of each motif; >= 0."""
    block_join: str = "add"
    """How a block joins its two sides: ``"add"`` (sum) or ``"avg"`` (mean)."""
    lookback_reshape: bool = False
    """Bring each lookback to the cell's size and filters with a pointwise conv + BN first (then
    every operator uses its normal variant); otherwise the operators reading a lookback reduce or
    adapt it themselves."""
    concat_only_unused_blocks: bool = True
    """Concatenate only the blocks no other block reads (``false``: all blocks) into the output."""
    residual_cells: bool = False
    """Add the cell's ``-1`` input to its output (projected when the shapes differ); a residual
    cell therefore always reads its previous cell."""
    se_cell_output: bool = False
    """Apply squeeze-and-excitation to each cell output."""
    se_ratio: int = 8
    """Channel reduction of that squeeze-and-excitation (units = max(1, filters // ratio)); >= 1."""
    multi_output: bool = False
    """One output head after every built cell (loss weight 1/2^distance to the last cell)."""
    dropout: float = 0.0
    """Dropout rate before each output's dense layer; in [0, 1)."""
    activation: str = "relu"
    """The operators' activation, a ``keras.activations`` name."""
    batch_norm_momentum: float = BATCH_NORM_MOMENTUM
    """Momentum of every batch normalisation's moving statistics, in (0, 1).  The default, 0.9,
    follows the batch closely enough for short search trainings (Keras' 0.99 lags behind and can
    leave validation at chance for epochs); 0.99 reproduces Keras' behaviour."""

    def __post_init__(self) -> None:
        if isinstance(self.dropout, int) and not isinstance(self.dropout, bool):
            object.__setattr__(self, "dropout", float(self.dropout))  # 0 and 0.0 serialise alike
        for field, value, minimum in (("filters", self.filters, 1), ("motifs", self.motifs, 1),
                                      ("normal_cells_per_motif", self.normal_cells_per_motif, 0),
                                      ("se_ratio", self.se_ratio, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"expected an integer >= {minimum}", path=field, value=value)
        for field in ("lookback_reshape", "concat_only_unused_blocks", "residual_cells", "se_cell_output",
                      "multi_output"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigError("expected a boolean", path=field, value=getattr(self, field))
        if self.block_join not in BLOCK_JOINS:
            raise ConfigError(_one_of(BLOCK_JOINS), path="block_join", value=self.block_join,
                              fix=suggest(str(self.block_join), BLOCK_JOINS))
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0 <= self.dropout < 1:
            raise ConfigError("expected a number in [0, 1)", path="dropout", value=self.dropout)
        if isinstance(self.batch_norm_momentum, int) and not isinstance(self.batch_norm_momentum, bool):
            object.__setattr__(self, "batch_norm_momentum", float(self.batch_norm_momentum))
        if isinstance(self.batch_norm_momentum, bool) or not isinstance(self.batch_norm_momentum, float) \
                or not 0 < self.batch_norm_momentum < 1:
            raise ConfigError("expected a number in (0, 1)", path="batch_norm_momentum",
                              value=self.batch_norm_momentum)
        if self.activation not in known_activations():
            raise ConfigError("expected the name of a keras.activations function", path="activation",
                              value=self.activation, fix=suggest(str(self.activation), known_activations()))
        if self.n_cells == 0:
            raise ConfigError(_NO_CELL, path="normal_cells_per_motif", value=0, fix=_NO_CELL_FIX)

    # -- reading and writing ----------------------------------------------------------------
    @classmethod
    def parse(cls, table: Table) -> MacroConfig:
        """Validate ``[X.architecture]`` (unknown keys are rejected; errors name the TOML path)."""
        default = cls()
        values: dict[str, Any] = {
            "filters": table.integer("filters", default.filters, minimum=1),
            "motifs": table.integer("motifs", default.motifs, minimum=1),
            "normal_cells_per_motif": table.integer("normal_cells_per_motif", default.normal_cells_per_motif,
                                                    minimum=0),
            "block_join": table.string("block_join", default.block_join, choices=BLOCK_JOINS),
            "lookback_reshape": table.boolean("lookback_reshape", default.lookback_reshape),
            "concat_only_unused_blocks": table.boolean("concat_only_unused_blocks",
                                                       default.concat_only_unused_blocks),
            "residual_cells": table.boolean("residual_cells", default.residual_cells),
            "se_cell_output": table.boolean("se_cell_output", default.se_cell_output),
            "se_ratio": table.integer("se_ratio", default.se_ratio, minimum=1),
            "multi_output": table.boolean("multi_output", default.multi_output),
            "dropout": table.number("dropout", default.dropout, minimum=0.0),
            "activation": table.string("activation", default.activation),
            "batch_norm_momentum": table.number("batch_norm_momentum", default.batch_norm_momentum,
                                                minimum=0.0, exclusive_minimum=True),
        }
        if values["dropout"] >= 1:
            raise table.error("dropout", "expected a number in [0, 1)", fix="use a rate below 1, e.g. 0.2")
        if values["batch_norm_momentum"] >= 1:
            raise table.error("batch_norm_momentum", "expected a number in (0, 1)",
                              fix="use e.g. 0.9 (PyTorch's and DARTS' default) or 0.99 (Keras')")
        if values["activation"] not in known_activations():
            raise table.error("activation", "expected the name of a keras.activations function",
                              fix=suggest(values["activation"], known_activations()))
        if values["motifs"] == 1 and values["normal_cells_per_motif"] == 0:
            raise table.error("normal_cells_per_motif", _NO_CELL, fix=_NO_CELL_FIX)
        table.finish()
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """Every field, by name (plain JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MacroConfig:
        """The inverse of :meth:`to_json`; missing keys take their defaults, unknown keys are errors."""
        return cls.parse(Table(data, file="architecture JSON", path="macro"))

    def differences(self) -> dict[str, Any]:
        """The fields that differ from the defaults, in field order (for compact tags)."""
        default = MacroConfig()
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if getattr(self, field.name) != getattr(default, field.name)}

    # -- the stack of cells -----------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        """``M * (N + 1) - 1``: the cells of the full network."""
        return self.motifs * (self.normal_cells_per_motif + 1) - 1

    def cell_kinds(self) -> list[CellKind]:
        """``"normal"`` or ``"reduction"`` for each of the :attr:`n_cells` cells, in order."""
        kinds: list[CellKind] = []
        for motif in range(self.motifs):
            kinds.extend(["normal"] * self.normal_cells_per_motif)
            if motif < self.motifs - 1:
                kinds.append("reduction")
        return kinds

    def reductions(self) -> list[int]:
        """For each cell, how many reduction cells there are up to and including it (its output's
        spatial level: the size is the input's divided by ``2**level``, rounded up per step)."""
        levels, level = [], 0
        for kind in self.cell_kinds():
            level += kind == "reduction"
            levels.append(level)
        return levels

    def cell_inputs(self, cell: Cell) -> tuple[int, ...]:
        """The lookbacks a built cell reads: those its blocks use, plus ``-1`` for residual cells."""
        lookbacks = set(cell.used_lookbacks)
        if self.residual_cells and lookbacks:
            lookbacks.add(-1)
        return tuple(sorted(lookbacks))

    def reachable_cells(self, cell: Cell) -> tuple[int, ...]:
        """Indices of the cells reachable from the output (the last cell) through the lookbacks,
        in ascending order; only these are built.  Empty for the empty cell.

        Example: with M=2, N=1 (cells normal, reduction, normal) a cell that reads only ``-2``
        builds cells 0 and 2 — cell 2 reads cell 0, cell 0 reads the model input.
        """
        if cell.is_empty or self.n_cells == 0:
            return ()
        lookbacks = self.cell_inputs(cell)
        reached = {self.n_cells - 1}
        frontier = [self.n_cells - 1]
        while frontier:
            index = frontier.pop()
            for lookback in lookbacks:
                source = index + lookback
                if source >= 0 and source not in reached:
                    reached.add(source)
                    frontier.append(source)
        return tuple(sorted(reached))


def _one_of(choices: tuple[str, ...]) -> str:
    return "expected one of " + ", ".join(f'"{c}"' for c in choices)
