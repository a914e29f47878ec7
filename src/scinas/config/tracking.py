"""``[X.tracking]``: which experiment trackers follow a run, and their settings.

Example ``configurations.toml``::

    [A.tracking]
    trackers = ["tensorboard", "mlflow"]     # any registered trackers (docs/options.md lists them)

    [A.tracking.mlflow]                      # a sub-table switches its tracker on as well
    tracking_uri = "http://mlflow.example.org:5000"   # default: $MLFLOW_TRACKING_URI, else
                                                      # sqlite:///<results>/mlflow.db
    experiment_name = "popnas-digits"        # default: the experiment's name
    artifacts = true                         # Pareto front, plots, best model as artifacts

    [A.tracking.neptune]
    mode = "offline"                         # async (default) | offline | debug

Every sub-table also takes ``enabled = false``, which switches off a tracker that ``trackers``
or an ``extends``-ed experiment turned on.  Only the names and the raw sub-tables are read here:
each tracker's class validates its own sub-table (``from_table``), and which trackers exist and
whether their packages are installed (and Neptune's credentials, read from the environment only)
is checked when the experiment is planned, by :func:`scinas.tracking.check_tracking`, before any
trial runs.  A tracker registered from user code is selectable the same way.

One check is made here, on the raw text: a ``tracking_uri`` with credentials (``user:password@``)
is refused in any tracker's sub-table, enabled or not, because the raw sub-tables are copied
into the resolved configuration of every run folder (credentials come from the environment).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scinas.config.reader import Table

__all__ = ["TrackingConfig", "parse_tracking"]

#: ``scheme://user[:password]@`` at the start of a URI (a password may hold ``@`` or ``/``).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?:[^/?#]*@|[^/?#@:]*:[^@]*@)")


@dataclass(frozen=True)
class TrackingConfig:
    """``[X.tracking]``: the enabled ``trackers`` in order, each tracker's raw sub-table, and where
    it was written."""

    trackers: tuple[str, ...] = ()
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    file: str = ""
    path: str = ""

    def key_path(self, *keys: str) -> str:
        """The TOML path of a key below ``[X.tracking]`` (for error messages)."""
        return ".".join(part for part in (self.path, *keys) if part)

    def table(self, name: str) -> Table:
        """The sub-table of tracker ``name`` (empty when absent), ``enabled`` already read."""
        table = Table(self.tables.get(name, {}), file=self.file, path=self.key_path(name))
        table.any("enabled", None)
        return table


def parse_tracking(top: Table) -> TrackingConfig:
    """Read ``[X.tracking]`` of the experiment table ``top`` (absent: no tracker)."""
    table = top.table("tracking")
    listed = table.string_list("trackers", [])
    for index, name in enumerate(listed):
        if name in listed[:index]:
            raise table.error("trackers", f"tracker {name!r} is listed twice", fix="list each tracker once")
    enabled = list(listed)
    tables: dict[str, Mapping[str, Any]] = {}
    for name in table.raw:
        if name == "trackers":
            continue
        sub = table.table(name)  # any other key is a tracker's sub-table
        tables[name] = sub.raw
        uri = sub.raw.get("tracking_uri")
        if isinstance(uri, str):
            _refuse_credentials(sub, uri)
        on = sub.boolean("enabled", True)
        if on and name not in enabled:
            enabled.append(name)
        elif not on and name in enabled:
            enabled.remove(name)
    table.finish()
    return TrackingConfig(tuple(enabled), tables, table.file, table.path)


def _refuse_credentials(table: Table, uri: str) -> None:
    """Refuse a tracking URI with ``user:password@`` (it would be copied into every run folder)."""
    match = _USERINFO.match(uri)
    if match is None:
        return
    raise table.error("tracking_uri", "credentials in the tracking URI would be copied into every run folder, "
                      "the store and MLflow itself", value=f"{match['scheme']}***@{uri[match.end():]}",
                      fix="remove them and export MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or "
                          "MLFLOW_TRACKING_TOKEN); for a database URI, set MLFLOW_TRACKING_URI in the "
                          "environment instead of tracking_uri")
