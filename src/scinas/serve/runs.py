"""Reading run stores for the dashboard: read-only, beside a live writer, cheap when nothing changed.

A run folder's store is opened through SQLite's read-only mode (``mode=ro``, ``query_only``), so
the dashboard never takes the writer lock nor blocks the run that writes it (WAL lets readers run
beside the writer).  A short busy timeout keeps a locked store from stalling a page: it is shown
as unreadable with the reason.

Why it is fast (a run page of 1 000 trials and 25 000 epochs):

* a run's **version** is the size and modification time of ``store.sqlite`` and its WAL file:
  one ``stat`` pair tells whether anything was committed since the last read;
* every read is **one SQL query** over the trials (the score comes from a correlated look-up in
  the metrics index, the epoch count of a running trial from the epochs primary key); nothing
  is read per trial in Python and the epochs table is never scanned;
* the answer is **columnar** (one JSON array per column) and the full answer is cached per run
  and version;
* a client that holds the table asks for what changed since its **cursor** (the highest trial id
  and the latest finish time it has seen): new trials, trials still pending or running, and
  trials that finished since;
* learning curves are read for one trial at a time (:func:`read_curve`), when asked for.

Example::

    reader = RunReader(results / "A" / "20261122-083012-3fa2")
    table = reader.trials()                       # {"version", "cursor", "columns": {...}}
    later = reader.trials(since=table["cursor"])  # only what changed
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scinas.analysis.report_data import RunSettings
from scinas.store import StoreError
from scinas.store.connection import connect_readonly
from scinas.store.layout import RunLayout
from scinas.store.schema import check_schema

__all__ = [
    "COLUMNS",
    "Cursor",
    "RunReader",
    "UnreadableRun",
    "list_runs",
    "open_readonly",
    "read_curve",
    "store_version",
]

#: How long a read waits for a locked store before the run is reported unreadable.
BUSY_TIMEOUT_S = 0.5

#: The trial columns sent to the browser, in order: (name in the answer, SQL expression).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "t.trial_id"),
    ("number", "t.number"),
    ("name", "t.name"),
    ("phase", "{phase}"),
    ("status", "t.status"),
    ("step", "json_extract(t.extra, '$.blocks')"),
    ("params", "t.params"),
    ("flops", "t.flops"),
    ("latency_s", "t.latency_s"),
    ("train_time_s", "t.train_time_s"),
    ("estimate", "{estimate}"),
    ("monitor", "{monitor}"),
    ("converged_epoch", "{converged_epoch}"),
    (
        "epochs",
        "CASE WHEN t.status = 'running' THEN (SELECT MAX(e.epoch) FROM epochs e "
        "WHERE e.trial_id = t.trial_id) ELSE t.epochs_completed END",
    ),
    ("best_epoch", "t.best_epoch"),
    ("attempts", "t.attempts"),
    ("started_at", "t.started_at"),
    ("finished_at", "t.finished_at"),
    ("failure_reason", "t.failure_reason"),
    (
        "validation",
        "(SELECT m.value FROM metrics m WHERE m.trial_id = t.trial_id AND m.split = 'validation' "
        "AND m.name = :score AND m.epoch IS NULL)",
    ),
    (
        "test",
        "(SELECT m.value FROM metrics m WHERE m.trial_id = t.trial_id AND m.split = 'test' "
        "AND m.name = :score AND m.epoch IS NULL)",
    ),
)

#: Columns an older (not migrated) store may lack, and what stands in for them.
_OPTIONAL = {
    "phase": "COALESCE(json_extract(t.extra, '$.phase'), 'fixed')",
    "monitor": "NULL",
    "converged_epoch": "NULL",
    "estimate": "t.fitness",  # its name before schema version 4
}


class UnreadableRun(Exception):
    """A run folder whose store cannot be read (corrupt, locked, not a store); the message says why."""


@dataclass(frozen=True)
class Cursor:
    """What a client has seen: the highest trial id and the latest ``finished_at`` (ISO text)."""

    trial_id: int = 0
    finished_at: str = ""

    def to_text(self) -> str:
        return f"{self.trial_id}@{self.finished_at}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Read :meth:`to_text`; anything else is a ``ValueError``."""
        number, _, finished = text.partition("@")
        if not number.isdigit() or len(finished) > 40:
            raise ValueError(f"not a trial cursor: {text!r}")
        return cls(int(number), finished)


def store_version(run_dir: Path) -> str:
    """Size and modification time of the store and its WAL: changes with every commit."""
    store = RunLayout(run_dir).store
    parts = []
    for path in (store, store.with_name(store.name + "-wal")):
        try:
            info = path.stat()
        except OSError:
            parts.append("-")
            continue
        if info.st_size == 0:  # an empty WAL (a reader may create one) holds no commit
            parts.append("-")
        else:
            parts.append(f"{info.st_size:x}.{info.st_mtime_ns:x}")
    return "_".join(parts)


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to the store at ``path`` (never a writer, never the writer's lock)."""
    try:
        connection = connect_readonly(path, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise UnreadableRun(f"the run store cannot be opened ({exc})") from exc
    try:
        connection.execute("PRAGMA query_only = ON")
        check_schema(connection, path, readonly=True)
    except StoreError as exc:
        connection.close()
        raise UnreadableRun(str(exc)) from exc
    except sqlite3.Error as exc:
        connection.close()
        raise UnreadableRun(f"the run store cannot be read ({exc})") from exc
    return connection


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


class RunReader:
    """The dashboard's view of one run folder; thread-safe, caches by :func:`store_version`."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.store_path = RunLayout(run_dir).store
        self._lock = threading.Lock()
        self._settings: RunSettings | None = None
        self._meta: dict[str, Any] | None = None
        self._full: tuple[str, dict[str, Any]] | None = None
        self._summary: tuple[str, dict[str, Any]] | None = None
        self._select: str | None = None

    # ------------------------------------------------------------------ reading

    def _query(self, where: str, parameters: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(run row, columnar trials) of one consistent snapshot: both in one read transaction."""
        connection = open_readonly(self.store_path)
        try:
            connection.execute("BEGIN")
            run = connection.execute(
                "SELECT run_id, experiment, status, created_at, finished_at, seed, config FROM runs"
            ).fetchone()
            if run is None:
                raise UnreadableRun("the run store holds no run")
            keys = ("run_id", "experiment", "status", "created_at", "finished_at", "seed", "config")
            run_row = dict(zip(keys, run, strict=True))
            settings = self._settings_of(run_row)
            select = self._select or self._build_select(connection)
            self._select = select
            rows = connection.execute(
                f"{select} WHERE {where} ORDER BY t.trial_id", {"score": settings.score, **parameters}
            ).fetchall()
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise UnreadableRun(f"the run store cannot be read ({exc})") from exc
        finally:
            connection.close()
        names = [name for name, _ in COLUMNS]
        columns: dict[str, list[Any]] = {name: [] for name in names}
        for row in rows:
            for name, value in zip(names, row, strict=True):
                columns[name].append(_finite(value))
        columns["score"] = _scores(columns, settings)
        return run_row, columns

    def _build_select(self, connection: sqlite3.Connection) -> str:
        present = {row[1] for row in connection.execute("PRAGMA table_info(trials)")}
        substitutes = {name: (f"t.{name}" if name in present else fallback) for name, fallback in _OPTIONAL.items()}
        expressions = ", ".join(expression.format(**substitutes) for _, expression in COLUMNS)
        return f"SELECT {expressions} FROM trials t"

    def settings(self) -> RunSettings:
        """The run's settings (score, costs, epoch budget) from its resolved configuration."""
        if self._settings is None:
            self.meta()
        return self._settings or RunSettings()

    def _settings_of(self, run_row: Mapping[str, Any]) -> RunSettings:
        if self._settings is None:
            self._settings = RunSettings.from_config(str(run_row["config"] or ""), str(run_row["experiment"]))
        return self._settings

    # ------------------------------------------------------------------ answers

    def trials(self, since: Cursor | None = None) -> dict[str, Any]:
        """The trials as columns: all of them, or those changed after ``since`` (``full`` says which)."""
        version = store_version(self.run_dir)
        if since is None:
            with self._lock:
                if self._full is not None and self._full[0] == version:
                    return self._full[1]
            run_row, columns = self._query("1", {})
            answer = self._answer(version, run_row, columns, Cursor(), full=True)
            with self._lock:
                self._full = (version, answer)
            return answer
        run_row, columns = self._query(
            "t.trial_id > :last OR t.status IN ('pending', 'running') OR t.finished_at >= :finished",
            {"last": since.trial_id, "finished": since.finished_at},
        )
        return self._answer(version, run_row, columns, since, full=False)

    def _answer(
        self, version: str, run_row: Mapping[str, Any], columns: dict[str, list[Any]], since: Cursor, *, full: bool
    ) -> dict[str, Any]:
        last = max([since.trial_id, *columns["id"]])
        finished = max([since.finished_at, *(f for f in columns["finished_at"] if f)])
        return {
            "version": version,
            "full": full,
            "cursor": Cursor(last, finished).to_text(),
            "run": {k: run_row[k] for k in ("status", "finished_at")},
            "count": len(columns["id"]),
            "columns": columns,
        }

    def meta(self) -> dict[str, Any]:
        """The run's identity and settings (what does not change while it runs), plus its status."""
        with self._lock:
            cached = self._meta
        if cached is None:
            connection = open_readonly(self.store_path)
            try:
                row = connection.execute("SELECT run_id, experiment, created_at, seed, config FROM runs").fetchone()
            except sqlite3.Error as exc:
                raise UnreadableRun(f"the run store cannot be read ({exc})") from exc
            finally:
                connection.close()
            if row is None:
                raise UnreadableRun("the run store holds no run")
            settings = self._settings_of({"config": row[4], "experiment": row[1]})
            cached = {
                "run_id": row[0],
                "experiment": row[1],
                "created_at": row[2],
                "seed": row[3],
                "score": settings.score,
                "maximize": settings.maximize,
                "costs": list(settings.costs),
                "searched": settings.searched,
                "epochs": settings.epochs,
                "selection_epochs": settings.selection_epochs,
            }
            with self._lock:
                self._meta = cached
        return dict(cached)

    def summary(self) -> dict[str, Any]:
        """One line of the runs page: status, trial counts, best score, start time (cached per version)."""
        version = store_version(self.run_dir)
        with self._lock:
            if self._summary is not None and self._summary[0] == version:
                return self._summary[1]
        meta = self.meta()
        table = self.trials()
        columns = table["columns"]
        counts = {status: columns["status"].count(status) for status in ("completed", "running", "failed", "pending")}
        scores = [s for s in columns["score"] if s is not None]
        best = (max(scores) if meta["maximize"] else min(scores)) if scores else None
        answer = {
            **meta,
            "status": table["run"]["status"],
            "finished_at": table["run"]["finished_at"],
            "counts": counts,
            "trials": len(columns["id"]),
            "best": best,
            "version": version,
        }
        with self._lock:
            self._summary = (version, answer)
        return answer


def _scores(columns: Mapping[str, list[Any]], settings: RunSettings) -> list[float | None]:
    """The score the search ranks by (as the report reads it): the converged prediction of the
    validation score when the curve followed it, else the measured validation score; ``None`` for
    unfinished trials and the final training (it trained on the validation split)."""
    monitor = f"val_{settings.score}"
    scores: list[float | None] = []
    for status, phase, estimate, followed, measured in zip(
        columns["status"], columns["phase"], columns["estimate"], columns["monitor"], columns["validation"], strict=True
    ):
        if status != "completed" or phase == "final":
            scores.append(None)
        elif estimate is not None and followed == monitor:
            scores.append(float(estimate))
        else:
            scores.append(None if measured is None else float(measured))
    return scores


def read_curve(run_dir: Path, trial_id: int) -> dict[str, Any]:
    """One trial's epochs as columns (train/validation metrics, predictions, convergence)."""
    connection = open_readonly(RunLayout(run_dir).store)
    try:
        present = {row[1] for row in connection.execute("PRAGMA table_info(trials)")}
        extra = ", ".join(
            name if name in present else f"NULL AS {name}"
            for name in ("monitor", "curve", "curve_parameters", "converged_epoch")
        )
        trial = connection.execute(
            f"SELECT name, status, epochs_completed, {extra} FROM trials WHERE trial_id = ?", (trial_id,)
        ).fetchone()
        rows = (
            connection.execute(
                "SELECT epoch, metrics, loss, val_loss, prediction, converged FROM epochs "
                "WHERE trial_id = ? ORDER BY epoch",
                (trial_id,),
            ).fetchall()
            if trial
            else []
        )
    except sqlite3.Error as exc:
        raise UnreadableRun(f"the run store cannot be read ({exc})") from exc
    finally:
        connection.close()
    if trial is None:
        raise KeyError(trial_id)
    metrics: dict[str, list[float | None]] = {}
    for index, row in enumerate(rows):
        for name, value in json.loads(row[1] or "{}").items():
            metrics.setdefault(name, [None] * len(rows))[index] = _finite(value)
    for name, position in (("loss", 2), ("val_loss", 3)):
        if name not in metrics:
            metrics[name] = [_finite(row[position]) for row in rows]
    return {
        "trial_id": trial_id,
        "name": trial[0],
        "status": trial[1],
        "epochs_completed": trial[2],
        "monitor": trial[3],
        "curve": trial[4],
        "curve_parameters": json.loads(trial[5]) if trial[5] else None,
        "converged_epoch": trial[6],
        "epoch": [row[0] for row in rows],
        "metrics": metrics,
        "prediction": [_finite(row[4]) for row in rows],
        "converged": [bool(row[5]) for row in rows],
    }


def list_runs(results: Path) -> list[Path]:
    """The run folders under ``results`` (``<experiment>/<run-id>/store.sqlite``), newest first."""
    if not results.is_dir():
        return []
    found: list[Path] = []
    with os.scandir(results) as experiments:
        for experiment in experiments:
            if experiment.name.startswith(".") or not experiment.is_dir():
                continue
            with os.scandir(experiment.path) as runs:
                found.extend(
                    Path(run.path)
                    for run in runs
                    if not run.name.startswith(".") and run.is_dir() and RunLayout(Path(run.path)).store.is_file()
                )
    return sorted(found, key=lambda path: (path.name, path.parent.name), reverse=True)
