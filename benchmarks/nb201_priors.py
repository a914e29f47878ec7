"""The data-free priors' Kendall τ against NAS-Bench-201's validation accuracy (JSON to stdout).

Each sampled cell's network is built in Keras with random weights (:meth:`NB201Domain.network`:
1 cell per stage, 16 channels, 32×32 inputs) and scored by every registered prior (``params``,
``flops``, ``synflow``); τ is Kendall's τ-b between a prior and the table's mean ``val_acc`` of the
cells, per dataset.  The published anchors (491-cell subsets): parameter count τ ≈ 0.52, SynFlow
0.54–0.57, FLOPs 0.48.  Also reported: the table's own ``model_size`` column as a check on the
parameter count, the time to build and score one cell, and every cell whose prior could not be
computed (with its reason).  Nothing is trained or downloaded.

Usage::

    python benchmarks/nb201_priors.py --cells 500 --seed 0
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

from scipy.stats import kendalltau

from scinas.priors import PRIORS, score_architectures
from scinas.search.nasbench201 import DATASETS, NB201Domain, NB201Table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=500, help="cells sampled from the 15,625 (without repeats)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--priors", default="params,flops,synflow")
    args = parser.parse_args(argv)
    domain = NB201Domain()
    everything = domain.enumerate()
    rng = np.random.default_rng(args.seed)
    cells = [everything[i] for i in sorted(rng.choice(len(everything), size=args.cells, replace=False))]
    priors = {name: PRIORS.get(name)() for name in args.priors.split(",")}
    values = {name: np.full(len(cells), np.nan) for name in priors}
    failures: dict[str, dict[str, str]] = {name: {} for name in priors}
    started = time.perf_counter()
    for index, cell in enumerate(cells):
        model = domain.network(cell)  # built once, scored by every prior

        def built(_cell: Any, model: Any = model) -> Any:
            return model

        for name, prior in priors.items():
            scored = score_architectures(prior, built, [cell])
            values[name][index] = scored.values[0]
            if scored.failures:
                failures[name][cell.to_text()] = scored.failures[0]
    seconds = (time.perf_counter() - started) / len(cells)
    result: dict[str, Any] = {"meta": {"cells": len(cells), "seed": args.seed, "seconds_per_cell": seconds,
                                       "network": "1 cell per stage, 16 channels, 32x32x3 input, random weights"},
                              "failures": failures}
    for dataset in args.datasets.split(","):
        table = NB201Table(dataset)
        means = table.mean_matrix(cells)
        row: dict[str, Any] = {}
        for name, scores in values.items():
            ok = np.isfinite(scores)
            row[name] = {"kendall_tau": float(kendalltau(scores[ok], means["val_acc"][ok]).statistic),
                         "cells": int(ok.sum())}
        row["table_model_size"] = {"kendall_tau": float(kendalltau(means["model_size"], means["val_acc"]).statistic),
                                   "cells": len(cells)}
        if "params" in values:
            ok = np.isfinite(values["params"])
            row["params_vs_table_model_size_tau"] = float(kendalltau(values["params"][ok],
                                                                     means["model_size"][ok]).statistic)
        result[dataset] = row
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
