"""The search-strategy interface: ``ask`` for architectures, ``tell`` results, save state.

A strategy never trains anything; the experiment coordinator hands what it asks for to an
executor and tells it the results.  Its state is JSON so an interrupted run resumes exactly.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scinas.configurable import Configurable
from scinas.search_space.architecture import Architecture

__all__ = ["SearchStrategy", "TrialOutcome", "TrialRequest"]


@dataclass(frozen=True)
class TrialRequest:
    """One architecture to train, with a stable name that identifies the trial on resume."""

    name: str
    architecture: Architecture


@dataclass(frozen=True)
class TrialOutcome:
    """What a strategy learns from one trial.

    ``fitness`` has one meaning everywhere in scinas: the value a strategy maximises, i.e. the
    trial's score signed so that larger is better (``Objectives.signed(score)``, see
    :class:`scinas.search.domain.Objectives`: the score itself when it is maximised, its negative
    when it is minimised).  The score is the search's metric on the validation split, or the
    learning-curve prediction of it when early termination stopped the trial (a converged
    prediction stands in for the measured value).  ``fitness`` is ``None`` when the trial has no
    score: it failed, or it ran outside a search (a fixed experiment has no objectives).

    ``prediction`` is the learning-curve prediction of the monitored metric for the budget's last
    epoch, unsigned and in the metric's own units, when early termination converged (else
    ``None``); ``metrics`` holds measured values by name (the score under its metric's name);
    ``costs`` holds the measured costs keyed by the names of
    :data:`scinas.search.domain.COSTS` (``time``, ``params``, ``flops``, ``latency``).  Outcomes of
    recorded trials are built by :func:`scinas.search.outcome.outcome_from_record` only.
    """

    name: str
    completed: bool
    fitness: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    prediction: float | None = None


class SearchStrategy(Configurable, abc.ABC):
    """Proposes trials; see the module docstring.

    A registered strategy declares its ``[X.search]`` options once, as a frozen dataclass
    ``Options`` (see :mod:`scinas.configurable`); ``budget_required`` says whether ``[X.search]
    budget`` must be set.
    """

    #: Whether the strategy needs ``budget`` (the most trials) to end.
    budget_required: ClassVar[bool] = True
    #: Whether the strategy keeps to ``[X.search_space] operator_pairs`` (the cell domains do; a
    #: strategy that builds its own networks from the operators alone says False and is refused).
    operator_pairs_supported: ClassVar[bool] = True

    @abc.abstractmethod
    def ask(self, n: int) -> list[TrialRequest]:
        """Up to ``n`` new trials (an empty list when the search is over)."""

    @abc.abstractmethod
    def tell(self, outcomes: Sequence[TrialOutcome]) -> None:
        """Results of trials previously asked for."""

    @property
    @abc.abstractmethod
    def finished(self) -> bool:
        """True when no trial will be asked for any more."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """JSON-serialisable state, enough to resume."""

    @abc.abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""

    def selectable(self, architecture_json: dict[str, Any]) -> bool:
        """Whether a search trial of this architecture (its JSON form) may be selected after the
        search; a strategy whose trials include others than candidates (a DARTS supernet) says no
        to those."""
        return True
