"""One entry of a fixed layer stack (``[X.structure] layers``), kept where both the config schema
and the architectures can import it without importing each other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LayerSpec"]


@dataclass(frozen=True)
class LayerSpec:
    """A Keras layer class name and its arguments, and where in the TOML it was written."""

    type: str
    arguments: Mapping[str, Any]
    file: str
    path: str
