"""The one function that turns a trial's store record into what a strategy is told.

Every phase of a run (the search, a fixed experiment's trial, selection and the final training)
and every executor report a finished trial through :func:`outcome_from_record`, so a strategy
sees the same :class:`~scinas.search.base.TrialOutcome` whether the trial just ended, ended in a
worker process, or ended before the run was interrupted and resumed.  What ``fitness`` and
``prediction`` mean is documented on :class:`~scinas.search.base.TrialOutcome`.
"""

from __future__ import annotations

import math

from scinas.search.base import TrialOutcome
from scinas.search.domain import COSTS, Objectives
from scinas.store import RunStore, TrialRecord, TrialStatus

__all__ = ["outcome_from_record", "score_of"]


def score_of(store: RunStore, record: TrialRecord, objectives: Objectives) -> float | None:
    """The score of a completed trial, unsigned: the learning-curve value of the record's
    ``estimate`` column when early termination watched the score on the validation split
    (``monitor`` is ``val_<score>``), else the score metric measured on the validation split,
    else None."""
    if (record.estimate is not None and record.monitor == f"val_{objectives.score}"
            and math.isfinite(record.estimate)):
        return float(record.estimate)
    for metric in store.metrics(record.trial_id, split="validation", epoch="final"):
        if metric.name == objectives.score:
            return None if math.isnan(metric.value) else float(metric.value)
    return None


def _prediction(record: TrialRecord) -> float | None:
    """The converged learning-curve prediction the record holds, if any."""
    if record.converged_epoch is None or record.estimate is None or not math.isfinite(record.estimate):
        return None
    return float(record.estimate)


def outcome_from_record(store: RunStore, record: TrialRecord | None, objectives: Objectives | None = None,
                        *, name: str | None = None) -> TrialOutcome:
    """What a strategy is told about the finished trial ``record``.

    With ``objectives`` (a search, selection or final phase) a completed trial without a score
    counts as failed, since a strategy cannot rank it; without them (a fixed experiment, or an
    executor that does not know the objectives) ``completed`` is the record's status and
    ``fitness`` is None.  A missing record (``None``, then ``name`` names the trial) is a failed
    trial.
    """
    if record is None:
        if name is None:
            raise ValueError("outcome_from_record needs the trial's name when there is no record")
        return TrialOutcome(name, completed=False)
    if record.status != TrialStatus.COMPLETED:
        return TrialOutcome(record.name, completed=False)
    if objectives is None:
        return TrialOutcome(record.name, completed=True, prediction=_prediction(record))
    score = score_of(store, record, objectives)
    if score is None:
        return TrialOutcome(record.name, completed=False)
    costs: dict[str, float] = {}
    for cost in objectives.costs:
        value = getattr(record, COSTS[cost])
        if value is not None and math.isfinite(float(value)):
            costs[cost] = float(value)
    return TrialOutcome(record.name, completed=True, fitness=objectives.signed(score),
                        metrics={objectives.score: score}, costs=costs, prediction=_prediction(record))
