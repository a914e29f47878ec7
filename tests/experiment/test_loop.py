"""The one trial loop: every phase of a run goes through it, and a bug stops the run instead of
being recorded as a failed trial."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.experiment.loop import TrialLoop
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.search.fixed import FixedStrategy, PlannedStrategy
from scinas.search_space.architecture import LayerStackArchitecture
from scinas.store import RunStatus, RunStore, TrialPhase, TrialStatus
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

FLAGS = ["--no-progress", "-q"]
# the smallest search with selection and a final training: 2 search trials, 1 retraining, the final one
SMALL_SEARCH = ["P.search.max_children=1", "P.search.max_exploration_children=0", "P.search_space.blocks=1",
                "P.selection.top_k=1", "P.selection.epochs=1", "P.final.epochs=1", "P.final.onnx=false"]


def _only_run(results: Path, experiment: str) -> Path:
    (run,) = sorted((results / experiment).iterdir())
    return run


def _phases(run: Path) -> dict[str, TrialPhase]:
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        return {trial.name: trial.phase for trial in store.trials()}


def test_planned_strategy_asks_each_trial_once_and_resumes_what_was_not_told() -> None:
    architecture = LayerStackArchitecture(())
    requests = [TrialRequest(f"select-{i:02d}", architecture) for i in range(3)]
    strategy = PlannedStrategy(requests)
    assert [r.name for r in strategy.ask(2)] == ["select-00", "select-01"]
    assert [r.name for r in strategy.ask(5)] == ["select-02"] and strategy.ask(1) == []
    strategy.tell([TrialOutcome("select-01", completed=True, fitness=0.5), TrialOutcome("other", completed=True)])
    assert not strategy.finished and set(strategy.outcomes) == {"select-01"}
    resumed = PlannedStrategy(requests)
    resumed.load_state(strategy.state())
    assert [r.name for r in resumed.ask(5)] == ["select-00", "select-02"]
    resumed.tell([TrialOutcome("select-00", completed=False), TrialOutcome("select-02", completed=True)])
    assert resumed.finished
    fixed = FixedStrategy(architecture)
    fixed.load_state({"asked": True, "done": True})  # the state a fixed run wrote before
    assert fixed.finished and fixed.ask(1) == []
    with pytest.raises(ValueError, match="unique"):
        PlannedStrategy([requests[0], requests[0]])


def test_every_phase_of_a_run_goes_through_the_trial_loop(write_config: ConfigWriter, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    loops: list[tuple[TrialPhase, str, list[str]]] = []
    run_loop = TrialLoop.run

    def recording(self: TrialLoop) -> None:
        told: list[str] = []
        tell = self.strategy.tell

        def telling(outcomes: Sequence[TrialOutcome]) -> None:
            told.extend(outcome.name for outcome in outcomes)
            tell(outcomes)

        self.strategy.tell = telling  # type: ignore[method-assign]
        run_loop(self)
        loops.append((self.phase, type(self.strategy).__name__, told))

    monkeypatch.setattr(TrialLoop, "run", recording)
    fixed_results = tmp_path / "fixed"
    assert main(["run", "T", "--config-dir", str(write_config()), "--results", str(fixed_results), *FLAGS]) == 0
    assert loops == [(TrialPhase.FIXED, "FixedStrategy", ["trial-0000"])]
    assert _phases(_only_run(fixed_results, "T")) == {"trial-0000": TrialPhase.FIXED}

    loops.clear()
    results = tmp_path / "search"
    assert main(["run", "P", *SMALL_SEARCH, "--config-dir", str(write_config(TINY_SEARCH, SERIES_DATA, name="s")),
                 "--results", str(results), *FLAGS]) == 0
    phases = _phases(_only_run(results, "P"))
    searched = [name for name, phase in phases.items() if phase == TrialPhase.SEARCH]
    assert searched and all(name.startswith("B") for name in searched)  # POPNAS names: B<blocks>-<n>
    assert [(phase, strategy) for phase, strategy, _ in loops] == [
        (TrialPhase.SEARCH, "PopnasStrategy"), (TrialPhase.SELECTION, "PlannedStrategy"),
        (TrialPhase.FINAL, "PlannedStrategy")]
    assert loops[0][2] == searched and loops[1][2] == ["select-00"] and loops[2][2] == ["final"]
    assert phases["select-00"] == TrialPhase.SELECTION and phases["final"] == TrialPhase.FINAL
    assert len(phases) == len(searched) + 2


def test_a_bug_stops_the_run_saved_and_resumable(write_config: ConfigWriter, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from scinas.training import trainer

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("measure_costs() got an unexpected keyword argument 'bug'")

    monkeypatch.setattr(trainer, "measure_costs", broken)  # a bug in scinas, after the trial trained
    folder = write_config()
    results = tmp_path / "results"
    assert main(["run", "T", "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 1
    error = capsys.readouterr().err
    run = _only_run(results, "T")
    assert "unexpected TypeError" in error and "not a failed trial" in error and f"--resume {run}" in error
    assert "Traceback" in (run / "run.log").read_text() and "measure_costs" in (run / "run.log").read_text()
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        # not recorded as a failed trial: it stays running and is trained again on resume
        assert trial.status == TrialStatus.RUNNING and trial.failure_reason is None
        assert store.run().status == RunStatus.INTERRUPTED
    assert (run / "csv/trials.csv").is_file()

    monkeypatch.undo()
    assert main(["run", "--resume", str(run), *FLAGS]) == 0
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.status == TrialStatus.COMPLETED and trial.attempts == 2 and trial.phase == TrialPhase.FIXED
        assert store.run().status == RunStatus.COMPLETED
