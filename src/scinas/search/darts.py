"""Differentiable architecture search (``[X.search] strategy = "darts"``).

The search is two kinds of trial, run through the ordinary trial loop like any other:

1. one **supernet** trial per seed (``supernet-s<seed>``): the weight-sharing network over
   ``[X.search_space] operators`` (``none`` added), trained by the bilevel optimisation for
   ``epochs`` (see docs/darts.md); it leaves its genotype, α per epoch and the cell drawings in
   ``trials/supernet-s<seed>/darts/``;
2. one **genotype** trial per seed (``genotype-s<seed>``): that genotype trained from scratch in
   its evaluation network (``eval_layers``, ``eval_filters``, ...) for ``[X.training] epochs``,
   the short retraining that picks among the seeds' genotypes (DARTS' authors' practice).

Only genotype trials are candidates of the selection and final phases that follow, as with every
strategy.  Example::

    [A.search]
    strategy = "darts"
    score = "accuracy"
    epochs = 20         # of the supernet
    order = 1           # 2: the unrolled second-order α gradient
    nodes = 4
    layers = 5
    filters = 8
    seeds = 2           # searches with seeds seed, seed + 1, ...; the genotypes are retrained
    eval_layers = 8
    eval_filters = 16
    stop_parameter_free = 2   # stop a supernet once its normal cell would have 2 skips/poolings ...
    stop_warmup = 10          # ... checked after the first 10 epochs
    [A.search_space]
    operators = ["darts"]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from scinas.configurable import option
from scinas.errors import ConfigError
from scinas.search.base import SearchStrategy, TrialOutcome, TrialRequest
from scinas.search.cell_domain import CellDomain
from scinas.search.domain import Objectives, SearchDomain
from scinas.search.registry import STRATEGIES
from scinas.search_space.darts_architecture import DartsArchitecture, DartsNetwork, SupernetArchitecture
from scinas.search_space.genotype import Genotype
from scinas.store.layout import RunLayout

__all__ = ["DartsStrategy"]


@STRATEGIES.register("darts")
class DartsStrategy(SearchStrategy):
    """DARTS (``"darts"``); see the module docstring and :class:`Options`."""

    budget_required: ClassVar[bool] = False
    operator_pairs_supported: ClassVar[bool] = False

    @dataclass(frozen=True)
    class Options:
        """``[X.search]`` options of ``strategy = "darts"``."""

        epochs: int = option(50, minimum=1, doc="epochs of the supernet's bilevel training")
        order: int = option(1, minimum=1, maximum=2, doc="1: first-order α gradient; 2: unrolled second order")
        nodes: int = option(4, minimum=1, doc="intermediate nodes of a cell")
        layers: int = option(8, minimum=3, doc="cells of the supernet (reductions at 1/3 and 2/3)")
        filters: int = option(16, minimum=1, doc="channels of the supernet's first cells")
        seeds: int = option(1, minimum=1, doc="searches with different seeds; their genotypes are retrained")
        eval_layers: int = option(8, minimum=3, doc="cells of the evaluation network")
        eval_filters: int = option(16, minimum=1, doc="channels of the evaluation network's first cells")
        eval_auxiliary_weight: float = option(0.0, minimum=0.0, doc="loss weight of the evaluation network's "
                                              "auxiliary head (0: none)")
        eval_drop_path: float = option(0.0, minimum=0.0, maximum=0.99, doc="drop-path probability of the "
                                       "evaluation network")
        stop_parameter_free: int = option(0, minimum=0, doc="early stopping on α against collapse: stop the "
                                          "supernet after the first epoch whose genotype has this many "
                                          "parameter-free operations (skip, pooling) in its normal cell and "
                                          "keep the genotype of the epoch before (0: off; at most 2 * nodes)")
        stop_warmup: int = option(0, minimum=0, doc="supernet epochs before stop_parameter_free is checked (the "
                                  "first epochs favour parameter-free operations while the weights are untrained)")

        def check(self) -> None:
            if self.stop_parameter_free > 2 * self.nodes:
                raise ConfigError(f"is above the {2 * self.nodes} operations of a normal cell of nodes = "
                                  f"{self.nodes}, so it would never stop the search", path="stop_parameter_free",
                                  value=self.stop_parameter_free,
                                  fix=f"use 0 (off) to {2 * self.nodes}; 2 stops at two skips or poolings")
            if self.stop_warmup and self.stop_warmup >= self.epochs:
                raise ConfigError(f"leaves none of the epochs = {self.epochs} to check stop_parameter_free in",
                                  path="stop_warmup", value=self.stop_warmup,
                                  fix=f"use fewer than {self.epochs} epochs (about half of them, say)")

    def __init__(self, domain: SearchDomain, objectives: Objectives, *, budget: int | None, seed: int,
                 output_dir: Path | None = None, **options: Any) -> None:
        from scinas.configurable import options_from_kwargs

        if not isinstance(domain, CellDomain):
            raise ConfigError("the darts strategy searches the cells of [X.search_space]", path="search.strategy")
        if domain.space.operator_pairs is not None:
            raise ConfigError("a DARTS supernet mixes every operator on every edge, so it cannot keep to chosen "
                              "operator pairs", path="search_space.operator_pairs",
                              fix="remove operator_pairs (keep only operators) or use another strategy")
        self.options = options_from_kwargs(self.Options, options)
        self.domain = domain
        self.objectives = objectives
        self.seed = seed
        self.output_dir = output_dir
        self.genotypes: dict[str, dict[str, Any]] = {}
        self.asked: set[str] = set()
        self.told: set[str] = set()

    def _seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.options.seeds)]

    def _supernet(self, seed: int) -> TrialRequest:
        o = self.options
        return TrialRequest(f"supernet-s{seed}", SupernetArchitecture(
            tuple(self.domain.space.operators), layers=o.layers, nodes=o.nodes, filters=o.filters, epochs=o.epochs,
            order=o.order, seed=seed, stop_parameter_free=o.stop_parameter_free,
            stop_warmup=o.stop_warmup))

    def network(self) -> DartsNetwork:
        o = self.options
        return DartsNetwork(layers=o.eval_layers, filters=o.eval_filters, auxiliary_weight=o.eval_auxiliary_weight,
                            drop_path=o.eval_drop_path)

    def ask(self, n: int) -> list[TrialRequest]:
        requests = [self._supernet(seed) for seed in self._seeds()]
        for seed in self._seeds():
            data = self.genotypes.get(f"supernet-s{seed}")
            if data is not None:
                requests.append(TrialRequest(f"genotype-s{seed}",
                                             DartsArchitecture(Genotype.from_json(data), self.network())))
        fresh = [request for request in requests if request.name not in self.asked][:max(n, 0)]
        self.asked.update(request.name for request in fresh)
        return fresh

    def tell(self, outcomes: Sequence[TrialOutcome]) -> None:
        for outcome in outcomes:
            self.told.add(outcome.name)
            if outcome.name.startswith("supernet-") and self.output_dir is not None:
                path = RunLayout(self.output_dir).trial(outcome.name).darts.genotype_json
                try:
                    self.genotypes[outcome.name] = json.loads(path.read_text())
                except (OSError, ValueError):  # the supernet failed: no genotype for this seed
                    continue

    @property
    def finished(self) -> bool:
        supernets = {f"supernet-s{seed}" for seed in self._seeds()}
        if not supernets <= self.told:
            return False
        return all(f"genotype-s{name.removeprefix('supernet-s')}" in self.told for name in self.genotypes)

    def selectable(self, architecture_json: dict[str, Any]) -> bool:
        return architecture_json.get("kind") == "darts"

    def state(self) -> dict[str, Any]:
        return {"genotypes": self.genotypes, "told": sorted(self.told)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.genotypes = dict(state.get("genotypes", {}))
        self.told = {str(name) for name in state.get("told", ())}
        self.asked = set(self.told)  # what was not told is asked again (a supernet resumes from its checkpoint)

    def summary(self) -> dict[str, Any]:
        """The genotypes found, with their counts of parameter-free operations (DARTS' collapse)."""
        return {name: {"genotype": Genotype.from_json(data).to_text(),
                       "parameter_free": Genotype.from_json(data).parameter_free()}
                for name, data in self.genotypes.items()}
