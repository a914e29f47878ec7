"""The time cost of a trial: per-step times after warm-up (fake clocks), scaled to the epoch budget."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from scinas.training.step_time import StepTimer


class _FakeClocks:
    """A wall clock and a CPU clock that move by the given step durations, one step per begin/end pair."""

    def __init__(self, wall: Sequence[float], cpu: Sequence[float] | None = None) -> None:
        self.wall_now = 0.0
        self.cpu_now = 0.0
        self._wall: Iterator[float] = iter(wall)
        self._cpu: Iterator[float] = iter(cpu if cpu is not None else wall)
        self._pending = False

    def wall(self) -> float:
        if self._pending:  # the end of a step: move on by its duration
            self.wall_now += next(self._wall)
        return self.wall_now

    def cpu(self) -> float:
        if self._pending:
            self.cpu_now += next(self._cpu)
        self._pending = not self._pending  # the timer reads wall then cpu at each begin and end
        return self.cpu_now


def _fit(timer: StepTimer, steps_per_epoch: Sequence[int]) -> None:
    """Drive ``timer`` through epochs of the given step counts, as ``model.fit`` would."""
    for epoch, steps in enumerate(steps_per_epoch):
        timer.on_epoch_begin(epoch)
        for step in range(steps):
            timer.on_train_batch_begin(step)
            timer.on_train_batch_end(step)
        timer.on_epoch_end(epoch)


def _timer(clocks: _FakeClocks, **kwargs: object) -> StepTimer:
    return StepTimer(wall_clock=clocks.wall, cpu_clock=clocks.cpu, **kwargs)  # type: ignore[arg-type]


def test_warm_up_steps_of_the_first_epoch_are_left_out_and_the_median_is_scaled_to_the_budget() -> None:
    # first epoch: two tracing steps (5 s, 3 s), then 0.1 s steps; a slow 0.9 s step in epoch 2
    clocks = _FakeClocks([5.0, 3.0, 0.1, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1])
    timer = _timer(clocks)
    _fit(timer, [5, 5])
    assert timer.wall_steps == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1])
    assert timer.steps_per_epoch == 5
    assert timer.step_time_s() == pytest.approx(0.1)
    assert timer.time_cost_s(epochs=20) == pytest.approx(0.1 * 5 * 20)  # the budget, not the epochs trained
    assert timer.time_cost_s(epochs=20, steps_per_epoch=8) == pytest.approx(0.1 * 8 * 20)


def test_the_cpu_clock_is_kept_beside_the_wall_clock() -> None:
    clocks = _FakeClocks(wall=[1.0, 1.0, 0.4, 0.5, 0.6], cpu=[1.0, 1.0, 0.2, 0.2, 0.2])
    timer = _timer(clocks, warmup_steps=2)
    _fit(timer, [5])
    assert timer.step_time_s("wall") == pytest.approx(0.5)
    assert timer.step_time_s("cpu") == pytest.approx(0.2)
    assert _timer(_FakeClocks([1.0] * 5), clock="cpu").clock == "cpu"


def test_no_cost_when_no_step_was_timed_after_warm_up() -> None:
    timer = _timer(_FakeClocks([1.0, 1.0]))
    _fit(timer, [2])  # one short epoch: every step is warm-up
    assert timer.step_time_s() is None and timer.time_cost_s(epochs=10) is None
    assert StepTimer().time_cost_s(epochs=3) is None  # never trained
    timer = _timer(_FakeClocks([1.0] * 4), warmup_steps=0)
    _fit(timer, [4])
    assert timer.time_cost_s(epochs=0) is None


def test_a_later_epoch_has_no_warm_up() -> None:
    timer = _timer(_FakeClocks([9.0, 9.0, 0.2, 0.2]))
    _fit(timer, [2, 2])  # a short first epoch is all warm-up; the second epoch's steps count
    assert timer.step_time_s() == pytest.approx(0.2) and timer.steps_per_epoch == 2


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="warmup_steps"):
        StepTimer(warmup_steps=-1)
    with pytest.raises(ValueError, match="clock"):
        StepTimer(clock="gpu")  # type: ignore[arg-type]


def test_a_real_fit_is_timed_step_by_step() -> None:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    timer = StepTimer()
    data = np.zeros((40, 4), dtype="float32"), np.zeros((40, 2), dtype="float32")
    model.fit(*data, batch_size=8, epochs=2, verbose=0, callbacks=[timer])
    assert timer.steps_per_epoch == 5 and len(timer.wall_steps) == 2 * 5 - 2
    cost = timer.time_cost_s(epochs=2)
    assert cost is not None and 0 < cost < 60
