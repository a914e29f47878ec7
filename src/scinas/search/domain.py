"""What a search strategy needs to know about the space it searches: a :class:`SearchDomain`.

Strategies are written once and run over any domain: the cell space of a real experiment
(:class:`scinas.search.cell_domain.CellDomain`) or a tabular benchmark such as NAS-Bench-201
(:class:`scinas.search_space.nasbench201.NB201Domain`).  A domain draws random architectures,
mutates them, names them canonically (equivalent architectures share a key, so a strategy never
asks for the same network twice), and encodes them for the predictors: a graph for the GIN
accuracy predictor and a feature vector for the SVR time/latency predictors.

A domain whose architectures grow block by block (cells) is a :class:`ProgressiveDomain`; the
progressive Pareto strategy (``popnas``) needs one.  Fixed-topology domains list
:meth:`SearchDomain.neighbours` instead, and the predictor-guided Pareto strategy scans them.

Objectives are fixed for a search: one **score** to maximise (a strategy sees the fitness the
coordinator computed, already signed so that larger is better) and zero or more **costs** to
minimise, named as in :data:`COSTS`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scinas.search_space.architecture import Architecture
from scinas.search_space.encoding import CellGraph

__all__ = ["COSTS", "Objectives", "ProgressiveDomain", "SearchDomain"]

#: The costs a search may minimise, with the trial record attribute each one reads (``time_cost``:
#: the median step time after warm-up scaled to the epoch budget, else the wall training time).
COSTS: Mapping[str, str] = {"time": "time_cost", "params": "params", "flops": "flops",
                            "latency": "latency_s"}


@dataclass(frozen=True)
class Objectives:
    """The score (to maximise once signed) and the costs (to minimise) of a search.

    ``score`` names a recorded metric as the coordinator reports it, e.g. ``"validation_accuracy"``
    or ``"validation_loss"``; ``maximize`` says its direction.  ``costs`` are keys of :data:`COSTS`.
    ``target``, when set, is a formula over the trial's metrics and costs
    (:mod:`scinas.config.formula`) whose value, maximised, is the fitness instead of the score.
    """

    score: str = "validation_accuracy"
    maximize: bool = True
    costs: tuple[str, ...] = ("time",)
    target: str | None = None

    def __post_init__(self) -> None:
        unknown = [cost for cost in self.costs if cost not in COSTS]
        if unknown:
            raise ValueError(f"unknown costs {unknown}: expected some of {sorted(COSTS)}")
        if len(set(self.costs)) != len(self.costs):
            raise ValueError(f"costs {list(self.costs)} repeat a name")

    def signed(self, value: float) -> float:
        """``value`` of the score metric as a fitness (larger is better)."""
        return float(value) if self.maximize else -float(value)

    @property
    def ranked_by(self) -> str:
        """What the search ranks trials by: ``"target"`` when a target formula is set, else the score."""
        return "target" if self.target is not None else self.score

    def fitness(self, value: float) -> float:
        """``value`` of :attr:`ranked_by` as a fitness: a target as it is (maximised), a score signed."""
        return float(value) if self.target is not None else self.signed(value)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"score": self.score, "maximize": self.maximize, "costs": list(self.costs)}
        if self.target is not None:
            data["target"] = self.target
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Objectives:
        target = data.get("target")
        return cls(str(data["score"]), bool(data["maximize"]), tuple(data["costs"]),
                   None if target is None else str(target))


class SearchDomain(abc.ABC):
    """The architectures a strategy may ask for; see the module docstring."""

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Architecture:
        """A uniformly random architecture (uniform over the domain's own parametrisation)."""

    @abc.abstractmethod
    def mutate(self, architecture: Architecture, rng: np.random.Generator) -> Architecture:
        """``architecture`` with one random change; its :meth:`key` differs from the parent's."""

    @abc.abstractmethod
    def from_json(self, data: Any) -> Architecture:
        """The inverse of ``Architecture.to_json`` (strategy state stores architectures as JSON)."""

    @abc.abstractmethod
    def graph(self, architecture: Architecture) -> CellGraph:
        """The graph the GIN accuracy predictor reads."""

    @property
    @abc.abstractmethod
    def max_nodes(self) -> int:
        """The most nodes :meth:`graph` returns (to pad batches)."""

    @abc.abstractmethod
    def features(self, architecture: Architecture) -> np.ndarray:
        """A 1-D float vector for the SVR cost predictors."""

    def key(self, architecture: Architecture) -> str:
        """Canonical identity: equivalent architectures have equal keys."""
        return architecture.to_text()

    def contains(self, architecture: Architecture) -> bool:
        """True when ``architecture`` belongs to the domain."""
        try:
            return self.key(self.from_json(architecture.to_json())) == self.key(architecture)
        except (ValueError, KeyError, TypeError):
            return False

    @property
    def size(self) -> int | None:
        """How many distinct architectures exist, when known (tabular domains)."""
        return None

    def neighbours(self, architecture: Architecture) -> Sequence[Architecture]:
        """Every architecture one change away (used by local, predictor-guided search)."""
        raise NotImplementedError(f"{type(self).__name__} does not list neighbours")

    def enumerate(self) -> Sequence[Architecture]:
        """Every architecture, for domains small enough to list (raises otherwise)."""
        raise NotImplementedError(f"{type(self).__name__} is too large to enumerate")

    def operators_of(self, architecture: Architecture) -> tuple[str, ...]:
        """The operators ``architecture`` uses, with repetitions (operator usage statistics)."""
        return ()

    def network(self, architecture: Architecture) -> Any:
        """A ``keras.Model`` of ``architecture`` with random weights, for the data-free priors
        (:mod:`scinas.priors`); domains that cannot build one raise (a prior is then unavailable)."""
        raise NotImplementedError(f"{type(self).__name__} does not build networks for data-free priors")


class ProgressiveDomain(SearchDomain):
    """A domain whose architectures are built block by block (the cells of POPNAS)."""

    @property
    @abc.abstractmethod
    def max_blocks(self) -> int:
        """The most blocks an architecture may have."""

    @abc.abstractmethod
    def blocks(self, architecture: Architecture) -> int:
        """How many blocks ``architecture`` has."""

    @abc.abstractmethod
    def empty(self) -> Architecture:
        """The architecture of zero blocks."""

    @abc.abstractmethod
    def one_block(self) -> Sequence[Architecture]:
        """Every non-equivalent architecture of one block."""

    @abc.abstractmethod
    def expand(self, architecture: Architecture) -> Sequence[Architecture]:
        """Every non-equivalent architecture with one more block than ``architecture``."""

    @abc.abstractmethod
    def inputs_of(self, architecture: Architecture) -> tuple[int, ...]:
        """The inputs its blocks read, with repetitions (exploration statistics)."""

    @abc.abstractmethod
    def single_operator(self, operator: str) -> Architecture:
        """The one-block architecture ``(-1, op, -1, op)`` used to score an operator's cost."""

    @property
    @abc.abstractmethod
    def operators(self) -> tuple[str, ...]:
        """The operators of the space."""

    @property
    @abc.abstractmethod
    def input_slots(self) -> tuple[int, ...]:
        """The inputs a block may read at any position (the lookbacks, e.g. (-1, -2))."""

    @abc.abstractmethod
    def cost_features(self, architecture: Architecture, operator_scores: Mapping[str, float]) -> np.ndarray:
        """Features for the cost predictors given each operator's cost score (REFERENCE §2's 9)."""
