"""Targets as formulas over recorded metrics, parsed and evaluated without ``eval``.

A search, a predictor or a selection may rank architectures by a combination of what the trials
recorded rather than by one metric, e.g. accuracy per millisecond of latency::

    [A.search]
    target = "accuracy * 100 / latency_ms"

:func:`parse_formula` reads the text with Python's parser in expression mode and accepts only an
allow-list of node types: numbers, names, the arithmetic operators ``+ - * / **``, unary ``-``
and ``+``, and calls of :data:`FUNCTIONS` (``log``, ``log10``, ``exp``, ``sqrt``, ``abs`` with one
argument; ``power``, ``minimum``, ``maximum`` with two).  Attribute access, subscripts, lambdas,
comprehensions, comparisons, keyword arguments, strings and any other call are rejected with the
construct and its column; names starting with an underscore are rejected outright.  The text is
never compiled or executed: :class:`Formula` walks the checked tree itself, in float64 (an
integer literal is a float, so ``10 ** 10 ** 10`` is an overflow to ``inf``, not a hang).

Evaluation is per trial and never raises for the values themselves: :meth:`Formula.evaluate`
takes one column of values per name (a NumPy array each, or scalars) and returns the values and,
for every trial whose value is not a finite number, why (``division by zero in 'a / b'``,
``log(x) is -inf``, a missing metric).  :meth:`Formula.check_names` turns an unknown name into a
:class:`~scinas.errors.ConfigError` at the formula's TOML path that lists the names available.

Example::

    formula = parse_formula("accuracy * 100 / latency_ms", path="A.search.target")
    formula.names                                   # ('accuracy', 'latency_ms')
    values, reasons = formula.evaluate({"accuracy": [0.9, 0.8], "latency_ms": [3.0, 0.0]})
    values                                          # [30.0, nan]
    reasons                                         # [None, "division by zero in 'accuracy * 100 / latency_ms'"]
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scinas.config.reader import suggest
from scinas.errors import ConfigError

__all__ = ["FUNCTIONS", "MAX_FORMULA_LENGTH", "Formula", "parse_formula"]

#: The longest formula text accepted (a guard against pathological input to the parser).
MAX_FORMULA_LENGTH = 500
#: The deepest nesting of operations accepted.
_MAX_DEPTH = 40

_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log": np.log, "log10": np.log10, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs,
}
_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "power": np.power, "minimum": np.minimum, "maximum": np.maximum,
}
#: The functions a formula may call, with their number of arguments.
FUNCTIONS: Mapping[str, int] = {**{name: 1 for name in _UNARY}, **{name: 2 for name in _BINARY}}

_OPERATORS: dict[type[ast.operator], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power,
}

# What a rejected construct is called in the error message.
_CONSTRUCTS: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension", ast.Compare: "a comparison", ast.BoolOp: "a boolean operator",
    ast.IfExp: "a conditional expression", ast.NamedExpr: "an assignment", ast.Starred: "unpacking",
    ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict", ast.Set: "a set", ast.JoinedStr: "a string",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "a slice",
}
_BAD_OPERATORS: dict[type[ast.AST], str] = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~", ast.Not: "not",
}


@dataclass(frozen=True)
class Formula:
    """A checked formula (build it with :func:`parse_formula`); ``names`` are its variables, sorted."""

    text: str
    names: tuple[str, ...]
    _tree: ast.expr = field(repr=False, compare=False)
    file: str = field(default="", repr=False, compare=False)
    path: str = field(default="", repr=False, compare=False)

    @property
    def is_metric(self) -> bool:
        """Whether the formula is one bare name (a plain metric, no arithmetic)."""
        return isinstance(self._tree, ast.Name)

    def check_names(self, available: Iterable[str], *, what: str = "metrics") -> None:
        """A :class:`ConfigError` at the formula's path unless every name is in ``available``."""
        known = sorted(set(available))
        unknown = [name for name in self.names if name not in known]
        if unknown:
            listed = ", ".join(known) or "none"
            raise ConfigError(f"unknown name {unknown[0]!r} in the formula; the {what} available are: {listed}",
                              file=self.file or None, path=self.path or None, value=self.text,
                              fix=suggest(unknown[0], known))

    def evaluate(self, values: Mapping[str, Sequence[float | None] | np.ndarray | float | None]
                 ) -> tuple[np.ndarray, list[str | None]]:
        """The formula's value per trial and, per trial, why it is not a finite number (else None).

        ``values`` maps each name to one value per trial (or one scalar for all); a name absent from
        ``values`` is a ``KeyError`` (check names first), a missing value (None or NaN) makes that
        trial's result NaN with the reason.  Never raises for the values themselves.
        """
        columns: dict[str, np.ndarray] = {}
        for name in self.names:
            raw = values[name]
            raw_array = np.asarray(raw, dtype=object)
            column = np.asarray([np.nan if v is None else v for v in raw_array.ravel()], dtype=np.float64)
            columns[name] = column.reshape(()) if raw_array.ndim == 0 else column
        lengths = {column.shape[0] for column in columns.values() if column.ndim}
        if len(lengths) > 1 or any(column.ndim > 1 for column in columns.values()):
            shapes = {name: column.shape for name, column in columns.items()}
            raise ValueError(f"formula {self.text!r}: the values need one per trial, the same number for every "
                             f"name; got shapes {shapes}")
        scalar = not lengths
        size = lengths.pop() if lengths else 1
        reasons: list[str | None] = [None] * size
        for name, column in columns.items():
            for index in np.flatnonzero(~np.isfinite(np.broadcast_to(column, (size,)))):
                value = float(column if column.ndim == 0 else column[index])
                self._explain(np.arange(size) == index, f"{name} is {'missing' if math.isnan(value) else value}",
                              reasons)
        with np.errstate(all="ignore"):
            result = np.broadcast_to(self._walk(self._tree, columns, reasons, size), (size,)).astype(np.float64)
        result = np.where(np.isfinite(result), result, np.nan)
        for index in np.flatnonzero(np.isnan(result)):
            if reasons[index] is None:
                reasons[index] = f"{self.text!r} is not a finite number"
        return (result[:1].reshape(()) if scalar else result), reasons

    def value(self, values: Mapping[str, float | None]) -> tuple[float, str | None]:
        """One trial's value (NaN when not finite) and why it is not finite (else None)."""
        result, reasons = self.evaluate(values)
        return float(np.asarray(result).ravel()[0]), reasons[0]

    # -- evaluation ------------------------------------------------------------------------------
    def _snippet(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.unparse(node)

    def _walk(self, node: ast.expr, columns: Mapping[str, np.ndarray], reasons: list[str | None],
              size: int) -> np.ndarray:
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)  # guaranteed by _check
            return np.asarray(float(node.value))
        if isinstance(node, ast.Name):
            return columns[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = self._walk(node.operand, columns, reasons, size)
            return np.negative(operand) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            left = self._walk(node.left, columns, reasons, size)
            right = self._walk(node.right, columns, reasons, size)
            if isinstance(node.op, ast.Div):
                zero = np.broadcast_to((right == 0) & np.isfinite(left), (size,))
                self._explain(zero, f"division by zero in {self._snippet(node)!r}", reasons)
            result = _OPERATORS[type(node.op)](left, right)
        else:
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)  # guaranteed by _check
            arguments = [self._walk(argument, columns, reasons, size) for argument in node.args]
            name = node.func.id
            result = _UNARY[name](arguments[0]) if name in _UNARY else _BINARY[name](arguments[0], arguments[1])
            arguments_finite = np.ones(size, dtype=bool)
            for argument in arguments:
                arguments_finite &= np.broadcast_to(np.isfinite(argument), (size,))
            bad = arguments_finite & ~np.broadcast_to(np.isfinite(result), (size,))
            self._explain(bad, f"{self._snippet(node)} is not finite (outside its domain or too large)", reasons)
            return np.asarray(result, dtype=np.float64)
        finite_inputs = (np.broadcast_to(np.isfinite(left), (size,)) & np.broadcast_to(np.isfinite(right), (size,)))
        overflow = finite_inputs & ~np.broadcast_to(np.isfinite(result), (size,))
        self._explain(overflow, f"{self._snippet(node)!r} is not finite (overflow or an undefined power)", reasons)
        return np.asarray(result, dtype=np.float64)

    @staticmethod
    def _explain(mask: np.ndarray, reason: str, reasons: list[str | None]) -> None:
        for index in np.flatnonzero(mask):
            if reasons[index] is None:
                reasons[index] = reason


def _reject(text: str, node: ast.AST, what: str, *, file: str, path: str) -> ConfigError:
    column = getattr(node, "col_offset", None)
    where = f" at column {column + 1}" if column is not None else ""
    segment = ast.get_source_segment(text, node)
    shown = f" ({segment!r})" if segment and segment != text else ""
    allowed = ", ".join(FUNCTIONS)
    return ConfigError(f"{what} is not allowed in a formula{where}{shown}", file=file or None, path=path or None,
                       value=text, fix="use numbers, metric names, + - * / ** and the functions "
                                       f"{allowed}")


def _check(text: str, node: ast.AST, names: set[str], depth: int, *, file: str, path: str) -> None:
    if depth > _MAX_DEPTH:
        raise _reject(text, node, f"nesting deeper than {_MAX_DEPTH} levels", file=file, path=path)

    def recurse(child: ast.AST) -> None:
        _check(text, child, names, depth + 1, file=file, path=path)

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise _reject(text, node, f"the constant {node.value!r}", file=file, path=path)
        if not math.isfinite(float(node.value)):
            raise _reject(text, node, "a number too large for a float", file=file, path=path)
    elif isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise _reject(text, node, f"the name {node.id!r} (names starting with '_')", file=file, path=path)
        if node.id in FUNCTIONS:
            raise _reject(text, node, f"the function {node.id!r} used as a value (call it: {node.id}(x))",
                          file=file, path=path)
        names.add(node.id)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise _reject(text, node, f"the operator {_BAD_OPERATORS.get(type(node.op), type(node.op).__name__)!r}",
                          file=file, path=path)
        recurse(node.operand)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            raise _reject(text, node, f"the operator {_BAD_OPERATORS.get(type(node.op), type(node.op).__name__)!r}",
                          file=file, path=path)
        recurse(node.left)
        recurse(node.right)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            called = ast.get_source_segment(text, node.func) or ast.unparse(node.func)
            raise _reject(text, node, f"a call of {called!r} (only {', '.join(FUNCTIONS)} may be called)",
                          file=file, path=path)
        if node.keywords:
            raise _reject(text, node, "a keyword argument", file=file, path=path)
        arity = FUNCTIONS[node.func.id]
        if len(node.args) != arity:
            raise _reject(text, node, f"{node.func.id} with {len(node.args)} argument(s) (it takes {arity})",
                          file=file, path=path)
        for argument in node.args:
            recurse(argument)
    else:
        what = _CONSTRUCTS.get(type(node), f"the construct {type(node).__name__}")
        raise _reject(text, node, what, file=file, path=path)


def parse_formula(text: Any, *, file: str = "", path: str = "") -> Formula:
    """Check ``text`` against the allow-list (see the module docstring) and return the :class:`Formula`.

    Anything else is a :class:`ConfigError` at ``file``/``path`` naming the construct and its column.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("expected a formula such as \"accuracy * 100 / latency_ms\"", file=file or None,
                          path=path or None, value=text, fix="write a metric name or arithmetic over metric names")
    if len(text) > MAX_FORMULA_LENGTH:
        raise ConfigError(f"the formula is longer than {MAX_FORMULA_LENGTH} characters", file=file or None,
                          path=path or None, value=text[:40] + "...", fix="write a shorter formula")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        detail = getattr(error, "msg", None) or str(error) or type(error).__name__
        column = getattr(error, "offset", None)
        where = f" at column {column}" if isinstance(column, int) and column >= 1 else ""
        raise ConfigError(f"not a valid formula{where}: {detail}", file=file or None, path=path or None,
                          value=text, fix="write arithmetic such as \"accuracy * 100 / latency_ms\"") from None
    names: set[str] = set()
    _check(source, tree.body, names, 0, file=file, path=path)
    return Formula(source, tuple(sorted(names)), tree.body, file=file, path=path)
