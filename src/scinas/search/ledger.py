"""The trial ledger every scinas strategy keeps, and the strategy base built on it.

:class:`TrialLedger` is the bookkeeping all strategies share: it names trials, remembers every
architecture asked for (by :meth:`SearchDomain.key`, so nothing is asked twice), records what it
is told (completed, fitness, costs, or a failure), and turns all of that into JSON and back.
Trials asked but not told when the state was saved are asked again, first, after a resume.
:class:`LedgerStrategy` wires a ledger, a budget and a seeded random generator (whose exact state
is saved) into :class:`~scinas.search.base.SearchStrategy`; subclasses implement
:meth:`LedgerStrategy.propose` (see :mod:`scinas.search.random` for the simplest one).

Example (a strategy that always asks for the first unseen sample)::

    class FirstUnseen(LedgerStrategy):
        def propose(self, n):
            found = [self.sample_unseen() for _ in range(n)]
            return [self.ledger.add(a) for a in found if a is not None]
"""

from __future__ import annotations

import abc
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scinas.configurable import options_from_kwargs
from scinas.errors import ConfigError
from scinas.search.base import SearchStrategy, TrialOutcome, TrialRequest
from scinas.search.domain import Objectives, SearchDomain
from scinas.search_space.architecture import Architecture

__all__ = ["LedgerEntry", "LedgerStrategy", "TrialLedger", "check_budget"]

logger = logging.getLogger(__name__)

#: Consecutive already-seen samples after which a domain of unknown size counts as exhausted.
_MAX_REJECTIONS = 2000


@dataclass
class LedgerEntry:
    """One asked trial: its architecture and, once told, its outcome (``completed`` is None while pending)."""

    name: str
    architecture: Architecture
    key: str
    completed: bool | None = None
    fitness: float | None = None
    costs: dict[str, float] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        return self.completed is None

    @property
    def succeeded(self) -> bool:
        """Told, completed and with a finite fitness (what predictors and populations may use)."""
        return bool(self.completed) and self.fitness is not None


class TrialLedger:
    """Every trial a strategy asked for, in ask order, with what it was told (see the module docstring)."""

    def __init__(self, domain: SearchDomain, *, prefix: str = "t") -> None:
        self.domain = domain
        self.prefix = prefix
        self.records: dict[str, LedgerEntry] = {}
        self.keys: dict[str, str] = {}
        self.told: list[str] = []
        self.reask: list[str] = []

    # -- asking --------------------------------------------------------------------------------
    def next_name(self) -> str:
        """``t0000``, ``t0001``, ...: the next sequential, filesystem-safe trial name."""
        return f"{self.prefix}{len(self.records):04d}"

    def seen(self, architecture: Architecture) -> bool:
        """Whether an equivalent architecture was asked for already."""
        return self.domain.key(architecture) in self.keys

    def add(self, architecture: Architecture, name: str | None = None) -> TrialRequest:
        """Record ``architecture`` as asked (under ``name`` or the next sequential one)."""
        key = self.domain.key(architecture)
        if key in self.keys:
            raise ValueError(f"{key} was already asked for as trial {self.keys[key]}")
        name = self.next_name() if name is None else name
        if name in self.records:
            raise ValueError(f"trial name {name} is already used")
        self.records[name] = LedgerEntry(name, architecture, key)
        self.keys[key] = name
        return TrialRequest(name, architecture)

    def take_reask(self, n: int) -> list[TrialRequest]:
        """Up to ``n`` of the trials pending when the state was saved, to ask for again."""
        taken, self.reask = self.reask[:n], self.reask[n:]
        return [TrialRequest(name, self.records[name].architecture) for name in taken]

    # -- telling -------------------------------------------------------------------------------
    def tell(self, outcomes: Sequence[TrialOutcome]) -> list[LedgerEntry]:
        """Record ``outcomes``; returns the records newly told (unknown or repeated names are ignored)."""
        updated = []
        for outcome in outcomes:
            record = self.records.get(outcome.name)
            if record is None:
                logger.warning("told about trial %s, which this strategy never asked for; ignored", outcome.name)
                continue
            if not record.pending:
                logger.debug("trial %s was told already; ignored", outcome.name)
                continue
            fitness = outcome.fitness
            ok = bool(outcome.completed) and fitness is not None and math.isfinite(float(fitness))
            record.completed = ok
            record.fitness = float(fitness) if ok and fitness is not None else None
            record.costs = {name: float(value) for name, value in outcome.costs.items()
                            if value is not None and math.isfinite(float(value))}
            if record.name in self.reask:
                self.reask.remove(record.name)
            self.told.append(record.name)
            updated.append(record)
        return updated

    # -- views ---------------------------------------------------------------------------------
    @property
    def pending(self) -> list[LedgerEntry]:
        return [record for record in self.records.values() if record.pending]

    def succeeded(self) -> list[LedgerEntry]:
        """Completed trials with a fitness, in tell order."""
        return [self.records[name] for name in self.told if self.records[name].succeeded]

    def __len__(self) -> int:
        return len(self.records)

    # -- JSON ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "records": [{"name": r.name, "architecture": r.architecture.to_json(), "completed": r.completed,
                         "fitness": r.fitness, "costs": r.costs} for r in self.records.values()],
            "told": list(self.told),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.prefix = str(state.get("prefix", self.prefix))
        self.records, self.keys = {}, {}
        for item in state["records"]:
            architecture = self.domain.from_json(item["architecture"])
            record = LedgerEntry(str(item["name"]), architecture, self.domain.key(architecture),
                                 item["completed"], item["fitness"],
                                 {str(k): float(v) for k, v in item["costs"].items()})
            self.records[record.name] = record
            self.keys[record.key] = record.name
        self.told = [str(name) for name in state["told"]]
        self.reask = [record.name for record in self.records.values() if record.pending]


def check_budget(budget: int | None, *, required: bool = True) -> int | None:
    """``budget`` after checking it is None (when not ``required``) or an integer >= 1."""
    if budget is None:
        if required:
            raise ConfigError("this strategy needs a budget (the most trials)", path="budget", value=None,
                              fix="pass budget=N, e.g. budget=50")
        return None
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError("expected an integer >= 1", path="budget", value=budget, fix="e.g. budget=50")
    return budget


class LedgerStrategy(SearchStrategy):
    """A strategy with a :class:`TrialLedger`, a budget and a seeded generator; subclasses propose.

    ``ask`` first re-asks the trials pending at the last save (and nothing else in that call),
    then stops at the budget; otherwise it asks :meth:`propose` for new architectures, which must
    be unseen (:meth:`TrialLedger.seen`).  Subclasses keep extra state in :meth:`extra_state`.
    Keyword ``options`` are the subclass's ``Options`` (validated like its TOML table) and end up
    in ``self.options``.
    """

    #: The prefix of trial names (``t0007``).
    prefix = "t"

    def __init__(self, domain: SearchDomain, objectives: Objectives, *, budget: int | None, seed: int,
                 output_dir: Path | None = None, **options: Any) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError("expected an integer seed", path="seed", value=seed)
        self.options = options_from_kwargs(self.Options, options)
        self.domain = domain
        self.objectives = objectives
        self.budget = check_budget(budget, required=self.budget_required)
        self.seed = seed
        self.output_dir = output_dir
        self.rng = np.random.default_rng(seed)
        self.ledger = TrialLedger(domain, prefix=self.prefix)
        self.exhausted = False

    # -- the SearchStrategy interface ------------------------------------------------------------
    def ask(self, n: int) -> list[TrialRequest]:
        if n < 1:
            return []
        if self.ledger.reask:
            return self.ledger.take_reask(n)
        if self.exhausted:
            return []
        if self.budget is not None:
            n = min(n, self.budget - len(self.ledger))
        if n <= 0:
            return []
        requests = self.propose(n)
        if not requests and not self.ledger.pending and not self.waiting():
            self.exhausted = True
        return requests

    def tell(self, outcomes: Sequence[TrialOutcome]) -> None:
        records = self.ledger.tell(outcomes)
        if records:
            self.on_told(records)

    @property
    def finished(self) -> bool:
        if self.ledger.pending:
            return False
        if self.exhausted:
            return True
        return self.budget is not None and len(self.ledger) >= self.budget

    def state(self) -> dict[str, Any]:
        return {"ledger": self.ledger.state(), "rng": _jsonable(self.rng.bit_generator.state),
                "exhausted": self.exhausted, **self.extra_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.ledger.load_state(state["ledger"])
        self.rng.bit_generator.state = state["rng"]
        self.exhausted = bool(state.get("exhausted", False))
        self.load_extra_state(state)

    # -- for subclasses --------------------------------------------------------------------------
    @abc.abstractmethod
    def propose(self, n: int) -> list[TrialRequest]:
        """Up to ``n`` new trials (through :meth:`TrialLedger.add`); [] when nothing is left to ask."""

    def on_told(self, records: list[LedgerEntry]) -> None:
        """Called with the records of each :meth:`tell` (after the ledger recorded them)."""

    def waiting(self) -> bool:
        """True when an empty :meth:`propose` means "wait for results" rather than "nothing left"."""
        return False

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""

    def sample_unseen(self) -> Architecture | None:
        """A random architecture not asked for yet, or None when the domain is used up."""
        size = self.domain.size
        if size is not None and len(self.ledger) >= size:
            return None
        if size is not None and len(self.ledger) > size // 2:
            # Rejection sampling slows down as the domain fills up: draw from what is left.
            left = [a for a in self.domain.enumerate() if not self.ledger.seen(a)]
            return left[int(self.rng.integers(len(left)))] if left else None
        for _ in range(_MAX_REJECTIONS):
            architecture = self.domain.sample(self.rng)
            if not self.ledger.seen(architecture):
                return architecture
        logger.info("%d random samples in a row were asked for already: the domain looks exhausted",
                    _MAX_REJECTIONS)
        return None


def _jsonable(value: Any) -> Any:
    """numpy generator state as plain JSON (ints, strings, nested dicts)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.integer, int)):
        return int(value)
    return value
