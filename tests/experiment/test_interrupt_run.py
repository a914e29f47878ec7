"""An interrupt that reaches a search between two steps stops it: the dashboard's stop once went
unanswered for minutes there.

Between steps the search fits its predictors, and TensorFlow's tracing runs weak-reference
callbacks all the time; a SIGINT whose ``KeyboardInterrupt`` Python raises inside one of them is
printed as "Exception ignored" and dropped.  The test makes that happen exactly at the step
boundary: the score predictor's fit first runs a ``__del__`` that sends SIGINT to this process (so
Python handles it inside ``__del__``, where the exception cannot propagate), then fits as usual.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.predictors.gin import GINPredictor
from scinas.store import RunStore, TrialStatus
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

FLAGS = ["--no-progress", "-q"]


class _SignalsWhenCollected:
    """Sends SIGINT from ``__del__``: Python handles it there and cannot raise what its handler raises."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


@pytest.mark.slow  # a search to its first step boundary, then resumed to its end
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_dropped_while_the_predictors_fit_stops_the_search(
        write_config: ConfigWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fits: list[int] = []
    fit = GINPredictor.fit
    handler = signal.getsignal(signal.SIGINT)

    def interrupted_fit(self: GINPredictor, inputs: object, targets: object) -> None:
        fits.append(len(fits))
        if len(fits) == 1:  # the first step boundary (one-block cells trained, two-block ones not chosen)
            _SignalsWhenCollected()  # collected at once: the interrupt arrives inside __del__
        fit(self, inputs, targets)  # type: ignore[arg-type]

    monkeypatch.setattr(GINPredictor, "fit", interrupted_fit)
    folder = write_config(TINY_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "P", "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 130
    (run,) = sorted((results / "P").iterdir())
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        assert store.run().status == "interrupted"
        trials = store.trials()
    # stopped at the boundary: every one-block cell trained, no two-block cell started
    assert sorted(t.name for t in trials) == ["B0-0000", "B1-0000", "B1-0001", "B1-0002"]
    assert all(t.status == TrialStatus.COMPLETED for t in trials)
    assert fits == [0]
    assert signal.getsignal(signal.SIGINT) is handler  # the run's own handler is gone
    # and the run resumes from there to its end
    monkeypatch.setattr(GINPredictor, "fit", fit)
    assert main(["run", "--resume", str(run), *FLAGS]) == 0
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        assert store.run().status == "completed"
        assert any(t.name.startswith("B2-") and t.status == TrialStatus.COMPLETED for t in store.trials())
