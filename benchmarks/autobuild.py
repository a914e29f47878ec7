"""The ranking predictor and a reduced search space on NAS-Bench-201 (no training; JSON to stdout).

Part 1, predictors: for each seed, n random cells (n in ``--train-sizes``) train the ranking
predictor (``"ranking"``, defaults) and the GIN (defaults) on mean ``val_acc``; both, and the
``#params`` baseline (the table's ``model_size``, larger = better), are scored by Kendall τ and
Spearman ρ on a fixed test set of ``--test-size`` other cells (the same for every n of a seed).

Part 2, reduced space (AutoBuild's idea on this table): the ranking predictor trained on the
first 100 cells reads back the importance of every *unit* — here one edge carrying one
operation, the node of the cell graph it contributes — as the mean over the 100 cells that hold
it of that node's embedding norm (averaged over hops, each hop's norms divided by the graph's
mean node norm).  The reduced space keeps the ``--top-k`` best operations of each edge
(``top_k ** 6`` cells).  Reported: its size, the best mean ``val_acc`` it holds (regret against
the table's optimum, points), the share of the table's top-1 % cells it holds (``--unit-score
predicted`` ranks the units instead by the mean predicted ``val_acc`` of every table cell holding
them); then 50 further
evaluations in it (the predictor's 50 best untried cells of the reduced space) give
``regret_100_plus_50``, against the Pareto strategy (``pareto``, defaults) on the full space
after 100 and 150 evaluations (``full_regret_100``, ``full_regret_150``; same seeds, one table
seed drawn per evaluation as in ``benchmarks/nas_bench_201.py``), with the hypervolume of each.

    .venv/bin/python benchmarks/autobuild.py --datasets cifar10,cifar100 --seeds 0,1,2
    .venv/bin/python benchmarks/autobuild.py --train-sizes 100 --unit-score predicted --skip-full-search
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from nas_bench_201 import Table, run_scinas  # benchmarks/ is on the path when run as a script
from scinas.predictors import GINPredictor, RankingPredictor, ranking_quality
from scinas.search.nasbench201 import EDGES, OPERATIONS, NB201Architecture, NB201Domain


def predicted_scores(predictor: RankingPredictor, table: Table, graphs: list[Any]) -> np.ndarray:
    """``[edge, operation]``: the mean predicted ``val_acc`` over every cell of the table holding that
    operation on that edge (what the predictor expects of a cell with the unit, interactions included)."""
    predicted = predictor.predict(graphs)
    total = np.zeros((len(EDGES), len(OPERATIONS)))
    count = np.zeros_like(total)
    for cell, value in zip(table.cells, predicted, strict=True):
        for edge, op in enumerate(cell.ops):
            total[edge, OPERATIONS.index(op)] += value
            count[edge, OPERATIONS.index(op)] += 1
    return total / np.maximum(count, 1)


def unit_scores(predictor: RankingPredictor, cells: list[NB201Architecture]) -> np.ndarray:
    """``[edge, operation]``: the mean normalised importance of that edge's node over the cells holding it."""
    domain = NB201Domain()
    importance = predictor.node_importance([domain.graph(cell) for cell in cells])
    total = np.zeros((len(EDGES), len(OPERATIONS)))
    count = np.zeros_like(total)
    for cell, norms in zip(cells, importance, strict=True):
        scaled = (norms / np.maximum(norms.mean(axis=1, keepdims=True), 1e-12)).mean(axis=0)
        for edge, op in enumerate(cell.ops):
            total[edge, OPERATIONS.index(op)] += scaled[edge + 1]  # node 0 is the input
            count[edge, OPERATIONS.index(op)] += 1
    return np.where(count > 0, total / np.maximum(count, 1), -np.inf)


def reduced_space(scores: np.ndarray, top_k: int) -> list[NB201Architecture]:
    """Every cell whose edges all carry one of that edge's ``top_k`` best-scored operations."""
    import itertools

    choices = [[OPERATIONS[i] for i in np.argsort(-scores[edge], kind="stable")[:top_k]] for edge in range(len(EDGES))]
    return [NB201Architecture(ops) for ops in itertools.product(*choices)]


def measure(dataset: str, seeds: list[int], sizes: list[int], test_size: int, top_k: int,
            unit_score: str = "importance", full_search: bool = True) -> dict[str, Any]:
    domain = NB201Domain()
    table = Table(dataset)
    cells = table.cells
    acc = table.acc
    params = table.table.mean_matrix(cells)["model_size"]
    graphs = [domain.graph(cell) for cell in cells]
    top1 = set(np.argsort(-acc)[: len(cells) // 100].tolist())
    per_size: dict[str, dict[str, list[float]]] = {str(n): {} for n in sizes}
    reduced: dict[str, list[float]] = {}

    def add(target: dict[str, list[float]], key: str, value: float) -> None:
        target.setdefault(key, []).append(float(value))

    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(cells))
        test, pool = order[-test_size:], order[:-test_size]
        rankers: dict[int, RankingPredictor] = {}
        for n in sizes:
            train = pool[:n]
            started = time.perf_counter()
            ranker = RankingPredictor(domain.max_nodes, seed=seed)
            ranker.fit([graphs[i] for i in train], acc[train])
            ranking_s = time.perf_counter() - started
            rankers[n] = ranker
            started = time.perf_counter()
            gin = GINPredictor(domain.max_nodes, seed=seed)
            gin.fit([graphs[i] for i in train], acc[train])
            gin_s = time.perf_counter() - started
            quality = {"ranking": ranking_quality(acc[test], ranker.predict([graphs[i] for i in test])),
                       "gin": ranking_quality(acc[test], gin.predict([graphs[i] for i in test])),
                       "params": ranking_quality(acc[test], params[test])}
            row = per_size[str(n)]
            for name, q in quality.items():
                add(row, f"{name}_kendall", q.kendall)
                add(row, f"{name}_spearman", q.spearman)
            add(row, "ranking_fit_s", ranking_s)
            add(row, "gin_fit_s", gin_s)
            print(f"{dataset} seed {seed} n {n}: ranking {quality['ranking'].kendall:.3f} gin "
                  f"{quality['gin'].kendall:.3f} params {quality['params'].kendall:.3f}", file=sys.stderr, flush=True)

        # Part 2: the reduced space from the first 100 cells.
        first = pool[:100]
        ranker = rankers.get(100) or RankingPredictor(domain.max_nodes, seed=seed)
        if not ranker.fitted:
            ranker.fit([graphs[i] for i in first], acc[first])
        scores = (unit_scores(ranker, [cells[i] for i in first]) if unit_score == "importance"
                  else predicted_scores(ranker, table, graphs))
        space = reduced_space(scores, top_k)
        rows = np.array([table.row[cell.index] for cell in space])
        add(reduced, "size", len(rows))
        add(reduced, "best_val_acc", acc[rows].max())
        add(reduced, "regret_in_space", table.best - acc[rows].max())
        add(reduced, "top1pct_share", len(top1 & set(rows.tolist())) / len(top1))
        untried = np.array([r for r in rows if r not in set(first.tolist())])
        predicted = ranker.predict([graphs[i] for i in untried])
        chosen = untried[np.argsort(-predicted, kind="stable")[:50]]
        evaluated = np.concatenate([first, chosen])
        add(reduced, "regret_100_plus_50", table.best - acc[evaluated].max())
        add(reduced, "hv_100_plus_50", table.hypervolume(evaluated))
        add(reduced, "regret_100_random", table.best - acc[first].max())
        if full_search:
            full = np.asarray(run_scinas("scinas_pareto", table, 150, seed, {}, {}))
            for budget in (100, 150):
                add(reduced, f"full_regret_{budget}", table.best - acc[full[:budget]].max())
                add(reduced, f"full_hv_{budget}", table.hypervolume(full[:budget]))
        print(f"{dataset} seed {seed} reduced ({unit_score}): size {len(rows)} regret in space "
              f"{reduced['regret_in_space'][-1]:.3f} regret 100+50 {reduced['regret_100_plus_50'][-1]:.3f}",
              file=sys.stderr, flush=True)

    def summary(values: dict[str, list[float]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, series in values.items():
            out[key] = round(float(np.mean(series)), 4)
            out[f"{key}_per_seed"] = [round(v, 4) for v in series]
        return out

    return {**{n: summary(row) for n, row in per_size.items()}, "reduced": summary(reduced),
            "meta": {"seeds": seeds, "test_size": test_size, "top_k": top_k, "unit_score": unit_score,
                     "optimum_val_acc": table.best}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--datasets", default="cifar10,cifar100")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train-sizes", default="50,100,200")
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--top-k", type=int, default=2, help="operations kept per edge in the reduced space")
    parser.add_argument("--unit-score", choices=("importance", "predicted"), default="importance",
                        help="what ranks the units: node importance, or the mean predicted val_acc of the cells "
                             "holding them")
    parser.add_argument("--skip-full-search", action="store_true",
                        help="leave out the Pareto strategy on the full space (full_regret_*, full_hv_*)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    sizes = [int(s) for s in args.train_sizes.split(",")]
    report = {dataset: measure(dataset, seeds, sizes, args.test_size, args.top_k, args.unit_score,
                               not args.skip_full_search)
              for dataset in args.datasets.split(",")}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
