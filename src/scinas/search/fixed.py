"""Strategies of the phases that know their trials in advance.

A fixed-architecture experiment, model selection and the final training do not search: they
know which trials to run before the first one starts.  They still run through the same
ask → execute → tell → record loop as a search (:mod:`scinas.experiment.loop`), as a
:class:`PlannedStrategy` that asks for its planned trials in order, each once, and is finished
when it was told about all of them.  Asking again for a trial whose record is finished costs
nothing: the loop answers it from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scinas.search.base import SearchStrategy, TrialOutcome, TrialRequest
from scinas.search_space.architecture import Architecture

__all__ = ["FixedStrategy", "PlannedStrategy"]


class PlannedStrategy(SearchStrategy):
    """Asks for ``requests`` in order (as many per call as asked), then waits to be told of each."""

    def __init__(self, requests: Sequence[TrialRequest]) -> None:
        names = [request.name for request in requests]
        if len(set(names)) != len(names):
            raise ValueError(f"planned trial names must be unique: {names}")
        self.requests = list(requests)
        self._asked: set[str] = set()
        self.outcomes: dict[str, TrialOutcome] = {}

    def ask(self, n: int) -> list[TrialRequest]:
        asked = [request for request in self.requests if request.name not in self._asked][:max(n, 0)]
        self._asked.update(request.name for request in asked)
        return asked

    def tell(self, outcomes: Sequence[TrialOutcome]) -> None:
        planned = {request.name for request in self.requests}
        for outcome in outcomes:
            if outcome.name in planned:
                self.outcomes[outcome.name] = outcome

    @property
    def finished(self) -> bool:
        return all(request.name in self.outcomes for request in self.requests)

    def state(self) -> dict[str, Any]:
        """The names of the trials told so far (the others are asked for again after a resume)."""
        return {"told": [request.name for request in self.requests if request.name in self.outcomes]}

    def load_state(self, state: dict[str, Any]) -> None:
        # what was not told is asked for again (its checkpoint lets the executor continue it)
        told = {str(name) for name in state.get("told", ())}
        self.outcomes = {name: TrialOutcome(name, completed=True) for name in told}
        self._asked = set(told)


class FixedStrategy(PlannedStrategy):
    """Asks once for ``architecture`` under the trial name ``trial-0000``."""

    trial_name = "trial-0000"

    def __init__(self, architecture: Architecture) -> None:
        super().__init__([TrialRequest(self.trial_name, architecture)])
        self.architecture = architecture

    def load_state(self, state: dict[str, Any]) -> None:
        if "done" in state:  # the state format before the phases shared one loop: {"asked", "done"}
            state = {"told": [self.trial_name] if state["done"] else []}
        super().load_state(state)
