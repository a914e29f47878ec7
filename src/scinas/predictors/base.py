"""The predictor interface: learn a score or a cost of architectures from the ones trained so far.

A search trains a few architectures, fits its predictors on them and ranks many more candidates
by the predictions.  A :class:`Predictor` only fits and predicts; what its inputs are is the
implementation's business (graphs for :class:`~scinas.predictors.gin.GINPredictor`, feature
vectors for :class:`~scinas.predictors.svr.SVRPredictor`).  :meth:`Predictor.fit` always
retrains from scratch, so the same inputs, targets and seed give the same predictions.

Example::

    predictor = PREDICTORS.get("svr")(seed=0)
    predictor.fit(features, times)
    predictor.predict(candidates)            # one value per candidate
    predictor.quality(held_out, measured)    # PredictorQuality: MAE, MAPE, Spearman, Kendall
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from scinas.configurable import Configurable, options_table
from scinas.predictors.quality import PredictorQuality, ranking_quality
from scinas.registry import Registry

__all__ = ["PREDICTORS", "Predictor", "SearchSettings", "check_fit_inputs", "check_targets"]


@dataclass(frozen=True)
class SearchSettings:
    """What a search tells the predictors it builds by name (:meth:`Predictor.for_search`).

    ``target`` is ``"score"`` or a cost name; ``max_nodes`` bounds the cell graphs.  The
    predictor's own options come from its table (``[X.search.predictor]``), not from here.
    """

    target: str
    seed: int
    max_nodes: int


class Predictor(Configurable, abc.ABC):
    """Fits a regression from architectures (in some encoding) to a score or a cost.

    ``name`` is the name used in TOML and in file names (``gin``, ``svr``).  Implementations raise
    ``ValueError`` for empty input, inputs and targets of different lengths, non-finite targets and
    :meth:`predict` before :meth:`fit`.

    The class's ``Options`` dataclass declares its hyperparameters: the keys of
    ``[X.search.predictor]`` (or ``[X.search.cost_predictor]``) when a search names it.
    """

    name: ClassVar[str] = "predictor"
    #: What :meth:`fit` and :meth:`predict` take: cell ``graph``s or ``features`` vectors.
    encoding: ClassVar[Literal["graph", "features"]] = "features"
    #: The strategies' shorthand keys this predictor takes, mapped to its option each one sets
    #: (e.g. GIN: ``predictor_epochs`` → ``epochs``); see :mod:`scinas.search.predictor_choice`.
    search_shorthands: ClassVar[dict[str, str]] = {}

    @classmethod
    def for_search(cls, settings: SearchSettings, options: Any) -> Predictor:
        """The predictor a search builds when ``[X.search] predictor`` (or ``cost_predictor``) names
        this class, with ``options`` read from its table by :meth:`from_table`; by default the class
        called with ``seed`` and its options as keywords."""
        return cls(seed=settings.seed, **options_table(options))  # type: ignore[call-arg]

    @abc.abstractmethod
    def fit(self, inputs: Sequence[Any], targets: np.ndarray) -> None:
        """Train on ``inputs`` and their measured ``targets`` (from scratch: earlier fits are forgotten)."""

    @abc.abstractmethod
    def predict(self, inputs: Sequence[Any]) -> np.ndarray:
        """One prediction per input, shape ``[len(inputs)]`` (float64)."""

    @property
    @abc.abstractmethod
    def fitted(self) -> bool:
        """Whether :meth:`fit` has been called."""

    def quality(self, inputs: Sequence[Any], targets: Sequence[float] | np.ndarray) -> PredictorQuality:
        """How well the predictions for ``inputs`` match the measured ``targets``."""
        return ranking_quality(np.asarray(targets, dtype=np.float64), self.predict(inputs))

    def _not_fitted(self) -> ValueError:
        """The error :meth:`predict` raises before :meth:`fit`."""
        return ValueError(f"the {self.name} predictor has not been fitted yet; call fit(inputs, targets) before "
                          "predict")


def check_targets(targets: Sequence[float] | np.ndarray, n_inputs: int, what: str) -> np.ndarray:
    """``targets`` as a float64 vector, after checking there is one finite target per input."""
    values = np.asarray(targets, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{what} targets must be a 1-D sequence of numbers, got shape {values.shape}")
    if values.size != n_inputs:
        raise ValueError(f"{what} got {n_inputs} inputs but {values.size} targets; pass one target per input")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"{what} targets must be finite, but target {int(bad[0])} is {values[bad[0]]} "
                         f"({bad.size} non-finite in all); drop failed trials before fitting")
    return values


def check_fit_inputs(inputs: Sequence[Any] | np.ndarray, targets: Sequence[float] | np.ndarray,
                     what: str) -> np.ndarray:
    """Reject an empty training set and mismatched lengths; return the targets as float64."""
    n = len(inputs)
    if n == 0:
        raise ValueError(f"{what} cannot be fitted on no data; train some architectures first")
    return check_targets(targets, n, what)


#: The predictors by the name used in TOML; each module of :mod:`scinas.predictors` registers its own
#: (``@PREDICTORS.register("gin")``), found on the first lookup: a new predictor is one module there.
PREDICTORS: Registry[type[Predictor]] = Registry("predictor", discover="scinas.predictors")
