"""Classes registered from user code are selectable from TOML with no change to scinas.

The test registers a search strategy, a predictor, a tracker and an executor of its own, selects
them in ``configurations.toml`` and runs the experiment; bad input to them gets the usual
path-aware messages, and a ``from_table`` that raises something else is reported as a bug in
that class (exit code 2, no traceback).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from scinas.cli import main
from scinas.config.reader import Table
from scinas.configurable import option
from scinas.execution.base import Executor
from scinas.execution.inline import InlineKind
from scinas.execution.registry import EXECUTORS, ExecutionContext, ExecutorKind
from scinas.predictors import PREDICTORS, Predictor
from scinas.registry import Registry
from scinas.search.base import TrialRequest
from scinas.search.domain import Objectives
from scinas.search.guided import GuidedParetoStrategy
from scinas.search.ledger import LedgerStrategy
from scinas.search.nasbench201 import NB201Domain
from scinas.search.registry import STRATEGIES
from scinas.store import TrialRecord
from scinas.testing.strategies import run_strategy, synthetic_evaluator
from scinas.tracking import TRACKERS, FinalMetrics, RunInfo, RunSummary, Tracker
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

FLAGS = ("--no-progress",)


class FirstUnseen(LedgerStrategy):
    """Asks ``width`` random unseen architectures per call."""

    @dataclass(frozen=True)
    class Options:
        width: int = option(1, minimum=1, doc="architectures per ask")

    def propose(self, n: int) -> list[TrialRequest]:
        found = [self.sample_unseen() for _ in range(min(n, self.options.width))]
        return [self.ledger.add(a) for a in found if a is not None]


class MeanPredictor(Predictor):
    """Predicts the mean of what it was fitted on (feature vectors), plus ``offset``."""

    name = "mean"

    @dataclass(frozen=True)
    class Options:
        offset: float = option(0.0, doc="added to every prediction")

    def __init__(self, *, seed: int = 0, offset: float = 0.0) -> None:
        self.mean: float | None = None
        self.offset = offset

    def fit(self, inputs: Sequence[Any], targets: np.ndarray) -> None:
        self.mean = float(np.mean(targets))

    def predict(self, inputs: Sequence[Any]) -> np.ndarray:
        return np.full(len(inputs), (self.mean if self.mean is not None else 0.0) + self.offset)

    @property
    def fitted(self) -> bool:
        return self.mean is not None


class LineTracker(Tracker):
    """Writes one line per finished trial into ``file`` inside the run folder."""

    @dataclass(frozen=True)
    class Options:
        file: str = option("trials.txt", doc="file name inside the run folder")

    def run_started(self, run: RunInfo) -> None:
        self.path = run.run_dir / self.options.file

    def trial_finished(self, trial: TrialRecord, metrics: FinalMetrics) -> None:
        with self.path.open("a") as lines:
            lines.write(f"{trial.name} {trial.status}\n")

    def run_finished(self, summary: RunSummary) -> None:
        return None


class CountingKind(ExecutorKind):
    """The inline executor, counting the executors made in ``made``."""

    made: ClassVar[list[str]] = []

    @dataclass(frozen=True)
    class Options:
        label: str = option("run", doc="a label")

    @classmethod
    def create(cls, context: ExecutionContext, options: Any) -> Executor:
        cls.made.append(options.label)
        return InlineKind.create(context, None)


class BrokenPredictor(MeanPredictor):
    @classmethod
    def from_table(cls, table: Table) -> Any:
        raise IndexError("offset")


class Broken(FirstUnseen):
    @classmethod
    def from_table(cls, table: Table) -> Any:
        raise KeyError("width")


@pytest.fixture
def registered() -> Iterator[None]:
    additions: list[tuple[Registry[Any], str, Any]] = [
        (STRATEGIES, "first_unseen", FirstUnseen), (STRATEGIES, "broken", Broken),
        (PREDICTORS, "mean", MeanPredictor), (PREDICTORS, "broken", BrokenPredictor),
        (TRACKERS, "lines", LineTracker), (EXECUTORS, "counting", CountingKind)]
    for registry, name, item in additions:
        registry.register(name)(item)
    CountingKind.made.clear()
    yield
    for registry, name, _ in additions:
        registry.unregister(name)


USER_SEARCH = TINY_SEARCH.replace('strategy = "popnas"', 'strategy = "first_unseen"\nbudget = 2\nwidth = 2').replace(
    "max_children = 2\nmax_exploration_children = 1\npredictor_epochs = 5\npredictor_ensemble = 1\n", "") + """
[P.tracking]
trackers = ["lines"]
[P.tracking.lines]
file = "lines.txt"
[P.execution]
executor = "counting"
[P.execution.counting]
label = "mine"
"""


def test_user_strategy_tracker_and_executor_run_from_toml(registered: None, write_config: ConfigWriter,
                                                          tmp_path: Path) -> None:
    folder = write_config(USER_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "P", "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 0
    run = next(path for path in (results / "P").iterdir() if path.is_dir() and not path.name.startswith("."))
    lines = (run / "lines.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["t0000", "t0001"]
    assert CountingKind.made and set(CountingKind.made) == {"mine"}


def test_user_predictors_are_chosen_by_name(registered: None) -> None:
    domain = NB201Domain()
    strategy = GuidedParetoStrategy(domain, Objectives(costs=("time",)), budget=8, seed=0, warmup=4, batch_size=2,
                                    predictor="mean", cost_predictor="mean")
    run = run_strategy(strategy, synthetic_evaluator(domain), batch=2)
    assert len(run.requests) == 8


def test_user_predictor_options_are_set_from_toml(registered: None, write_config: ConfigWriter) -> None:
    from scinas.config.loading import load_config
    from scinas.experiment.plan import plan_experiments
    from scinas.search.registry import strategy_from_config

    experiments = USER_SEARCH.replace("width = 2\n", "") + """
[P.search.predictor]
name = "mean"
offset = 0.5
[P.search.cost_predictor]
name = "mean"
"""
    experiments = experiments.replace('strategy = "first_unseen"', 'strategy = "pareto"')
    plan = plan_experiments(load_config(write_config(experiments, SERIES_DATA)), ["P"])[0]
    search = plan.config.search
    assert search is not None
    strategy = strategy_from_config(search, NB201Domain(), Objectives(costs=("time",)), seed=0)
    score, cost = strategy.factory("score", 0), strategy.factory("time", 0)  # type: ignore[attr-defined]
    assert isinstance(score, MeanPredictor) and (score.offset, cost.offset) == (0.5, 0.0)
    assert PREDICTORS.get("mean").from_table(Table({"offset": 0.5}, file="", path="")) == MeanPredictor.Options(0.5)


def test_user_classes_pass_the_conformance_suite(registered: None) -> None:
    from scinas.testing.tables import check_table
    from scinas.testing.tables import registered as registrations

    found = {(kind, name): cls for kind, name, cls in registrations()}
    for key in (("strategy", "first_unseen"), ("predictor", "mean"), ("tracker", "lines"), ("executor", "counting")):
        check_table(found[key], name=" ".join(key))


@pytest.mark.parametrize(("override", "message"), [
    ("P.search.predictor.ofset=1", r'\[P.search.predictor\] ofset = 1: unknown key \(fix: did you mean "offset"\?\)'),
    ('P.search.predictor.name="maen"', r'\[P.search.predictor\] name = "maen": unknown predictor; known: broken, gin, '
                                      r'mean, ranking, svr \(fix: did you mean "mean"\?\)'),
    ('P.search.predictor.name="broken"', r"bug in predictor 'broken' \(tests.test_user_extensions.BrokenPredictor"
                                        r".from_table\): it raised IndexError"),
    ('P.search.cost_predictor="broken"', r"bug in predictor 'broken' .* it raised IndexError"),
])
def test_bad_input_to_a_user_predictor(registered: None, write_config: ConfigWriter, tmp_path: Path, override: str,
                                       message: str, capsys: pytest.CaptureFixture[str]) -> None:
    import re

    experiments = USER_SEARCH.replace("width = 2\n", "").replace('strategy = "first_unseen"', 'strategy = "pareto"')
    folder = write_config(experiments + '[P.search.predictor]\nname = "mean"\n', SERIES_DATA)
    code = main(["run", "P", override, "--config-dir", str(folder), "--results", str(tmp_path / "r"), *FLAGS])
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error and re.search(message, error), error
    assert not (tmp_path / "r" / "P").exists()


@pytest.mark.parametrize(("override", "message"), [
    ("P.search.widht=3", r'\[P.search\] widht = 3: unknown key \(fix: did you mean "width"\?\)'),
    ("P.search.width=0", r"\[P.search\] width = 0: expected an integer >= 1"),
    ('P.search.strategy="first_unseeen"', r'unknown strategy; known: .*first_unseen.*did you mean "first_unseen"'),
    ('P.tracking.lines.fil="x"', r'\[P.tracking.lines\] fil = "x": unknown key \(fix: did you mean "file"\?\)'),
    ('P.execution.counting.lable="x"', r'\[P.execution.counting\] lable = "x": unknown key'),
    ('P.search.predictor="mean"', r"predictor.*applies to the .* strategy only"),
    ('P.search.strategy="broken"', r"bug in strategy 'broken' \(tests.test_user_extensions.Broken.from_table\): it "
                                   r"raised KeyError"),
])
def test_bad_input_to_user_classes(registered: None, write_config: ConfigWriter, tmp_path: Path, override: str,
                                   message: str, capsys: pytest.CaptureFixture[str]) -> None:
    import re

    folder = write_config(USER_SEARCH, SERIES_DATA)
    code = main(["run", "P", override, "--config-dir", str(folder), "--results", str(tmp_path / "r"), *FLAGS])
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error
    assert re.search(message, error), error
    assert not (tmp_path / "r" / "P").exists()
