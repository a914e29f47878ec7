"""Formulas over metrics: the allow-list holds against attacks, values are per trial and never crash."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from scinas.config.formula import FUNCTIONS, MAX_FORMULA_LENGTH, parse_formula
from scinas.errors import ConfigError


def test_arithmetic_and_every_function() -> None:
    formula = parse_formula("accuracy * 100 / latency_ms")
    assert formula.names == ("accuracy", "latency_ms") and not formula.is_metric
    values, reasons = formula.evaluate({"accuracy": np.array([0.9, 0.5]), "latency_ms": np.array([3.0, 2.0])})
    np.testing.assert_allclose(values, [30.0, 25.0])
    assert reasons == [None, None]
    x = {"a": 4.0, "b": 2.0}
    cases = {"log(a)": math.log(4), "log10(a * 25)": 2.0, "exp(b)": math.exp(2), "sqrt(a)": 2.0, "abs(-a)": 4.0,
             "power(a, b)": 16.0, "minimum(a, b)": 2.0, "maximum(a, b)": 4.0, "-a + +b - 1": -3.0, "a ** 0.5": 2.0,
             "(a - b) * 3 / 2": 3.0, "1e-3 * a": 0.004}
    for text, expected in cases.items():
        value, reason = parse_formula(text).value(x)
        assert value == pytest.approx(expected) and reason is None, text
    assert set(FUNCTIONS) == {"log", "log10", "exp", "sqrt", "power", "minimum", "maximum", "abs"}
    assert parse_formula(" accuracy ").is_metric


@pytest.mark.parametrize(("text", "construct"), [
    ("__import__('os')", "a call of '__import__'"),
    ("__import__('os').system('true')", "a call of \"__import__('os').system\""),
    ("accuracy.__class__", "attribute access"),
    ("(1).__class__.__bases__", "attribute access"),
    ("lambda: 1", "a lambda"),
    ("__builtins__", "names starting with '_'"),
    ("_x + 1", "names starting with '_'"),
    ("eval('1')", "a call of 'eval'"),
    ("open('/etc/passwd')", "a call of 'open'"),
    ("log.__call__(1)", "a call of 'log.__call__'"),
    ("[x for x in y]", "a comprehension"),
    ("sum(x for x in y)", "a call of 'sum'"),
    ("metrics['accuracy']", "a subscript"),
    ("a if b else c", "a conditional expression"),
    ("a < b", "a comparison"),
    ("a and b", "a boolean operator"),
    ("(a := 1)", "an assignment"),
    ("a // 2", "'//'"),
    ("a % 2", "'%'"),
    ("~a", "'~'"),
    ("'text'", "the constant 'text'"),
    ("f'{a}'", "a string"),
    ("True", "the constant True"),
    ("1j", "the constant 1j"),
    ("log(a, b)", "log with 2 argument(s)"),
    ("power(a)", "power with 1 argument(s)"),
    ("log(x=a)", "a keyword argument"),
    ("log(*a)", "unpacking"),
    ("log + 1", "the function 'log' used as a value"),
    ("(a, b)", "a tuple"),
])
def test_disallowed_constructs_are_config_errors_naming_them(text: str, construct: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_formula(text, file="configurations.toml", path="A.search.target")
    message = str(caught.value)
    assert construct in message and "not allowed in a formula at column" in message
    assert message.startswith("configurations.toml: [A.search] target = ")
    assert caught.value.path == "A.search.target"


@pytest.mark.parametrize("text", ["", "   ", "a +", "import os", "a = 1", "x; y", 3, None])
def test_not_a_formula(text: object) -> None:
    with pytest.raises(ConfigError, match="formula") as caught:
        parse_formula(text, path="A.search.target")
    assert caught.value.path == "A.search.target"


def test_pathological_input_is_refused_quickly() -> None:
    with pytest.raises(ConfigError, match=f"longer than {MAX_FORMULA_LENGTH}"):
        parse_formula("a+" * 400 + "a")
    with pytest.raises(ConfigError, match="nesting deeper"):
        parse_formula("-" * 100 + "a")
    with pytest.raises(ConfigError, match="number too large"):
        parse_formula("1e999 * a")
    started = time.perf_counter()
    value, reason = parse_formula("10 ** 10 ** 10 ** 10").value({})  # floats: an overflow, not a huge integer
    assert math.isnan(value) and "not finite" in str(reason)
    value, reason = parse_formula("9 ** 9 ** 9 * a").value({"a": 1.0})
    assert math.isnan(value) and "not finite" in str(reason)
    assert time.perf_counter() - started < 1.0


def test_an_unknown_name_is_a_config_error_with_the_names_available() -> None:
    formula = parse_formula("accurcy * 100 / latency_ms", file="configurations.toml", path="A.search.target")
    with pytest.raises(ConfigError) as caught:
        formula.check_names(["accuracy", "loss", "latency_ms", "params"])
    message = str(caught.value)
    assert "unknown name 'accurcy'" in message
    assert "the metrics available are: accuracy, latency_ms, loss, params" in message
    assert 'did you mean "accuracy"' in message and caught.value.path == "A.search.target"
    parse_formula("accuracy / params").check_names(["accuracy", "params"])  # known names pass


def test_bad_values_are_recorded_per_trial_and_never_raise() -> None:
    formula = parse_formula("accuracy * 100 / latency_ms + log(params)")
    values, reasons = formula.evaluate({
        "accuracy": [0.9, 0.8, None, 0.7, 0.6, np.inf],
        "latency_ms": [2.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        "params": [1.0, 1.0, 1.0, 0.0, -5.0, 1.0],
    })
    assert values[0] == pytest.approx(45.0)
    assert np.isnan(values[1:]).all()
    assert reasons[0] is None
    assert reasons[1] == "division by zero in 'accuracy * 100 / latency_ms'"
    assert reasons[2] == "accuracy is missing"
    assert reasons[3] is not None and reasons[3].startswith("log(params) is not finite")
    assert reasons[4] is not None and reasons[4].startswith("log(params) is not finite")
    assert reasons[5] == "accuracy is inf"


def test_scalars_broadcast_and_shapes_must_agree() -> None:
    formula = parse_formula("a / b")
    values, reasons = formula.evaluate({"a": [1.0, 2.0], "b": 2.0})
    np.testing.assert_allclose(values, [0.5, 1.0])
    assert reasons == [None, None]
    with pytest.raises(ValueError, match="one per trial"):
        formula.evaluate({"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]})
    value, reason = formula.value({"a": 1.0, "b": 0.0})
    assert math.isnan(value) and reason == "division by zero in 'a / b'"
