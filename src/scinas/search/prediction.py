"""What the predictor-guided strategies share: fitting predictors on the trials so far and selecting.

:func:`fit_and_predict` fits the score predictor (on cell graphs) and one cost predictor per cost
(on cost features) on every successful trial and predicts a pool of candidates as
:class:`Predictions`; :func:`select_front` is the non-dominated scan in descending predicted score;
:func:`exploration_scores` counts the under-represented operators and inputs of each candidate;
:func:`write_csv` writes the per-step tables atomically.  Used by
:mod:`scinas.search.popnas` (``popnas``/``pnas``) and :mod:`scinas.search.guided` (``pareto``).
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scinas.atomic import write_text_atomic
from scinas.interrupt import check_interrupt
from scinas.search.domain import ProgressiveDomain, SearchDomain
from scinas.search.ledger import LedgerEntry
from scinas.search.pareto import descending, scan_front
from scinas.search.predictor_choice import PredictorChoice, build_predictor
from scinas.search_space.architecture import Architecture
from scinas.search_space.encoding import CellGraph

if TYPE_CHECKING:
    from scinas.predictors import Predictor, SVRPredictor

__all__ = [
    "Predictions",
    "PredictorFactory",
    "TunedHyperparameters",
    "exploration_scores",
    "fit_and_predict",
    "named_predictor_factory",
    "select_front",
    "write_csv",
]

logger = logging.getLogger(__name__)

#: Builds a fresh predictor: ``factory("score", seed)`` for the score, ``factory(cost, seed)`` per cost.
PredictorFactory = Callable[[str, int], "Predictor"]


def named_predictor_factory(predictor: PredictorChoice | str, cost_predictor: PredictorChoice | str, max_nodes: int,
                            *, shorthands: Mapping[str, int | None] | None = None,
                            defaults: Mapping[str, int] | None = None) -> PredictorFactory:
    """The registered predictors ``predictor`` (for the score) and ``cost_predictor`` (per cost),
    each built by its class's :meth:`~scinas.predictors.Predictor.for_search` with the options of
    its table and the strategy's ``shorthands`` (see :mod:`scinas.search.predictor_choice`)."""
    score = predictor if isinstance(predictor, PredictorChoice) else PredictorChoice(predictor)
    cost = cost_predictor if isinstance(cost_predictor, PredictorChoice) else PredictorChoice(cost_predictor)

    def build(target: str, seed: int) -> Predictor:
        from scinas.predictors import SearchSettings  # deferred: Keras starts slowly

        return build_predictor(score if target == "score" else cost, SearchSettings(target, seed, max_nodes),
                               shorthands or {}, defaults or {})

    return build


@dataclass(frozen=True)
class Predictions:
    """Predicted score and costs of a pool of candidates (a cost without a predictor is NaN)."""

    score: np.ndarray
    costs: dict[str, np.ndarray]

    def row(self, index: int) -> dict[str, float]:
        return {"score": float(self.score[index]), **{c: float(v[index]) for c, v in self.costs.items()}}

    def values(self, index: int) -> list[float]:
        return [float(self.score[index]), *(float(v[index]) for v in self.costs.values())]

    def points(self) -> np.ndarray:
        """``[n, 1 + costs]``, all maximised (costs negated; an unpredicted cost is 0 for everyone)."""
        columns = [self.score, *(-np.nan_to_num(v, nan=0.0) for v in self.costs.values())]
        return np.stack(columns, axis=1)


class TunedHyperparameters:
    """The cost predictors' last searched hyperparameters, reused until the data has grown enough.

    A strategy that refits its predictors every few trials need not repeat the SVR's
    cross-validated search each time: the hyperparameters found on ``n`` samples are reused while
    fewer than ``growth × n`` samples are available, then searched again.  JSON state (part of
    the strategy's state, so a resumed search reuses exactly what an uninterrupted one would).
    """

    def __init__(self, growth: float = 1.5) -> None:
        if growth < 1:
            raise ValueError(f"growth must be at least 1 (1 searches every time), got {growth}")
        self.growth = growth
        self._entries: dict[str, dict[str, Any]] = {}

    def reusable(self, target: str, n: int) -> dict[str, Any] | None:
        """The hyperparameters to reuse for ``n`` samples of ``target``, or None to search."""
        entry = self._entries.get(target)
        if entry is None or n >= self.growth * int(entry["n"]) or not entry["params"]:
            return None
        return dict(entry["params"])

    def remember(self, target: str, n: int, params: dict[str, Any]) -> None:
        self._entries[target] = {"n": int(n), "params": dict(params)}

    def state(self) -> dict[str, Any]:
        return {target: {"n": e["n"], "params": dict(e["params"])} for target, e in sorted(self._entries.items())}

    def load_state(self, state: dict[str, Any]) -> None:
        self._entries = {str(t): {"n": int(e["n"]), "params": dict(e["params"])} for t, e in state.items()}


def fit_and_predict(domain: SearchDomain, trained: Sequence[LedgerEntry], pool: Sequence[Architecture],
                    costs: Sequence[str], factory: PredictorFactory, *, seed: int,
                    cost_features: Callable[[Architecture, str], np.ndarray],
                    graph: Callable[[Architecture], CellGraph] | None = None,
                    tuned: TunedHyperparameters | None = None) -> Predictions:
    """Fit the score predictor (graphs) and one predictor per cost (features) on ``trained``; predict ``pool``.

    ``graph`` replaces :meth:`SearchDomain.graph` (e.g. a cache); ``cost_features(architecture, cost)``
    gives the cost predictors' inputs; ``tuned`` lets SVR cost predictors reuse earlier searched
    hyperparameters (see :class:`TunedHyperparameters`).
    """
    model = factory("score", seed)
    encode = (graph or domain.graph) if getattr(model, "encoding", "graph") == "graph" else domain.features
    model.fit([encode(r.architecture) for r in trained], np.array([r.fitness for r in trained], dtype=float))
    check_interrupt()  # a stop that a predictor's fit could not raise (scinas.interrupt)
    score = np.asarray(model.predict([encode(a) for a in pool]), dtype=np.float64)
    predicted: dict[str, np.ndarray] = {}
    for cost in costs:
        rows = [r for r in trained if r.costs.get(cost, 0.0) > 0]
        if not rows:
            logger.warning("no trial measured a positive %s yet: that cost is not predicted", cost)
            predicted[cost] = np.full(len(pool), np.nan)
            continue
        check_interrupt()
        cost_model = factory(cost, seed)
        if getattr(cost_model, "encoding", "features") == "graph":
            cost_features = _graph_of(graph or domain.graph)
        searched = _reuse_hyperparameters(cost_model, cost, len(rows), tuned)
        cost_model.fit([cost_features(r.architecture, cost) for r in rows], np.array([r.costs[cost] for r in rows]))
        if searched is not None and tuned is not None and searched.best_params:
            tuned.remember(cost, len(rows), searched.best_params)
        predicted[cost] = np.asarray(cost_model.predict([cost_features(a, cost) for a in pool]), dtype=np.float64)
    return Predictions(score, predicted)


def _graph_of(encode: Callable[[Architecture], CellGraph]) -> Callable[[Architecture, str], Any]:
    return lambda architecture, _cost: encode(architecture)


def select_front(predictions: Predictions, limit: int, among: Sequence[int] | None = None) -> list[int]:
    """The greedy non-dominated scan (descending predicted score) over ``among`` (default: all)."""
    points = predictions.points()
    if limit <= 0 or len(points) == 0:
        return []
    return scan_front(points, limit, order=descending(points, among))


def exploration_scores(domain: SearchDomain, pool: Sequence[Architecture], selected: Sequence[Architecture],
                       share: float) -> np.ndarray:
    """How many under-represented operators (every side of every block) and inputs each candidate uses.

    An operator (input) is under-represented when its share of the usage in ``selected`` is below
    ``share`` times the uniform share ``1 / (number of operators (inputs) in use anywhere)``.
    """
    inputs_of: Callable[[Architecture], tuple[Any, ...]] = lambda _a: ()  # noqa: E731
    known: tuple[Any, ...] = ()
    if isinstance(domain, ProgressiveDomain):
        inputs_of, known = domain.inputs_of, domain.operators
    under: list[set[Any]] = []
    for usage, always in ((domain.operators_of, known), (inputs_of, ())):
        counts = Counter(item for a in selected for item in usage(a))
        universe = set(counts) | set(always) | {item for a in pool for item in usage(a)}
        total = sum(counts.values())
        under.append({item for item in universe
                      if total == 0 or counts[item] / total < share / max(len(universe), 1)})
    operators, inputs = under
    return np.array([sum(op in operators for op in domain.operators_of(a)) + sum(i in inputs for i in inputs_of(a))
                     for a in pool], dtype=np.int64)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a CSV atomically (a temporary file renamed over ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([repr(v) if isinstance(v, float) else v for v in row] for row in rows)
    write_text_atomic(path, buffer.getvalue())


def _reuse_hyperparameters(model: Predictor, target: str, n: int,
                           tuned: TunedHyperparameters | None) -> SVRPredictor | None:
    """Give an SVR predictor remembered hyperparameters; return it when it will search its own."""
    from scinas.predictors import SVRPredictor  # deferred with the predictors (Keras starts slowly)

    if tuned is None or not isinstance(model, SVRPredictor) or model.params is not None:
        return None
    params = tuned.reusable(target, n)
    if params is not None:
        model.params = params
        return None
    return model
