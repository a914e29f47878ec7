"""The asynchronous coordinator (SearchPhase): asks for as many trials as there are free workers,
tells each result as it comes, and resumes with trials in flight.  A scripted executor "trains"
by writing records, so the tests are exact and fast."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from scinas.config.loading import load_config
from scinas.config.structure import SearchStructure
from scinas.execution.base import Executor, outcome_of
from scinas.experiment.plan import plan_experiments
from scinas.experiment.search import SearchPhase
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.search.cell_domain import CellDomain
from scinas.search.domain import Objectives
from scinas.search.random import RandomStrategy
from scinas.store import RunStore, TrialStatus
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter


class RecordingRandom(RandomStrategy):
    """Random search that remembers how many trials it was asked for and what it was told."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked: list[int] = []
        self.told: list[list[str]] = []

    def ask(self, n: int) -> list[TrialRequest]:
        self.asked.append(n)
        return super().ask(n)

    def tell(self, outcomes: Sequence[TrialOutcome]) -> None:
        self.told.append([outcome.name for outcome in outcomes])
        super().tell(outcomes)


class ScriptedExecutor(Executor):
    """``slots`` trials at once; each ``wait`` ends the oldest one, writing its record like a worker
    would (score from the architecture's text, one in five fails).  ``interrupt_after`` raises
    KeyboardInterrupt on that ``wait`` call, as a killed coordinator would stop."""

    name = "scripted"

    def __init__(self, store: RunStore, slots: int, interrupt_after: int | None = None) -> None:
        self.store = store
        self.slots = slots
        self.interrupt_after = interrupt_after
        self.queue: list[TrialRequest] = []
        self.submitted: list[str] = []
        self.waits = 0
        self.shut_down = False

    @property
    def capacity(self) -> int:
        return self.slots

    @property
    def running(self) -> int:
        return len(self.queue)

    def submit(self, request: TrialRequest) -> None:
        assert self.free > 0, "submitted beyond capacity"
        self.queue.append(request)
        self.submitted.append(request.name)
        self.store.start_trial(request.name, architecture=request.architecture.to_text())

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        self.waits += 1
        if self.interrupt_after is not None and self.waits > self.interrupt_after:
            raise KeyboardInterrupt
        if not self.queue:
            return []
        request = self.queue.pop(0)
        record = self.store.trial(request.name)
        assert record is not None
        code = zlib.crc32(request.architecture.to_text().encode())
        if code % 5 == 0:
            self.store.fail_trial(record.trial_id, "scripted failure")
        else:
            self.store.record_metrics(record.trial_id, "validation", {"r_squared": (code % 1000) / 1000})
            self.store.complete_trial(record.trial_id, train_time_s=1.0 + code % 7, epochs_completed=1)
        return [outcome_of(self.store, request.name)]

    def shutdown(self) -> None:
        self.shut_down = True
        self.queue.clear()


@pytest.fixture
def search_parts(write_config: ConfigWriter) -> tuple[CellDomain, Objectives]:
    folder = write_config(TINY_SEARCH, SERIES_DATA)
    plan = plan_experiments(load_config(folder), ["P"])[0]
    structure = plan.config.structure
    assert isinstance(structure, SearchStructure) and structure.space is not None
    return CellDomain(structure.space, structure.macro), Objectives("r_squared", True, ("time",))


def _phase(tmp_path: Path, name: str, parts: tuple[CellDomain, Objectives], slots: int,
           interrupt_after: int | None = None, store: RunStore | None = None
           ) -> tuple[SearchPhase, RecordingRandom, ScriptedExecutor]:
    domain, objectives = parts
    run_dir = tmp_path / name
    run_dir.mkdir(exist_ok=True)
    store = store or RunStore.create(run_dir / "store.sqlite", run_id=name, experiment="P", seed=1,
                                     config_text="", manifest={})
    strategy = RecordingRandom(domain, objectives, budget=7, seed=5)
    state_path = run_dir / "strategy.json"
    if state_path.exists():
        strategy.load_state(json.loads(state_path.read_text())["state"])
    executor = ScriptedExecutor(store, slots, interrupt_after)
    return (SearchPhase(strategy, domain, objectives, executor, store, run_dir, state_path, strategy_name="random"),
            strategy, executor)


def _records(store: RunStore) -> list[tuple[str, str, str]]:
    return sorted((t.name, t.architecture, t.status.value) for t in store.trials())


def test_the_strategy_is_asked_for_as_many_trials_as_free_workers(tmp_path: Path,
                                                                 search_parts: tuple[CellDomain, Objectives]) -> None:
    phase, strategy, executor = _phase(tmp_path, "three", search_parts, slots=3)
    phase.run()
    # three free workers at the start, then one free worker after each result
    assert strategy.asked[:5] == [3, 1, 1, 1, 1]
    # every result is told alone, as soon as its trial ended (no waiting for a batch)
    assert all(len(told) == 1 for told in strategy.told) and len(strategy.told) == 7
    assert executor.submitted == [name for (name,) in strategy.told]
    assert len(executor.submitted) == 7 and strategy.finished
    with_one, one_strategy, _ = _phase(tmp_path, "one", search_parts, slots=1)
    with_one.run()
    assert set(one_strategy.asked) == {1}
    # the same seeded search: the same trials, whatever the number of workers
    assert _records(phase.store) == _records(with_one.store)


def test_resume_with_trials_in_flight_restarts_them_and_trains_nothing_twice(
        tmp_path: Path, search_parts: tuple[CellDomain, Objectives]) -> None:
    whole, _, _ = _phase(tmp_path, "whole", search_parts, slots=3)
    whole.run()

    first, _, first_executor = _phase(tmp_path, "killed", search_parts, slots=3, interrupt_after=2)
    with pytest.raises(KeyboardInterrupt):
        first.run()
    assert first_executor.shut_down
    in_flight = [t.name for t in first.store.trials() if t.status == TrialStatus.RUNNING]
    finished = {t.name for t in first.store.trials() if t.status != TrialStatus.RUNNING}
    assert len(in_flight) == 3 and len(finished) == 2

    resumed, _, executor = _phase(tmp_path, "killed", search_parts, slots=3, store=first.store)
    resumed.run()
    assert executor.submitted[:3] == in_flight  # re-asked first, trained again from the start
    assert not finished & set(executor.submitted)  # nothing that ended is trained twice
    assert _records(resumed.store) == _records(whole.store)
    attempts = {t.name: t.attempts for t in resumed.store.trials()}
    assert all(attempts[name] == 2 for name in in_flight)
