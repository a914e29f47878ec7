"""The executor interface: run trials somewhere, asynchronously, and never lose one.

The coordinator (:mod:`scinas.experiment.loop`) puts a trial on record in the run store,
:meth:`Executor.submit`\\ s it while :attr:`Executor.free` is above zero, and collects finished
trials with :meth:`Executor.wait` as they come (no waiting for the slowest of a batch)::

    while work_left:
        for request in strategy.ask(executor.free):
            executor.submit(request)
        for outcome in executor.wait(timeout=5.0):
            strategy.tell([outcome])

Contract:

* when :meth:`wait` returns a trial, its final state (``completed`` or ``failed`` with a reason)
  is in the run store: a trial that crashed, was killed or lost its Slurm job is an outcome with
  ``completed=False``, never an exception;
* only the coordinating process writes the store: executors whose trials run elsewhere collect
  what the worker wrote into the trial's journal (:mod:`scinas.execution.journal`) and replay it
  into the store from the coordinator;
* :meth:`reattach` lets a resumed coordinator pick up a trial that an earlier coordinator left
  running (a Slurm job still queued or running, or one that finished meanwhile) instead of
  training it again.
"""

from __future__ import annotations

import abc

from scinas.search.base import TrialOutcome, TrialRequest
from scinas.search.outcome import outcome_from_record
from scinas.store import RunStore, TrialRecord

__all__ = ["Executor", "outcome_of"]


def outcome_of(store: RunStore, name: str) -> TrialOutcome:
    """What the store says about trial ``name`` once it ended (completed or not), without objectives.

    An executor reports which trials ended; the coordinator (:mod:`scinas.experiment.loop`)
    builds what the strategy is told from the same record with the search's objectives.
    """
    return outcome_from_record(store, store.trial(name), name=name)


class Executor(abc.ABC):
    """Runs the trials the coordinator submits; see the module docstring."""

    #: The name of the executor in ``[X.execution] executor`` (recorded in each trial's ``extra``).
    name = ""

    @property
    @abc.abstractmethod
    def capacity(self) -> int:
        """How many trials may run at once."""

    @property
    @abc.abstractmethod
    def running(self) -> int:
        """How many submitted trials have not been returned by :meth:`wait` yet."""

    @property
    def free(self) -> int:
        """Free slots: how many more trials :meth:`submit` accepts now."""
        return max(self.capacity - self.running, 0)

    @abc.abstractmethod
    def submit(self, request: TrialRequest) -> None:
        """Start ``request`` (on record in the store already); needs a free slot."""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        """The trials that ended since the last call (their state is in the store).

        Blocks until at least one trial ended or ``timeout`` seconds passed (``None``: until one
        ended); returns at once with nothing when no trial is running.
        """

    def reattach(self, request: TrialRequest, record: TrialRecord) -> bool:
        """Take over ``record``, left ``running`` by an earlier coordinator; False = train it again.

        True means the trial is tracked (it takes a slot) and :meth:`wait` will return it.
        """
        return False

    def shutdown(self) -> None:  # noqa: B027 - optional: most executors hold nothing to stop
        """Stop every trial still running (they stay ``running`` in the store and resume later)."""
