"""What Keras offers by name: the public classes of a module and the arguments a class takes.

Used to resolve and check the names and arguments written in TOML before anything is built
(a lookup in a dict built from the module, never ``eval`` or ``importlib`` on user strings).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from functools import cache
from types import ModuleType
from typing import TypeVar, cast

__all__ = ["constructor_arguments", "public_classes"]

T = TypeVar("T")


def constructor_arguments(cls: type) -> tuple[str, ...]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up the class hierarchy.

    ``self`` is excluded; the order is the declaration order, the class's own arguments first.
    """
    names: dict[str, None] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        for parameter in parameters:
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                names.setdefault(parameter.name)
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    names.pop("self", None)
    return tuple(names)


@cache
def _public_classes(module: ModuleType, base: type, exclude: frozenset[str]) -> dict[str, type]:
    found: dict[str, type] = {}
    for attribute in dir(module):
        value = getattr(module, attribute)
        if (isinstance(value, type) and issubclass(value, base) and value is not base
                and not attribute.startswith("_") and attribute not in exclude):
            found[attribute] = value
    return found


def public_classes(module: ModuleType, base: type[T], exclude: Iterable[str] = ()) -> dict[str, type[T]]:
    """Subclasses of ``base`` exported by ``module`` (e.g. ``keras.layers``), by exported name."""
    found: dict[str, type[T]] = dict(_public_classes(module, cast(type, base), frozenset(exclude)))
    return found
