"""Where a TOML construct left open at the end of a file starts.

``tomllib`` reports an unclosed array, inline table or multi-line string only as "at end of
document", which does not help in a long file.  :func:`unclosed_construct` scans the text the
way TOML reads it (comments, the four kinds of strings, brackets) and returns the outermost
construct still open at the end, so the error can name the line where it was opened.

Example::

    unclosed_construct('a = 1\\nb = [1,\\n  2,\\n')     # Unclosed(line=2, column=5, kind='array')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Unclosed", "last_content_line", "unclosed_construct"]

_CLOSERS = {"[": "]", "{": "}"}
_KINDS = {"[": "array", "{": "inline table", "header": "table header", '"""': "multi-line string",
          "'''": "multi-line string", '"': "string", "'": "string"}


@dataclass(frozen=True)
class Unclosed:
    """A construct opened at ``line``/``column`` (1-based) and never closed."""

    line: int
    column: int
    kind: str


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _string_end(text: str, index: int, quote: str) -> int | None:
    """Index just after the string opened by ``quote`` at ``index``; ``None`` when it never ends."""
    i = index + len(quote)
    multi = len(quote) == 3
    while i < len(text):
        char = text[i]
        if quote[0] == '"' and char == "\\":
            i += 2
            continue
        if not multi and char == "\n":
            return i  # a single-line string ends (badly) at the line's end; tomllib names that line
        if text.startswith(quote, i):
            end = i + len(quote)
            while multi and end < len(text) and text[end] == quote[0] and end - i < 5:
                end += 1  # up to two quotes right before the closing ones belong to the string
            return end
        i += 1
    return None


def unclosed_construct(text: str) -> Unclosed | None:
    """The construct still open at the end of ``text``, if any.

    A multi-line string that never ends is returned itself; otherwise the outermost array or
    inline table left open (a bracket closed by mistake inside it leaves the outer one open).
    """
    stack: list[tuple[str, int]] = []  # (opener, index); "[[" or "[" first on a line is a table header
    i = 0
    while i < len(text):
        char = text[i]
        if char == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
            continue
        if char in "\"'":
            quote = char * 3 if text.startswith(char * 3, i) else char
            end = _string_end(text, i, quote)
            if end is None:  # an unclosed multi-line string swallows the rest, brackets included
                line, column = _position(text, i)
                return Unclosed(line, column, _KINDS[quote])
            i = end
            continue
        if char in _CLOSERS:
            header = char == "[" and not stack and not text[text.rfind("\n", 0, i) + 1:i].strip()
            stack.append(("header" if header else char, i))
        elif stack and char == _CLOSERS.get(stack[-1][0], "]"):
            stack.pop()
        i += 1
    if not stack:
        return None
    opener, index = stack[0]
    line, column = _position(text, index)
    return Unclosed(line, column, _KINDS[opener])


def last_content_line(text: str) -> tuple[int, str] | None:
    """The number and text of the last line that is neither blank nor only a comment."""
    lines = text.splitlines()
    for number in range(len(lines), 0, -1):
        stripped = lines[number - 1].strip()
        if stripped and not stripped.startswith("#"):
            return number, stripped
    return None
