"""TOML syntax errors at the end of a file name the line where the unclosed construct starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from scinas.config.loading import load_toml
from scinas.config.syntax import Unclosed, last_content_line, unclosed_construct
from scinas.errors import ConfigError


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "configurations.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_toml(path)
    return str(caught.value)


@pytest.mark.parametrize(("text", "line", "kind", "snippet", "closer"), [
    ('[E]\nseed = 1\nmetrics = ["R_squared",\n  "MeanAbsoluteError",\n  # more later\n\n', 3, "array",
     'metrics = ["R_squared",', "]"),
    ('[E]\noptimizer = { name = "adam", learning_rate = [1e-3', 2, "inline table",
     'optimizer = { name = "adam", learning_rate = [1e-3', "}"),
    ('[E]\ndescription = """a long\ntext\n', 2, "multi-line string", 'description = """a long', '"""'),
    ("[E]\npattern = '''x\n", 2, "multi-line string", "pattern = '''x", "'''"),
    ("[E]\nseed = 1\n[E.training", 3, "table header", "[E.training", "]"),
])
def test_an_unclosed_construct_names_the_line_it_starts_on(tmp_path: Path, text: str, line: int, kind: str,
                                                            snippet: str, closer: str) -> None:
    message = _error(tmp_path, text)
    assert "end of document" not in message
    assert f"at line {line}, column" in message and f"the {kind} opened there is never closed" in message
    assert f"in `{snippet}`" in message and closer in message.split("fix:")[1]


def test_an_incomplete_last_line_is_named(tmp_path: Path) -> None:
    message = _error(tmp_path, "[E]\nseed = 1\n# comment\nepochs =")
    assert "at line 4 (the end of the file)" in message and "in `epochs =`" in message
    assert "end of document" not in message


def test_errors_inside_the_file_keep_their_own_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "[E]\nseed = = 1\n")
    assert "at line 2, column" in message and "in `seed = = 1`" in message


def test_the_scanner_skips_strings_and_comments() -> None:
    text = 'a = ["]", \'[\', """\n]"""]  # [\nb = { c = [1, 2], d = "{" }\ne = [ # ]\n  1,\n'
    assert unclosed_construct(text) == Unclosed(line=4, column=5, kind="array")
    assert unclosed_construct('a = ["x", "y"]\n[t]\n[[u]]\nb = """q""""\n') is None
    assert unclosed_construct('a = "no end\nb = [1]\n') is None  # a single-line string ends at its line
    assert unclosed_construct('a = [\n  [1, 2],\n  [3, 4,\n]\n') == Unclosed(line=1, column=5, kind="array")
    assert unclosed_construct('s = "a\\"[b"\nt = [\n') == Unclosed(line=2, column=5, kind="array")
    assert last_content_line("a = 1\n\n# only a comment\n  \n") == (1, "a = 1")
    assert last_content_line("# nothing\n") is None
