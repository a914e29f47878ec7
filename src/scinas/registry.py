"""A name → class registry, one instance per extension point (no global mutable state elsewhere).

Example::

    GENERATORS: Registry[type[DatasetGenerator]] = Registry("dataset generator")

    @GENERATORS.register("michaelis_menten")
    class MichaelisMentenGenerator(DatasetGenerator): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from scinas.config.reader import Table, suggest
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

    def resolve(self, name: str, table: Table, *, path: str | None = None) -> tuple[T, Any]:
        """The item registered as ``name`` and its options read from ``table`` by its ``from_table``.

        ``path`` is the TOML path of the key holding ``name`` (for the unknown-name error).  A
        ``from_table`` that raises anything but a :class:`ConfigError` is reported as a bug in that
        class, naming it, still as a ConfigError (exit code 2, no traceback).
        """
        item = self.get(name, file=table.file or None, path=path)
        from_table = getattr(item, "from_table", None)
        if from_table is None:
            table.finish()
            return item, None
        try:
            return item, from_table(table)
        except ConfigError:
            raise
        except Exception as exc:  # any other failure is a bug of that class, reported as such
            owner = getattr(item, "__qualname__", repr(item))
            module = getattr(item, "__module__", "?")
            raise ConfigError(f"bug in {self.kind} {name!r} ({module}.{owner}.from_table): it raised "
                              f"{type(exc).__name__}: {exc}", file=table.file or None, path=table.path or None,
                              fix=f"fix {owner}.from_table: it must raise a ConfigError for bad input") from exc

    def items(self) -> list[tuple[str, T]]:
        """``(name, item)`` pairs in name order (what the conformance suites iterate)."""
        return [(name, self._items[name]) for name in sorted(self._items)]

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests that register a class of their own and clean up after)."""
        self._items.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
