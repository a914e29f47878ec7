"""Runs trials one after the other in this process, clearing the Keras session between them.

The inline executor writes the run store directly (it runs in the coordinating process).  It
has one slot: :meth:`InlineExecutor.submit` queues the trial and :meth:`InlineExecutor.wait`
trains it, so a search through it asks, trains and tells one trial at a time, as it always did.
"""

from __future__ import annotations

import logging
from pathlib import Path

from scinas.execution.base import Executor, outcome_of
from scinas.execution.task import placement, train_recorded
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.store import RunStore
from scinas.training.trainer import Trainer

__all__ = ["InlineExecutor"]

logger = logging.getLogger(__name__)


class InlineExecutor(Executor):
    """Trains each trial in the calling process; folders are ``<trials_dir>/<trial name>``."""

    name = "inline"

    def __init__(self, trainer: Trainer, store: RunStore, trials_dir: Path) -> None:
        self.trainer = trainer
        self.store = store
        self.trials_dir = trials_dir
        self._queued: list[TrialRequest] = []

    @property
    def capacity(self) -> int:
        return 1

    @property
    def running(self) -> int:
        return len(self._queued)

    def submit(self, request: TrialRequest) -> None:
        self._queued.append(request)

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        """Train the queued trial (``timeout`` does not apply: training is not interruptible)."""
        outcomes = []
        while self._queued:
            request = self._queued.pop(0)
            train_recorded(self.trainer, self.store, request, self.trials_dir / request.name)
            record = self.store.trial(request.name)
            if record is not None:
                self.store.update_trial(record.trial_id, extra=placement(self.name, self.trainer))
            outcomes.append(outcome_of(self.store, request.name))
        return outcomes
