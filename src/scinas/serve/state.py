"""What one dashboard holds: its settings and the readers of the runs it has shown.

Nothing here is global: :func:`scinas.serve.app.create_app` makes one :class:`Dashboard` per
application, and the request handlers reach it through ``request.app.state.dashboard``.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scinas.serve.runs import RunReader, UnreadableRun, list_runs
from scinas.serve.security import run_folder

__all__ = ["Dashboard", "ServeSettings"]


@dataclass(frozen=True)
class ServeSettings:
    """How ``scinas serve`` was started.

    ``token`` is ``None`` on a loopback bind without ``--token``; ``read_only`` hides and refuses
    every control action; ``poll_s`` is how often a page asks for changes.
    """

    results: Path
    config_dir: Path = Path("config")
    host: str = "127.0.0.1"
    port: int = 8765
    read_only: bool = False
    token: str | None = None
    poll_s: float = 1.0


@dataclass
class Dashboard:
    """The state of one running dashboard: settings, the CSRF secret, a reader per run folder."""

    settings: ServeSettings
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    started: float = field(default_factory=time.time)
    _readers: dict[Path, RunReader] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def results(self) -> Path:
        return self.settings.results

    def reader(self, experiment: str, run_id: str) -> RunReader:
        """The reader of run ``experiment/run_id`` (checked: :class:`~scinas.serve.security.PathRefused`)."""
        return self._reader_of(run_folder(self.results, experiment, run_id))

    def _reader_of(self, folder: Path) -> RunReader:
        with self._lock:
            reader = self._readers.get(folder)
            if reader is None:
                reader = self._readers[folder] = RunReader(folder)
            return reader

    def runs(self) -> list[dict[str, Any]]:
        """A line per run folder of the results folder; an unreadable store is a line that says why."""
        lines: list[dict[str, Any]] = []
        for folder in list_runs(self.results):
            line: dict[str, Any] = {
                "experiment": folder.parent.name,
                "run": folder.name,
                "path": f"{folder.parent.name}/{folder.name}",
            }
            try:
                line.update(self._reader_of(folder.resolve()).summary())
            except UnreadableRun as exc:
                line.update(status="unreadable", error=str(exc))
            lines.append(line)
        return lines
