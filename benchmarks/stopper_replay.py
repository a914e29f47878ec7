"""Early-termination stoppers replayed on recorded learning curves, judged the way a search uses them.

Run::

    .venv/bin/python benchmarks/stopper_replay.py                       # every file in benchmarks/recordings
    .venv/bin/python benchmarks/stopper_replay.py benchmarks/recordings/digits_seed1.json --rules scinas,optuna_sh

Each recording (``benchmarks/record_curves.py``) holds the full-budget validation curves of 20+
cells in the order they were trained.  Every rule is fed the same curves in that order, epoch
by epoch, as a study would see its trials, and decides after each epoch whether the trial goes
on:

* ``scinas``: scinas' default stopper (``curve``: the learning-curve rule with its defaults);
* ``seed``: the A4NN seed's exact rule (the whole history fitted: ``skip_lag = false``, ``fit_window = 0``);
* ``family:<name>``: the default rule with each curve family;
* ``ensemble``: the BIC-weighted ensemble of shifted exponential, power law, MMF and Weibull;
* ``pareto``: scinas' multi-objective stopper (the rule plus dominance by the front of the
  trials completed so far in (score, time));
* ``optuna_median``, ``optuna_sh``, ``optuna_hyperband``: Optuna's MedianPruner,
  SuccessiveHalvingPruner and HyperbandPruner through ``study.ask()`` / ``trial.report`` /
  ``trial.should_prune`` / ``study.tell`` (needs ``optuna``; the ``bench`` extra);
* ``deephyper_lc``: DeepHyper's ``LCModelStopper`` (``mmf4`` by MCMC, stops when the probability of
  ending below the best seen exceeds 0.9) on a ``RunningJob`` over DeepHyper's in-memory storage
  (needs ``deephyper[jax-cpu]``; reported as skipped with the reason when it cannot be imported).

A trial's *fitness* is the rule's estimate where it predicts one (a converged scinas rule), else
the last value it saw: what the search would rank it by.  Per rule and recording:

``epochs_saved_fraction``; ``time_saved_fraction`` (the recorded epoch times not trained, minus
the rule's own decision time, over the full training time); ``regret_points`` (the true full-budget
score of the trial the rule ranks first vs the true best, in points of percent); ``top5_recall``
(how many of the true top 5 are in the rule's top 5, over 5); ``kendall_tau`` (fitness vs true
final score); ``median_abs_error_points`` (|estimate − final| over the trials where the rule
predicted, ``null`` for rules that do not predict); ``hypervolume_ratio`` (the trials on the
rule's (fitness, predicted cost) front, at their true (final score, full cost) points, over the
hypervolume of the true front; cost = ``elapsed + median later epoch time × remaining epochs``,
the pareto stopper's own estimate, and the full recorded time for the true front);
``decision_ms_per_epoch``.  Besides the rules: ``aims`` (does ``scinas`` dominate every peer, at
least their epochs saved at no more regret; and ≥ 60 % saved with top-5 recall ≥ 0.9 and
regret ≤ 0.5 points).  The output is one JSON object ``{recording: {rule: {...}}}``.
Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import scinas  # noqa: F401  (only: is it importable?)
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _machine import machine_facts
from _recordings import Curve, Recording, RecordingError, load_recording
from scinas.config.experiment import EarlyTerminationConfig
from scinas.config.search import SearchConfig
from scinas.predictors.curve_families import CURVE_FAMILIES
from scinas.predictors.learning_curve import ScoreSpace
from scinas.stoppers import FrontPoint, resolve_stopper
from scinas.stoppers.pareto import predicted_cost

__all__ = ["PEERS", "TrialRun", "hypervolume", "judge", "main", "replay_scinas"]

RECORDINGS = Path(__file__).resolve().parent / "recordings"
ENSEMBLE = ("shifted_exponential", "power_law", "mmf", "weibull")
PEERS = ("optuna_median", "optuna_sh", "optuna_hyperband", "deephyper_lc")


@dataclasses.dataclass
class TrialRun:
    """What a rule did with one curve: epochs trained, the fitness it ranks by, its prediction (if any)."""

    epochs: int
    fitness: float
    prediction: float | None = None


Rule = Callable[[Recording], tuple[list[TrialRun], float]]
"""A replayed rule: the runs of a recording's curves, in order, and the rule's own decision time (s)."""


# --------------------------------------------------------------------------- scinas' stoppers

def _settings(recording: Recording, **changes: Any) -> EarlyTerminationConfig:
    return dataclasses.replace(EarlyTerminationConfig(monitor=recording.monitor, mode="max"), **changes)


def replay_scinas(recording: Recording, settings: EarlyTerminationConfig) -> tuple[list[TrialRun], float]:
    """A scinas stopper (``settings.stopper`` with ``settings.options``) on every curve, in order.

    A stopper that needs the front is given the points of the trials replayed before (their
    fitness and predicted cost), as :class:`~scinas.training.trainer.Trainer` gives it the run's
    completed trials.
    """
    cls, options = _resolve(settings)
    budget = recording.budget_epochs
    runs: list[TrialRun] = []
    front: list[FrontPoint] = []
    spent = 0.0
    for curve in recording.curves:
        started = time.perf_counter()
        stopper = cls(settings, budget, options, front=front if cls.needs_front else ())
        for value, seconds in zip(curve.values, curve.epoch_time_s, strict=True):
            stopper.observe(value, seconds)
            if stopper.converged:
                break
        stop = stopper.epoch
        summary = stopper.summary(measured=curve.values[stop - 1])
        spent += time.perf_counter() - started
        estimate = summary.estimate if summary.estimate is not None else curve.values[stop - 1]
        runs.append(TrialRun(stop, estimate, summary.estimate if stopper.converged else None))
        cost = predicted_cost(list(curve.epoch_time_s[:stop]), budget)
        if cost is not None:
            front.append(FrontPoint(estimate, cost))
    return runs, spent


def _resolve(settings: EarlyTerminationConfig) -> tuple[Any, Any]:
    """The stopper class and options, checked as a search whose score is the monitored metric plans them."""
    search = SearchConfig(score=settings.monitor.removeprefix("val_"), maximize=True)
    cls, options = resolve_stopper(settings, search)
    return cls, options


# --------------------------------------------------------------------------- peers

def _optuna(kind: str) -> Rule:
    def rule(recording: Recording) -> tuple[list[TrialRun], float]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        budget = recording.budget_epochs
        pruner: optuna.pruners.BasePruner
        if kind == "median":
            pruner = optuna.pruners.MedianPruner()
        elif kind == "sh":
            pruner = optuna.pruners.SuccessiveHalvingPruner()
        else:
            pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=budget)
        study = optuna.create_study(direction="maximize", pruner=pruner,
                                    sampler=optuna.samplers.RandomSampler(seed=recording.seed))
        runs: list[TrialRun] = []
        spent = 0.0
        for curve in recording.curves:
            started = time.perf_counter()
            trial = study.ask()
            stop = budget
            for epoch, value in enumerate(curve.values, start=1):
                trial.report(value, epoch)
                if epoch < budget and trial.should_prune():
                    stop = epoch
                    break
            if stop < budget:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(trial, curve.values[-1])
            spent += time.perf_counter() - started
            runs.append(TrialRun(stop, curve.values[stop - 1]))
        return runs, spent

    return rule


def _deephyper(recording: Recording) -> tuple[list[TrialRun], float]:
    from deephyper.evaluator import RunningJob
    from deephyper.evaluator.storage import MemoryStorage
    from deephyper.stopper import LCModelStopper

    budget = recording.budget_epochs
    storage = MemoryStorage()
    search = storage.create_new_search()
    runs: list[TrialRun] = []
    spent = 0.0
    for index, curve in enumerate(recording.curves):
        started = time.perf_counter()
        job_id = storage.create_new_job(search)
        stopper = LCModelStopper(max_steps=budget, random_state=recording.seed * 1000 + index)
        job = RunningJob(id=job_id, parameters={}, storage=storage, stopper=stopper)
        stopper.job = job
        stop = budget
        for epoch, value in enumerate(curve.values, start=1):
            job.record(epoch, value)
            if job.stopped():
                stop = epoch
                break
        storage.store_job_out(job_id, job.objective)
        spent += time.perf_counter() - started
        runs.append(TrialRun(stop, float(job.objective)))
    return runs, spent


def peer_available(name: str) -> str | None:
    """``None`` when peer ``name`` can run here, else why not (the skip reason)."""
    try:
        if name.startswith("optuna"):
            import optuna  # noqa: F401
        elif name == "deephyper_lc":
            from deephyper.stopper import LCModelStopper  # noqa: F401
    except ImportError as exc:
        extra = "pip install 'optuna>=5'" if name.startswith("optuna") else "pip install 'deephyper[jax-cpu]'"
        return f"cannot be imported ({exc}); {extra}"
    return None


# --------------------------------------------------------------------------- judging

def hypervolume(points: Sequence[tuple[float, float]], reference: tuple[float, float]) -> float:
    """The 2-D hypervolume of (score to maximise, cost to minimise) ``points`` against ``reference``
    (a score below and a cost above every point that counts)."""
    ref_score, ref_cost = reference
    useful = sorted((cost, score) for score, cost in points if score > ref_score and cost < ref_cost)
    volume, best = 0.0, ref_score
    for index, (cost, score) in enumerate(useful):
        best = max(best, score)
        next_cost = useful[index + 1][0] if index + 1 < len(useful) else ref_cost
        volume += (best - ref_score) * (next_cost - cost)
    return volume


def _front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (score max, cost min) points."""
    return [i for i, (s, c) in enumerate(points)
            if not any((s2 >= s and c2 <= c) and (s2 > s or c2 < c) for s2, c2 in points)]


def _kendall(a: Sequence[float], b: Sequence[float]) -> float | None:
    from scipy.stats import kendalltau

    tau = kendalltau(a, b).statistic
    return None if tau is None or not math.isfinite(tau) else round(float(tau), 4)


def judge(recording: Recording, runs: Sequence[TrialRun], decision_s: float) -> dict[str, Any]:
    """The metrics of one rule's runs on one recording (see the module docstring)."""
    curves: Sequence[Curve] = recording.curves
    finals = recording.finals
    factor = ScoreSpace.resolve("auto", recording.monitor, True, finals).factor
    budget = recording.budget_epochs
    used = sum(run.epochs for run in runs)
    full_time = sum(sum(curve.epoch_time_s) for curve in curves)
    used_time = sum(sum(curve.epoch_time_s[:run.epochs]) for curve, run in zip(curves, runs, strict=True))
    fitness = [run.fitness for run in runs]
    order = sorted(range(len(runs)), key=lambda i: -fitness[i])
    truth = sorted(range(len(runs)), key=lambda i: -finals[i])
    errors = [abs(run.prediction - final) * factor for run, final in zip(runs, finals, strict=True)
              if run.prediction is not None]
    true_points = [(final, sum(curve.epoch_time_s)) for final, curve in zip(finals, curves, strict=True)]
    predicted = [(run.fitness, predicted_cost(list(curve.epoch_time_s[:run.epochs]), budget) or math.inf)
                 for run, curve in zip(runs, curves, strict=True)]
    reference = (min(finals) - 1e-9, max(cost for _, cost in true_points) * 1.1)
    best_volume = hypervolume([true_points[i] for i in _front(true_points)], reference)
    kept = hypervolume([true_points[i] for i in _front(predicted)], reference)
    return {
        "epochs_saved_fraction": round(1.0 - used / (budget * len(runs)), 4),
        "time_saved_fraction": round(1.0 - (used_time + decision_s) / full_time, 4),
        "regret_points": round((finals[truth[0]] - finals[order[0]]) * factor, 3),
        "top5_recall": round(len(set(order[:5]) & set(truth[:5])) / 5.0, 2),
        "kendall_tau": _kendall(fitness, finals),
        "median_abs_error_points": round(statistics.median(errors), 3) if errors else None,
        "predicted_fraction": round(len(errors) / len(runs), 3),
        "hypervolume_ratio": round(kept / best_volume, 4) if best_volume > 0 else None,
        "decision_ms_per_epoch": round(1000.0 * decision_s / max(used, 1), 2),
    }


def rules(names: Sequence[str] | None = None) -> dict[str, Rule | str]:
    """The replayed rules by name (a string value: the reason a peer is skipped)."""
    def scinas_rule(**changes: Any) -> Rule:
        return lambda recording: replay_scinas(recording, _settings(recording, **changes))

    table: dict[str, Rule | str] = {
        "scinas": scinas_rule(),
        "seed": scinas_rule(skip_lag=False, fit_window=0),
        **{f"family:{name}": scinas_rule(curve=name) for name in CURVE_FAMILIES.names()},
        "ensemble": scinas_rule(options={"ensemble": list(ENSEMBLE)}),
        "pareto": scinas_rule(stopper="pareto"),
        "optuna_median": _optuna("median"),
        "optuna_sh": _optuna("sh"),
        "optuna_hyperband": _optuna("hyperband"),
        "deephyper_lc": _deephyper,
    }
    for peer in PEERS:
        reason = peer_available(peer)
        if reason is not None:
            table[peer] = reason
    if names is None:
        return table
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}; known: {', '.join(table)}")
    return {name: table[name] for name in names}


def aims(results: dict[str, Any]) -> dict[str, Any]:
    """Does ``scinas`` dominate every peer that ran, and does it reach the A4NN anchor?"""
    ours = results.get("scinas")
    if not isinstance(ours, dict) or "epochs_saved_fraction" not in ours:
        return {}
    dominates = {}
    for peer in PEERS:
        theirs = results.get(peer)
        if isinstance(theirs, dict) and "epochs_saved_fraction" in theirs:
            dominates[peer] = (ours["epochs_saved_fraction"] >= theirs["epochs_saved_fraction"]
                               and ours["regret_points"] <= theirs["regret_points"])
    return {"dominates": dominates,
            "anchor": (ours["epochs_saved_fraction"] >= 0.6 and ours["top5_recall"] >= 0.9
                       and ours["regret_points"] <= 0.5)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("recordings", nargs="*", type=Path,
                        help="recording files (default: every *.json in benchmarks/recordings)")
    parser.add_argument("--rules", help="comma-separated rule names (default: all)")
    args = parser.parse_args(argv)
    paths = args.recordings or sorted(RECORDINGS.glob("*.json"))
    try:
        if not paths:
            raise RecordingError(f"no recordings given and none in {RECORDINGS}")
        recordings = [load_recording(path) for path in paths]
        chosen = rules(args.rules.split(",") if args.rules else None)
    except (RecordingError, ValueError) as exc:
        print(f"stopper_replay: {exc}", file=sys.stderr)
        return 2
    report: dict[str, Any] = {}
    for recording in recordings:
        results: dict[str, Any] = {}
        for name, rule in chosen.items():
            if isinstance(rule, str):
                results[name] = {"skipped": rule}
                continue
            runs, spent = rule(recording)
            results[name] = judge(recording, runs, spent)
        results["aims"] = aims(results)
        report[recording.name] = results
    report["_machine"] = machine_facts(**{name: _version(name) for name in ("optuna", "deephyper")})
    print(json.dumps(report, indent=2))
    return 0


def _version(module: str) -> str:
    try:
        return str(__import__(module).__version__)
    except ImportError:
        return "not installed"


if __name__ == "__main__":
    logging.getLogger("scinas").setLevel(logging.WARNING)  # the script's own console, not a caller's
    sys.exit(main())
