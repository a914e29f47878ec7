"""How well the predictors rank NAS-Bench-201 cells after training on a few of them.

For each training size n: n random cells and a fixed set of other cells (the test set) are drawn
from the 15,625 NAS-Bench-201 cells (mean values over the table's seeds); the GIN ensemble is
fitted on val_acc (cell graphs) and the SVR (log target, hyperparameter search) on train_time
(the domain's feature vectors: one-hot edge operations + operation counts); both are scored on the
test set.  The baselines are measured in the same run: an RBF SVR with scikit-learn's default
hyperparameters on the 30 one-hot columns only (features and target standardised), for val_acc
and for train_time.  Prints JSON, never asserts.

    .venv/bin/python benchmarks/predictors.py
    .venv/bin/python benchmarks/predictors.py --train-sizes 100 --ensemble 1 --epochs 40
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ONE_HOT_COLUMNS = 30


def _baseline(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Default-hyperparameter RBF SVR on standardised one-hot features and target."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    scaler = StandardScaler().fit(train_x)
    center, spread = float(train_y.mean()), float(train_y.std()) or 1.0
    model = SVR(kernel="rbf").fit(scaler.transform(train_x), (train_y - center) / spread)
    return np.asarray(model.predict(scaler.transform(test_x))) * spread + center


def measure(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from scinas.predictors import GINPredictor, SVRPredictor, ranking_quality
    from scinas.search.nasbench201 import NB201Domain, NB201Table

    domain = NB201Domain()
    cells = domain.enumerate()
    table = NB201Table(args.dataset).mean_matrix(cells)
    accuracy, train_time = table["val_acc"], table["train_time"]
    order = np.random.default_rng(args.seed).permutation(len(cells))
    test = order[-args.test_size:]
    pool = order[:-args.test_size]
    graphs = [domain.graph(cell) for cell in cells]
    features = np.stack([domain.features(cell) for cell in cells])

    report: dict[str, dict[str, Any]] = {}
    for n in args.train_sizes:
        train = pool[:n]
        gin = GINPredictor(domain.max_nodes, ensemble=args.ensemble, epochs=args.epochs, seed=args.seed,
                           aggregation=args.aggregation, **({"loss": args.loss} if args.loss else {}))
        started = time.perf_counter()
        gin.fit([graphs[i] for i in train], accuracy[train])
        gin_fit = time.perf_counter() - started
        started = time.perf_counter()
        gin_quality = ranking_quality(accuracy[test], gin.predict([graphs[i] for i in test]))
        gin_predict = time.perf_counter() - started

        svr = SVRPredictor(seed=args.seed, log_target=True)
        started = time.perf_counter()
        svr.fit(features[train], train_time[train])
        svr_fit = time.perf_counter() - started
        svr_quality = ranking_quality(train_time[test], svr.predict(features[test]))

        one_hot_train, one_hot_test = features[train, :ONE_HOT_COLUMNS], features[test, :ONE_HOT_COLUMNS]
        base_acc = ranking_quality(accuracy[test], _baseline(one_hot_train, accuracy[train], one_hot_test))
        base_time = ranking_quality(train_time[test], _baseline(one_hot_train, train_time[train], one_hot_test))
        report[str(n)] = {
            "gin_kendall": round(gin_quality.kendall, 4),
            "gin_spearman": round(gin_quality.spearman, 4),
            "gin_mae": round(gin_quality.mae, 4),
            "svr_time_kendall": round(svr_quality.kendall, 4),
            "svr_time_spearman": round(svr_quality.spearman, 4),
            "svr_time_mape": round(svr_quality.mape, 2),
            "baseline_acc_kendall": round(base_acc.kendall, 4),
            "baseline_time_kendall": round(base_time.kendall, 4),
            "baseline_time_mape": round(base_time.mape, 2),
            "gin_fit_s": round(gin_fit, 2),
            "gin_predict_s": round(gin_predict, 2),
            "svr_fit_s": round(svr_fit, 2),
            "svr_params": svr.best_params,
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--train-sizes", type=lambda text: [int(part) for part in text.split(",")],
                        default=[50, 100, 200], help="comma-separated training-set sizes (default 50,100,200)")
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100", "imagenet"])
    parser.add_argument("--ensemble", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--aggregation", default="split", choices=["in", "out", "both", "split"])
    parser.add_argument("--loss", default=None, choices=["mse", "ranking", "mse+ranking"],
                        help="the GIN's training loss (default: the predictor's default)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
