"""``[X.tracking]``: which experiment trackers follow a run, and their settings.

Example ``configurations.toml``::

    [A.tracking]
    trackers = ["tensorboard", "mlflow"]     # any of "tensorboard", "mlflow", "neptune"

    [A.tracking.mlflow]                      # a sub-table switches its tracker on as well
    tracking_uri = "http://mlflow.example.org:5000"   # default: $MLFLOW_TRACKING_URI, else
                                                      # sqlite:///<results>/mlflow.db
    experiment_name = "popnas-digits"        # default: the experiment's name
    artifacts = true                         # Pareto front, plots, best model as artifacts

    [A.tracking.neptune]
    mode = "offline"                         # async (default) | offline | debug

Every sub-table also takes ``enabled = false``, which switches off a tracker that ``trackers``
or an ``extends``-ed experiment turned on.  Which trackers exist and whether their packages are
installed (and Neptune's credentials, read from the environment only) is checked when the
experiment is planned, by :func:`scinas.tracking.check_tracking`, before any trial runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scinas.config.reader import Table, suggest

__all__ = ["NEPTUNE_MODES", "TRACKER_NAMES", "MlflowSettings", "NeptuneSettings", "TrackingConfig",
           "parse_tracking"]

#: Trackers ``[X.tracking] trackers`` accepts (each has a class in :mod:`scinas.tracking`).
TRACKER_NAMES: tuple[str, ...] = ("tensorboard", "mlflow", "neptune")
#: Neptune connection modes scinas supports: ``async`` talks to a server (it needs
#: ``NEPTUNE_API_TOKEN`` and ``NEPTUNE_PROJECT``), ``offline`` writes to disk for ``neptune sync``,
#: ``debug`` keeps everything in memory.
NEPTUNE_MODES: tuple[str, ...] = ("async", "offline", "debug")
#: ``scheme://user[:password]@`` at the start of a URI (a password may hold ``@`` or ``/``).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?:[^/?#]*@|[^/?#@:]*:[^@]*@)")


@dataclass(frozen=True)
class MlflowSettings:
    """``[X.tracking.mlflow]``; ``None`` means the default described in the module docstring."""

    tracking_uri: str | None = None
    experiment_name: str | None = None
    artifacts: bool = True


@dataclass(frozen=True)
class NeptuneSettings:
    """``[X.tracking.neptune]``: the connection ``mode`` (credentials come from the environment)."""

    mode: str = "async"


@dataclass(frozen=True)
class TrackingConfig:
    """``[X.tracking]``: the enabled ``trackers`` in order, their settings, and where it was written."""

    trackers: tuple[str, ...] = ()
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)
    neptune: NeptuneSettings = field(default_factory=NeptuneSettings)
    file: str = ""
    path: str = ""

    def key_path(self, *keys: str) -> str:
        """The TOML path of a key below ``[X.tracking]`` (for error messages)."""
        return ".".join(part for part in (self.path, *keys) if part)


def parse_tracking(top: Table) -> TrackingConfig:
    """Read ``[X.tracking]`` of the experiment table ``top`` (absent: no tracker)."""
    table = top.table("tracking")
    listed = table.string_list("trackers", [])
    for index, name in enumerate(listed):
        if name not in TRACKER_NAMES:
            raise table.error("trackers", f"unknown tracker {name!r} (entry {index}); known: "
                              f"{', '.join(TRACKER_NAMES)}", fix=suggest(name, TRACKER_NAMES))
        if name in listed[:index]:
            raise table.error("trackers", f"tracker {name!r} is listed twice", fix="list each tracker once")
    enabled = list(listed)
    settings: dict[str, Table] = {}
    for name in TRACKER_NAMES:
        if not table.has(name):
            continue
        sub = table.table(name)
        settings[name] = sub
        on = sub.boolean("enabled", True)
        if on and name not in enabled:
            enabled.append(name)
        elif not on and name in enabled:
            enabled.remove(name)
    mlflow = _parse_mlflow(settings.get("mlflow"))
    neptune = _parse_neptune(settings.get("neptune"))
    if "tensorboard" in settings:
        settings["tensorboard"].finish()
    table.finish(allowed_extra=TRACKER_NAMES)  # so that a misspelt sub-table gets a "did you mean"
    return TrackingConfig(tuple(enabled), mlflow, neptune, table.file, table.path)


def _parse_mlflow(table: Table | None) -> MlflowSettings:
    if table is None:
        return MlflowSettings()
    uri = table.any("tracking_uri", None)
    name = table.any("experiment_name", None)
    for key, value in (("tracking_uri", uri), ("experiment_name", name)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise table.error(key, "expected a non-empty string", fix=f"write {key} = \"...\" or leave it out")
    if uri is not None:
        _refuse_credentials(table, uri)
    settings = MlflowSettings(tracking_uri=uri, experiment_name=name, artifacts=table.boolean("artifacts", True))
    table.finish()
    return settings


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


def _parse_neptune(table: Table | None) -> NeptuneSettings:
    if table is None:
        return NeptuneSettings()
    for secret in ("api_token", "project"):
        if table.has(secret):
            raise table.error(secret, "Neptune credentials are read from the environment only, never from a "
                              "file (the resolved configuration is copied into every run folder)",
                              value="<hidden>" if secret == "api_token" else table.raw[secret],
                              fix=f"remove it and export NEPTUNE_{secret.upper()} instead")
    settings = NeptuneSettings(mode=table.string("mode", "async", choices=NEPTUNE_MODES))
    table.finish()
    return settings
