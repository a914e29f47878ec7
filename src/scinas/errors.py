"""The exception hierarchy of scinas.

Every error scinas raises on purpose derives from :class:`ScinasError`.  The command line turns
:class:`ConfigError` into exit code 2 with one clear message and no traceback; a
:class:`TrialFailed` is recorded in the run store and the run goes on; an error that is none of
these (a bug) stops the run, saved and resumable, as an :class:`InternalError` (exit code 1).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "DataError", "InternalError", "ScinasError", "TrialFailed", "format_value"]

_MISSING: Any = object()


def format_value(value: Any) -> str:
    """Render a configuration value the way it would be written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {format_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return repr(value)


class ScinasError(Exception):
    """Root of every error scinas raises deliberately."""


class ConfigError(ScinasError):
    """A configuration file or command-line option is wrong.

    The message names the file, the TOML path, the value received, what was expected and how to
    fix it, e.g. ``configurations.toml: [E.training] epochs = -3: expected an integer >= 1``.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        path: str | None = None,
        value: Any = _MISSING,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.path = path
        self.value = value
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path:
            table, _, key = self.path.rpartition(".")
            where = f"[{table}] {key}" if table else key
            if self.value is not _MISSING:
                where += f" = {format_value(self.value)}"
        head = ": ".join(part for part in (self.file, where) if part)
        text = f"{head}: {self.problem}" if head else self.problem
        if self.fix:
            text += f" (fix: {self.fix})"
        return text

    def relocated(self, file: str) -> ConfigError:
        """The same error attributed to another source (e.g. a command-line override)."""
        return ConfigError(self.problem, file=file, path=self.path, value=self.value, fix=self.fix)


class DataError(ScinasError):
    """Data could not be generated, read or cached."""


class TrialFailed(ScinasError):
    """One trial failed (NaN loss, out of memory, a build error); the run goes on."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class InternalError(ScinasError):
    """A run stopped on an unexpected error (a bug, not a trial's failure); its state is saved.

    Raised from the original exception (``__cause__``), whose traceback is in the run's log.
    """
