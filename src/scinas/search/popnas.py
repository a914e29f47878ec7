"""Progressive Pareto search (POPNAS) and its accuracy-only variant (PNAS).

The search grows cells one block at a time over a :class:`~scinas.search.domain.ProgressiveDomain`:

* step 0 trains the empty cell; step 1 every non-equivalent one-block cell (capped by the budget);
* after step 1 each operator gets a *cost score* per cost objective: ``|cost(single_operator(op))
  − cost(empty)|`` normalised by the largest one (an operator whose single-operator cell is
  missing or failed uses the mean cost of the trained cells that contain it);
* each step ``b = 2..max_blocks`` fits a GIN accuracy predictor on every successful trial and one
  SVR per cost (on :meth:`~ProgressiveDomain.cost_features`, log target), expands every cell trained
  at step ``b − 1`` by every legal block, drops equivalents and cells trained already, predicts
  them all and selects:

  - the **Pareto front**: scanning in descending predicted score, keep a candidate no kept one
    dominates (score↑, every predicted cost↓), up to ``max_children``;
  - the **exploration front**: operators and inputs whose share of the usage in the Pareto front is
    below ``exploration_share`` of the uniform share are *under-represented*; a remaining
    candidate's exploration score counts its under-represented operators (both of every block)
    and inputs, and the same non-dominated scan over the candidates with a positive score keeps
    up to ``max_exploration_children``.

``strategy = "pnas"`` keeps the top ``max_children`` by predicted score instead (no costs, no
exploration).  Trials are named ``B{blocks}-{index}`` (``B2-0005``).  With ``output_dir`` the
step's CSVs go to ``output_dir/csv`` (``predictions_B{b}.csv``, ``pareto_front_B{b}.csv``,
``exploration_front_B{b}.csv``) and, once a step's results are in, the predictors' quality on it
to ``output_dir/predictors`` (``gin_B{b}``, ``svr_time_B{b}``, ...).

Example ``configurations.toml``::

    [A.search]
    strategy = "popnas"
    costs = ["time"]
    max_children = 16
    max_exploration_children = 4
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from scinas.configurable import option
from scinas.errors import ConfigError
from scinas.search.base import TrialRequest
from scinas.search.domain import Objectives, ProgressiveDomain, SearchDomain
from scinas.search.ledger import LedgerEntry, LedgerStrategy
from scinas.search.prediction import (
    Predictions,
    PredictorFactory,
    exploration_scores,
    fit_and_predict,
    named_predictor_factory,
    select_front,
    write_csv,
)
from scinas.search.predictor_choice import (
    DEFAULT_COST_PREDICTOR,
    DEFAULT_SCORE_PREDICTOR,
    PredictorChoice,
    check_choice,
)
from scinas.search.registry import STRATEGIES
from scinas.search_space.architecture import Architecture
from scinas.store.layout import RunLayout

__all__ = ["PNASStrategy", "PopnasStrategy"]

logger = logging.getLogger(__name__)

_PREDICTOR_DOC = ("the score predictor: a registered name, or a table of its options with an optional name "
                  "(docs/predictors.md)")
_COST_PREDICTOR_DOC = ("the predictor of each cost: a registered name, or a table of its options with an optional "
                       "name (docs/predictors.md)")


@dataclass(frozen=True)
class PNASOptions:
    """``[X.search]`` options of ``strategy = "pnas"``."""

    max_children: int = option(128, minimum=1, doc="cells trained per step (block count)")
    # PredictorChoice is a frozen dataclass: a shared default is safe.
    predictor: PredictorChoice = option(DEFAULT_SCORE_PREDICTOR, doc=_PREDICTOR_DOC)  # noqa: RUF009
    predictor_epochs: int | None = option(None, minimum=1, doc="shorthand for the score predictor's epochs "
                                          "(gin; default 80)")
    predictor_ensemble: int | None = option(None, minimum=1, doc="shorthand for the score predictor's ensemble "
                                            "(gin; default 5)")

    #: The default of each shorthand key (:mod:`scinas.search.predictor_choice`).
    SHORTHAND_DEFAULTS: ClassVar[dict[str, int]] = {"predictor_epochs": 80, "predictor_ensemble": 5,
                                                    "svr_iterations": 40}

    def shorthands(self) -> dict[str, int | None]:
        """The shorthand keys' values (None: not set)."""
        return {key: getattr(self, key, None) for key in self.SHORTHAND_DEFAULTS}

    def check(self) -> None:
        check_choice(self.predictor, self.shorthands(), self.SHORTHAND_DEFAULTS, "predictor")


@dataclass(frozen=True)
class PopnasOptions(PNASOptions):
    """``[X.search]`` options of ``strategy = "popnas"``."""

    max_exploration_children: int = option(16, minimum=0, doc="extra cells per step that use under-represented "
                                           "operators and inputs (the exploration front)")
    exploration_share: float = option(0.33, minimum=0, maximum=1, doc="an operator or input is under-represented "
                                      "below this share of the uniform share in the Pareto front")
    # PredictorChoice is a frozen dataclass: a shared default is safe.
    cost_predictor: PredictorChoice = option(DEFAULT_COST_PREDICTOR, doc=_COST_PREDICTOR_DOC)  # noqa: RUF009
    svr_iterations: int | None = option(None, minimum=1, doc="shorthand for the cost predictor's n_iter (svr; "
                                        "default 40)")

    def check(self) -> None:
        super().check()
        check_choice(self.cost_predictor, self.shorthands(), self.SHORTHAND_DEFAULTS, "cost_predictor")


@STRATEGIES.register("popnas")
class PopnasStrategy(LedgerStrategy):
    """Progressive Pareto search (``"popnas"``); see the module docstring and :class:`PopnasOptions`.

    ``budget`` may be None (every step runs).  ``predictor_factory`` replaces the registered
    predictors (tests).
    """

    mode = "popnas"
    Options: ClassVar[type[Any]] = PopnasOptions
    budget_required = False

    def __init__(self, domain: SearchDomain, objectives: Objectives, *, budget: int | None, seed: int,
                 output_dir: Path | None = None, predictor_factory: PredictorFactory | None = None,
                 **options: Any) -> None:
        if not isinstance(domain, ProgressiveDomain):
            raise ConfigError(f"the {self.mode} strategy grows cells block by block and needs a progressive domain, "
                              f"got {type(domain).__name__}", fix='use strategy = "random", "evolution" or "pareto"')
        super().__init__(domain, objectives, budget=budget, seed=seed, output_dir=output_dir, **options)
        self.progressive: ProgressiveDomain = domain
        chosen = self.options
        self.max_children = int(chosen.max_children)
        self.max_exploration_children = int(getattr(chosen, "max_exploration_children", 0))
        self.exploration_share = float(getattr(chosen, "exploration_share", PopnasOptions.exploration_share))
        self.factory = predictor_factory or named_predictor_factory(
            chosen.predictor, getattr(chosen, "cost_predictor", PopnasOptions.cost_predictor), domain.max_nodes,
            shorthands=chosen.shorthands(), defaults=chosen.SHORTHAND_DEFAULTS)
        self.costs = () if self.mode == "pnas" else tuple(objectives.costs)
        self._step = -1
        self._queue: list[tuple[str, Architecture]] = []
        self._asked = 0
        self._closed = True  # the current step's results are all in and recorded
        self.operator_scores: dict[str, dict[str, float]] = {}
        self._predicted: dict[str, dict[str, float]] = {}
        self._steps: list[dict[str, Any]] = []

    # -- public views ----------------------------------------------------------------------------
    @property
    def step(self) -> int:
        """The block count of the cells being trained (-1 before the first ask)."""
        return self._step

    def summary(self) -> dict[str, Any]:
        """Steps done, trials per step, selection sizes and predictor quality per step."""
        return {"strategy": self.mode, "step": self._step, "steps": list(self._steps),
                "operator_scores": self.operator_scores}

    # -- asking ----------------------------------------------------------------------------------
    def waiting(self) -> bool:
        return bool(self.ledger.pending)

    def propose(self, n: int) -> list[TrialRequest]:
        while True:
            if self._asked < len(self._queue):
                batch = self._queue[self._asked:self._asked + n]
                self._asked += len(batch)
                return [self.ledger.add(architecture, name) for name, architecture in batch]
            if self.ledger.pending:
                return []
            self._close_step()
            if not self._plan_next():
                return []

    def _budget_left(self) -> int | None:
        return None if self.budget is None else self.budget - len(self.ledger)

    def _cap(self, count: int) -> int:
        left = self._budget_left()
        return count if left is None else max(0, min(count, left))

    def _plan_next(self) -> bool:
        """Choose the next step's cells; False when the search is over."""
        step = self._step + 1
        if step > self.progressive.max_blocks or self._cap(1) == 0:
            return False
        if step == 0:
            chosen = [self.progressive.empty()]
        elif step == 1:
            chosen = self._one_block_cells()
        else:
            chosen = self._select(step)
        chosen = [a for a in chosen if not self.ledger.seen(a)][:self._cap(len(chosen))]
        if not chosen:
            logger.info("%s: no cell to train at step %d; the search ends", self.mode, step)
            return False
        self._step = step
        self._queue = [(f"B{step}-{index:04d}", a) for index, a in enumerate(chosen)]
        self._asked = 0
        self._closed = False
        logger.info("%s step %d: %d cells to train", self.mode, step, len(chosen))
        return True

    def _one_block_cells(self) -> list[Architecture]:
        cells = list(self.progressive.one_block())
        if self._cap(len(cells)) >= len(cells):
            return cells
        # Not all fit in the budget: the single-operator cells first (they score the operators).
        singles = {self.progressive.key(self.progressive.single_operator(op)) for op in self.progressive.operators}
        first = [a for a in cells if self.progressive.key(a) in singles]
        rest = [a for a in cells if self.progressive.key(a) not in singles]
        order = self.rng.permutation(len(rest))
        return first + [rest[int(i)] for i in order]

    # -- selection -------------------------------------------------------------------------------
    def _select(self, step: int) -> list[Architecture]:
        if step == 2 and self.costs and not self.operator_scores:
            self.operator_scores = self._score_operators()
        parents = [r for r in self.ledger.succeeded() if self.progressive.blocks(r.architecture) == step - 1]
        if not parents:
            logger.info("%s: no cell of %d blocks trained successfully; nothing to expand", self.mode, step - 1)
            return []
        candidates: dict[str, Architecture] = {}
        for parent in parents:
            for child in self.progressive.expand(parent.architecture):
                key = self.progressive.key(child)
                if key not in candidates and not self.ledger.seen(child):
                    candidates[key] = child
        if not candidates:
            logger.info("%s: the cells of step %d have no untrained expansion", self.mode, step - 1)
            return []
        pool = list(candidates.values())
        predictions = fit_and_predict(self.domain, self.ledger.succeeded(), pool, self.costs, self.factory,
                                      seed=self.seed + step, cost_features=self._cost_features)
        front, exploration = self._choose(pool, predictions, step)
        chosen = [pool[i] for i in front] + [pool[i] for i in exploration]
        names = [f"B{step}-{index:04d}" for index in range(len(chosen))]
        self._predicted = {name: predictions.row(i) for name, i in zip(names, [*front, *exploration], strict=True)}
        self._record_selection(step, pool, predictions, front, exploration, names)
        return chosen

    def _cost_features(self, architecture: Architecture, cost: str) -> np.ndarray:
        return self.progressive.cost_features(architecture, self.operator_scores[cost])

    def _choose(self, pool: list[Architecture], predictions: Predictions, step: int) -> tuple[list[int], list[int]]:
        limit = self._cap(self.max_children)
        if not self.costs:  # pnas, or popnas without costs: the top predicted scores
            return [int(i) for i in np.argsort(-predictions.score, kind="stable")[:limit]], []
        front = select_front(predictions, limit)
        left = self._budget_left()
        room = self.max_exploration_children if left is None else left - len(front)
        limit = max(0, min(self.max_exploration_children, room))
        if limit == 0:
            return front, []
        scores = exploration_scores(self.progressive, pool, [pool[i] for i in front], self.exploration_share)
        taken = set(front)
        eligible = [i for i in range(len(pool)) if i not in taken and scores[i] > 0]
        exploration = select_front(predictions, limit, among=eligible)
        logger.debug("%s step %d: %d explorers among %d eligible", self.mode, step, len(exploration), len(eligible))
        return front, exploration

    def _record_selection(self, step: int, pool: list[Architecture], predictions: Predictions, front: list[int],
                          exploration: list[int], names: list[str]) -> None:
        self._steps.append({"blocks": step, "candidates": len(pool), "pareto_front": len(front),
                            "exploration_front": len(exploration)})
        if self.output_dir is None:
            return
        name_of = dict(zip([*front, *exploration], names, strict=True))
        kind = {**{i: "pareto" for i in front}, **{i: "exploration" for i in exploration}}
        header = ["name", "architecture", "predicted_score", *(f"predicted_{c}" for c in self.costs), "selected"]
        order = np.argsort(-predictions.score, kind="stable")
        rows = [[name_of.get(int(i), ""), self.progressive.key(pool[int(i)]), *predictions.values(int(i)),
                 kind.get(int(i), "")] for i in order]
        folder = RunLayout(self.output_dir).csv
        write_csv(folder / f"predictions_B{step}.csv", header, rows)
        write_csv(folder / f"pareto_front_B{step}.csv", header[:-1], [r[:-1] for r in rows if r[-1] == "pareto"])
        write_csv(folder / f"exploration_front_B{step}.csv", header[:-1],
                  [r[:-1] for r in rows if r[-1] == "exploration"])

    def _score_operators(self) -> dict[str, dict[str, float]]:
        """Each cost's operator scores from the trials so far (see the module docstring)."""
        done = self.ledger.succeeded()
        by_key = {r.key: r for r in done}
        empty = by_key.get(self.progressive.key(self.progressive.empty()))
        scores: dict[str, dict[str, float]] = {}
        for cost in self.costs:
            base = empty.costs.get(cost, 0.0) if empty is not None else 0.0
            raw: dict[str, float] = {}
            for op in self.progressive.operators:
                single = by_key.get(self.progressive.key(self.progressive.single_operator(op)))
                if single is not None and cost in single.costs:
                    raw[op] = abs(single.costs[cost] - base)
                    continue
                values = [r.costs[cost] for r in done if cost in r.costs and op in self.domain.operators_of(
                    r.architecture)]
                if values:
                    raw[op] = abs(float(np.mean(values)) - base)
            top = max(raw.values(), default=0.0)
            normalised = {op: (value / top if top > 0 else 0.0) for op, value in raw.items()}
            fill = float(np.mean(list(normalised.values()))) if normalised else 1.0
            scores[cost] = {op: normalised.get(op, fill) for op in self.progressive.operators}
        logger.info("%s operator cost scores: %s", self.mode, scores)
        return scores

    # -- telling ---------------------------------------------------------------------------------
    def on_told(self, records: list[LedgerEntry]) -> None:
        left = self._budget_left()
        if not self.ledger.pending and (self._asked >= len(self._queue) or left == 0):
            self._close_step()

    def _close_step(self) -> None:
        """Record the predictors' quality on the step just finished (once)."""
        if self._closed:
            return
        self._closed = True
        if self._step < 2 or not self._predicted:
            return
        from scinas.predictors import ranking_quality, save_predictor_step  # deferred: Keras

        done = [self.ledger.records[name] for name in self._predicted
                if name in self.ledger.records and self.ledger.records[name].succeeded]
        quality: dict[str, Any] = {}
        targets = [("gin", "score", [float(r.fitness or 0.0) for r in done], done)]
        targets += [(f"svr_{c}", c, [r.costs[c] for r in done if c in r.costs], [r for r in done if c in r.costs])
                    for c in self.costs]
        for predictor, column, actual, rows in targets:
            if not rows:
                continue
            predicted = [self._predicted[r.name][column] for r in rows]
            if self.output_dir is not None:
                result = save_predictor_step(RunLayout(self.output_dir).predictors, predictor, f"B{self._step}",
                                             [r.name for r in rows], actual, predicted)
            else:
                result = ranking_quality(np.asarray(actual, dtype=np.float64), np.asarray(predicted))
            quality[predictor] = result.to_json()
        for entry in self._steps:
            if entry["blocks"] == self._step:
                entry["trials"] = sum(1 for name in self._predicted if name in self.ledger.records)
                entry["predictor_quality"] = quality

    # -- state -----------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"mode": self.mode, "step": self._step, "asked_in_step": self._asked, "closed": self._closed,
                "queue": [[name, a.to_json()] for name, a in self._queue],
                "operator_scores": self.operator_scores, "predicted": self._predicted, "steps": self._steps}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("mode", self.mode) != self.mode:
            raise ConfigError(f"the saved state is of a {state.get('mode')!r} search, not {self.mode!r}",
                              fix="resume with the strategy the run started with")
        self._step = int(state["step"])
        self._asked = int(state["asked_in_step"])
        self._closed = bool(state["closed"])
        self._queue = [(str(name), self.domain.from_json(data)) for name, data in state["queue"]]
        self.operator_scores = {c: {op: float(v) for op, v in s.items()} for c, s in state["operator_scores"].items()}
        self._predicted = {n: {k: float(v) for k, v in p.items()} for n, p in state["predicted"].items()}
        self._steps = [dict(entry) for entry in state["steps"]]


@STRATEGIES.register("pnas")
class PNASStrategy(PopnasStrategy):
    """PNAS mode (``"pnas"``): the top ``max_children`` by predicted score, no costs, no exploration."""

    mode = "pnas"
    Options = PNASOptions
