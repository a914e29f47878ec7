"""The time cost of a trial: what one training step of the architecture costs, scaled to the budget.

A search that minimises training time needs a cost that belongs to the architecture, so that its
time predictor can learn it from the architecture alone.  The wall time of a whole training is a
poor such cost: it includes tracing and compiling the training step (in the first steps of the
first epoch, seconds for a network whose step takes milliseconds), the validation passes,
checkpoints, and whatever else the machine runs meanwhile.

:class:`StepTimer` times every training step and keeps a robust statistic of the steps after the
warm-up (the first ``warmup_steps`` steps of the first epoch it sees, where the step function is
traced): the median, which ignores the occasional slow step (a retrace for a last, partial batch,
a garbage collection, a burst of other load).  The trial's **time cost** is

    time_cost_s = median step time × steps per epoch × epochs of the budget

so it is the time the whole budget would take at the architecture's steady pace, whether the
trial trained its whole budget or stopped early.

Each step is timed with the wall clock and with the process's CPU time (all its threads).  Which
one measures the cost is ``clock``: ``"wall"`` (the default; the only one that sees an
accelerator's work) or ``"cpu"``, which the trainer uses when it trains on the CPU:
``benchmarks/time_cost_stability.py`` measured it far less sensitive to other load there (the
mean under two busy-loop processes within 0.98-1.14 of the mean without, against 0.84-1.67 for
the median wall time per step and 2.7-3.0 for the wall time of the training).

Example::

    timer = StepTimer()
    model.fit(data, epochs=budget, callbacks=[timer])
    timer.time_cost_s(epochs=budget)        # seconds, or None when no step was timed after warm-up
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import keras

__all__ = ["DEFAULT_WARMUP_STEPS", "StepTimer"]

#: Steps at the start of the first epoch left out: the step function is traced (and, with XLA,
#: compiled) on the first call; one more step covers a second trace.
DEFAULT_WARMUP_STEPS = 2

Clock = Callable[[], float]


class StepTimer(keras.callbacks.Callback):
    """Times the training steps of ``model.fit``; see the module docstring.

    ``wall_clock`` and ``cpu_clock`` (seconds, monotonic) are parameters so tests can drive them.
    """

    def __init__(
        self,
        *,
        warmup_steps: int = DEFAULT_WARMUP_STEPS,
        clock: Literal["wall", "cpu"] = "wall",
        wall_clock: Clock = time.perf_counter,
        cpu_clock: Clock = time.process_time,
    ) -> None:
        super().__init__()
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        if clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
        self.warmup_steps = int(warmup_steps)
        self.clock = clock
        self._wall_clock = wall_clock
        self._cpu_clock = cpu_clock
        self.wall_steps: list[float] = []
        self.cpu_steps: list[float] = []
        self.steps_per_epoch = 0
        self._epochs_seen = 0
        self._epoch_steps = 0
        self._started: tuple[float, float] | None = None

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epochs_seen += 1
        self._epoch_steps = 0

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._started = (self._wall_clock(), self._cpu_clock())

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._started is None:
            return
        wall, cpu = self._wall_clock() - self._started[0], self._cpu_clock() - self._started[1]
        self._started = None
        self._epoch_steps += 1
        self.steps_per_epoch = max(self.steps_per_epoch, self._epoch_steps)
        if self._epochs_seen <= 1 and self._epoch_steps <= self.warmup_steps:
            return  # tracing (and compiling) happens here
        self.wall_steps.append(wall)
        self.cpu_steps.append(cpu)

    def step_time_s(self, clock: Literal["wall", "cpu"] | None = None) -> float | None:
        """The median time of a step after warm-up by ``clock`` (default: the timer's), or None."""
        steps = self.wall_steps if (clock or self.clock) == "wall" else self.cpu_steps
        return statistics.median(steps) if steps else None

    def time_cost_s(
        self, epochs: int, *, steps_per_epoch: int | None = None, clock: Literal["wall", "cpu"] | None = None
    ) -> float | None:
        """The time cost of a budget of ``epochs``: median step time × steps per epoch × epochs.

        ``steps_per_epoch`` defaults to the most steps seen in one epoch.  None when no step was
        timed after the warm-up (a single short epoch), so the caller can fall back to wall time.
        """
        step = self.step_time_s(clock)
        steps = self.steps_per_epoch if steps_per_epoch is None else int(steps_per_epoch)
        if step is None or steps < 1 or epochs < 1:
            return None
        return step * steps * int(epochs)
