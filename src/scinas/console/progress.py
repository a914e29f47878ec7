"""A run's progress on the console: one display for the search and one line per finished trial.

:class:`RunConsole` is a listener of the run store (:meth:`scinas.store.RunStore.add_listener`),
as the trackers are: it sees every committed trial start, epoch, evaluation, completion and
failure, whichever executor trained the trial, and never changes the run.  What it shows:

* a search: one progress display (trials done of the budget, running, failed, the best
  validation score so far, elapsed time and the estimated time left) and one line per finished
  trial;
* a single training (a fixed experiment, a selection or the final training): its epochs with
  their metrics.

Two views: *live* (:class:`LiveView`, tqdm bars that redraw in place, for a terminal) and
*plain* (:class:`PlainView`, whole lines only, for a log file, ``--no-progress`` or ``-v``).
Plain output of a short search looks like::

    A: popnas search, at most 4 trials - results/A/20261204-161615-69af
    A B0-0000 completed in 0.7 s, 2 epochs: validation accuracy 0.1037 | 1/4 trials, 0 failed, 0 running,
    best 0.1037 (B0-0000), 0:03 elapsed, about 0:09 left
    A B1-0000 failed in 2.0 s: the loss became NaN at epoch 2 | 2/4 trials, 1 failed, ...

(each trial on one line; wrapped here).

Example::

    console = RunConsole(RunOutline.of(plan.config, run.run_dir), view=PlainView(sys.stdout))
    with console.attached(run.store):
        run.execute()
"""

from __future__ import annotations

import abc
import contextlib
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scinas.store import RunStore, TrialRecord, TrialStatus
from scinas.store.events import StoreEvent, StoreEventKind

if TYPE_CHECKING:
    from tqdm import tqdm

    from scinas.config.experiment import ExperimentConfig

__all__ = ["LiveView", "PlainView", "RunConsole", "RunOutline", "SearchTally", "View", "format_duration",
           "logs_above_bars"]

#: Metrics shown per epoch, each with its validation twin: the loss and the first other one.
_EPOCH_METRICS = 2


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``."""
    seconds = max(round(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}"


def _phase(trial: TrialRecord) -> str:
    return trial.phase.value


@dataclass(frozen=True)
class RunOutline:
    """What the console knows of a run before it starts: its name, folder, search and epochs.

    ``strategy`` is ``None`` for a fixed experiment; ``epochs`` maps a trial's phase (``search``,
    ``fixed``, ``selection``, ``final``: the store's ``phase`` column) to the epochs it trains.
    """

    experiment: str
    run_dir: Path
    strategy: str | None = None
    budget: int | None = None
    score: str | None = None
    maximize: bool = True
    epochs: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, config: ExperimentConfig, run_dir: Path) -> RunOutline:
        """The outline of a run of ``config`` in ``run_dir``."""
        training = config.training.epochs
        selection = config.selection.epochs if config.selection is not None and config.selection.epochs else None
        final = config.final.epochs if config.final is not None and config.final.epochs else None
        epochs = {"search": training, "fixed": training, "selection": selection or training,
                  "final": final or selection or training}
        search = config.search
        if search is None:
            return cls(config.name, run_dir, epochs=epochs)
        return cls(config.name, run_dir, strategy=search.strategy, budget=search.budget, score=search.score,
                   maximize=search.maximize, epochs=epochs)

    @property
    def header(self) -> str:
        """The line that opens the run, e.g. ``A: popnas search, at most 40 trials - results/A/<run>``."""
        if self.strategy is None:
            what = "training"
        else:
            what = f"{self.strategy} search" + (f", at most {self.budget} trials" if self.budget else "")
        return f"{self.experiment}: {what} - {self.run_dir}"


@dataclass
class SearchTally:
    """Counts of a search's trials and the best validation score so far (``maximize``: larger is better).

    ``done`` counts finished trials (completed or failed), ``done_before`` those finished before
    this process (a resumed run); the time left is estimated from this process's pace.
    """

    budget: int | None
    maximize: bool = True
    started: float = 0.0
    done: int = 0
    failed: int = 0
    done_before: int = 0
    running: set[str] = field(default_factory=set)
    best: tuple[float, str] | None = None

    def finished(self, name: str, score: float | None, *, failed: bool) -> None:
        """Count the end of trial ``name`` (its validation ``score``, ``None`` if there is none)."""
        self.running.discard(name)
        self.done += 1
        self.failed += int(failed)
        if score is not None and not math.isnan(score) and (
                self.best is None or (score > self.best[0] if self.maximize else score < self.best[0])):
            self.best = (score, name)

    def left_s(self, now: float) -> float | None:
        """Seconds the rest of the budget will take at this process's pace; ``None`` if unknown."""
        done_now = self.done - self.done_before
        if self.budget is None or done_now <= 0:
            return None
        return (now - self.started) / done_now * max(self.budget - self.done, 0)

    def counts(self) -> str:
        """``3/40 trials, 1 failed, 1 running`` (``3 trials`` without a budget)."""
        total = f"{self.done}/{self.budget}" if self.budget else f"{self.done}"
        return f"{total} trials, {self.failed} failed, {len(self.running)} running"

    def best_text(self) -> str:
        return "best -" if self.best is None else f"best {_number(self.best[0])} ({self.best[1]})"

    def summary(self, now: float) -> str:
        """Counts, best score, elapsed time and time left in one line (the plain view's trial suffix)."""
        left = self.left_s(now)
        text = f"{self.counts()}, {self.best_text()}, {format_duration(now - self.started)} elapsed"
        return text + (f", about {format_duration(left)} left" if left is not None else "")


class View(abc.ABC):
    """Where :class:`RunConsole` draws: lines (:meth:`line`), a search display, a training display.

    ``draws_search`` says whether :meth:`search` shows the counts itself (then a finished trial's
    line leaves them out).
    """

    draws_search = False

    @abc.abstractmethod
    def line(self, text: str) -> None:
        """Show one whole line (a header, a finished trial)."""

    def search(self, title: str, tally: SearchTally, activity: str) -> None:  # noqa: B027 - optional
        """Show the search's state; ``activity`` is what runs now (e.g. ``B1-0002 epoch 2/4``)."""

    def training(self, title: str, epoch: int, total: int, metrics: str) -> None:
        """Show the epochs of a single training (plain: one line per epoch)."""
        self.line(f"{title} epoch {epoch}/{total}: {metrics}")

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Take the displays down (the lines already shown stay)."""


class PlainView(View):
    """Whole lines on ``stream``, flushed at once: readable in a log file and in a pipe."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class LiveView(View):
    """tqdm bars on ``stream`` (a terminal) that redraw in place; lines are printed above them."""

    draws_search = True

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._search: tqdm[None] | None = None
        self._training: tqdm[None] | None = None
        self._training_title = ""

    def line(self, text: str) -> None:
        from tqdm import tqdm

        tqdm.write(text, file=self.stream)

    def _bar(self, **options: Any) -> tqdm[None]:
        from tqdm import tqdm

        return tqdm(file=self.stream, dynamic_ncols=True, **options)

    def search(self, title: str, tally: SearchTally, activity: str) -> None:
        bar = self._search
        if bar is None:
            bar = self._search = self._bar(total=tally.budget, initial=tally.done, desc=title, unit="trial",
                                           leave=True)
        bar.n = tally.done
        postfix = f"{tally.failed} failed, {len(tally.running)} running, {tally.best_text()}"
        bar.set_postfix_str(postfix + (f" | {activity}" if activity else ""), refresh=False)
        bar.refresh()

    def training(self, title: str, epoch: int, total: int, metrics: str) -> None:
        if self._search is not None:  # single trainings come after the search
            self._search.close()
            self._search = None
        bar = self._training
        if bar is None or title != self._training_title:
            self._close_training()
            self._training_title = title
            bar = self._training = self._bar(total=total, initial=epoch - 1, desc=title, unit="epoch", leave=False)
        bar.n = epoch
        bar.set_postfix_str(metrics, refresh=False)
        bar.refresh()

    def _close_training(self) -> None:
        if self._training is not None:
            self._training.close()
            self._training = None

    def close(self) -> None:
        self._close_training()
        if self._search is not None:
            self._search.close()
            self._search = None


class _AboveBars(logging.StreamHandler):  # type: ignore[type-arg]
    """A console log handler that prints its records above tqdm's bars instead of through them."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging's own contract: a handler reports its failure, never raises
            self.handleError(record)


@contextlib.contextmanager
def logs_above_bars(logger: logging.Logger | None = None) -> Iterator[None]:
    """While live bars are drawn, the console handlers of ``logger`` (default: the root logger)
    print above them; their levels, filters and formats stay as they were."""
    logger = logger if logger is not None else logging.getLogger()
    swapped: list[tuple[logging.Handler, logging.Handler]] = []
    for handler in list(logger.handlers):
        if type(handler) is logging.StreamHandler and handler.stream in (sys.stdout, sys.stderr):
            replacement: logging.Handler = _AboveBars(handler.stream)
            replacement.setLevel(handler.level)
            replacement.setFormatter(handler.formatter)
            for log_filter in handler.filters:
                replacement.addFilter(log_filter)
            logger.removeHandler(handler)
            logger.addHandler(replacement)
            swapped.append((handler, replacement))
    try:
        yield
    finally:
        for original, replacement in swapped:
            logger.removeHandler(replacement)
            logger.addHandler(original)


class RunConsole:
    """The store listener that shows one run's progress on a :class:`View` (see the module docstring)."""

    def __init__(self, outline: RunOutline, view: View, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.outline = outline
        self.view = view
        self.clock = clock
        self.tally = SearchTally(outline.budget, outline.maximize, started=clock())
        self._final: dict[int, dict[str, Mapping[str, float]]] = {}  # trial id -> split -> final metrics
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def attached(self, store: RunStore) -> Iterator[RunConsole]:
        """Show the header, follow ``store`` inside the block, then take the display down."""
        self.resume_from(store.trials())
        self.view.line(self.outline.header)
        store.add_listener(self)
        try:
            yield self
        finally:
            store.remove_listener(self)
            self.view.close()

    def resume_from(self, trials: list[TrialRecord]) -> None:
        """Count the search trials a resumed run finished before (their scores are not re-read)."""
        for trial in trials:
            if _phase(trial) == "search" and trial.status in (TrialStatus.COMPLETED, TrialStatus.FAILED):
                self.tally.finished(trial.name, None, failed=trial.status == TrialStatus.FAILED)
        self.tally.done_before = self.tally.done

    def __call__(self, event: StoreEvent) -> None:
        with self._lock:
            self._show(event)

    def _searching(self, trial: TrialRecord) -> bool:
        return self.outline.strategy is not None and _phase(trial) == "search"

    def _show(self, event: StoreEvent) -> None:
        trial = event.trial
        if event.kind is StoreEventKind.METRICS_RECORDED:
            if event.metrics_epoch is None and event.split is not None:
                self._final.setdefault(trial.trial_id, {})[str(event.split)] = dict(event.values)
            return
        if event.kind is StoreEventKind.TRIAL_STARTED:
            if self._searching(trial):
                self.tally.running.add(trial.name)
                self.view.search(self._search_title, self.tally, trial.name)
            return
        if event.kind is StoreEventKind.EPOCH_RECORDED and event.epoch is not None:
            total = self.outline.epochs.get(_phase(trial), event.epoch.epoch)
            if self._searching(trial):
                self.view.search(self._search_title, self.tally, f"{trial.name} epoch {event.epoch.epoch}/{total}")
            else:
                self.view.training(self._training_title(trial), event.epoch.epoch, max(total, event.epoch.epoch),
                                   _epoch_metrics(event.epoch.metrics))
            return
        if event.kind in (StoreEventKind.TRIAL_COMPLETED, StoreEventKind.TRIAL_FAILED):
            self._finished(trial, failed=event.kind is StoreEventKind.TRIAL_FAILED)

    @property
    def _search_title(self) -> str:
        return f"{self.outline.experiment} search"

    def _training_title(self, trial: TrialRecord) -> str:
        phase = _phase(trial)
        label = "" if phase in ("search", "fixed", trial.name) else f" ({phase})"
        return f"{self.outline.experiment} {trial.name}{label}"

    def _finished(self, trial: TrialRecord, *, failed: bool) -> None:
        final = self._final.pop(trial.trial_id, {})
        # the final training learns from the validation split too: only its test score means something
        split = "test" if _phase(trial) == "final" else "validation"
        score_name = self.outline.score or "loss"
        score = final.get(split, {}).get(score_name)
        line = f"{self._training_title(trial)} {self._outcome(trial, failed)}"
        if not failed and score is not None:
            line += f": {split} {score_name} {_number(score)}"
        if self._searching(trial):
            self.tally.finished(trial.name, None if failed else score, failed=failed)
            self.view.search(self._search_title, self.tally, "")
            if not self.view.draws_search:
                line += f" | {self.tally.summary(self.clock())}"
        self.view.line(line)

    @staticmethod
    def _outcome(trial: TrialRecord, failed: bool) -> str:
        took = f" in {trial.train_time_s:.1f} s" if trial.train_time_s is not None else ""
        if failed:
            return f"failed{took}: {trial.failure_reason or 'no reason recorded'}"
        epochs = trial.epochs_completed
        return f"completed{took}" + (f", {epochs} epoch{'s' if epochs != 1 else ''}" if epochs is not None else "")


def _epoch_metrics(metrics: Mapping[str, float]) -> str:
    """The loss and the first other metric, each with its validation twin: ``loss 0.419, val_loss 0.443, ...``."""
    bases = sorted({name.removeprefix("val_") for name in metrics}, key=lambda name: (name != "loss", name))
    shown = [name for base in bases[:_EPOCH_METRICS] for name in (base, f"val_{base}") if name in metrics]
    return ", ".join(f"{name} {_number(metrics[name])}" for name in shown)
