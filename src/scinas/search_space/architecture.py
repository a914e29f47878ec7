"""What a trial trains.  An :class:`Architecture` has a canonical text form (stored per trial and
compared for equality) and a JSON form (for the store and for predictors).
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from typing import Any

from scinas.config.experiment import LayerSpec

__all__ = ["Architecture", "LayerStackArchitecture"]


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
