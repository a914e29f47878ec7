"""The one trial loop of a run: ask → execute → tell → record, for every phase.

Every trial of a run goes through :class:`TrialLoop`: the trials of a search, the one trial of
a fixed-architecture experiment, the retrainings of model selection and the final training.
Only the strategy differs: a search strategy for the search, a
:class:`~scinas.search.fixed.PlannedStrategy` (it asks for trials known in advance) for the
other phases.  One pass of the loop:

1. **ask** the strategy for as many trials as the executor has free slots;
2. **record**: put each new trial on record in the store, with its :class:`TrialPhase`, before it
   runs (a trial the store holds finished already is answered from the store, never trained
   twice; one left running by an interrupted run is re-attached — a Slurm job — or started
   again);
3. **execute**: submit it, and collect the trials that ended as they come;
4. **tell** the strategy each result, built from the trial's store record by
   :func:`~scinas.search.outcome.outcome_from_record`, then save the strategy's state atomically.

What a trial can cause — a NaN loss, running out of memory, a model that cannot be built, a
worker or Slurm job that died — is a failed trial in the store (the executor records it, see
:func:`scinas.execution.task.train_recorded`) and the loop goes on.  Anything else raised while
the loop runs (a bug in scinas, a broken strategy) stops it: the strategy's state saved after
the last tell and the store's records are kept, the trials still running stay ``running`` and
are trained again on resume (see :meth:`scinas.experiment.run.ExperimentRun.execute`).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from scinas.atomic import write_json_atomic
from scinas.errors import ScinasError
from scinas.execution.base import Executor
from scinas.interrupt import check_interrupt
from scinas.search.base import SearchStrategy, TrialOutcome, TrialRequest
from scinas.search.domain import Objectives
from scinas.search.outcome import outcome_from_record
from scinas.store import RunStore, TrialPhase, TrialStatus
from scinas.store.layout import TrialLayout

__all__ = ["TrialLoop", "load_strategy_state", "save_strategy_state"]

logger = logging.getLogger(__name__)


def save_strategy_state(path: Path, name: str, strategy: SearchStrategy) -> None:
    """Write ``{"strategy": name, "state": ...}`` to ``path`` atomically (what resume reads)."""
    write_json_atomic(path, {"strategy": name, "state": strategy.state()}, indent=None)


def load_strategy_state(path: Path) -> tuple[str | None, dict[str, Any]] | None:
    """``(strategy name, state)`` saved at ``path``, or None when there is none yet."""
    if not path.exists():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(saved, dict) and isinstance(saved.get("state"), dict):
        name = saved.get("strategy")
        return (None if name is None else str(name)), saved["state"]
    return None, saved  # a fixed experiment's state as it was written before {"strategy", "state"}


class TrialLoop:
    """Runs ``strategy`` to its end through ``executor``, recording every trial as ``phase``.

    ``objectives`` are the search's (``None`` for a fixed experiment: its outcomes carry no
    fitness).  With ``state_path``, the strategy's state is saved there after every tell under
    ``strategy_name``.  ``restart_unfinished``: an interrupted trial starts again from its first
    epoch (the search, so a resumed search is the same as an uninterrupted one) instead of
    continuing from its checkpoint.  ``annotate`` gives the ``extra`` fields of a new trial;
    ``after_tell`` is called with each batch of outcomes after the state was saved.
    ``waited_s`` is the time spent submitting trials and waiting for them (the rest of the
    loop's time is its own overhead).
    """

    def __init__(self, strategy: SearchStrategy, executor: Executor, store: RunStore, *, phase: TrialPhase,
                 trials_dir: Path, objectives: Objectives | None = None, state_path: Path | None = None,
                 strategy_name: str = "", restart_unfinished: bool = False,
                 annotate: Callable[[TrialRequest], Mapping[str, Any]] | None = None,
                 after_tell: Callable[[Sequence[TrialOutcome]], object] | None = None) -> None:
        self.strategy = strategy
        self.executor = executor
        self.store = store
        self.phase = phase
        self.trials_dir = trials_dir
        self.objectives = objectives
        self.state_path = state_path
        self.strategy_name = strategy_name
        self.restart_unfinished = restart_unfinished
        self.annotate = annotate
        self.after_tell = after_tell
        self.waited_s = 0.0

    def run(self) -> None:
        """Loop until the strategy is finished (see the module docstring).

        The strategy is asked for as many trials as the executor has free slots and told each
        result as soon as its trial ends (no waiting for the slowest of a batch); with one slot
        (the inline executor) this is ask one, train it, tell it.
        """
        in_flight: set[str] = set()
        try:
            while True:
                check_interrupt()  # an interrupt dropped where Python could not raise it (scinas.interrupt)
                asked = False
                while not self.strategy.finished and self.executor.free > 0:
                    requests = self.strategy.ask(self.executor.free)
                    check_interrupt()
                    if not requests:
                        break
                    asked = True
                    began = time.perf_counter()
                    ready = []
                    for request in requests:
                        outcome = self._start(request)
                        if outcome is None:
                            in_flight.add(request.name)
                        else:
                            ready.append(outcome)
                    self.waited_s += time.perf_counter() - began
                    if ready:
                        self._tell(ready)
                if not in_flight:
                    if self.strategy.finished:
                        break
                    if asked:
                        continue
                    raise ScinasError(f"the {type(self.strategy).__name__} strategy asked for nothing while no "
                                      "trial was outstanding (a strategy bug); the run is saved and resumable")
                began = time.perf_counter()
                ended = self.executor.wait()
                self.waited_s += time.perf_counter() - began
                outcomes = []
                for ended_outcome in ended:
                    in_flight.discard(ended_outcome.name)
                    outcomes.append(self._recorded(ended_outcome.name))
                if outcomes:
                    self._tell(outcomes)
        finally:
            if in_flight:  # stopped: what still runs stays `running` in the store and restarts on resume
                self.executor.shutdown()

    def _tell(self, outcomes: list[TrialOutcome]) -> None:
        """Tell the strategy, then save its state atomically."""
        self.strategy.tell(outcomes)
        if self.state_path is not None:
            save_strategy_state(self.state_path, self.strategy_name, self.strategy)
        if self.after_tell is not None:
            self.after_tell(outcomes)

    def _start(self, request: TrialRequest) -> TrialOutcome | None:
        """Record and submit ``request``; its outcome at once when the store holds it finished."""
        record = self.store.trial(request.name)
        if record is not None and record.status in (TrialStatus.COMPLETED, TrialStatus.FAILED):
            return outcome_from_record(self.store, record, self.objectives)
        if record is not None:  # interrupted: reattach (a Slurm job), else start it again
            if self.executor.reattach(request, record):
                return None
            if self.restart_unfinished:
                shutil.rmtree(TrialLayout(self.trials_dir / request.name).checkpoint, ignore_errors=True)
                self.store.truncate_epochs(record.trial_id, after=0)
        else:  # on record (with its phase) before it runs
            record = self.store.add_trial(request.name, architecture=request.architecture.to_text(),
                                          architecture_json=json.dumps(request.architecture.to_json()),
                                          phase=self.phase)
            extra = dict(self.annotate(request)) if self.annotate is not None else {}
            if extra:
                self.store.update_trial(record.trial_id, extra=extra)
        self.executor.submit(request)
        return None

    def _recorded(self, name: str) -> TrialOutcome:
        record = self.store.trial(name)
        if record is None:
            raise ScinasError(f"trial {name} left no record in the store (an executor bug)")
        return outcome_from_record(self.store, record, self.objectives)
