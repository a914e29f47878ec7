"""Synthetic run folders for tests and benchmarks of store readers (the dashboard, reports).

:func:`build_run` makes ``results/<experiment>/<run-id>/`` with a real run store (the store's own
schema, made by :meth:`RunStore.create`) holding ``trials`` search trials of a progressive Pareto
search with ``epochs`` epochs each, their final validation and test scores, and the resolved
configuration a reader needs to know the score and the costs.  The bulk rows go in through one
SQLite transaction, so 1 000 trials and 25 000 epochs take about a second.
:func:`finish_trial` adds one completed trial through the store's writer API, as a run would, and
:func:`stop_early` rewrites a trial as learning-curve early termination leaves it (its fitted curve).

Example::

    run_dir = build_run(tmp_path / "results", trials=1000, epochs=25)
    with RunStore.open(run_dir / "store.sqlite", readonly=True) as store:
        assert len(store.trials()) == 1000
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sqlite3
from datetime import timedelta
from pathlib import Path

from scinas.store import EpochRecord, RunStatus, RunStore
from scinas.store.layout import RunLayout
from scinas.store.records import format_time, utc_now

__all__ = ["RUN_CONFIG", "build_run", "finish_trial", "stop_early"]

#: The resolved configuration of the synthetic runs (a search by validation accuracy vs training time).
RUN_CONFIG = """default = ["{experiment}"]
[{experiment}]
seed = 1
[{experiment}.dataset]
training = "digits"
[{experiment}.search]
strategy = "popnas"
score = "accuracy"
costs = ["time", "params"]
[{experiment}.training]
epochs = {epochs}
"""


def _accuracy(rng: random.Random, blocks: int, epoch: int, epochs: int) -> float:
    ceiling = 0.6 + 0.08 * blocks + rng.uniform(-0.05, 0.05)
    return max(0.0, min(1.0, ceiling * (1.0 - math.exp(-3.0 * epoch / epochs))))


def build_run(
    results: Path,
    *,
    experiment: str = "A",
    run_id: str = "20261201-120000-0001",
    trials: int = 100,
    epochs: int = 25,
    running: int = 0,
    failed: int = 0,
    seed: int = 0,
    status: RunStatus = RunStatus.RUNNING,
    predictions: bool = False,
) -> Path:
    """A run folder with ``trials`` trials (the last ``running`` still running, ``failed`` of them failed);
    with ``predictions``, also the search's ``csv/predictions_B<step>.csv`` (noisy predicted score and time)."""
    run_dir = results / experiment / run_id
    layout = RunLayout(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = RUN_CONFIG.format(experiment=experiment, epochs=epochs)
    layout.experiments_config.write_text(config, encoding="utf-8")
    store = RunStore.create(
        layout.store, run_id=run_id, experiment=experiment, seed=1, config_text=config, manifest={"scinas": "test"}
    )
    store.set_run_status(status)
    store.close()
    rng = random.Random(seed)
    begun = utc_now() - timedelta(seconds=trials + 60)
    failing = set(rng.sample(range(max(0, trials - running)), min(failed, max(0, trials - running))))
    with contextlib.closing(sqlite3.connect(layout.store)) as db, db:
        for number in range(trials):
            blocks = min(5, number // max(1, trials // 5))
            now = format_time(begun + timedelta(seconds=number))
            state = "running" if number >= trials - running else "failed" if number in failing else "completed"
            done = epochs if state == "completed" else epochs // 2
            time_s = 2.0 + 3.0 * blocks + rng.uniform(0, 2)
            cursor = db.execute(
                "INSERT INTO trials (number, name, architecture, status, failure_reason, started_at, finished_at, "
                "attempts, best_epoch, epochs_completed, train_time_s, params, flops, extra, phase) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, 'search')",
                (
                    number,
                    f"B{blocks}-{number:04d}",
                    f"cell-{number}",
                    state,
                    "ResourceExhaustedError: out of memory" if state == "failed" else None,
                    now,
                    None if state == "running" else now,
                    done if state == "completed" else None,
                    done if state != "running" else None,
                    time_s if state == "completed" else None,
                    int(1000 * (1 + blocks) * rng.uniform(0.5, 1.5)),
                    1e6 * (1 + blocks),
                    json.dumps({"blocks": blocks}),
                ),
            )
            trial_id = cursor.lastrowid
            values = [_accuracy(rng, blocks, epoch, epochs) for epoch in range(1, done + 1)]
            db.executemany(
                "INSERT INTO epochs (trial_id, epoch, metrics, loss, val_loss, epoch_time_s) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        trial_id,
                        epoch,
                        json.dumps({"accuracy": v, "val_accuracy": v * 0.97, "loss": 1 - v, "val_loss": 1.05 - v}),
                        1 - v,
                        1.05 - v,
                        time_s / epochs,
                    )
                    for epoch, v in enumerate(values, start=1)
                ],
            )
            if state == "completed":
                db.executemany(
                    "INSERT INTO metrics (trial_id, split, epoch, name, value) VALUES (?, ?, NULL, ?, ?)",
                    [
                        (trial_id, "validation", "accuracy", values[-1] * 0.97),
                        (trial_id, "test", "accuracy", values[-1] * 0.95),
                    ],
                )
    if predictions:
        _write_predictions(layout, rng)
    return run_dir


def _write_predictions(layout: RunLayout, rng: random.Random) -> None:
    rows: dict[int, list[str]] = {}
    query = (
        "SELECT t.name, json_extract(t.extra, '$.blocks'), m.value, t.train_time_s FROM trials t "
        "JOIN metrics m USING (trial_id) WHERE m.split = 'validation' AND m.epoch IS NULL"
    )
    with contextlib.closing(sqlite3.connect(layout.store)) as db:
        for name, blocks, score, time_s in db.execute(query):
            if blocks:
                predicted = f"{score * rng.uniform(0.9, 1.1):.4f},{time_s * rng.uniform(0.8, 1.2):.3f}"
                rows.setdefault(blocks, []).append(f"{name},cell,{predicted},pareto")
    layout.csv.mkdir(parents=True, exist_ok=True)
    for blocks, lines in rows.items():
        text = "name,architecture,predicted_score,predicted_time,selected\n" + "\n".join(lines) + "\n"
        (layout.csv / f"predictions_B{blocks}.csv").write_text(text, encoding="utf-8")


def finish_trial(
    run_dir: Path, name: str, *, accuracy: float = 0.9, epochs: int = 3, time_s: float = 5.0, params: int = 1234
) -> None:
    """Train nothing, but record a completed trial ``name`` through the store's writer API."""
    with RunStore.open(RunLayout(run_dir).store) as store:
        trial = store.start_trial(name, architecture=f"cell-{name}")
        for epoch in range(1, epochs + 1):
            value = accuracy * epoch / epochs
            store.record_epoch(
                EpochRecord(
                    trial.trial_id,
                    epoch,
                    metrics={"accuracy": value, "val_accuracy": value},
                    loss=1 - value,
                    val_loss=1 - value,
                )
            )
        store.record_metrics(trial.trial_id, "validation", {"accuracy": accuracy})
        store.complete_trial(
            trial.trial_id,
            best_epoch=epochs,
            epochs_completed=epochs,
            train_time_s=time_s,
            params=params,
            extra={"blocks": 1},
        )


def stop_early(run_dir: Path, trial_id: int, values: list[float], budget: int, *, monitor: str = "val_accuracy",
               family: str = "exponential") -> dict[str, float]:
    """Make trial ``trial_id`` one that early termination stopped after ``len(values)`` epochs of ``monitor``
    (one of a maximised metric): ``family`` fitted to them as the rule fits (in score space, predicting
    epoch ``budget``), its parameters and the stop epoch on the trial; returns the parameters."""
    import numpy as np

    from scinas.predictors.learning_curve import ScoreSpace, fit_curve

    space = ScoreSpace.resolve("auto", monitor, True, values)
    fit = fit_curve(np.arange(1, len(values) + 1), space.to_score(values), budget, family=family)
    if not fit.success or fit.prediction is None:
        raise ValueError(f"the {family} curve does not fit {values}: {fit.reason}")
    prediction = space.from_score(fit.prediction)
    with contextlib.closing(RunStore.open(RunLayout(run_dir).store)) as store:
        store.truncate_epochs(trial_id, after=0)
        for epoch, value in enumerate(values, start=1):
            store.record_epoch(EpochRecord(trial_id, epoch, {monitor: value}, prediction=prediction,
                                           converged=epoch == len(values), curve=family))
        store.update_trial(trial_id, epochs_completed=len(values), monitor=monitor, curve=family,
                           curve_parameters=dict(fit.parameters), converged_epoch=len(values))
    return dict(fit.parameters)
