"""Predictors: learn an architecture's score or cost from the architectures trained so far.

A progressive search ranks thousands of candidate cells by predicted accuracy and predicted cost
and trains only the promising ones.  :class:`GINPredictor` (a graph network ensemble over cell
graphs) predicts the score; :class:`SVRPredictor` (support-vector regression over a few cell
features, :func:`cell_cost_features`) predicts costs such as training time.  :class:`RankingPredictor`
(``"ranking"``) is an interpretable graph network trained to rank, whose node embedding norms say
which nodes of a cell mattered.  :func:`ranking_quality`
and :func:`save_predictor_step` measure and record how well they rank.

Learning-curve prediction works on one trial's history instead: :func:`fit_curve` fits a
parametric family of :data:`CURVE_FAMILIES` and predicts the score at the budget's last epoch,
and :class:`CurveTermination` is the early-termination rule built on it.

Example::

    from scinas.predictors import GINPredictor, SVRPredictor, ranking_quality

    gin = GINPredictor(domain.max_nodes, seed=0)
    gin.fit([domain.graph(a) for a in trained], scores)
    svr = SVRPredictor(seed=0, log_target=True)
    svr.fit([domain.features(a) for a in trained], times)
    ranking_quality(held_out_scores, gin.predict([domain.graph(a) for a in held_out])).kendall
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from scinas.predictors.base import PREDICTORS, Predictor, SearchSettings
from scinas.predictors.cell_features import CELL_FEATURE_NAMES, cell_cost_features
from scinas.predictors.curve_families import CURVE_FAMILIES, DEFAULT_CURVE, CurveFamily, CurveRange
from scinas.predictors.learning_curve import CurveFit, ScoreSpace, fit_curve, tail_start
from scinas.predictors.quality import PredictorQuality, ranking_quality, save_predictor_step
from scinas.predictors.termination import CurveTermination, EpochVerdict, TerminationSummary

if TYPE_CHECKING:
    from scinas.predictors.gin import AGGREGATIONS, GINPredictor
    from scinas.predictors.ranking import RankingPredictor
    from scinas.predictors.svr import SVRPredictor

#: Loaded on first use: the GIN predictor needs TensorFlow and the SVR one scikit-learn, which the
#: learning-curve half of this package (NumPy and SciPy) does not, so a learning-curve fit (the
#: dashboard draws them) never waits for those imports.  ``PREDICTORS`` finds both by itself.
_LAZY = {"AGGREGATIONS": "scinas.predictors.gin", "GINPredictor": "scinas.predictors.gin",
         "SVRPredictor": "scinas.predictors.svr", "RankingPredictor": "scinas.predictors.ranking"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AGGREGATIONS",
    "CELL_FEATURE_NAMES",
    "CURVE_FAMILIES",
    "DEFAULT_CURVE",
    "PREDICTORS",
    "CurveFamily",
    "CurveFit",
    "CurveRange",
    "CurveTermination",
    "EpochVerdict",
    "GINPredictor",
    "Predictor",
    "PredictorQuality",
    "RankingPredictor",
    "SVRPredictor",
    "ScoreSpace",
    "SearchSettings",
    "TerminationSummary",
    "cell_cost_features",
    "fit_curve",
    "ranking_quality",
    "save_predictor_step",
    "tail_start",
]
