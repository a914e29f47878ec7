"""The conformance suite of registered classes' TOML tables: :func:`check_table`, :func:`registered`.

Every class registered under a TOML name owns its table (:mod:`scinas.configurable`).  The
suite checks, for one class, that

* its defaults round-trip: ``from_table(options_table(defaults)) == defaults``;
* every option round-trips on its own with a value other than its default (a value the
  class refuses for reasons spanning several keys is skipped);
* an unknown key is a :class:`~scinas.errors.ConfigError` naming the key, and a value of the
  wrong type one naming the option;
* every option is documented (:func:`~scinas.configurable.option_rows`).

:func:`registered` lists ``(registry, name, class)`` of every registry whose tables have defaults,
so a test parametrised over it checks every registration, including ones added from user code
before the test session collects::

    @pytest.mark.parametrize(("kind", "name", "cls"), registered())
    def test_tables(kind, name, cls):
        check_table(cls, name=f"{kind} {name}")

Dataset generators need real parameters (a source, a range): :func:`check_generator_table`
round-trips the ``[d.parameters]`` table each one gives as its example
(:meth:`~scinas.data.base.DatasetGenerator.example_table`), over :func:`registered_generators`.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from scinas.config.reader import Table
from scinas.configurable import option_rows, options_table
from scinas.errors import ConfigError

__all__ = ["check_generator_table", "check_table", "registered", "registered_generators"]

_FILE = "conformance.toml"


def _table(raw: dict[str, Any], path: str = "x") -> Table:
    return Table(raw, file=_FILE, path=path)


def _variant(value: Any, hint: Any) -> list[Any]:
    """TOML values of the option's type that differ from ``value`` (best first)."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin is not None and len(args) == 1 and origin is not tuple:
        hint = args[0]
    variants = getattr(hint, "option_variants", None)
    if variants is not None:  # a value type that reads itself (scinas.configurable)
        return list(variants(value))
    if hint is bool:
        return [not value]
    if hint is int:
        return [value + 1, value * 2 + 1] if isinstance(value, int) else [1, 3]
    if hint is float:
        return [value + 0.5, value * 0.5, value + 0.05] if isinstance(value, float | int) else [0.5, 1.5]
    if hint is str:
        return ["value-for-conformance"]
    if typing.get_origin(hint) is tuple:
        element = typing.get_args(hint)[0]
        return [[*(value or ()), {str: "--x=y", int: 2, float: 1.5}.get(element, 1)]]
    return []


def _inner(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) is not tuple and len(args) == 1 else hint


def check_table(cls: Any, *, name: str = "") -> None:
    """Raise ``AssertionError`` unless ``cls`` owns its table as the module docstring says."""
    what = name or getattr(cls, "__qualname__", repr(cls))
    options_type = cls.Options
    defaults = cls.from_table(_table({}))
    assert defaults == options_type(), f"{what}: an empty table does not give the declared defaults"
    again = cls.from_table(_table(options_table(defaults)))
    assert again == defaults, f"{what}: the defaults do not round-trip through to_table/from_table: {again}"
    hints = typing.get_type_hints(options_type)
    for item in dataclasses.fields(options_type):
        default = getattr(defaults, item.name)
        for value in _variant(default, hints[item.name]):
            if value == default:
                continue
            try:
                options = cls.from_table(_table({item.name: value}))
            except ConfigError:
                continue  # refused for this class's own reasons (a range or a rule across keys)
            assert getattr(options, item.name) != getattr(defaults, item.name), \
                f"{what}: option {item.name} = {value!r} was read as its default"
            assert cls.from_table(_table(options_table(options))) == options, \
                f"{what}: option {item.name} = {value!r} does not round-trip"
            break
        # A table is the wrong type for a plain option; a value type that reads itself may take
        # a table (e.g. a predictor's options), but never a boolean.
        wrong = True if hasattr(_inner(hints[item.name]), "read_option") else {"not": "a value"}
        try:
            cls.from_table(_table({item.name: wrong}))
        except ConfigError as exc:
            assert exc.path == f"x.{item.name}", f"{what}: a wrong type for {item.name} names {exc.path}"
        else:
            raise AssertionError(f"{what}: option {item.name} accepted a table as its value")
    try:
        cls.from_table(_table({"no_such_option": 1}))
    except ConfigError as exc:
        assert exc.path == "x.no_such_option", f"{what}: an unknown key is reported at {exc.path}"
    else:
        raise AssertionError(f"{what}: an unknown key was accepted")
    documented = {row.name: row for row in option_rows(options_type)}
    for item in dataclasses.fields(options_type):
        assert item.name in documented and documented[item.name].doc, f"{what}: option {item.name} has no doc"


def registered() -> list[tuple[str, str, Any]]:
    """``(registry kind, name, class)`` of every registered class that owns a TOML table."""
    import scinas.models.cell_network  # registers the cell-network generator
    import scinas.search_space.operators  # noqa: F401  (registers the operator families)
    from scinas.execution.registry import EXECUTORS
    from scinas.models.base import MODEL_GENERATORS
    from scinas.predictors import CURVE_FAMILIES, PREDICTORS
    from scinas.priors import PRIORS
    from scinas.search.registry import STRATEGIES
    from scinas.search_space.operators.base import ALLOCATORS
    from scinas.stoppers import STOPPERS
    from scinas.tracking import TRACKERS

    found: list[tuple[str, str, Any]] = []
    for registry in (STRATEGIES, PREDICTORS, PRIORS, TRACKERS, EXECUTORS, MODEL_GENERATORS, ALLOCATORS,
                     CURVE_FAMILIES, STOPPERS):
        found += [(registry.kind, name, item) for name, item in registry.items()]
    return found


def check_generator_table(cls: Any, folder: Path, *, name: str = "") -> None:
    """Raise ``AssertionError`` unless dataset generator ``cls`` round-trips its ``[d.parameters]``.

    Its :meth:`example_table` (which may write example files under ``folder``) must be valid;
    ``from_table(parameters_table(p)) == p`` and the table written back must be stable; an
    unknown key is a :class:`ConfigError` naming the key.
    """
    what = name or getattr(cls, "__qualname__", repr(cls))
    example = cls.example_table(folder)
    try:
        parameters = cls.from_table(_table(dict(example), "d.parameters"))
    except ConfigError as exc:
        raise AssertionError(f"{what}: its example_table() is not valid: {exc}") from exc
    table = cls.parameters_table(parameters)
    again = cls.from_table(_table(table, "d.parameters"))
    assert again == parameters, \
        f"{what}: the parameters do not round-trip through parameters_table/from_table: {again} != {parameters}"
    assert cls.parameters_table(again) == table, f"{what}: the table written back changes on a second round trip"
    try:
        cls.from_table(_table({**example, "no_such_parameter": 1}, "d.parameters"))
    except ConfigError as exc:
        assert exc.path == "d.parameters.no_such_parameter", f"{what}: an unknown key is reported at {exc.path}"
    else:
        raise AssertionError(f"{what}: an unknown key was accepted")


def registered_generators() -> list[tuple[str, Any]]:
    """``(name, class)`` of every registered dataset generator."""
    import scinas.data  # noqa: F401  (registers the shipped generators)
    from scinas.data.base import GENERATORS

    return GENERATORS.items()
