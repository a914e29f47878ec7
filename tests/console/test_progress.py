"""The run console: one display per search, one line per finished trial, epochs of a single training."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scinas.console.progress import LiveView, PlainView, RunConsole, RunOutline, format_duration, logs_above_bars
from scinas.store import EpochRecord, RunStore, TrialPhase


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    made = RunStore.create(tmp_path / "store.sqlite", run_id="r1", experiment="A", seed=1, config_text="",
                           manifest={})
    yield made
    made.close()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _trial(store: RunStore, name: str, *, score: float | None, epochs: int = 2, phase: str | None = None,
           fail: str | None = None) -> None:
    """Write what a trainer writes for one trial: start, epochs, final metrics, completion or failure."""
    record = store.start_trial(name, architecture=name, phase=TrialPhase(phase or "search"))
    for epoch in range(1, epochs + 1):
        store.record_epoch(EpochRecord(record.trial_id, epoch, metrics={"loss": 1.0 / epoch, "val_loss": 2.0 / epoch,
                                                                       "accuracy": 0.5, "val_accuracy": 0.4}))
    if fail is not None:
        store.fail_trial(record.trial_id, fail, train_time_s=1.5)
        return
    if score is not None:
        store.record_metrics(record.trial_id, "validation", {"accuracy": score, "loss": 0.3})
    store.record_metrics(record.trial_id, "test", {"accuracy": 0.5, "loss": 0.4})
    store.complete_trial(record.trial_id, epochs_completed=epochs, train_time_s=2.0)


def _search_outline(tmp_path: Path, budget: int | None = 3) -> RunOutline:
    return RunOutline("A", tmp_path / "A" / "r1", strategy="popnas", budget=budget, score="accuracy",
                      maximize=True, epochs={"search": 2, "selection": 4, "final": 5})


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 7.4, 750, 3723)] == ["0:00", "0:07", "12:30", "1:02:03"]


def test_a_search_shows_one_line_per_finished_trial_with_counts_best_and_time_left(
        store: RunStore, tmp_path: Path) -> None:
    out = io.StringIO()
    clock = Clock()
    console = RunConsole(_search_outline(tmp_path), PlainView(out), clock=clock)
    with console.attached(store):
        clock.now += 10
        _trial(store, "B0-0000", score=0.40)
        clock.now += 10
        _trial(store, "B1-0000", score=None, fail="the loss became NaN at epoch 2")
        clock.now += 10
        _trial(store, "B1-0001", score=0.90)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"A: popnas search, at most 3 trials - {tmp_path / 'A' / 'r1'}"
    assert len(lines) == 4, lines  # the header and one line per trial: no epoch lines
    assert lines[1] == ("A B0-0000 completed in 2.0 s, 2 epochs: validation accuracy 0.4 | 1/3 trials, 0 failed, "
                        "0 running, best 0.4 (B0-0000), 0:10 elapsed, about 0:20 left")
    assert lines[2].startswith("A B1-0000 failed in 1.5 s: the loss became NaN at epoch 2 | 2/3 trials, 1 failed")
    assert "about 0:10 left" in lines[2]
    assert lines[3].endswith("3/3 trials, 1 failed, 0 running, best 0.9 (B1-0001), 0:30 elapsed, about 0:00 left")


def test_a_minimised_score_keeps_the_smallest_and_no_budget_means_no_estimate(store: RunStore,
                                                                              tmp_path: Path) -> None:
    out = io.StringIO()
    outline = RunOutline("A", tmp_path, strategy="popnas", budget=None, score="accuracy", maximize=False,
                         epochs={"search": 2})
    with RunConsole(outline, PlainView(out), clock=Clock()).attached(store):
        _trial(store, "B0-0000", score=0.4)
        _trial(store, "B0-0001", score=0.9)
    last = out.getvalue().splitlines()[-1]
    assert "2 trials, 0 failed, 0 running, best 0.4 (B0-0000)" in last
    assert "left" not in last and "at most" not in out.getvalue()


def test_retrainings_after_the_search_show_their_epochs_and_phase(store: RunStore, tmp_path: Path) -> None:
    out = io.StringIO()
    with RunConsole(_search_outline(tmp_path), PlainView(out), clock=Clock()).attached(store):
        _trial(store, "B0-0000", score=0.4)
        _trial(store, "select-00", score=0.8, epochs=4, phase="selection")
        _trial(store, "final", score=0.99, epochs=1, phase="final")
    lines = out.getvalue().splitlines()
    assert "A select-00 (selection) epoch 4/4: loss 0.25, val_loss 0.5, accuracy 0.5, val_accuracy 0.4" in lines
    assert "A select-00 (selection) completed in 2.0 s, 4 epochs: validation accuracy 0.8" in lines
    assert "A final epoch 1/5: loss 1, val_loss 2, accuracy 0.5, val_accuracy 0.4" in lines
    # trained on train + validation: its test score is shown, never a validation score
    assert lines[-1] == "A final completed in 2.0 s, 1 epoch: test accuracy 0.5"


def test_a_fixed_experiment_shows_each_epoch(store: RunStore, tmp_path: Path) -> None:
    out = io.StringIO()
    outline = RunOutline("E", tmp_path, epochs={"search": 3, "selection": 3, "final": 3})
    with RunConsole(outline, PlainView(out)).attached(store):
        _trial(store, "trial-0000", score=0.6, epochs=3)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"E: training - {tmp_path}"
    assert [line.split(":")[0] for line in lines[1:4]] == [f"E trial-0000 epoch {n}/3" for n in (1, 2, 3)]
    assert lines[4] == "E trial-0000 completed in 2.0 s, 3 epochs: validation loss 0.3"


def test_a_resumed_search_counts_the_trials_it_finished_before(store: RunStore, tmp_path: Path) -> None:
    _trial(store, "B0-0000", score=0.4)
    out = io.StringIO()
    with RunConsole(_search_outline(tmp_path), PlainView(out), clock=Clock()).attached(store):
        _trial(store, "B1-0000", score=0.5)
    assert "2/3 trials, 0 failed" in out.getvalue().splitlines()[-1]


def test_the_console_stops_listening_when_detached(store: RunStore, tmp_path: Path) -> None:
    out = io.StringIO()
    with RunConsole(_search_outline(tmp_path), PlainView(out), clock=Clock()).attached(store):
        pass
    _trial(store, "B0-0000", score=0.4)
    assert len(out.getvalue().splitlines()) == 1


def test_the_live_view_draws_bars_and_prints_finished_trials(store: RunStore, tmp_path: Path) -> None:
    out = io.StringIO()
    with RunConsole(_search_outline(tmp_path), LiveView(out), clock=Clock()).attached(store):
        _trial(store, "B0-0000", score=0.4)
        _trial(store, "select-00", score=0.8, epochs=2, phase="selection")
    text = out.getvalue()
    assert "A search" in text and "trial" in text and "best 0.4 (B0-0000)" in text  # the search bar
    assert "A B0-0000 completed in 2.0 s, 2 epochs: validation accuracy 0.4\n" in text  # counts: in the bar
    assert "A select-00 (selection)" in text and "epoch" in text  # the training bar


def test_log_records_go_above_the_bars_with_their_level_kept(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("scinas.test.console")
    logger.propagate = False
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    logger.addHandler(console)
    logger.setLevel(logging.INFO)
    try:
        with logs_above_bars(logger):
            assert [type(h).__name__ for h in logger.handlers] == ["_AboveBars"]
            logger.info("an info record")
            logger.warning("a warning")
        assert logger.handlers == [console]
    finally:
        logger.removeHandler(console)
        logger.propagate = True
    err = capsys.readouterr().err
    assert "a warning" in err and "an info record" not in err
