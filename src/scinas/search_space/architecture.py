"""What a trial trains.  An :class:`Architecture` has a canonical text form (stored per trial and
compared for equality) and a JSON form (for the store and for predictors).

Two kinds exist: :class:`LayerStackArchitecture` (a fixed ``[X.structure]`` layer list) and
:class:`CellArchitecture` (a searched cell stacked by a macro-architecture)::

    arch = CellArchitecture(Cell.from_text("[(-1, 3x3 conv, -2, 2x2 maxpool)]"), MacroConfig(filters=16))
    arch.to_text()    # '[(-1, 3x3 conv, -2, 2x2 maxpool)] {filters=16}'
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scinas.errors import ConfigError, format_value
from scinas.search_space.layer_spec import LayerSpec
from scinas.search_space.macro import MacroConfig

if TYPE_CHECKING:
    from scinas.search_space.cell import Cell

__all__ = ["Architecture", "CellArchitecture", "LayerStackArchitecture"]


class Architecture(abc.ABC):
    """One point of a search space."""

    @abc.abstractmethod
    def to_text(self) -> str:
        """Canonical, human-readable text; equal architectures have equal texts."""

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description."""

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True)
class LayerStackArchitecture(Architecture):
    """A fixed stack of Keras layers, as written in ``[X.structure] layers``."""

    layers: tuple[LayerSpec, ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "layer_stack",
                "layers": [{"type": spec.type, **dict(spec.arguments)} for spec in self.layers]}

    def to_text(self) -> str:
        parts = []
        for spec in self.layers:
            arguments = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(spec.arguments.items()))
            parts.append(f"{spec.type}({arguments})")
        return " -> ".join(parts)


@dataclass(frozen=True)
class CellArchitecture(Architecture):
    """A cell (the searched part) and the macro-architecture that stacks it into a network.

    The text is the cell's canonical text, followed by a compact tag of the macro settings that
    differ from :class:`MacroConfig`'s defaults (nothing when all are defaults), so equal
    architectures have equal texts and the text of a search with default settings is the cell's.
    """

    cell: Cell
    macro: MacroConfig = field(default_factory=MacroConfig)

    def to_text(self) -> str:
        differences = self.macro.differences()
        if not differences:
            return self.cell.to_text()
        tag = ", ".join(f"{key}={format_value(value)}" for key, value in differences.items())
        return f"{self.cell.to_text()} {{{tag}}}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "cell", "cell": self.cell.to_json(), "macro": self.macro.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CellArchitecture:
        """The inverse of :meth:`to_json`."""
        from scinas.search_space.cell import Cell  # deferred: cells import operators (and Keras)

        if not isinstance(data, Mapping) or data.get("kind") != "cell" or "cell" not in data:
            raise ConfigError("expected the JSON of a cell architecture: {\"kind\": \"cell\", \"cell\": ..., "
                              "\"macro\": {...}}", value=data if isinstance(data, Mapping) else str(data))
        return cls(Cell.from_json(data["cell"]), MacroConfig.from_json(data.get("macro", {})))
