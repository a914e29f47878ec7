"""AutoBuild over a finished run: rank the blocks of its search and write a reduced space to search next.

:func:`autobuild` reads a run folder (its resolved configuration and its store, read-only), takes
the completed search trials (phase ``search``; selection retrainings and the final training are
left out) with a finite target, fits the ranking predictor (``"ranking"``) on their cell graphs,
ranks every operator pair the trials used (:func:`scinas.predictors.units.rank_units`: by the
predicted target of the cells holding it unless ``rank_by = "importance"``; the node importance of
each is written either way) and writes ``<run>/autobuild/``
(:class:`~scinas.store.layout.AutobuildLayout`): ``units.csv``, ``operators.csv``,
``sub_cells.csv`` (two-block units, reported only), ``autobuild.json``, ``reduced_space.toml`` (an
experiment that extends the run's experiment with ``[X.search_space] operator_pairs`` of the
``top_k`` best units) and ``best_cell.json`` with one Graphviz drawing per hop of the best trial's
node importance; then the
run's ``report.html`` is written again with its AutoBuild section.

The target is the run's own (its ``[X.search] target`` formula, else its score, signed so that
larger is better), or a formula given here (``--target``) over the trials' final validation
metrics and :data:`~scinas.search.outcome.TRIAL_QUANTITIES`, maximised unless ``direction`` is
``"min"``.  A trial whose target is not a finite number is left out and listed with the reason.

Example::

    result = autobuild(Path("results/A/20261122-083012-3fa2"), AutobuildSettings(top_k=3))
    result.ranking.units[0].label           # the best operator pair
    result.layout.reduced_space             # run it: paste into configurations.toml
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scinas.atomic import write_json_atomic, write_text_atomic
from scinas.config.experiment import ExperimentConfig, dataset_of, parse_experiment
from scinas.config.formula import Formula, parse_formula
from scinas.config.loading import load_config
from scinas.config.search import SearchConfig
from scinas.config.structure import SearchStructure
from scinas.data.spec import build_generator
from scinas.errors import ConfigError, format_value
from scinas.search.cell_domain import CellDomain
from scinas.search.domain import Objectives
from scinas.search.outcome import TRIAL_QUANTITIES, score_of, trial_values
from scinas.search.prediction import write_csv
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.encoding import CellGraph
from scinas.search_space.space import SearchSpace
from scinas.store import RunStore, StoreError, TrialPhase, TrialRecord, TrialStatus
from scinas.store.layout import AutobuildLayout, RunLayout

if TYPE_CHECKING:
    from scinas.predictors.units import UnitRanking

__all__ = ["MIN_TRIALS", "AutobuildResult", "AutobuildSettings", "autobuild", "space_toml"]

logger = logging.getLogger(__name__)

#: The fewest trials ``--min-trials`` may ask for (the ranking loss compares the trials of a batch).
MIN_TRIALS = 4
_CLI = "command line"


@dataclass(frozen=True)
class AutobuildSettings:
    """What :func:`autobuild` does (the ``scinas autobuild`` options).

    ``target``: a formula (None: the run's own target); ``direction``: ``"max"`` or ``"min"`` for
    that formula; ``min_trials``: the fewest usable trials accepted; ``epochs``/``ensemble``: the
    ranking predictor's; ``seed``: None for the run's seed; ``rank_by``: ``"predicted"`` or
    ``"importance"``, what orders the units (:mod:`scinas.predictors.units`; both are written);
    ``samples``: random cells of the space whose predictions score the units, beside the trained
    ones; ``name``: the experiment of the reduced space
    (None: ``<experiment>_reduced``); ``out``: None for ``<run>/autobuild``.
    """

    top_k: int = 3
    target: str | None = None
    direction: str | None = None
    min_trials: int = 10
    epochs: int = 120
    ensemble: int = 3
    seed: int | None = None
    rank_by: str = "predicted"
    samples: int = 2000
    name: str | None = None
    out: Path | None = None


@dataclass(frozen=True)
class AutobuildResult:
    """What :func:`autobuild` found and wrote."""

    run_dir: Path
    experiment: str
    reduced_experiment: str
    target: str
    trials: int
    dropped: tuple[tuple[str, str], ...]
    ranking: UnitRanking
    space: SearchSpace
    reduced: SearchSpace
    fit_kendall: float
    fit_seconds: float
    layout: AutobuildLayout
    notes: tuple[str, ...] = field(default_factory=tuple)


def _option(name: str, problem: str, value: Any, fix: str) -> ConfigError:
    return ConfigError(problem, file=_CLI, path=name, value=value, fix=fix)


def _check_settings(settings: AutobuildSettings) -> None:
    for name, value, least in (("--top-k", settings.top_k, 1), ("--min-trials", settings.min_trials, MIN_TRIALS),
                               ("--epochs", settings.epochs, 1), ("--ensemble", settings.ensemble, 1),
                               ("--samples", settings.samples, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise _option(name, f"expected an integer >= {least}", value, f"pass {name} {least} or more")
    if settings.direction is not None:
        if settings.target is None:
            raise _option("--direction", "applies to a --target formula only (the run's own target already has its "
                          "direction)", settings.direction, "add --target FORMULA or drop --direction")
        if settings.direction not in ("max", "min"):
            raise _option("--direction", "expected max or min", settings.direction, "pass --direction max or min")
    if settings.rank_by not in ("importance", "predicted"):
        raise _option("--rank-by", "expected importance or predicted", settings.rank_by,
                      "pass --rank-by importance or --rank-by predicted")


def _load_search(run_dir: Path) -> tuple[ExperimentConfig, SearchConfig, SearchStructure, SearchSpace]:
    """The run's experiment, parsed from its own folder (with its dataset's input rank), its search,
    structure and search space."""
    layout = RunLayout(run_dir)
    if not layout.store.is_file():
        raise ConfigError(f"{run_dir} is not a scinas run folder (no {layout.store.name})", file=_CLI,
                          fix="pass a folder printed when a run started: results/<experiment>/<run-id>")
    raw = load_config(run_dir)
    if not raw.default or len(raw.default) != 1:
        raise ConfigError(f"{layout.experiments_config} names no single experiment (default = [...])", file=_CLI,
                          fix="pass a run folder written by `scinas run`")
    name = raw.default[0]
    dataset = dataset_of(raw, name)
    rank = None
    if dataset is not None and dataset in raw.datasets:
        shape = build_generator(raw, dataset).info().input_shape
        rank = len(shape) - 1
    config = parse_experiment(raw, name, rank=rank if rank in (1, 2) else None)
    structure = config.structure
    if config.search is None or not isinstance(structure, SearchStructure) or structure.space is None:
        raise ConfigError(f"the run of {name} trained one fixed architecture; autobuild ranks the blocks of a "
                          "cell search", file=_CLI, fix="pass the folder of a run with [X.search] and "
                                                        "[X.search_space]")
    return config, config.search, structure, structure.space


def _target_formula(settings: AutobuildSettings, objectives: Objectives, available: set[str], where: tuple[str, str]
                    ) -> Formula | None:
    """The formula the trials are ranked by (None: the run's score), names checked; errors in the
    run's own formula name ``where`` (its file and TOML path)."""
    if settings.target is not None:
        formula = parse_formula(settings.target, file=_CLI, path="--target")
    elif objectives.target is not None:
        formula = parse_formula(objectives.target, file=where[0], path=where[1])
    else:
        return None
    formula.check_names(available, what="metrics and trial quantities of the run's trials")
    return formula


def _cells_and_targets(store: RunStore, domain: CellDomain, objectives: Objectives, settings: AutobuildSettings,
                       where: tuple[str, str]
                       ) -> tuple[list[TrialRecord], list[Cell], np.ndarray, list[tuple[str, str]], str]:
    records = [r for r in store.trials(TrialStatus.COMPLETED) if r.phase == TrialPhase.SEARCH]
    cells: list[tuple[TrialRecord, Cell]] = []
    dropped: list[tuple[str, str]] = []
    for record in records:
        try:
            architecture = domain.from_json(json.loads(record.architecture_json or "null"))
        except (ConfigError, ValueError, TypeError):
            dropped.append((record.name, "not a cell of the run's search space"))
            continue
        if isinstance(architecture, CellArchitecture):
            cells.append((record, architecture.cell))
    if records and not cells:
        raise ConfigError(f"none of the run's {len(records)} completed search trials is a cell of its search space "
                          "(a DARTS search trains supernets and genotypes); autobuild ranks the blocks of cell "
                          "searches", file=_CLI, fix="pass the folder of a popnas, pareto, evolution or random search")
    values = [trial_values(store, record, objectives) for record, _ in cells]
    available = {*TRIAL_QUANTITIES, objectives.score, *(name for row in values for name in row)}
    formula = _target_formula(settings, objectives, available, where)
    sign = -1.0 if settings.direction == "min" else 1.0
    kept: list[TrialRecord] = []
    kept_cells: list[Cell] = []
    targets: list[float] = []
    for (record, cell), row in zip(cells, values, strict=True):
        if formula is None:
            score = score_of(store, record, objectives)
            value, reason = (None, f"no {objectives.score} recorded") if score is None else (
                objectives.signed(score), None)
        else:
            result, reason = formula.value({name: row.get(name) for name in formula.names})
            value = None if reason is not None or not math.isfinite(result) else sign * result
        if value is None:
            dropped.append((record.name, reason or "not a finite number"))
            continue
        kept.append(record)
        kept_cells.append(cell)
        targets.append(value)
    text = (formula.text if formula is not None else
            objectives.score if objectives.maximize else f"-{objectives.score}")
    if formula is not None and sign < 0:
        text = f"-({text})"
    return kept, kept_cells, np.asarray(targets, dtype=np.float64), dropped, text


def space_toml(space: SearchSpace, experiment: str, parent: str, header: Sequence[str] = ()) -> str:
    """An experiment ``experiment`` that extends ``parent`` and searches ``space`` (TOML text, one
    key per line), after ``header`` as comment lines; a name that is no bare TOML key (``A.2``) is
    quoted."""
    key = experiment if re.fullmatch(r"[A-Za-z0-9_-]+", experiment) else format_value(experiment)
    lines = [f"# {line}" if line else "#" for line in header]
    lines += [f"[{key}]", f"extends = {format_value(parent)}", "", f"[{key}.search_space]",
              f"blocks = {space.max_blocks}", f"lookback_depth = {space.lookback_depth}",
              f"operators = {format_value(list(space.operators))}"]
    if space.operator_pairs is not None:
        lines.append(f"operator_pairs = {format_value([list(pair) for pair in space.operator_pairs])}")
    return "\n".join(lines) + "\n"


def autobuild(run_dir: Path, settings: AutobuildSettings | None = None) -> AutobuildResult:
    """Rank the units of the run's search and write ``autobuild/`` (see the module docstring).

    Bad input is a :class:`ConfigError` naming the option (exit code 2 on the command line): no
    run folder, a run without a cell search, fewer usable trials than ``min_trials``, a target
    with an unknown name or a disallowed construct.
    """
    settings = settings or AutobuildSettings()
    _check_settings(settings)
    run_dir = Path(run_dir)
    config, search, structure, space = _load_search(run_dir)
    domain = CellDomain(space, structure.macro)
    objectives = Objectives(search.score, search.maximize, search.costs, search.target)
    name = settings.name or f"{config.name}_reduced"
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name):
        raise _option("--name", "an experiment name is letters, digits, '_', '.' and '-', not starting with a dot",
                      name, "e.g. --name A_reduced")
    try:
        store = RunStore.open(RunLayout(run_dir).store, readonly=True)
    except StoreError as exc:
        raise ConfigError(str(exc), file=_CLI, fix="pass a scinas run folder") from exc
    with store:
        where = (str(RunLayout(run_dir).experiments_config), f"{search.path}.target")
        records, cells, targets, dropped, target_text = _cells_and_targets(store, domain, objectives, settings,
                                                                           where)
    if len(cells) < settings.min_trials:
        why = f"; {len(dropped)} left out ({dropped[0][0]}: {dropped[0][1]})" if dropped else ""
        raise ConfigError(f"the run has {len(cells)} completed search trials with a finite target{why}; the ranking "
                          f"predictor needs at least {settings.min_trials}", file=_CLI, path="--min-trials",
                          value=settings.min_trials,
                          fix=f"run a longer search (a larger budget), or lower --min-trials (at least {MIN_TRIALS})")

    from scinas.predictors.quality import ranking_quality
    from scinas.predictors.ranking import RankingPredictor
    from scinas.predictors.units import rank_units

    seed = config.seed if settings.seed is None else settings.seed
    predictor = RankingPredictor(domain.max_nodes, seed=int(seed or 0), epochs=settings.epochs,
                                 ensemble=settings.ensemble)
    graphs = [domain.graph(CellArchitecture(cell, domain.macro)) for cell in cells]
    predictor.fit(graphs, targets)
    fit_kendall = ranking_quality(targets, predictor.predict(graphs)).kendall
    rng = np.random.default_rng(int(seed or 0))
    candidates = [domain.sample(rng).cell for _ in range(settings.samples)]
    ranking = rank_units(predictor, space, cells, targets, candidates=candidates, by=settings.rank_by)
    notes: list[str] = []
    if not ranking.units:
        raise ConfigError("the trials' cells hold no block (only the empty cell was trained), so there is no unit to "
                          "rank", file=_CLI, fix="run a search whose cells have blocks")
    if settings.top_k >= len(ranking.units):
        notes.append(f"--top-k {settings.top_k} keeps all {len(ranking.units)} operator pairs the trials used")
    reduced = ranking.reduced_space(space, settings.top_k)
    unseen = _unseen_pairs(space, ranking)
    if unseen:
        notes.append(f"{len(unseen)} operator pair(s) of the space no trained cell used are not ranked and not kept: "
                     + ", ".join(" + ".join(pair) for pair in unseen[:5]) + (" ..." if len(unseen) > 5 else ""))

    layout = RunLayout(run_dir).autobuild if settings.out is None else AutobuildLayout(settings.out)
    result = AutobuildResult(run_dir, config.name, name, target_text, len(cells), tuple(dropped), ranking, space,
                             reduced, fit_kendall, predictor.fit_seconds, layout, tuple(notes))
    _write(result, settings, [record.name for record in records])
    best = int(np.argmax(targets))
    norms = predictor.node_importance([graphs[best]])[0] / np.asarray(ranking.hop_scale)[:, None]
    _write_best_cell(layout, records[best].name, cells[best], float(targets[best]), graphs[best], norms)
    if settings.out is None:
        _rewrite_report(run_dir)
    return result


def _rewrite_report(run_dir: Path) -> None:
    """The run's ``report.html`` again, now with its AutoBuild section; a report that cannot be
    written is logged (``scinas report`` writes it later), the ranking is saved already."""
    try:
        from scinas.analysis.report import write_report

        write_report(run_dir)
    except Exception:  # the autobuild files are written; the report is a view of them
        logger.exception("the run report could not be rewritten; write it with `scinas report %s`", run_dir)


def _write_best_cell(layout: AutobuildLayout, trial: str, cell: Cell, target: float, graph: CellGraph,
                     importance: np.ndarray) -> None:
    """``best_cell.json`` and one Graphviz drawing per hop of the best trial's node importance."""
    from scinas.models.plot import plot_importance  # deferred: drawing imports Keras

    edges = graph.edges()
    write_json_atomic(layout.best_cell, {
        "trial": trial, "cell": cell.to_text(), "target": target, "nodes": list(graph.node_labels),
        "edges": [list(edge) for edge in edges], "importance": importance.tolist()})
    for hop, values in enumerate(importance):
        plot_importance(graph.node_labels, edges, [float(v) for v in values], layout.best_cell_plot(hop),
                        f"{trial}: node importance at hop {hop}")


def _unseen_pairs(space: SearchSpace, ranking: UnitRanking) -> list[tuple[str, str]]:
    seen = {unit.operators for unit in ranking.units}
    ops = space.operators
    pairs = [(a, b) if a <= b else (b, a) for i, a in enumerate(ops) for b in ops[i:]]
    return [pair for pair in pairs if space.allows(*pair) and pair not in seen]


def _write(result: AutobuildResult, settings: AutobuildSettings, trial_names: list[str]) -> None:
    layout = result.layout
    layout.root.mkdir(parents=True, exist_ok=True)
    kept = set(result.reduced.operator_pairs or ())
    write_csv(layout.units, ["rank", "unit", "importance", "predicted", "blocks", "cells", "mean_target",
                             "best_target", "kept", *(f"importance_hop{h}" for h in range(
                                 len(result.ranking.units[0].per_hop)))],
              [[index + 1, unit.label, unit.importance, unit.predicted, unit.blocks, unit.cells, unit.mean_target,
                unit.best_target, unit.operators in kept, *unit.per_hop]
               for index, unit in enumerate(result.ranking.units)])
    write_csv(layout.sub_cells, ["rank", "sub_cell", "first", "second", "importance", "predicted", "occurrences",
                                 "cells", "mean_target", "best_target"],
              [[index + 1, sub.label, " + ".join(sub.first), " + ".join(sub.second), sub.importance, sub.predicted,
                sub.occurrences, sub.cells, sub.mean_target, sub.best_target]
               for index, sub in enumerate(result.ranking.sub_cells)])
    write_csv(layout.operators, ["rank", "operator", "importance", "nodes", "cells"],
              [[index + 1, op.operator, op.importance, op.nodes, op.cells]
               for index, op in enumerate(result.ranking.operators)])
    header = [f"The reduced search space of {result.experiment}, written by `scinas autobuild` from its run",
              f"{result.run_dir.name}: the {settings.top_k} best operator pairs by {settings.rank_by}, ranked from "
              f"{result.trials} trials by {result.target}.",
              f"Paste it into configurations.toml and run: scinas run {result.reduced_experiment}"]
    write_text_atomic(layout.reduced_space, space_toml(result.reduced, result.reduced_experiment, result.experiment,
                                                       header))
    write_json_atomic(layout.summary, {
        "run": str(result.run_dir), "experiment": result.experiment, "target": result.target,
        "trials": trial_names, "dropped": [{"trial": n, "reason": r} for n, r in result.dropped],
        "settings": {"top_k": settings.top_k, "rank_by": settings.rank_by, "epochs": settings.epochs,
                     "ensemble": settings.ensemble, "samples": settings.samples, "min_trials": settings.min_trials},
        "fit_kendall": result.fit_kendall, "fit_seconds": result.fit_seconds,
        **result.ranking.to_json(), "space": result.space.to_json(), "reduced_space": result.reduced.to_json(),
        "reduced_experiment": result.reduced_experiment, "notes": list(result.notes)})
