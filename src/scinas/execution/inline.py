"""Runs trials one after the other in this process, clearing the Keras session between them.

The inline executor writes the run store directly (it runs in the coordinating process).  It
has one slot: :meth:`InlineExecutor.submit` queues the trial and :meth:`InlineExecutor.wait`
trains it, so a search through it asks, trains and tells one trial at a time, as it always did.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scinas.config.experiment import ExperimentConfig
from scinas.errors import ConfigError
from scinas.execution.base import Executor, outcome_of
from scinas.execution.registry import EXECUTORS, ExecutionContext, ExecutorKind
from scinas.execution.task import placement, train_recorded
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.store import RunStore
from scinas.store.layout import RunLayout
from scinas.training.trainer import Trainer

__all__ = ["InlineExecutor", "InlineKind"]

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


@EXECUTORS.register("inline")
class InlineKind(ExecutorKind):
    """``executor = "inline"``: one trial at a time in this process (no options)."""

    @classmethod
    def check(cls, experiment: ExperimentConfig, options: Any) -> None:
        execution = experiment.execution
        if execution.parallel_trials > 1:
            raise ConfigError("the inline executor trains one trial at a time", file=execution.file or None,
                              path=f"{execution.path}.parallel_trials", value=execution.parallel_trials,
                              fix='set executor = "local" (a process per trial) or parallel_trials = 1')

    @classmethod
    def create(cls, context: ExecutionContext, options: Any) -> Executor:
        trainer = Trainer(context.experiment, context.dataset, context.store, verbose=context.verbose)
        return InlineExecutor(trainer, context.store, RunLayout(context.run_dir).trials)
