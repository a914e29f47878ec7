"""Registered classes that own their TOML table: the TOML twin of Keras' ``get_config``/``from_config``.

A :class:`Configurable` class declares its options **once**, as a frozen dataclass named
``Options`` whose fields carry the default, the bounds and a one-line description
(:func:`option`).  From that declaration come

* :meth:`Configurable.from_table`: read and validate the class's own keys of a TOML table with
  the path-aware :class:`~scinas.config.reader.Table` errors (file, TOML path, value,
  expectation, fix), unknown keys included;
* :func:`options_table` (and :meth:`Configurable.to_table` on an instance): the table back, so
  that ``from_table(options_table(x)) == x``;
* :func:`option_rows`: the documentation rows (name, type, default, meaning), so that the
  generated docs cannot drift from the code.

Example::

    @STRATEGIES.register("greedy")
    class GreedyStrategy(LedgerStrategy):
        @dataclass(frozen=True)
        class Options:
            width: int = option(4, minimum=1, doc="candidates kept per round")

    options = GreedyStrategy.from_table(Table({"width": 8}, file="configurations.toml", path="A.search"))
    options_table(options)      # {"width": 8}

Python callers pass the same options as keywords; :func:`options_from_kwargs` validates them with
the same rules (the TOML path of an error is then the keyword's name).

Besides booleans, numbers, strings and arrays of them, an option may hold a value type of its own
that reads itself from TOML (e.g. a registered name with that class's own sub-table, as a
search's ``predictor``): such a type has a classmethod ``read_option(table, key, default)``, a
method ``to_option()`` giving the TOML value back, and a class attribute ``toml_type`` (its type
as the docs write it).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scinas.config.reader import Table
from scinas.errors import ConfigError

__all__ = ["Configurable", "NoOptions", "OptionRow", "option", "option_rows", "options_from_kwargs",
           "options_table", "read_options"]

_META = "scinas"


def option(default: Any, *, doc: str, minimum: float | None = None, maximum: float | None = None,
           exclusive_minimum: bool = False, choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field of an ``Options`` declaration: its default, bounds and meaning."""
    meta = {"doc": doc, "minimum": minimum, "maximum": maximum, "exclusive_minimum": exclusive_minimum,
            "choices": choices}
    if isinstance(default, list):
        default = tuple(default)
    return field(default=default, metadata={_META: meta})


@dataclass(frozen=True)
class NoOptions:
    """The options of a class that takes none (its table must be empty)."""


@dataclass(frozen=True)
class OptionRow:
    """One documented option: TOML key, type as written in TOML, default (TOML text) and meaning."""

    name: str
    type: str
    default: str
    doc: str


def _fields(options_type: type) -> Iterator[tuple[dataclasses.Field[Any], Any, dict[str, Any]]]:
    hints = typing.get_type_hints(options_type)
    for item in dataclasses.fields(options_type):
        if not item.init:
            continue
        yield item, hints[item.name], dict(item.metadata.get(_META, {}))


def _optional(hint: Any) -> tuple[Any, bool]:
    """``(inner, True)`` for ``X | None``, ``(hint, False)`` otherwise."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _read(table: Table, name: str, hint: Any, default: Any, meta: dict[str, Any]) -> Any:
    inner, optional = _optional(hint)
    if optional and not table.has(name):
        table.any(name, None)
        return default
    reader = getattr(inner, "read_option", None)
    if reader is not None:  # a value type that reads itself (see the module docstring)
        return reader(table, name, default)
    if isinstance(default, tuple):
        default = list(default)  # the Table getters take TOML values: arrays are lists
    minimum, maximum = meta.get("minimum"), meta.get("maximum")
    if inner is bool:
        return table.boolean(name, default)
    if inner is int:
        return table.integer(name, default, minimum=_int(minimum), maximum=_int(maximum))
    if inner is float:
        return table.number(name, default, minimum=minimum, maximum=maximum,
                            exclusive_minimum=bool(meta.get("exclusive_minimum")))
    if inner is str:
        return table.string(name, default, choices=meta.get("choices"))
    if typing.get_origin(inner) is tuple:
        element = typing.get_args(inner)[0]
        if element is str:
            return table.string_list(name, default)
        if element is int:
            values = table.array(name, default)
            for value in values:
                if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
                    raise table.error(name, f"expected an array of integers{_bound(minimum)}")
            return tuple(values)
        return tuple(table.number_list(name, default, minimum=minimum, maximum=maximum))
    raise TypeError(f"option {name!r} has a type scinas cannot read from TOML: {hint!r}")


def _int(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


def _bound(minimum: float | None) -> str:
    return "" if minimum is None else f" >= {minimum:g}"


def read_options(options_type: type, table: Table) -> Any:
    """The ``options_type`` instance that ``table`` describes (absent keys take their default).

    The declaration's optional ``check(self)`` method then checks what spans several keys; a
    :class:`ConfigError` it raises with ``path`` set to a key is relocated into ``table``.
    Unknown keys are rejected (with a "did you mean") by :meth:`Table.finish`.
    """
    values: dict[str, Any] = {}
    for item, hint, meta in _fields(options_type):
        default = item.default if item.default is not dataclasses.MISSING else _required()
        values[item.name] = _read(table, item.name, hint, default, meta)
    table.finish()
    options = options_type(**values)
    check = getattr(options, "check", None)
    if callable(check):
        try:
            check()
        except ConfigError as exc:
            raise ConfigError(exc.problem, file=table.file, path=table.key_path(exc.path or ""),
                              value=exc.value, fix=exc.fix) from None
    return options


def _required() -> Any:
    from scinas.config import reader

    return reader._REQUIRED


def options_from_kwargs(options_type: type, kwargs: Mapping[str, Any]) -> Any:
    """Validate keyword options given in Python with the rules of the TOML table."""
    values = {key: list(value) if isinstance(value, tuple) else value for key, value in kwargs.items()}
    return read_options(options_type, Table(values, file="", path=""))


def options_table(options: Any) -> dict[str, Any]:
    """The TOML table of an options instance (``None`` values are left out, tuples become arrays)."""
    table: dict[str, Any] = {}
    for item in dataclasses.fields(options):
        value = getattr(options, item.name)
        if value is None:
            continue
        table[item.name] = _toml_value(value)
    return table


def _toml_value(value: Any) -> Any:
    """An option's value as TOML holds it (tuples become arrays; value types write themselves)."""
    if hasattr(value, "to_option"):
        return value.to_option()
    return list(value) if isinstance(value, tuple) else value


def _toml_text(value: Any) -> str:
    if hasattr(value, "to_option"):
        value = value.to_option()
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key} = {_toml_text(v)}" for key, v in value.items()) + " }"
    return repr(value)


def _type_text(hint: Any) -> str:
    inner, optional = _optional(hint)
    if hasattr(inner, "toml_type"):
        text = str(inner.toml_type)
    elif typing.get_origin(inner) is tuple:
        text = f"array of {_type_text(typing.get_args(inner)[0])}s"
    else:
        text = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(inner, str(inner))
    return text + " (optional)" if optional else text


def option_rows(options_type: type) -> list[OptionRow]:
    """The documentation of every option of ``options_type``, in declaration order."""
    rows = []
    for item, hint, meta in _fields(options_type):
        doc = meta.get("doc", "")
        above = ">" if meta.get("exclusive_minimum") else ">="
        bounds = [f"{above} {meta['minimum']:g}" if meta.get("minimum") is not None else "",
                  f"<= {meta['maximum']:g}" if meta.get("maximum") is not None else ""]
        if meta.get("choices"):
            bounds.append("one of " + ", ".join(f'"{c}"' for c in meta["choices"]))
        extra = ", ".join(b for b in bounds if b)
        default = item.default if item.default is not dataclasses.MISSING else None
        rows.append(OptionRow(item.name, _type_text(hint) + (f", {extra}" if extra else ""), _toml_text(default),
                              doc))
    return rows


class Configurable:
    """A class whose TOML table is its ``Options`` declaration (see the module docstring).

    Instances keep their validated options in ``self.options``; :meth:`to_table` writes them back.
    """

    Options: ClassVar[type[Any]] = NoOptions
    options: Any

    @classmethod
    def from_table(cls, table: Table) -> Any:
        """The validated options of this class read from ``table`` (every key of it is checked)."""
        return read_options(cls.Options, table)

    @classmethod
    def default_options(cls) -> Any:
        """The options when the table sets nothing."""
        return cls.Options()

    def to_table(self) -> dict[str, Any]:
        """This instance's options as the TOML table :meth:`from_table` reads back."""
        return options_table(self.options)
