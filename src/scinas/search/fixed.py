"""The strategy of a fixed-architecture experiment: it asks for exactly one trial."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scinas.search.base import SearchStrategy, TrialOutcome, TrialRequest
from scinas.search_space.architecture import Architecture

__all__ = ["FixedStrategy"]


class FixedStrategy(SearchStrategy):
    """Asks once for ``architecture`` under the trial name ``trial-0000``."""

    trial_name = "trial-0000"

    def __init__(self, architecture: Architecture) -> None:
        self.architecture = architecture
        self._asked = False
        self._outcome: TrialOutcome | None = None

    def ask(self, n: int) -> list[TrialRequest]:
        if self._asked or n < 1:
            return []
        self._asked = True
        return [TrialRequest(self.trial_name, self.architecture)]

    def tell(self, outcomes: Sequence[TrialOutcome]) -> None:
        for outcome in outcomes:
            if outcome.name == self.trial_name:
                self._outcome = outcome

    @property
    def finished(self) -> bool:
        return self._outcome is not None

    def state(self) -> dict[str, Any]:
        return {"asked": self._asked, "done": self._outcome is not None}

    def load_state(self, state: dict[str, Any]) -> None:
        # An unfinished trial is asked for again (its checkpoint lets the executor continue it).
        self._asked = bool(state.get("done", False))
        if state.get("done"):
            self._outcome = TrialOutcome(self.trial_name, completed=True)
