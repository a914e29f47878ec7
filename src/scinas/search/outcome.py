"""The one function that turns a trial's store record into what a strategy is told.

Every phase of a run (the search, a fixed experiment's trial, selection and the final training)
and every executor report a finished trial through :func:`outcome_from_record`, so a strategy
sees the same :class:`~scinas.search.base.TrialOutcome` whether the trial just ended, ended in a
worker process, or ended before the run was interrupted and resumed.  What ``fitness`` and
``prediction`` mean is documented on :class:`~scinas.search.base.TrialOutcome`.

With a target formula (``[X.search] target``), :func:`target_of` evaluates it over
:func:`trial_values`: the trial's final validation metrics by name (the score replaced by its
learning-curve estimate when early termination predicted it) and the quantities of
:data:`TRIAL_QUANTITIES`.  A trial whose target is not a finite number (a division by zero, the
log of zero, a missing metric) is told as failed and the reason is logged; the search goes on.
"""

from __future__ import annotations

import logging
import math

from scinas.config.formula import parse_formula
from scinas.search.base import TrialOutcome
from scinas.search.domain import COSTS, Objectives
from scinas.store import RunStore, TrialRecord, TrialStatus

__all__ = ["TRIAL_QUANTITIES", "outcome_from_record", "score_of", "target_of", "trial_values"]

logger = logging.getLogger(__name__)

#: The names a target formula may use besides the recorded metrics, with what each one is.
TRIAL_QUANTITIES: dict[str, str] = {
    "params": "trainable parameters",
    "flops": "floating-point operations of one forward pass",
    "time": "the time cost the search minimises (s)",
    "train_time": "wall time of the training epochs (s)",
    "latency_s": "inference latency of one batch (s)",
    "latency_ms": "inference latency of one batch (ms)",
}


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


def trial_values(store: RunStore, record: TrialRecord, objectives: Objectives) -> dict[str, float | None]:
    """What a target formula may read of ``record``: its final validation metrics by name (the
    score as :func:`score_of` gives it) and :data:`TRIAL_QUANTITIES` (None when not recorded)."""
    values: dict[str, float | None] = {}
    for metric in store.metrics(record.trial_id, split="validation", epoch="final"):
        values[metric.name] = None if math.isnan(metric.value) else float(metric.value)
    values[objectives.score] = score_of(store, record, objectives)
    latency = record.latency_s
    values.update({"params": None if record.params is None else float(record.params), "flops": record.flops,
                   "time": record.time_cost, "train_time": record.train_time_s, "latency_s": latency,
                   "latency_ms": None if latency is None else 1000.0 * latency})
    return values


def target_of(store: RunStore, record: TrialRecord, objectives: Objectives) -> tuple[float | None, str | None]:
    """The value of the objectives' target formula for ``record`` and, when it is not a finite
    number, None and why (a name the trial did not record counts as missing)."""
    if objectives.target is None:
        raise ValueError("these objectives have no target formula")
    formula = parse_formula(objectives.target)
    values = trial_values(store, record, objectives)
    value, reason = formula.value({name: values.get(name) for name in formula.names})
    return (None, reason) if reason is not None else (value, None)


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
    metrics = {objectives.score: score}
    fitness = objectives.signed(score)
    if objectives.target is not None:
        target, reason = target_of(store, record, objectives)
        if target is None:
            logger.warning("trial %s: its target %s is not a finite number (%s); the search counts it as failed",
                           record.name, objectives.target, reason)
            return TrialOutcome(record.name, completed=False)
        metrics["target"] = fitness = target
    costs: dict[str, float] = {}
    for cost in objectives.costs:
        value = getattr(record, COSTS[cost])
        if value is not None and math.isfinite(float(value)):
            costs[cost] = float(value)
    return TrialOutcome(record.name, completed=True, fitness=fitness, metrics=metrics, costs=costs,
                        prediction=_prediction(record))
