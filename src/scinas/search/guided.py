"""Predictor-guided Pareto search for fixed-topology domains (``"pareto"``), such as NAS-Bench-201.

POPNAS grows cells block by block; a domain without blocks has no steps to grow through, so this
strategy keeps the POPNAS idea — fit a score predictor and cost predictors on everything trained
so far, then ask for the non-dominated predicted cells — and applies it in batches:

1. **warm-up**: ``warmup`` random architectures; with a data-free ``prior`` (:mod:`scinas.priors`),
   ``prior_share`` of them are the prior's best among ``prior_candidates`` random untried ones
   (scored on their networks with random weights, before any training) and the rest are random;
2. each **batch** of ``batch_size``: fit the GIN score predictor (on :meth:`SearchDomain.graph`)
   and one log-target SVR per cost (on :meth:`SearchDomain.features`) on every successful trial,
   predict every untried architecture (all of them when the domain has at most
   ``enumerate_limit``; otherwise the neighbours of the trained front plus ``candidates`` random
   ones), and ask for

   - ``exploit_share`` of the batch: the best predicted scores (the most accurate cells);
   - ``local_share``: the best predicted untried neighbours of the ``local_parents`` best trials
     (a predictor-guided local search, which refines the best cells found);
   - the rest, greedily, the candidate whose predicted point adds the most hypervolume to the
     front of the trials so far (each pick joins the front at its predicted point), so that the
     batch fills the gaps of the front along every cost (a pick adding at most ``front_min_gain``
     × the front's hypervolume goes to the local search instead); without costs, more top scores;
   - ``exploration_share`` of the batch: the non-dominated scan (descending predicted score)
     among candidates that use operators under-represented in the trials so far.

Trial names are ``t0000``, ``t0001``, ...  Failed trials are remembered and never asked again.

Example::

    strategy = GuidedParetoStrategy(NB201Domain(), Objectives(costs=("time",)), budget=100, seed=0)
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from scinas.configurable import option
from scinas.errors import ConfigError
from scinas.search.base import TrialRequest
from scinas.search.domain import Objectives, SearchDomain
from scinas.search.ledger import LedgerEntry, LedgerStrategy
from scinas.search.pareto import hypervolume, non_dominated
from scinas.search.prediction import (
    Predictions,
    PredictorFactory,
    TunedHyperparameters,
    exploration_scores,
    fit_and_predict,
    named_predictor_factory,
    select_front,
)
from scinas.search.predictor_choice import (
    DEFAULT_COST_PREDICTOR,
    DEFAULT_SCORE_PREDICTOR,
    PredictorChoice,
    check_choice,
)
from scinas.search.prior_choice import NO_PRIOR, PriorChoice
from scinas.search.registry import STRATEGIES
from scinas.search_space.architecture import Architecture
from scinas.search_space.encoding import CellGraph

__all__ = ["GuidedParetoStrategy", "hypervolume_gains"]

logger = logging.getLogger(__name__)


def hypervolume_gains(front: np.ndarray, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """How much hypervolume each candidate point would add to ``front`` (all objectives maximised).

    Vectorised in 2-D (the staircase of the front against each candidate's box); exact but
    per-candidate above.
    """
    candidates = np.maximum(candidates, reference)
    if len(front):
        front = front[np.all(front > reference, axis=1)]
    if len(front):
        front = front[non_dominated(front)]
    base_box = np.prod(candidates - reference, axis=1)
    if len(front) == 0:
        return np.asarray(base_box, dtype=np.float64)
    if candidates.shape[1] != 2:
        base = hypervolume(front, reference)
        gains = np.zeros(len(candidates))
        for index, point in enumerate(candidates):
            if not np.any(np.all(front >= point, axis=1)):
                gains[index] = hypervolume(np.vstack([front, point]), reference) - base
        return gains
    # 2-D: front sorted by first objective descending has its second objective ascending; between
    # consecutive second-objective levels the front covers the first objective up to x_i.
    order = np.argsort(-front[:, 0], kind="stable")
    xs, ys = front[order, 0], front[order, 1]
    px, py = candidates[:, :1], candidates[:, 1:]
    lower = np.concatenate([[reference[1]], ys[:-1]])[None, :]
    heights = np.clip(np.minimum(py, ys[None, :]) - np.minimum(py, lower), 0.0, None)
    widths = np.clip(np.minimum(px, xs[None, :]) - reference[0], 0.0, None)
    covered = np.sum(heights * widths, axis=1)
    return np.asarray(np.clip(base_box - covered, 0.0, None), dtype=np.float64)


@dataclass(frozen=True)
class GuidedOptions:
    """``[X.search]`` options of ``strategy = "pareto"``."""

    warmup: int = option(10, minimum=1, doc="random trials before the predictors guide the search")
    batch_size: int = option(10, minimum=1, doc="trials planned per batch (predictors refitted per batch)")
    exploit_share: float = option(0.2, minimum=0, maximum=1, doc="share of a batch taken by the best predicted "
                                  "scores")
    local_share: float = option(0.6, minimum=0, maximum=1, doc="share of a batch taken by the best predicted "
                                "neighbours of the best trials")
    local_parents: int = option(4, minimum=1, doc="best trials whose neighbours the local search explores")
    exploration_share: float = option(0.1, minimum=0, maximum=1, doc="share of a batch taken by candidates "
                                      "using under-represented operators")
    front_min_gain: float = option(0.0, minimum=0, doc="a hypervolume pick adding at most this share of the "
                                   "front's hypervolume goes to the local search instead")
    candidates: int = option(2000, minimum=1, doc="random candidates predicted per batch when the domain is "
                             "too large to enumerate")
    enumerate_limit: int = option(20000, minimum=0, doc="domains of at most this many architectures are "
                                  "predicted in full")
    # PredictorChoice is a frozen dataclass: a shared default is safe.
    predictor: PredictorChoice = option(DEFAULT_SCORE_PREDICTOR,  # noqa: RUF009
                                        doc="the score predictor: a registered name, or a table of its options "
                                        "with an optional name (docs/predictors.md)")
    cost_predictor: PredictorChoice = option(DEFAULT_COST_PREDICTOR,  # noqa: RUF009
                                             doc="the predictor of each cost: a registered name, or a table of its "
                                             "options with an optional name")
    predictor_epochs: int | None = option(None, minimum=1, doc="shorthand for the score predictor's epochs "
                                          "(gin; default 80)")
    predictor_ensemble: int | None = option(None, minimum=1, doc="shorthand for the score predictor's ensemble "
                                            "(gin; default 3 here)")
    svr_iterations: int | None = option(None, minimum=1, doc="shorthand for the cost predictor's n_iter (svr; "
                                        "default 40)")
    svr_growth: float = option(1.5, minimum=1, doc="the cost predictors' hyperparameters are searched again once "
                               "the trials have grown by this factor, and reused in between")
    # PriorChoice is a frozen dataclass: a shared default is safe.
    prior: PriorChoice = option(NO_PRIOR,  # noqa: RUF009
                                doc='a data-free prior ordering the warm-up\'s candidates: "none", a registered '
                                "prior (params, flops, synflow) or a table of its options (docs/search.md)")
    prior_candidates: int = option(100, minimum=1, doc="random untried architectures the prior scores for the "
                                   "warm-up")
    prior_share: float = option(0.5, minimum=0, maximum=1, doc="share of the warm-up taken by the prior's best "
                                "candidates (the rest is random)")

    def check(self) -> None:
        if self.exploit_share + self.local_share + self.exploration_share > 1:
            raise ConfigError("exploit_share + local_share + exploration_share must be at most 1",
                              path="exploration_share", value=self.exploration_share, fix="lower one of the shares")
        check_choice(self.predictor, self.shorthands(), self.SHORTHAND_DEFAULTS, "predictor")
        check_choice(self.cost_predictor, self.shorthands(), self.SHORTHAND_DEFAULTS, "cost_predictor")

    #: The default of each shorthand key (:mod:`scinas.search.predictor_choice`).
    SHORTHAND_DEFAULTS: ClassVar[dict[str, int]] = {"predictor_epochs": 80, "predictor_ensemble": 3,
                                                    "svr_iterations": 40}

    def shorthands(self) -> dict[str, int | None]:
        """The shorthand keys' values (None: not set)."""
        return {key: getattr(self, key) for key in self.SHORTHAND_DEFAULTS}


@STRATEGIES.register("pareto")
class GuidedParetoStrategy(LedgerStrategy):
    """Predictor-guided Pareto search (``"pareto"``); see the module docstring and :class:`GuidedOptions`.

    ``predictor_factory`` replaces the registered predictors (tests).  ``prior_cache`` maps an
    architecture's key to its prior value (NaN) and the reason it could not be computed (None), to
    share the networks' scores between searches over the same domain (benchmarks).
    """

    Options = GuidedOptions

    def __init__(self, domain: SearchDomain, objectives: Objectives, *, budget: int | None, seed: int,
                 output_dir: Path | None = None, predictor_factory: PredictorFactory | None = None,
                 prior_cache: MutableMapping[str, tuple[float, str | None]] | None = None,
                 **options: Any) -> None:
        super().__init__(domain, objectives, budget=budget, seed=seed, output_dir=output_dir, **options)
        chosen: GuidedOptions = self.options
        self.warmup = chosen.warmup
        self.batch_size = chosen.batch_size
        self.candidates = chosen.candidates
        self.enumerate_limit = chosen.enumerate_limit
        self.exploit_share = float(chosen.exploit_share)
        self.local_share = float(chosen.local_share)
        self.local_parents = chosen.local_parents
        self.exploration_share = float(chosen.exploration_share)
        self.front_min_gain = float(chosen.front_min_gain)
        self.factory = predictor_factory or named_predictor_factory(
            chosen.predictor, chosen.cost_predictor, domain.max_nodes, shorthands=chosen.shorthands(),
            defaults=chosen.SHORTHAND_DEFAULTS)
        svr_growth = chosen.svr_growth
        self.prior = chosen.prior.build()
        self.prior_candidates = chosen.prior_candidates
        self.prior_share = float(chosen.prior_share)
        self._prior_cache = prior_cache if prior_cache is not None else {}
        self._prior_failures: dict[str, str] = {}
        self._prior_unsupported = ""  # why the domain builds no networks at all (then the warm-up is random)
        self.costs = tuple(objectives.costs)
        self._queue: list[Architecture] = []
        self._batches = 0
        self._tuned = TunedHyperparameters(float(svr_growth))
        # Caches of the encodings (not state: they are recomputed identically after a resume).
        self._graphs: dict[str, CellGraph] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._everything: list[tuple[str, Architecture]] | None = None

    def summary(self) -> dict[str, Any]:
        """Batches planned, trials asked, and the candidates whose prior could not be computed (with why)."""
        summary: dict[str, Any] = {"strategy": "pareto", "batches": self._batches, "trials": len(self.ledger)}
        if self._prior_failures:
            summary["prior_failures"] = dict(self._prior_failures)
        if self._prior_unsupported:
            summary["prior_unavailable"] = self._prior_unsupported
        return summary

    # -- asking ----------------------------------------------------------------------------------
    def propose(self, n: int) -> list[TrialRequest]:
        requests: list[TrialRequest] = []
        while len(requests) < n:
            if not self._queue:
                self._queue = self._plan()
                if not self._queue:
                    break
            architecture = self._queue.pop(0)
            if not self.ledger.seen(architecture):
                requests.append(self.ledger.add(architecture))
        return requests

    def _left(self) -> int:
        return self.batch_size if self.budget is None else max(0, self.budget - len(self.ledger))

    def _random_batch(self, size: int) -> list[Architecture]:
        batch: list[Architecture] = []
        keys: set[str] = set()
        for _ in range(size):
            for _attempt in range(100):
                architecture = self.sample_unseen()
                if architecture is None:
                    return batch
                if self.domain.key(architecture) not in keys:
                    batch.append(architecture)
                    keys.add(self.domain.key(architecture))
                    break
        return batch

    def _warmup_batch(self, size: int) -> list[Architecture]:
        """Random architectures, ``prior_share`` of them the prior's best among ``prior_candidates``."""
        n_prior = round(size * self.prior_share) if self.prior is not None else 0
        if n_prior == 0 or self._prior_unsupported:
            return self._random_batch(size)
        candidates = self._random_batch(max(self.prior_candidates, size))
        if candidates and not self._builds_networks(candidates[0]):
            return candidates[:size]
        values = self._prior_values(candidates)
        ranked = [int(i) for i in np.argsort(-np.where(np.isfinite(values), values, -np.inf), kind="stable")
                  if np.isfinite(values[i])][:n_prior]
        rest = [i for i in range(len(candidates)) if i not in set(ranked)]  # already in random order
        return [candidates[i] for i in [*ranked, *rest][:size]]

    def _builds_networks(self, architecture: Architecture) -> bool:
        """False (and why, in the summary) when the domain builds no networks for priors at all."""
        if self.domain.key(architecture) in self._prior_cache:
            return True
        try:
            self.domain.network(architecture)
        except NotImplementedError as error:
            self._prior_unsupported = str(error)
            logger.info("no data-free prior: %s; the warm-up is random", error)
            return False
        except Exception:  # this candidate's failure is recorded when it is scored
            return True
        return True

    def _prior_values(self, candidates: Sequence[Architecture]) -> np.ndarray:
        """The prior of each candidate (NaN where it cannot be computed: recorded, never fatal)."""
        from scinas.priors import score_architectures  # deferred: Keras starts slowly

        assert self.prior is not None
        keys = [self.domain.key(a) for a in candidates]
        missing = [i for i, key in enumerate(keys) if key not in self._prior_cache]
        scored = score_architectures(self.prior, self.domain.network, [candidates[i] for i in missing])
        for j, i in enumerate(missing):
            self._prior_cache[keys[i]] = (float(scored.values[j]), scored.failures.get(j))
        values = np.array([self._prior_cache[key][0] for key in keys], dtype=np.float64)
        for architecture, key in zip(candidates, keys, strict=True):
            reason = self._prior_cache[key][1]
            if reason is not None:
                self._prior_failures[architecture.to_text()] = reason
        if self._prior_failures:
            logger.warning("prior %s not computed for %d candidate(s); they stay candidates without it (first: %s)",
                           type(self.prior).__name__, len(self._prior_failures),
                           next(iter(self._prior_failures.items())))
        return values

    def _plan(self) -> list[Architecture]:
        trained = self.ledger.succeeded()
        if len(self.ledger) < self.warmup or len(trained) < 2:
            return self._warmup_batch(min(self._left(), max(1, self.warmup - len(self.ledger))))
        size = min(self.batch_size, self._left())
        pool = self._pool(trained)
        if not pool or size == 0:
            return []
        self._batches += 1
        predictions = fit_and_predict(self.domain, trained, pool, self.costs, self.factory,
                                      seed=self.seed + len(self.ledger), graph=self._graph,
                                      cost_features=lambda a, _cost: self._features(a), tuned=self._tuned)
        chosen = self._choose(pool, predictions, trained, size)
        logger.debug("pareto batch %d: %d of %d candidates", self._batches, len(chosen), len(pool))
        return [pool[i] for i in chosen]

    def _graph(self, architecture: Architecture) -> CellGraph:
        key = self.domain.key(architecture)
        if key not in self._graphs:
            self._graphs[key] = self.domain.graph(architecture)
        return self._graphs[key]

    def _features(self, architecture: Architecture) -> np.ndarray:
        key = self.domain.key(architecture)
        if key not in self._vectors:
            self._vectors[key] = self.domain.features(architecture)
        return self._vectors[key]

    def _pool(self, trained: Sequence[LedgerEntry]) -> list[Architecture]:
        size = self.domain.size
        if size is not None and size <= self.enumerate_limit:
            if self._everything is None:
                self._everything = [(self.domain.key(a), a) for a in self.domain.enumerate()]
            return [a for key, a in self._everything if key not in self.ledger.keys]
        found: dict[str, Architecture] = {}
        best = sorted(trained, key=lambda r: -float(r.fitness or 0.0))[:self.local_parents]
        for record in [*self._observed_front(trained), *best]:
            try:
                neighbours = self.domain.neighbours(record.architecture)
            except NotImplementedError:
                break
            for neighbour in neighbours:
                found.setdefault(self.domain.key(neighbour), neighbour)
        for _ in range(self.candidates):
            sample = self.domain.sample(self.rng)
            found.setdefault(self.domain.key(sample), sample)
        return [a for key, a in sorted(found.items()) if key not in self.ledger.keys]

    def _points(self, records: Sequence[LedgerEntry]) -> np.ndarray:
        return np.array([[float(r.fitness or 0.0), *(-r.costs[c] for c in self.costs)] for r in records],
                        dtype=np.float64).reshape(len(records), 1 + len(self.costs))

    def _observed_front(self, trained: Sequence[LedgerEntry]) -> list[LedgerEntry]:
        measured = [r for r in trained if all(c in r.costs for c in self.costs)]
        return [measured[i] for i in non_dominated(self._points(measured))] if measured else []

    def _choose(self, pool: list[Architecture], predictions: Predictions, trained: Sequence[LedgerEntry],
                size: int) -> list[int]:
        n_exploit = round(size * self.exploit_share)
        n_local = round(size * self.local_share)
        n_explore = round(size * self.exploration_share)
        ranking = [int(i) for i in np.argsort(-predictions.score, kind="stable")]
        chosen: list[int] = ranking[:n_exploit]
        taken = set(chosen)
        if n_local > 0:
            for index in self._local_picks(pool, predictions, trained, taken, n_local):
                chosen.append(index)
                taken.add(index)
        n_front = size - len(chosen) - n_explore
        if self.costs and n_front > 0:
            for index in self._front_picks(predictions, trained, taken, n_front):
                chosen.append(index)
                taken.add(index)
        spare = size - len(chosen) - n_explore  # front picks that would add too little go to local search
        if spare > 0 and n_local > 0:
            for index in self._local_picks(pool, predictions, trained, taken, spare):
                chosen.append(index)
                taken.add(index)
        if n_explore > 0:
            scores = exploration_scores(self.domain, pool, [r.architecture for r in trained], self.exploration_share)
            eligible = [i for i in range(len(pool)) if i not in taken and scores[i] > 0]
            for index in select_front(predictions, n_explore, among=eligible):
                chosen.append(index)
                taken.add(index)
        for index in ranking:  # fill what the other rules left
            if len(chosen) >= size:
                break
            if index not in taken:
                chosen.append(index)
                taken.add(index)
        return chosen[:size]

    def _local_picks(self, pool: list[Architecture], predictions: Predictions, trained: Sequence[LedgerEntry],
                     taken: set[int], count: int) -> list[int]:
        """The best predicted untried neighbours of the ``local_parents`` best trials."""
        best = sorted(trained, key=lambda r: -float(r.fitness or 0.0))[:self.local_parents]
        where = {self.domain.key(a): i for i, a in enumerate(pool)}
        near: set[int] = set()
        for record in best:
            try:
                neighbours = self.domain.neighbours(record.architecture)
            except NotImplementedError:
                return []
            near.update(where[key] for key in map(self.domain.key, neighbours) if key in where)
        near -= taken
        ordered = sorted(near, key=lambda i: (-predictions.score[i], i))
        return ordered[:count]

    def _front_picks(self, predictions: Predictions, trained: Sequence[LedgerEntry], taken: set[int],
                     count: int) -> list[int]:
        """Greedy hypervolume-gain picks against the observed front (predicted points join it)."""
        measured = [r for r in trained if all(c in r.costs for c in self.costs)]
        if not measured:
            return []
        observed = self._points(measured)
        candidates = predictions.points()
        span = np.ptp(observed, axis=0)
        span[span == 0] = 1.0
        reference = observed.min(axis=0) - 0.1 * span
        front = observed[non_dominated(observed)]
        least = self.front_min_gain * hypervolume(front, reference)
        picks: list[int] = []
        available = np.ones(len(candidates), dtype=bool)
        available[list(taken)] = False
        for _ in range(count):
            gains = hypervolume_gains(front, candidates, reference)
            gains[~available] = -1.0
            best = int(np.argmax(gains))
            if gains[best] <= least:
                break
            picks.append(best)
            available[best] = False
            front = np.vstack([front, candidates[best]])
        return picks

    # -- state -----------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"queue": [a.to_json() for a in self._queue], "batches": self._batches,
                "svr_hyperparameters": self._tuned.state(), "prior_failures": dict(self._prior_failures),
                "prior_unavailable": self._prior_unsupported}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self._queue = [self.domain.from_json(data) for data in state["queue"]]
        self._batches = int(state["batches"])
        self._tuned.load_state(state.get("svr_hyperparameters", {}))
        self._prior_failures = {str(k): str(v) for k, v in state.get("prior_failures", {}).items()}
        self._prior_unsupported = str(state.get("prior_unavailable", ""))
