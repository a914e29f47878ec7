"""The executor interface: run trials somewhere, return their outcomes, never lose one."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from scinas.search.base import TrialOutcome, TrialRequest

__all__ = ["Executor"]


class Executor(abc.ABC):
    """Runs the trials a strategy asked for and reports every one of them."""

    @abc.abstractmethod
    def run(self, requests: Sequence[TrialRequest]) -> list[TrialOutcome]:
        """Train ``requests``; a failed trial is an outcome with ``completed=False``, not an exception."""
