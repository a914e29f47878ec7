"""``[X.search]``, ``[X.selection]`` and ``[X.final]``: parsing, defaults and every bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.config.loading import load_config
from scinas.config.search import metric_direction
from scinas.config.structure import SearchStructure
from scinas.errors import ConfigError
from scinas.experiment.plan import plan_experiments
from scinas.search.popnas import PopnasStrategy
from scinas.search.registry import resolve_strategy
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

SEARCH = TINY_SEARCH


def _plan(write_config: ConfigWriter, experiments: str = SEARCH, overrides: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    folder = write_config(experiments, SERIES_DATA)
    raw = load_config(folder, list(overrides))
    return plan_experiments(raw, ["P"])[0]


def test_a_search_parses_with_its_space_and_macro(write_config: ConfigWriter) -> None:
    plan = _plan(write_config)
    search = plan.config.search
    assert search is not None
    assert (search.strategy, search.score, search.maximize, search.costs) == ("popnas", "r_squared", True,
                                                                               ("time",))
    assert dict(search.options) == {"max_children": 2, "max_exploration_children": 1, "predictor_epochs": 5,
                                    "predictor_ensemble": 1}
    cls, options = resolve_strategy(search)
    assert cls is PopnasStrategy and (options.max_children, options.predictor_epochs) == (2, 5)
    assert (options.exploration_share, options.predictor.name, options.cost_predictor.name) == (0.33, "gin", "svr")
    structure = plan.config.structure
    assert isinstance(structure, SearchStructure) and structure.space is not None
    assert structure.space.operators == ("identity", "3 conv") and structure.space.max_blocks == 2
    assert structure.macro.filters == 4
    assert plan.config.selection is None and plan.config.final is None


def test_predictor_sub_tables_are_read_by_the_predictor_classes(write_config: ConfigWriter) -> None:
    experiments = SEARCH.replace("predictor_epochs = 5\npredictor_ensemble = 1\n", "") + textwrap.dedent("""
        [P.search.predictor]
        epochs = 5
        ensemble = 1
        learning_rate = 0.002
        [P.search.cost_predictor]
        n_iter = 10
        """)
    search = _plan(write_config, experiments).config.search
    assert search is not None
    _, options = resolve_strategy(search)
    assert dict(options.predictor.settings) == {"epochs": 5, "ensemble": 1, "learning_rate": 0.002}
    assert (options.cost_predictor.name, dict(options.cost_predictor.settings)) == ("svr", {"n_iter": 10})


@pytest.mark.parametrize(("override", "message"), [
    ("P.search.predictor.learnin_rate=0.1", r'\[P.search.predictor\] learnin_rate = 0.1: unknown key \(fix: did you '
                                            r'mean "learning_rate"\?\)'),
    ('P.search.cost_predictor="svm"', r'\[P.search\] cost_predictor = "svm": unknown predictor; known: .*svr'),
    ("P.search.predictor.epochs=3", r"\[P.search\] predictor_epochs = 5: sets the gin predictor's epochs a second "
                                    r"time"),
])
def test_bad_predictor_tables_exit_2_at_plan_time(write_config: ConfigWriter, tmp_path: Path, override: str,
                                                  message: str, capsys: pytest.CaptureFixture[str]) -> None:
    import re

    folder = write_config(SEARCH, SERIES_DATA)
    code = main(["run", "P", override, "--config-dir", str(folder), "--results", str(tmp_path / "r"),
                 "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error and re.search(message, error), error
    assert not (tmp_path / "r" / "P").exists()


@pytest.mark.parametrize(("name", "maximize"), [
    ("accuracy", True), ("val_accuracy", True), ("sparse_categorical_accuracy", True), ("r_squared", True),
    ("loss", False), ("mean_squared_error", False), ("mae", False), ("val_loss", False), ("weird", None),
])
def test_metric_directions(name: str, maximize: bool | None) -> None:
    assert metric_direction(name) is maximize


@pytest.mark.parametrize(("override", "message"), [
    ('P.search.strategy="bayes"', r"strategy = \"bayes\": unknown strategy.*evolution, pareto, pnas, popnas, random"),
    ('P.search.costs=["energy"]', r"costs\[0\] = \"energy\": unknown cost.*known: flops, latency, params, time"),
    ('P.search.costs=["time", "time"]', r"costs\[1\] = \"time\": a cost is listed twice"),
    ("P.search.max_children=0", r"\[P.search\] max_children = 0: expected an integer >= 1"),
    ('P.search.score="weird"', r"\[P.search\] score = \"weird\": the direction of this metric is unknown.*direction"),
    ('P.search.score="accuracy"', r"\[P.search\] score = \"accuracy\": the trials do not record this metric; "
                                  r"recorded: loss, r_squared"),
    ('P.search.direction="up"', r"\[P.search\] direction = \"up\""),
    ("P.search.population_size=10", r"population_size.*applies to the evolution strategy only"),
    ('P.search.strategy="random"', r"\[P.search\] budget.*needs a budget"),
    ("P.search.budgett=3", r"budgett.*unknown key.*budget"),
    ("P.search_space.operators=[]", r"\[P.search_space\] operators.*at least one"),
    ('P.search.costs=["latency"]', r"minimises latency, but \[P.costs\] latency = false"),
    ('P.search.costs=["time", "params"]', None),
])
def test_bad_search_tables_name_the_key(write_config: ConfigWriter, override: str, message: str | None) -> None:
    if message is None:
        assert _plan(write_config, overrides=(override,)).config.search is not None
        return
    with pytest.raises(ConfigError, match=message):
        _plan(write_config, overrides=(override,))


def test_a_cost_needs_its_measure(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError, match=r"\[P.search\] costs.*minimises flops, but \[P.costs\] flops = false"):
        _plan(write_config, SEARCH, ('P.search.costs=["time", "flops"]', "P.costs.flops=false"))


def test_search_and_structure_exclude_each_other(write_config: ConfigWriter) -> None:
    experiments = SEARCH + '[P.structure]\ncell = "[(-1, identity, -1, identity)]"\n'
    with pytest.raises(ConfigError, match=r"\[P\] structure.*searches its architecture"):
        _plan(write_config, experiments)
    without_space = SEARCH.replace('[P.search_space]\nblocks = 2\nlookback_depth = 1\n'
                                   'operators = ["identity", "3 conv"]\n', "")
    with pytest.raises(ConfigError, match=r"\[P\] search_space.*a search needs the cells"):
        _plan(write_config, without_space)


def test_selection_and_final(write_config: ConfigWriter) -> None:
    experiments = SEARCH + textwrap.dedent("""
        [P.selection]
        top_k = 2
        epochs = 3
        variants = [{}, { filters = 8 }]
        max_params = 50000
        [P.final]
        epochs = 4
        onnx = false
        """)
    plan = _plan(write_config, experiments)
    selection, final = plan.config.selection, plan.config.final
    assert selection is not None and final is not None
    assert (selection.top_k, selection.epochs, selection.max_params) == (2, 3, 50000)
    assert list(selection.variants) == [{}, {"filters": 8}]
    assert (final.epochs, final.onnx) == (4, False)
    with pytest.raises(ConfigError, match=r"\[P.selection.variants\[1\]\] filter = 8: unknown macro setting.*filters"):
        _plan(write_config, experiments.replace("{ filters = 8 }", "{ filter = 8 }"))
    with pytest.raises(ConfigError, match=r"\[P.selection.variants\[1\]\] filters = 0: expected an integer >= 1"):
        _plan(write_config, experiments.replace("{ filters = 8 }", "{ filters = 0 }"))
    with pytest.raises(ConfigError, match=r"\[P.selection\] top_k = 0"):
        _plan(write_config, experiments.replace("top_k = 2", "top_k = 0"))


def test_selection_needs_a_search(write_config: ConfigWriter, tmp_path: Path) -> None:
    from tests.conftest import TINY_EXPERIMENTS

    folder = write_config(TINY_EXPERIMENTS + "[T.final]\nepochs = 2\n")
    with pytest.raises(ConfigError, match=r"\[T\] final.*only a search has"):
        plan_experiments(load_config(folder), ["T"])


def test_bad_search_exits_2_before_anything_is_written(write_config: ConfigWriter, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config(SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    code = main(["run", "P", "P.search.max_children=0", "--config-dir", str(folder), "--results", str(results),
                 "--no-progress"])
    assert code == 2
    assert "max_children = 0" in capsys.readouterr().err
    assert not results.exists() or not any(results.rglob("store.sqlite"))


@pytest.mark.parametrize(("override", "message"), [
    ('P.search.target="r_squared * 100 / time"', None),
    ('P.search.target="log(r_squared + 1) - 1e-6 * params"', None),
    ('P.search.target="r_squard / latency_ms"', r"\[P.search\] target = \"r_squard / latency_ms\": unknown name "
                                                r"'r_squard' in the formula; the metrics and trial quantities "
                                                r"available are: flops, latency_ms, latency_s, loss, params, "
                                                r"r_squared, time, train_time"),
    ('P.search.target="r_squared.__class__"', r"\[P.search\] target = .*attribute access is not allowed"),
    ("P.search.target=\"__import__('os')\"", r"\[P.search\] target = .*a call of '__import__'"),
    ('P.search.target="(lambda: 1)()"', r"\[P.search\] target = .*a call of"),
    ("P.search.target=3", r"\[P.search\] target = 3: expected a formula"),
])
def test_a_target_formula_is_checked_at_plan_time(write_config: ConfigWriter, override: str,
                                                  message: str | None) -> None:
    if message is None:
        search = _plan(write_config, overrides=(override,)).config.search
        assert search is not None and search.target == override.split("=", 1)[1].strip('"')
        return
    with pytest.raises(ConfigError, match=message):
        _plan(write_config, overrides=(override,))


def test_a_target_needs_the_measures_it_reads(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError, match=r"target reads latency_ms, but \[P.costs\] latency = false"):
        _plan(write_config, SEARCH, ('P.search.target="r_squared / latency_ms"',))  # latency = false there
    search = _plan(write_config, SEARCH, ('P.search.target="r_squared / latency_ms"', "P.costs.latency=true")
                   ).config.search
    assert search is not None and search.target == "r_squared / latency_ms"


def test_a_bad_target_exits_2(write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config(SEARCH, SERIES_DATA)
    code = main(["run", "P", 'P.search.target="r_squared.real"', "--config-dir", str(folder), "--results",
                 str(tmp_path / "r"), "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error and "[P.search] target" in error and "attribute access" in error


def test_operator_pairs_reach_the_planned_search_space(write_config: ConfigWriter) -> None:
    experiments = SEARCH.replace('operators = ["identity", "3 conv"]',
                                 'operators = ["identity", "3 conv"]\noperator_pairs = [["3 conv", "identity"]]')
    structure = _plan(write_config, experiments).config.structure
    assert isinstance(structure, SearchStructure) and structure.space is not None
    assert structure.space.operator_pairs == (("3 conv", "identity"),)


def test_a_darts_search_refuses_operator_pairs(write_config: ConfigWriter) -> None:
    experiments = SEARCH.replace('strategy = "popnas"', 'strategy = "darts"').replace(
        "max_children = 2\nmax_exploration_children = 1\npredictor_epochs = 5\npredictor_ensemble = 1\n", "").replace(
        'operators = ["identity", "3 conv"]',
        'operators = ["identity", "3 conv"]\noperator_pairs = [["3 conv", "3 conv"]]')
    with pytest.raises(ConfigError, match=r"\[P.search_space\] operator_pairs: the darts strategy cannot keep to "
                                          r"chosen operator pairs"):
        _plan(write_config, experiments)
