"""Support-vector regression on feature vectors: the cost (time, latency, ...) predictor.

Costs depend smoothly on a handful of cell features (:mod:`scinas.predictors.cell_features`),
and a search has only tens to a few hundred trained cells to learn them from, where a kernel
method is accurate and cheap.  The features are standardised, the target is standardised too
(after a log when ``log_target=True``, which suits times: errors become relative and the
predictions stay positive), and the SVR's hyperparameters are chosen by k-fold cross-validation
with a seeded randomized search over ``C`` and ``epsilon`` (log-uniform), ``gamma`` (``scale``,
``auto`` or log-uniform), the kernel (rbf or poly of degree 2–3).  With fewer than
:data:`MIN_SEARCH_SAMPLES` samples there is nothing to cross-validate and a default SVR is used.

Example::

    predictor = SVRPredictor(seed=0, log_target=True)
    predictor.fit([domain.features(a) for a in trained], times)
    predictor.predict([domain.features(a) for a in candidates])
    predictor.best_params      # e.g. {"svr__C": 12.3, "svr__epsilon": 0.01, "svr__kernel": "rbf", ...}
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.stats import loguniform
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from scinas.configurable import option
from scinas.predictors.base import PREDICTORS, Predictor, SearchSettings, check_fit_inputs

__all__ = ["MIN_SEARCH_SAMPLES", "SVRPredictor"]

logger = logging.getLogger(__name__)

#: Below this many samples the hyperparameters are not searched (a default SVR is fitted).
MIN_SEARCH_SAMPLES = 6
#: Each validation fold keeps at least this many samples.
_MIN_FOLD_SIZE = 3
#: A cap on the solver's iterations: a poly kernel with a large C can otherwise take minutes.
_MAX_ITER = 200_000


def _search_space() -> list[dict[str, Any]]:
    """The randomized search's distributions (fresh objects each call: they carry no state)."""
    c = loguniform(1e-2, 1e3)
    epsilon = loguniform(1e-3, 1.0)
    return [
        {"svr__kernel": ["rbf"], "svr__C": c, "svr__epsilon": epsilon, "svr__gamma": ["scale", "auto"]},
        {"svr__kernel": ["rbf"], "svr__C": c, "svr__epsilon": epsilon, "svr__gamma": loguniform(1e-3, 1e1)},
        {"svr__kernel": ["poly"], "svr__C": loguniform(1e-2, 1e2), "svr__epsilon": epsilon,
         "svr__gamma": ["scale", "auto"], "svr__degree": [2, 3], "svr__coef0": [0.0, 1.0]},
    ]


def _as_matrix(inputs: Sequence[Any] | np.ndarray, what: str) -> np.ndarray:
    """Stack 1-D feature vectors (or take a 2-D array) into a finite float64 matrix."""
    if isinstance(inputs, np.ndarray) and inputs.ndim == 2:
        matrix = inputs.astype(np.float64)
    else:
        rows = [np.asarray(row, dtype=np.float64) for row in inputs]
        if not rows:
            raise ValueError(f"{what} needs at least one feature vector")
        widths = {row.shape for row in rows}
        if any(row.ndim != 1 for row in rows) or len(widths) != 1:
            raise ValueError(f"{what} inputs must be 1-D feature vectors of one length, got shapes "
                             f"{sorted(str(w) for w in widths)}")
        matrix = np.stack(rows)
    if matrix.shape[0] == 0:
        raise ValueError(f"{what} needs at least one feature vector")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{what} features must be finite (found nan or inf in row "
                         f"{int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])})")
    return matrix


@dataclass(frozen=True)
class SVROptions:
    """``[X.search.cost_predictor]`` of ``name = "svr"``: the hyperparameter search of :class:`SVRPredictor`."""

    folds: int = option(5, minimum=2, doc="largest number of cross-validation folds (fewer with few samples: "
                        "each fold keeps at least 3)")
    n_iter: int = option(40, minimum=1, doc="hyperparameter sets the randomized search tries by cross-validation")
    log_target: bool | None = option(None, doc="fit the logarithm of the target (unset: yes for a cost, no for "
                                     "the score)")


@PREDICTORS.register("svr")
class SVRPredictor(Predictor):
    """Standardised features → SVR, with hyperparameters picked by seeded k-fold randomized search.

    ``folds`` is the largest number of cross-validation folds (fewer when there are few samples,
    so each fold keeps at least 3); ``n_iter`` how many hyperparameter sets are tried;
    ``log_target`` fits ``log(target)`` (targets must then be > 0).  ``params`` (pipeline
    parameter names, as :attr:`best_params` reports them) skips the search and fits those
    hyperparameters directly: a search strategy that refits every few trials reuses the last
    searched ones until its data has grown enough to search again.  Deterministic for a seed.
    """

    name = "svr"
    Options: ClassVar[type[Any]] = SVROptions
    search_shorthands: ClassVar[dict[str, str]] = {"svr_iterations": "n_iter"}

    @classmethod
    def for_search(cls, settings: SearchSettings, options: Any) -> SVRPredictor:
        """The predictor ``options`` (an :class:`SVROptions`) describe; unless ``log_target`` is set,
        a cost is fitted on its logarithm and the score as it is."""
        log_target = options.log_target if options.log_target is not None else settings.target != "score"
        return cls(seed=settings.seed, folds=options.folds, n_iter=options.n_iter, log_target=log_target)

    def __init__(self, *, seed: int = 0, folds: int = 5, n_iter: int = 40, log_target: bool = False,
                 params: Mapping[str, Any] | None = None) -> None:
        if folds < 2:
            raise ValueError(f"folds must be at least 2 for cross-validation, got {folds}")
        if n_iter < 1:
            raise ValueError(f"n_iter must be at least 1, got {n_iter}")
        self.seed = seed
        self.folds = folds
        self.n_iter = n_iter
        self.log_target = log_target
        self.options = SVROptions(folds=folds, n_iter=n_iter, log_target=log_target)
        """The TOML options of this predictor (:meth:`to_table` writes them)."""
        self.params: dict[str, Any] | None = None if params is None else dict(params)
        """Fixed hyperparameters to fit without a search (None: search them)."""
        self._model: Pipeline | None = None
        self._width = 0
        self._center = 0.0
        self._scale = 1.0
        self.best_params: dict[str, Any] = {}
        """The chosen hyperparameters (pipeline parameter names), empty before fit."""
        self.cv_score: float | None = None
        """The best mean cross-validated negative MSE (in the scaled target), None without a search."""

    @property
    def fitted(self) -> bool:
        return self._model is not None

    def fit(self, inputs: Sequence[Any] | np.ndarray, targets: np.ndarray) -> None:
        y = check_fit_inputs(inputs, targets, "the SVR predictor")
        x = _as_matrix(inputs, "the SVR predictor")
        if self.log_target:
            if (y <= 0).any():
                raise ValueError(f"log_target needs positive targets, got {float(y.min())}; use log_target=False "
                                 "for scores that may be zero or negative")
            y = np.log(y)
        center, spread = float(y.mean()), float(y.std())
        scaled = (y - center) / (spread if spread > 0 else 1.0)
        pipeline = Pipeline([("scale", StandardScaler()), ("svr", SVR(max_iter=_MAX_ITER))])
        n = len(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.params is not None:
                try:
                    pipeline.set_params(**self.params)
                except ValueError as error:
                    raise ValueError(f"the SVR predictor's params {self.params} are not SVR pipeline "
                                     f"parameters: {error}") from error
                pipeline.fit(x, scaled)
                self.best_params, self.cv_score = dict(self.params), None
                self._model = pipeline
            elif n < MIN_SEARCH_SAMPLES:
                logger.debug("SVR predictor: %d samples, fitting a default SVR without a search", n)
                pipeline.fit(x, scaled)
                self.best_params, self.cv_score = {}, None
                self._model = pipeline
            else:
                folds = max(2, min(self.folds, n // _MIN_FOLD_SIZE))
                search = RandomizedSearchCV(
                    pipeline, _search_space(), n_iter=self.n_iter, scoring="neg_mean_squared_error",
                    cv=KFold(folds, shuffle=True, random_state=self.seed), random_state=self.seed,
                    n_jobs=1, refit=True, error_score=np.nan,
                )
                search.fit(x, scaled)
                self._model = search.best_estimator_
                self.best_params = {key: (value.item() if isinstance(value, np.generic) else value)
                                    for key, value in search.best_params_.items()}
                self.cv_score = float(search.best_score_)
                logger.debug("SVR predictor: %d samples, %d folds, best %s (cv %.4g)", n, folds, self.best_params,
                             self.cv_score)
        # Constant targets: a zero scale makes every prediction that constant.
        self._center, self._scale, self._width = center, spread, x.shape[1]

    def predict(self, inputs: Sequence[Any] | np.ndarray) -> np.ndarray:
        model = self._model
        if model is None:
            raise self._not_fitted()
        x = _as_matrix(inputs, "the SVR predictor")
        if x.shape[1] != self._width:
            raise ValueError(f"the SVR predictor was fitted on {self._width} features but got {x.shape[1]}")
        scaled = np.asarray(model.predict(x), dtype=np.float64)
        values = scaled * self._scale + self._center
        return np.exp(values) if self.log_target else values
