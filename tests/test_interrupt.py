"""An interrupt Python drops (raised inside ``__del__`` or a weakref callback) is still answered."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from scinas.execution.base import Executor
from scinas.experiment.loop import TrialLoop
from scinas.interrupt import InterruptRequest, check_interrupt, interruptible
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.search.fixed import PlannedStrategy
from scinas.search_space.architecture import LayerStackArchitecture
from scinas.store import RunStore, TrialPhase, TrialStatus

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class _SignalsWhenCollected:
    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


def _drop_an_interrupt() -> None:
    """SIGINT handled inside ``__del__``: its KeyboardInterrupt is printed as ignored, not raised."""
    _SignalsWhenCollected()


def test_a_dropped_interrupt_is_raised_at_the_next_check() -> None:
    before = signal.getsignal(signal.SIGINT)
    with interruptible() as handler:
        assert isinstance(handler, InterruptRequest) and not handler.requested
        check_interrupt()  # nothing requested: nothing raised
        _drop_an_interrupt()  # Python itself goes on as if nothing had happened
        assert handler.requested
        with pytest.raises(KeyboardInterrupt):
            check_interrupt()
        with pytest.raises(KeyboardInterrupt):  # raised at once where Python can, as before
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
    _drop_an_interrupt()  # outside the block: the old behaviour, and nothing is remembered
    check_interrupt()


def test_nested_blocks_share_one_handler_and_an_ignored_sigint_stays_ignored() -> None:
    with interruptible() as outer, interruptible() as inner:
        assert inner is outer is signal.getsignal(signal.SIGINT)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interruptible() as handler:
            assert handler is None and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_off_the_main_thread_nothing_is_installed() -> None:
    seen: list[object] = []

    def worker() -> None:
        with interruptible() as handler:
            seen.append(handler)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [None]


class _Finishing(Executor):
    """Ends each submitted trial at once, completed, in the store."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.queued: list[str] = []

    @property
    def capacity(self) -> int:
        return 1

    @property
    def running(self) -> int:
        return len(self.queued)

    def submit(self, request: TrialRequest) -> None:
        self.queued.append(request.name)

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        name = self.queued.pop()
        record = self.store.trial(name)
        assert record is not None
        self.store.complete_trial(record.trial_id)
        return [TrialOutcome(name, completed=True)]


def test_the_trial_loop_stops_before_the_next_trial_when_the_strategy_dropped_an_interrupt(tmp_path: Path) -> None:
    """The search step boundary in small: the tell that ends a step (predictors fitted there) swallows
    the interrupt, and no further trial starts."""
    requests = [TrialRequest(f"t-{i}", LayerStackArchitecture(())) for i in range(4)]
    strategy = PlannedStrategy(requests)
    tell = strategy.tell

    def tell_and_drop(outcomes: list[TrialOutcome]) -> None:
        tell(outcomes)
        if [o.name for o in outcomes] == ["t-1"]:
            _drop_an_interrupt()

    strategy.tell = tell_and_drop  # type: ignore[method-assign,assignment]
    with RunStore.create(tmp_path / "store.sqlite", run_id="r", experiment="E", seed=0, config_text="",
                         manifest={}) as store:
        loop = TrialLoop(strategy, _Finishing(store), store, phase=TrialPhase.SEARCH, trials_dir=tmp_path)
        with interruptible(), pytest.raises(KeyboardInterrupt):
            loop.run()
        assert [(t.name, t.status) for t in store.trials()] == [("t-0", TrialStatus.COMPLETED),
                                                                 ("t-1", TrialStatus.COMPLETED)]
