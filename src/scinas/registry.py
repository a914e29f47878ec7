"""A name → class registry, one instance per extension point (no global mutable state elsewhere).

Example::

    GENERATORS: Registry[type[DatasetGenerator]] = Registry("dataset generator")

    @GENERATORS.register("michaelis_menten")
    class MichaelisMentenGenerator(DatasetGenerator): ...

A registry made with ``discover="<package>"`` finds its built-in members itself: the first
lookup imports every module of that package (and a lookup of an unknown name imports any module
added since), so the classes that those modules register with the decorator are known without
any list of them.  Adding a member is then one module in the package plus its test::

    STRATEGIES: Registry[type[SearchStrategy]] = Registry("strategy", discover="scinas.search")

    # scinas/search/greedy.py: nothing else changes to make strategy = "greedy" selectable
    @STRATEGIES.register("greedy")
    class GreedyStrategy(LedgerStrategy): ...

The package is a constant of scinas's own code, never a string read from a user's file.  Modules
whose name starts with ``_`` are skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from scinas.config.reader import Table, suggest
from scinas.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps the names used in TOML to implementations (``discover``: see the module docstring)."""

    def __init__(self, kind: str, *, discover: str | None = None) -> None:
        self.kind = kind
        self.discover = discover
        self._items: dict[str, T] = {}
        self._discovered = False

    def _discover(self, *, again: bool = False) -> None:
        """Import the modules of the ``discover`` package not imported yet (once; ``again`` rescans)."""
        if self.discover is None or (self._discovered and not again):
            return
        self._discovered = True  # first: a module that looks a name up while imported does not recurse
        package = importlib.import_module(self.discover)
        for module in pkgutil.iter_modules(package.__path__, prefix=f"{self.discover}."):
            if not module.name.rpartition(".")[2].startswith("_") and module.name not in sys.modules:
                importlib.import_module(module.name)

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
        self._discover()
        if name not in self._items:
            self._discover(again=True)  # a module added to the package since the first lookup
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
        self._discover()
        return [(name, self._items[name]) for name in sorted(self._items)]

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests that register a class of their own and clean up after)."""
        self._items.pop(name, None)

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        self._discover()
        return iter(sorted(self._items))
