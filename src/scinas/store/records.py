"""The records of the run store: one run, its trials, their epochs and evaluation metrics.

These are the typed, immutable views of rows in the store's SQLite tables.  They are plain
frozen dataclasses so that strategies, trackers and the report can pass them around without
touching SQL.

Conventions shared by every table (and so by these records):

* **Epoch numbers are 1-based**: ``epoch = n`` means "n epochs completed", the value written
  at the end of Keras epoch index ``n - 1``.  ``truncate_epochs(trial, after=k)`` keeps epochs
  ``1..k``, matching a checkpoint taken after ``k`` epochs.
* **Timestamps** are timezone-aware UTC :class:`~datetime.datetime` objects, stored as
  ISO-8601 text (``2024-05-01T12:00:00.123+00:00``) so that they sort and read well in SQL.
* **Non-finite numbers**: a NaN in a REAL column is stored as SQL ``NULL`` (SQLite itself
  cannot hold NaN); ``±inf`` is stored as a REAL infinity.  JSON text (epoch ``metrics``,
  trial ``extra``, run ``manifest``) must stay strict JSON, so every non-finite float inside it
  becomes ``null``.  Reading back, a ``null`` metric in an epoch's ``metrics`` and a ``NULL``
  metric value become ``math.nan`` (a metric row only exists when the metric was recorded),
  while other nullable columns read back as ``None``.
"""

from __future__ import annotations

import json
import math
import numbers
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from scinas.errors import ScinasError

__all__ = [
    "LEGACY_TRIAL_FIELDS",
    "EpochRecord",
    "MetricRecord",
    "RunRecord",
    "RunStatus",
    "Split",
    "StoreError",
    "TrialPhase",
    "TrialRecord",
    "TrialStatus",
    "check_epoch",
    "current_trial_fields",
    "dumps_json",
    "finite_or_none",
    "format_time",
    "loads_json",
    "parse_split",
    "parse_time",
    "utc_now",
]




def _column(row: sqlite3.Row, name: str) -> Any:
    """``row[name]``, or ``None`` for a column an older schema lacks (a read-only, unmigrated store)."""
    # `name in row` would search the values: a Row's membership test is that of a tuple
    return row[name] if name in row.keys() else None  # noqa: SIM118


class StoreError(ScinasError):
    """The run store cannot be created, opened or written (missing, locked, too new, read-only)."""


class RunStatus(StrEnum):
    """Where a run stands; every status but ``running`` is terminal and has a ``finished_at``."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class TrialStatus(StrEnum):
    """Where a trial stands: ``pending`` (planned, not started), ``running``, or finished."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class TrialPhase(StrEnum):
    """Which part of a run a trial belongs to (the ``trials.phase`` column).

    ``search``: asked for by the search strategy; ``selection``: a retraining of a front cell
    (``[X.selection]``); ``final``: the final training (``[X.final]``); ``fixed``: the one trial
    of an experiment without a search.
    """

    SEARCH = "search"
    SELECTION = "selection"
    FINAL = "final"
    FIXED = "fixed"


class Split(StrEnum):
    """The data split an evaluation metric was measured on."""

    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


@dataclass(frozen=True)
class RunRecord:
    """The one run a store describes: identity, status, seed, resolved config and manifest."""

    run_id: str
    experiment: str
    status: RunStatus
    created_at: datetime
    finished_at: datetime | None
    seed: int | None
    config_text: str
    manifest: dict[str, Any]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        """The record of a ``runs`` row."""
        return cls(run_id=row["run_id"], experiment=row["experiment"], status=RunStatus(row["status"]),
                   created_at=datetime.fromisoformat(row["created_at"]),
                   finished_at=parse_time(row["finished_at"]), seed=row["seed"],
                   config_text=row["config"], manifest=loads_json(row["manifest"]))


@dataclass(frozen=True)
class TrialRecord:
    """One trained (or training, or failed) architecture.

    ``architecture`` is the canonical text form (what identifies the architecture),
    ``architecture_json`` the structured form for predictors.  ``attempts`` counts how often the
    trial was started: more than one means it was resumed or retried.  ``best_epoch`` is 1-based.

    With learning-curve early termination, ``monitor`` names the metric the curve was fitted to,
    ``measured`` is its value measured after training (the final evaluation of that metric on its
    split), ``estimate`` the curve's prediction for the budget's last epoch if the trial converged
    (at ``converged_epoch``), else ``measured``: unsigned and in the metric's units, it is not a
    fitness (a search signs it, see ``TrialOutcome``).  ``curve`` and ``curve_parameters`` are the
    family and the parameters of its last successful fit.  All are ``None`` without early
    termination.
    ``phase`` says which part of the run trained it (:class:`TrialPhase`).
    ``train_time_s`` is the wall time of its training epochs; ``time_cost_s`` the time its epoch
    budget takes at its median step time after warm-up (:mod:`scinas.training.step_time`).
    """

    trial_id: int
    number: int
    name: str
    architecture: str
    architecture_json: str | None
    status: TrialStatus
    failure_reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    best_epoch: int | None
    epochs_completed: int | None
    train_time_s: float | None
    params: int | None
    flops: float | None
    latency_s: float | None
    estimate: float | None
    extra: dict[str, Any]
    measured: float | None = None
    monitor: str | None = None
    curve: str | None = None
    curve_parameters: dict[str, float] | None = None
    converged_epoch: int | None = None
    phase: TrialPhase = TrialPhase.SEARCH
    time_cost_s: float | None = None

    @property
    def time_cost(self) -> float | None:
        """The time a search minimises: ``time_cost_s``, or ``train_time_s`` for a trial recorded
        without one (before schema version 5, or with no step timed after the warm-up)."""
        return self.time_cost_s if self.time_cost_s is not None else self.train_time_s

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TrialRecord:
        """The record of a ``trials`` row."""
        extra = loads_json(row["extra"])
        return cls(
            trial_id=row["trial_id"], number=row["number"], name=row["name"],
            architecture=row["architecture"], architecture_json=row["architecture_json"],
            status=TrialStatus(row["status"]), failure_reason=row["failure_reason"],
            started_at=parse_time(row["started_at"]), finished_at=parse_time(row["finished_at"]),
            attempts=row["attempts"], best_epoch=row["best_epoch"], epochs_completed=row["epochs_completed"],
            train_time_s=row["train_time_s"], params=row["params"], flops=row["flops"],
            latency_s=row["latency_s"], estimate=_estimate(row), extra=extra,
            measured=_column(row, "measured"), monitor=_column(row, "monitor"), curve=_column(row, "curve"),
            curve_parameters=loads_json(_column(row, "curve_parameters")),
            converged_epoch=_column(row, "converged_epoch"), phase=_phase(row, extra),
            time_cost_s=_column(row, "time_cost_s"))


def _estimate(row: sqlite3.Row) -> float | None:
    """The trial's estimate; in a read-only, unmigrated store (schema < 4) its column was ``fitness``."""
    value: float | None = row["estimate"] if "estimate" in row.keys() else _column(row, "fitness")  # noqa: SIM118
    return value


#: Trial field names of older scinas versions and their current names, for files written before
#: a rename (a worker's journal, a task file) that are read by a newer scinas.
LEGACY_TRIAL_FIELDS: Mapping[str, str] = {"fitness": "estimate"}


def current_trial_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` (trial field names to values) with every old name of :data:`LEGACY_TRIAL_FIELDS`
    replaced by its current one; a current name present beside its old one wins.

    Example::

        current_trial_fields({"fitness": 0.9, "params": 12})   # {"estimate": 0.9, "params": 12}
    """
    renamed: dict[str, Any] = {}
    for name, value in fields.items():
        current = LEGACY_TRIAL_FIELDS.get(name)
        if current is None:
            renamed[name] = value
        elif current not in fields:
            renamed[current] = value
    return renamed


def _phase(row: sqlite3.Row, extra: dict[str, Any]) -> TrialPhase:
    """The trial's phase; in a read-only, unmigrated store (schema < 3) the one its ``extra`` held."""
    stored = _column(row, "phase")
    if stored is None:  # what the migration to schema version 3 would set
        stored = extra.get("phase")
        stored = stored if stored in set(TrialPhase) else TrialPhase.FIXED
    return TrialPhase(stored)


@dataclass(frozen=True)
class EpochRecord:
    """What one finished epoch of one trial produced (``epoch`` is 1-based, see the module doc).

    ``metrics`` holds every scalar Keras logged (``loss``, ``val_loss``, ``val_mae``, ...);
    ``loss``/``val_loss`` repeat the two most queried ones as columns.  ``prediction`` is a
    learning-curve predictor's estimate of the monitored metric at the budget's last epoch (in the
    metric's units; ``None`` before its first fit and when the fit failed), ``converged`` its
    verdict, ``curve`` the curve family and ``prediction_time_s`` the time the fit took.
    """

    trial_id: int
    epoch: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    loss: float | None = None
    val_loss: float | None = None
    epoch_time_s: float | None = None
    learning_rate: float | None = None
    prediction: float | None = None
    converged: bool = False
    curve: str | None = None
    prediction_time_s: float | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> EpochRecord:
        """The record of an ``epochs`` row (``null`` metrics become NaN)."""
        metrics = {k: math.nan if v is None else float(v) for k, v in loads_json(row["metrics"]).items()}
        return cls(trial_id=row["trial_id"], epoch=row["epoch"], metrics=metrics, loss=row["loss"],
                   val_loss=row["val_loss"], epoch_time_s=row["epoch_time_s"],
                   learning_rate=row["learning_rate"], prediction=row["prediction"],
                   converged=bool(row["converged"]), curve=_column(row, "curve"),
                   prediction_time_s=_column(row, "prediction_time_s"))


@dataclass(frozen=True)
class MetricRecord:
    """One evaluation metric in long format; ``epoch`` is ``None`` for the final evaluation."""

    trial_id: int
    split: Split
    epoch: int | None
    name: str
    value: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> MetricRecord:
        """The record of a ``metrics`` row (a ``NULL`` value, i.e. a non-finite one, becomes NaN)."""
        return cls(trial_id=row["trial_id"], split=Split(row["split"]), epoch=row["epoch"], name=row["name"],
                   value=math.nan if row["value"] is None else float(row["value"]))


def check_epoch(epoch: int) -> int:
    """``epoch`` as an int, refused unless it is at least 1 (epochs are numbered from 1)."""
    number = int(epoch)
    if number < 1:
        raise ValueError(f"epoch numbers start at 1 (epochs completed), got {epoch}")
    return number


def parse_split(split: Split | str) -> Split:
    """``split`` as a :class:`Split`; anything else is a ``ValueError`` naming the choices."""
    try:
        return Split(split)
    except ValueError:
        choices = ", ".join(s.value for s in Split)
        raise ValueError(f"unknown split {split!r}; expected one of {choices}") from None


def utc_now() -> datetime:
    """The current time, timezone-aware UTC, to the millisecond (what the store keeps)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_time(moment: datetime | None) -> str | None:
    """ISO-8601 UTC text of ``moment`` (naive datetimes are taken to be UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_time(text: str | None) -> datetime | None:
    """The datetime :func:`format_time` wrote, or ``None``."""
    return None if text is None else datetime.fromisoformat(text)


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float ready for a REAL column: NaN becomes ``None``, infinities stay."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN).

    NumPy scalars become plain ``int``/``float`` on the way (they register as numbers).
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def dumps_json(value: Any) -> str:
    """Strict JSON text of ``value`` (non-finite floats as ``null``, keys sorted for stable diffs).

    Raises:
        StoreError: ``value`` holds something JSON cannot represent.
    """
    try:
        return json.dumps(_json_safe(value), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot store {type(value).__name__} as JSON: {exc}") from exc


def loads_json(text: str | None) -> Any:
    """The value :func:`dumps_json` wrote (``None`` for a SQL ``NULL``)."""
    return None if text is None else json.loads(text)
