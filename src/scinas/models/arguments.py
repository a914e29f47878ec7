"""Which keyword arguments a Keras class takes, for checking TOML tables before construction."""

from __future__ import annotations

import inspect

__all__ = ["constructor_arguments"]


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
