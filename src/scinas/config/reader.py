"""Strict, path-aware reading of TOML tables into typed values.

A :class:`Table` wraps one TOML table together with the file it came from and its dotted path.
Each getter checks the type and range of one key and raises a :class:`~scinas.errors.ConfigError`
that names file, path, value, expectation and fix.  :meth:`Table.finish` rejects every key that
was never read, with a "did you mean" hint, so typos never pass silently.

Example::

    t = Table(raw, file="data.toml", path="dtest.shape")
    n = t.integer("n_samples", minimum=1)
    splits = t.float_list("splits", length=3)
    t.finish()
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from scinas.errors import ConfigError

__all__ = ["Table", "suggest"]

T = TypeVar("T")
_REQUIRED: Any = object()


def suggest(name: str, known: Iterable[str]) -> str:
    """A "did you mean" fix, or a list of the known names."""
    known = sorted(known)
    for candidate in known:
        if candidate.lower() == name.lower():
            return f'did you mean "{candidate}"?'
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    if not known:
        return "nothing is defined yet"
    return "known: " + ", ".join(known)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


class Table:
    """One TOML table being validated; see the module docstring."""

    def __init__(self, raw: Mapping[str, Any], *, file: str, path: str) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"expected a table, got {_type_name(raw)}", file=file, path=path, value=raw
            )
        self.raw = dict(raw)
        self.file = file
        self.path = path
        self._seen: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------
    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str, *, fix: str | None = None, value: Any = _REQUIRED) -> ConfigError:
        """A ConfigError about ``key`` of this table (its value is included when present)."""
        if value is _REQUIRED and key in self.raw:
            value = self.raw[key]
        if value is _REQUIRED:
            return ConfigError(problem, file=self.file, path=self.key_path(key), fix=fix)
        return ConfigError(problem, file=self.file, path=self.key_path(key), value=value, fix=fix)

    def has(self, key: str) -> bool:
        return key in self.raw

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        if key in self.raw:
            return self.raw[key]
        if default is _REQUIRED:
            raise ConfigError(
                f"missing required key {key!r}",
                file=self.file,
                path=self.key_path(key),
                fix=f"add `{key} = ...` to [{self.path}]" if self.path else f"add `{key} = ...`",
            )
        return default

    # -- scalars ---------------------------------------------------------------------------
    def any(self, key: str, default: Any = _REQUIRED) -> Any:
        return self._get(key, default)

    def boolean(self, key: str, default: Any = _REQUIRED) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "expected a boolean", fix=f"write `{key} = true` or `{key} = false`")
        return value

    def integer(
        self,
        key: str,
        default: Any = _REQUIRED,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer{_range(minimum, maximum)}, got {_type_name(value)}")
        _check_range(self, key, value, minimum, maximum, "an integer")
        return value

    def number(
        self,
        key: str,
        default: Any = _REQUIRED,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
    ) -> float:
        value = self._get(key, default)
        return _as_number(self, key, value, minimum, maximum, exclusive_minimum)

    def optional_integer(self, key: str, *, minimum: int | None = None,
                         maximum: int | None = None) -> int | None:
        """An integer that may be absent (``None``)."""
        if key not in self.raw:
            self._seen.add(key)
            return None
        return self.integer(key, minimum=minimum, maximum=maximum)

    def optional_number(self, key: str, *, minimum: float | None = None,
                        maximum: float | None = None) -> float | None:
        """A number that may be absent (``None``)."""
        if key not in self.raw:
            self._seen.add(key)
            return None
        return self.number(key, minimum=minimum, maximum=maximum)

    def string(self, key: str, default: Any = _REQUIRED, *, choices: Sequence[str] | None = None) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_type_name(value)}")
        if choices is not None and value not in choices:
            raise self.error(
                key,
                "expected one of " + ", ".join(f'"{c}"' for c in choices),
                fix=suggest(value, choices),
            )
        return value

    # -- compound --------------------------------------------------------------------------
    def table(self, key: str, *, required: bool = False) -> Table:
        """A sub-table (an empty one when absent and not required)."""
        value = self._get(key, _REQUIRED if required else {})
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a table, got {_type_name(value)}",
                             fix=f"write it as [{self.key_path(key)}] or {key} = {{ ... }}")
        return Table(value, file=self.file, path=self.key_path(key))

    def array(self, key: str, default: Any = _REQUIRED) -> list[Any]:
        value = self._get(key, default)
        if not isinstance(value, list):
            raise self.error(key, f"expected an array, got {_type_name(value)}")
        return value

    def number_list(self, key: str, default: Any = _REQUIRED, *, length: int | None = None,
                    minimum: float | None = None, maximum: float | None = None) -> tuple[float, ...]:
        values = self.array(key, default)
        if length is not None and len(values) != length:
            raise self.error(key, f"expected an array of {length} numbers, got {len(values)}")
        return tuple(_as_number(self, key, v, minimum, maximum, False, whole=values) for v in values)

    def string_list(self, key: str, default: Any = _REQUIRED) -> tuple[str, ...]:
        values = self.array(key, default)
        for v in values:
            if not isinstance(v, str):
                raise self.error(key, f"expected an array of strings, found {_type_name(v)} {v!r}")
        return tuple(values)

    def min_max(self, stem: str, *, minimum: float | None = None,
                exclusive_minimum: bool = False) -> tuple[float, float]:
        """Read ``<stem>_min`` and ``<stem>_max`` and check that min <= max."""
        low = self.number(f"{stem}_min", minimum=minimum, exclusive_minimum=exclusive_minimum)
        high = self.number(f"{stem}_max", minimum=minimum, exclusive_minimum=exclusive_minimum)
        if low > high:
            raise self.error(
                f"{stem}_min",
                f"{stem}_min is above {stem}_max = {high!r}",
                fix=f"make {stem}_min <= {stem}_max (swap them?)",
            )
        return low, high

    def finish(self, *, allowed_extra: Iterable[str] = ()) -> None:
        """Reject every key that no getter read."""
        extra = set(allowed_extra)
        for key in self.raw:
            if key not in self._seen and key not in extra:
                raise ConfigError(
                    "unknown key",
                    file=self.file,
                    path=self.key_path(key),
                    value=self.raw[key],
                    fix=suggest(key, self._seen | extra),
                )


def _range(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _check_range(table: Table, key: str, value: float, minimum: float | None,
                 maximum: float | None, kind: str, exclusive_minimum: bool = False) -> None:
    too_low = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
    too_high = maximum is not None and value > maximum
    if too_low or too_high:
        if exclusive_minimum and minimum is not None:
            expectation = f"{kind} > {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        else:
            expectation = kind + _range(minimum, maximum)
        raise table.error(key, f"expected {expectation}")


def _as_number(table: Table, key: str, value: Any, minimum: float | None, maximum: float | None,
               exclusive_minimum: bool, whole: Any = _REQUIRED) -> float:
    shown = value if whole is _REQUIRED else whole
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise table.error(key, f"expected a number, got {_type_name(value)}", value=shown)
    number = float(value)
    if not math.isfinite(number):
        raise table.error(key, "expected a finite number", value=shown)
    try:
        _check_range(table, key, number, minimum, maximum, "a number", exclusive_minimum)
    except ConfigError as exc:
        raise table.error(key, exc.problem, value=shown) from None
    return number
