"""Refit predictor variants on the trials of finished searches, step by step (JSON to stdout).

``real_search_predictors.py --keep DIR`` leaves run folders whose trials cost minutes each to
train; this script reuses them to compare predictors in seconds.  For every run folder and every
step ``B2, B3, ...`` of its progressive search it does what the search did before that step — fit
on every successful trial of the earlier steps, with the score and costs the search was told (its
saved ledger) and its operator cost scores — and predicts the trials of the step, which the
predictors had not seen; then Kendall τ against what those trials measured.

Variants: ``search`` is the search's own predictors (it reproduces the τ the run recorded); a
score variant ``gin:key=value,...`` overrides GIN options (``gin:epochs=120,learning_rate=0.002``),
a cost variant ``svr:key=value,...`` SVR options.  Output::

    {"score": {"search": {"gin_kendall_mean": ..., "runs": {"<run>": {"B2": τ, ...}}}, "gin:epochs=120": ...},
     "cost": {"search": {"cost_kendall_mean": ..., "runs": ...}, ...}}

Usage::

    python benchmarks/predictor_replay.py results/bench/A/* --score "search;gin:epochs=120" --cost search
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _machine import machine_facts
from scinas.predictors import PREDICTORS, Predictor, ranking_quality
from scinas.search.ledger import LedgerEntry
from scinas.search.popnas import PopnasStrategy
from scinas.store.layout import RunLayout


@dataclass
class Replay:
    """A finished progressive search, restored from its folder: its strategy with the saved ledger."""

    run_dir: Path
    strategy: PopnasStrategy

    @classmethod
    def load(cls, run_dir: Path) -> Replay:
        from scinas.config.loading import load_config
        from scinas.experiment.loop import load_strategy_state
        from scinas.experiment.plan import plan_experiments
        from scinas.search.cell_domain import CellDomain
        from scinas.search.domain import Objectives
        from scinas.search.registry import strategy_from_config
        from scinas.search_space.space import SearchSpace

        raw = load_config(run_dir)
        config = plan_experiments(raw, raw.default or ())[0].config
        search, structure = config.search, config.structure
        space = getattr(structure, "space", None)
        if search is None or not isinstance(space, SearchSpace):
            raise SystemExit(f"{run_dir}: not a search run")
        domain = CellDomain(space, getattr(structure, "macro", None))
        strategy = strategy_from_config(
            search, domain, Objectives(search.score, search.maximize, search.costs), seed=config.seed
        )
        saved = load_strategy_state(RunLayout(run_dir).strategy_state)
        if saved is None or not isinstance(strategy, PopnasStrategy):
            raise SystemExit(f"{run_dir}: not a finished progressive search")
        strategy.load_state(saved[1])
        return cls(run_dir, strategy)

    def steps(self) -> list[tuple[int, list[LedgerEntry], list[LedgerEntry]]]:
        """``(step, trained before it, trained at it)`` for every predicted step."""
        blocks = self.strategy.progressive.blocks
        done = self.strategy.ledger.succeeded()
        last = max((blocks(r.architecture) for r in done), default=0)
        return [
            (b, [r for r in done if blocks(r.architecture) < b], [r for r in done if blocks(r.architecture) == b])
            for b in range(2, last + 1)
        ]


def _parse(spec: str) -> tuple[str, dict[str, Any]]:
    name, _, text = spec.partition(":")
    options: dict[str, Any] = {}
    for item in [i for i in text.split(",") if i]:
        key, _, value = item.partition("=")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return name, options


def _builder(spec: str, target: str, replay: Replay) -> Callable[[int], Predictor]:
    """A fresh predictor for ``seed``: the search's own (``search``) or a registered one with options."""
    if spec == "search":
        return lambda seed: replay.strategy.factory(target, seed)
    name, options = _parse(spec)
    cls = PREDICTORS.get(name)
    search_options = replay.strategy.factory(target, 0).to_table()
    search_options.pop("name", None)

    def build(seed: int) -> Predictor:
        merged = {
            **(search_options if getattr(cls, "name", "") == replay.strategy.factory(target, 0).name else {}),
            **options,
        }
        if cls.encoding == "graph":
            return cls(replay.strategy.domain.max_nodes, seed=seed, **merged)  # type: ignore[call-arg]
        if target != "score" and "log_target" not in merged:
            merged["log_target"] = True
        return cls(seed=seed, **merged)  # type: ignore[call-arg]

    return build


def _tau(actual: Sequence[float], predicted: np.ndarray) -> float | None:
    value = ranking_quality(np.asarray(actual, dtype=np.float64), predicted).kendall
    return None if not np.isfinite(value) else round(float(value), 4)


def _seeds(replay: Replay, step: int, repeats: int) -> list[int]:
    """The search's seed for the step first (what it used), then others (``repeats`` in all)."""
    return [replay.strategy.seed + step + 1000 * r for r in range(repeats)]


def _mean_tau(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(float(np.mean(kept)), 4) if kept else None


def replay_score(replay: Replay, spec: str, repeats: int = 1) -> dict[str, float | None]:
    build = _builder(spec, "score", replay)
    domain = replay.strategy.domain
    taus: dict[str, float | None] = {}
    for step, trained, tested in replay.steps():
        values = []
        for seed in _seeds(replay, step, repeats):
            model = build(seed)
            encode = domain.graph if model.encoding == "graph" else domain.features
            model.fit([encode(r.architecture) for r in trained], np.array([r.fitness for r in trained], dtype=float))
            values.append(
                _tau([float(r.fitness or 0.0) for r in tested], model.predict([encode(r.architecture) for r in tested]))
            )
        taus[f"B{step}"] = _mean_tau(values)
    return taus


def _cost_encoder(strategy: PopnasStrategy, cost: str, graph: bool) -> Callable[[LedgerEntry], Any]:
    if graph:
        return lambda entry: strategy.domain.graph(entry.architecture)
    return lambda entry: strategy.progressive.cost_features(entry.architecture, strategy.operator_scores[cost])


def replay_cost(replay: Replay, spec: str, repeats: int = 1) -> dict[str, float | None]:
    strategy = replay.strategy
    taus: dict[str, float | None] = {}
    for cost in strategy.costs:
        build = _builder(spec, cost, replay)
        for step, trained, at_step in replay.steps():
            rows = [r for r in trained if r.costs.get(cost, 0.0) > 0]
            tested = [r for r in at_step if cost in r.costs]
            values = []
            for seed in _seeds(replay, step, repeats):
                model = build(seed)
                features = _cost_encoder(strategy, cost, model.encoding == "graph")
                model.fit([features(r) for r in rows], np.array([r.costs[cost] for r in rows]))
                values.append(_tau([r.costs[cost] for r in tested], model.predict([features(r) for r in tested])))
            taus[f"B{step}" if len(strategy.costs) == 1 else f"{cost}_B{step}"] = _mean_tau(values)
    return taus


def _mean(runs: dict[str, dict[str, float | None]]) -> float | None:
    values = [v for steps in runs.values() for v in steps.values() if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs",
        type=Path,
        nargs="*",
        help="run folders of progressive searches (none: run "
        "real_search_predictors.py --quick into a temporary folder first)",
    )
    parser.add_argument("--score", default="search", help="score predictor variants (semicolon list)")
    parser.add_argument("--cost", default="search", help="cost predictor variants (semicolon list)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="predictor seeds per step, τ averaged (the first is the search's own)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scinas-replay-") as scratch:
        if not args.runs:
            import real_search_predictors  # the sibling script (benchmarks/ is on sys.path)

            with contextlib.redirect_stdout(io.StringIO()):
                real_search_predictors.main(["--quick", "--keep", scratch])
            args.runs = sorted(p.parent for p in Path(scratch).glob("*/*/manifest.json"))
        replays = [Replay.load(run) for run in args.runs]
        report = _replay_all(replays, args.score, args.cost, args.repeats)
    print(json.dumps(report, indent=2))
    return 0


def _replay_all(replays: Sequence[Replay], score: str, cost: str, repeats: int = 1) -> dict[str, Any]:
    report: dict[str, Any] = {"runs": [str(r.run_dir) for r in replays], "score": {}, "cost": {}}
    for kind, specs, replay_one in (("score", score, replay_score), ("cost", cost, replay_cost)):
        for spec in [s for s in specs.split(";") if s]:
            started = time.perf_counter()
            runs = {f"{r.run_dir.parent.name}/{r.run_dir.name}": replay_one(r, spec, repeats) for r in replays}
            key = "gin_kendall_mean" if kind == "score" else "cost_kendall_mean"
            report[kind][spec] = {key: _mean(runs), "seconds": round(time.perf_counter() - started, 1), "runs": runs}
            print(f"{kind} {spec}: {report[kind][spec][key]}", file=sys.stderr)
    report["machine"] = machine_facts()
    return report


if __name__ == "__main__":
    sys.exit(main())
