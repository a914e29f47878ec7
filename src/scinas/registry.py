"""A name → class registry, one instance per extension point (no global mutable state elsewhere).

Example::

    GENERATORS: Registry[type[DatasetGenerator]] = Registry("dataset generator")

    @GENERATORS.register("michaelis_menten")
    class MichaelisMentenGenerator(DatasetGenerator): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from scinas.config.reader import suggest
from scinas.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps the names used in TOML to implementations."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``item`` under ``name`` (re-registering a name is an error)."""

        def decorate(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return decorate

    def get(self, name: str, *, file: str | None = None, path: str | None = None) -> T:
        """The item registered as ``name``; a ConfigError listing the known names otherwise."""
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind}; known: {', '.join(sorted(self._items))}",
                file=file,
                path=path,
                value=name,
                fix=suggest(name, self._items),
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
