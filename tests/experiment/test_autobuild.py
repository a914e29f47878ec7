"""``scinas autobuild``: rank the blocks of a recorded search, write the reduced space, refuse bad input.

The fast tests record a search in a run folder through the store (cells of the run's own search
space, scores from a known rule), so what the ranking should find is known; the slow test runs a
real tiny search, builds the reduced space and searches it.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

from scinas.cli import main
from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.experiment.autobuild import AutobuildSettings, autobuild, space_toml
from scinas.predictors.units import connected_blocks
from scinas.search.cell_domain import CellDomain
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig
from scinas.search_space.space import SearchSpace
from scinas.store import RunStore, TrialPhase
from scinas.store.layout import RunLayout
from tests.conftest import SERIES_DATA, TINY_EXPERIMENTS, TINY_SEARCH

OPERATORS = ["identity", "3 conv", "3 maxpool"]
RANDOM_SEARCH = TINY_SEARCH.replace('strategy = "popnas"', 'strategy = "random"\nbudget = 10').replace(
    "max_children = 2\nmax_exploration_children = 1\npredictor_epochs = 5\npredictor_ensemble = 1\n", "").replace(
    'operators = ["identity", "3 conv"]', 'operators = ["identity", "3 conv", "3 maxpool"]')
BEST = ("3 conv", "3 maxpool")  # the pair the recorded scores reward
FAST = ["--epochs", "100", "--ensemble", "1", "--samples", "300"]


def _score(cell: Cell, rng: np.random.Generator) -> float:
    """A known rule: a block pairing 3 conv with 3 maxpool is worth 0.3, each 3 conv 0.05, plus noise."""
    pairs = sum(0.3 for block in cell.blocks if tuple(sorted(block.operators)) == BEST)
    return float(0.2 + pairs + 0.05 * sum(op == "3 conv" for op in cell.operators) + rng.normal(0, 0.01))


def _record_run(folder: Path, experiments: str = RANDOM_SEARCH, trials: int = 36, seed: int = 0) -> Path:
    """A run folder of experiment P holding ``trials`` completed search trials (and one failed, one
    selection trial) whose validation r_squared follows :func:`_score`."""
    run = folder / "P" / "run-1"
    run.mkdir(parents=True)
    layout = RunLayout(run)
    layout.experiments_config.write_text(textwrap.dedent(experiments))
    layout.data_config.write_text(textwrap.dedent(SERIES_DATA))
    space = SearchSpace(tuple(OPERATORS), max_blocks=2, lookback_depth=1, rank=1)
    domain = CellDomain(space, MacroConfig(filters=4, motifs=1, normal_cells_per_motif=1))
    rng = np.random.default_rng(seed)
    cells: dict[str, CellArchitecture] = {}
    while len(cells) < trials:
        architecture = domain.sample(rng)
        cells.setdefault(domain.key(architecture), architecture)
    with RunStore.create(layout.store, run_id="run-1", experiment="P", seed=1, config_text=experiments,
                         manifest={}) as store:
        for index, architecture in enumerate(cells.values()):
            text, data = architecture.to_text(), json.dumps(architecture.to_json())
            trial = store.start_trial(f"t{index:04d}", architecture=text, architecture_json=data)
            store.record_metrics(trial.trial_id, "validation", {"r_squared": _score(architecture.cell, rng),
                                                                "loss": 1.0})
            store.complete_trial(trial.trial_id, params=100 + index)
        failed = store.start_trial("t-failed", architecture="[]", architecture_json=None)
        store.fail_trial(failed.trial_id, "out of memory")
        selected = store.start_trial("s0000", architecture="[] selection", architecture_json=None,
                                     phase=TrialPhase.SELECTION)
        store.complete_trial(selected.trial_id)
    return run


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _record_run(tmp_path_factory.mktemp("autobuild"))


@pytest.fixture(scope="module")
def built(recorded: Path) -> Path:
    """The autobuild output of the recorded run, top 2 (ranked by the predicted target, the default)."""
    code = main(["autobuild", str(recorded), "--top-k", "2", *FAST, "-q"])
    assert code == 0
    return recorded


def test_the_rewarded_pair_ranks_first_and_the_reduced_space_keeps_the_top_k(built: Path) -> None:
    layout = RunLayout(built).autobuild
    with layout.units.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["unit"] == " + ".join(BEST)
    assert [row["kept"] for row in rows] == ["True", "True"] + ["False"] * (len(rows) - 2)
    # every pair of the 3 operators (6) was used by some of the 36 cells, each exactly once in the table
    assert len(rows) == len({row["unit"] for row in rows}) == 6
    assert all(int(row["cells"]) >= 1 and float(row["importance"]) > 0 for row in rows)
    summary = json.loads(layout.summary.read_text())
    assert summary["target"] == "r_squared" and len(summary["trials"]) == 36
    assert "s0000" not in summary["trials"] and "t-failed" not in summary["trials"]  # search trials that completed
    assert summary["by"] == "predicted" and summary["fit_kendall"] > 0.5
    kept = [unit["operators"] for unit in summary["units"][:2]]
    assert summary["reduced_space"]["operator_pairs"] == kept
    operators = [row["operator"] for row in csv.DictReader(layout.operators.open())]
    assert sorted(operators) == sorted(OPERATORS)
    # two-block units: each a block of the recorded cells and a block reading it, ordered by predicted
    subs = list(csv.DictReader(layout.sub_cells.open()))
    assert subs and len(subs) == len({row["sub_cell"] for row in subs}) == len(summary["sub_cells"])
    predicted = [float(row["predicted"]) for row in subs]
    assert predicted == sorted(predicted, reverse=True)
    assert sum(int(row["occurrences"]) for row in subs) == sum(
        len(connected_blocks(Cell.from_text(t.split(" {")[0]))) for t in _architectures(built))


def _architectures(run: Path) -> list[str]:
    with RunStore.open(RunLayout(run).store, readonly=True) as store:
        return [t.architecture for t in store.trials("completed") if t.phase == TrialPhase.SEARCH]


def test_the_best_cell_importance_and_the_report_section(built: Path) -> None:
    layout = RunLayout(built).autobuild
    best = json.loads(layout.best_cell.read_text())
    summary = json.loads(layout.summary.read_text())
    units = summary["units"]
    assert best["target"] == max(unit["best_target"] for unit in units)  # the best trial's cell
    cell = Cell.from_text(best["cell"])
    assert len(best["nodes"]) == len(best["importance"][0]) and len(best["importance"]) == 4  # hops 0..3
    assert best["nodes"][-1] in ("join", "concat") and len(best["edges"]) >= 2 * cell.n_blocks
    if shutil.which("dot") is not None:
        assert all(layout.best_cell_plot(hop).is_file() for hop in range(4))
    page = RunLayout(built).report.read_text()
    assert "<h2>AutoBuild: the ranked units</h2>" in page and 'data-figure="autobuild_units"' in page
    assert f"<td>{' + '.join(BEST)}</td>" in page and "reduced_space.toml" in page
    assert (RunLayout(built).report_figures / "autobuild_units.png").is_file()


def test_the_reduced_space_snippet_is_an_experiment_that_plans(built: Path, tmp_path: Path) -> None:
    snippet = RunLayout(built).autobuild.reduced_space.read_text()
    assert snippet.startswith("# The reduced search space of P")
    document = tomllib.loads(snippet)
    assert document["P_reduced"]["extends"] == "P"
    table = document["P_reduced"]["search_space"]
    space = SearchSpace.parse(Table(table, file="reduced_space.toml", path="P_reduced.search_space"), rank=1)
    assert space.operator_pairs is not None and space.operator_pairs[0] == BEST and len(space.operator_pairs) == 2
    assert set(space.operators) == {op for pair in space.operator_pairs for op in pair}
    # pasted after the run's own configuration, it is a search of the reduced space
    config = tmp_path / "config"
    config.mkdir()
    (config / "configurations.toml").write_text(RunLayout(built).experiments_config.read_text() + "\n" + snippet)
    (config / "data.toml").write_text(RunLayout(built).data_config.read_text())
    from scinas.experiment.plan import plan_experiments

    (plan,) = plan_experiments(load_config(config), ["P_reduced"])
    assert plan.config.structure.space == space  # type: ignore[union-attr]


def test_importance_ranking_and_a_target_formula_with_trials_left_out(recorded: Path, tmp_path: Path) -> None:
    # log(r_squared - 0.25) is undefined for the cells without the rewarded pair: they are left out, with why
    result = autobuild(recorded, AutobuildSettings(top_k=1, target="log(r_squared - 0.25)", epochs=30, ensemble=1,
                                                   samples=0, min_trials=4, rank_by="importance",
                                                   out=tmp_path / "out"))
    assert result.target == "log(r_squared - 0.25)"
    assert result.dropped and all("log(r_squared - 0.25)" in reason for _, reason in result.dropped)
    assert result.trials + len(result.dropped) == 36
    assert result.ranking.by == "importance"
    importances = [unit.importance for unit in result.ranking.units]
    assert importances == sorted(importances, reverse=True)
    assert result.reduced.operator_pairs == (result.ranking.units[0].operators,)
    assert (tmp_path / "out" / "units.csv").is_file() and not RunLayout(recorded).autobuild.summary.with_name(
        "never").exists()


def test_a_minimised_target_is_negated(recorded: Path, tmp_path: Path) -> None:
    result = autobuild(recorded, AutobuildSettings(target="params", direction="min", epochs=5, ensemble=1,
                                                   samples=0, out=tmp_path / "out"))
    assert result.target == "-(params)"
    # the smallest cells (fewest params: the first trials here) have the largest target
    best = max(result.ranking.units, key=lambda unit: unit.best_target)
    assert best.best_target == -100.0


def test_the_runs_own_target_formula_is_used_and_checked(tmp_path: Path) -> None:
    with_target = RANDOM_SEARCH.replace('score = "r_squared"', 'score = "r_squared"\ntarget = "r_squared - loss"')
    run = _record_run(tmp_path / "own", experiments=with_target, trials=12)
    result = autobuild(run, AutobuildSettings(epochs=5, ensemble=1, samples=0))
    assert result.target == "r_squared - loss" and result.trials == 12
    with RunStore.open(RunLayout(run).store, readonly=True) as store:
        scores = [m.value for t in store.trials() for m in store.metrics(t.trial_id, split="validation")
                  if m.name == "r_squared"]
    best = max(unit.best_target for unit in result.ranking.units)
    assert best == pytest.approx(max(scores) - 1.0)  # every recorded loss is 1
    unknown = _record_run(tmp_path / "unknown", experiments=with_target.replace("r_squared - loss", "accuracy"),
                          trials=12)
    with pytest.raises(ConfigError, match=r"configurations.toml: \[P.search\] target = \"accuracy\": unknown name "
                                          r"'accuracy'"):
        autobuild(unknown, AutobuildSettings(epochs=5, ensemble=1, samples=0))


@pytest.mark.parametrize(("arguments", "message"), [
    (["--min-trials", "50"], r"command line: --min-trials = 50: the run has 36 completed search trials with a "
                             r"finite target; the ranking predictor needs at least 50 \(fix: .*at least 4\)"),
    (["--target", "accuracy / params"], r"command line: --target = \"accuracy / params\": unknown name 'accuracy' "
                                        r"in the formula; the metrics and trial quantities of the run's trials "
                                        r"available are: .*loss.*params.*r_squared"),
    (["--target", "__import__('os')"], r"--target = .*not allowed in a formula"),
    (["--target", "r_squared.real"], r"--target = .*attribute access is not allowed"),
    (["--direction", "min"], r"--direction = \"min\": applies to a --target formula only"),
    (["--target", "r_squared", "--direction", "up"], r"--direction = \"up\": expected max or min"),
    (["--top-k", "0"], r"--top-k = 0: expected an integer >= 1"),
    (["--min-trials", "2"], r"--min-trials = 2: expected an integer >= 4"),
    (["--rank-by", "norm"], r"--rank-by = \"norm\": expected importance or predicted"),
    (["--name", "a b"], r"--name = \"a b\": an experiment name"),
    (["--name", ".hidden"], r"--name = \".hidden\": an experiment name .*not starting with a dot"),
    (["--target", "1 / (r_squared - r_squared)"],
     r"the run has 0 completed search trials with a finite target; 36 left out \(t0000: division by zero"),
])
def test_bad_options_exit_2_naming_the_option(recorded: Path, arguments: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["autobuild", str(recorded), *arguments, *FAST])
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error and re.search(message, error), error


def test_bad_run_folders_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["autobuild", str(tmp_path / "missing")]) == 2
    assert "missing is not a folder" in capsys.readouterr().err
    assert main(["autobuild", str(tmp_path)]) == 2
    assert "is not a scinas run folder (no store.sqlite)" in capsys.readouterr().err
    # a run of a fixed experiment has no search to rank
    fixed = _record_run(tmp_path / "fixed", experiments=TINY_EXPERIMENTS.replace('["T"]', '["P"]').replace("[T", "[P"),
                        trials=1)
    assert main(["autobuild", str(fixed)]) == 2
    assert "trained one fixed architecture; autobuild ranks the blocks of a cell search" in capsys.readouterr().err


def test_space_toml_round_trips() -> None:
    space = SearchSpace(("identity", "3x3 conv"), max_blocks=3, lookback_depth=2,
                        operator_pairs=(("3x3 conv", "identity"),))
    text = space_toml(space, "A_reduced", "A", ["a header", ""])
    assert text.startswith("# a header\n#\n[A_reduced]\n")
    table = tomllib.loads(text)["A_reduced"]["search_space"]
    assert SearchSpace.parse(Table(table, file="x", path="A_reduced.search_space"), rank=2) == space
    dotted = tomllib.loads(space_toml(space, "A.2_reduced", "A.2"))
    assert dotted["A.2_reduced"]["extends"] == "A.2" and "operator_pairs" in dotted["A.2_reduced"]["search_space"]


@pytest.mark.slow
def test_a_real_search_then_its_reduced_space(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A tiny random search, `scinas autobuild` on its folder, then the reduced space searched."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "configurations.toml").write_text(textwrap.dedent(RANDOM_SEARCH))
    (config / "data.toml").write_text(textwrap.dedent(SERIES_DATA))
    results = tmp_path / "results"
    assert main(["run", "P", "--config-dir", str(config), "--results", str(results), "--no-progress", "-q"]) == 0
    (run,) = (results / "P").iterdir()
    capsys.readouterr()
    assert main(["autobuild", str(run), "--top-k", "2", "--min-trials", "8", *FAST]) == 0
    printed = capsys.readouterr().out
    assert "P: 10 trials ranked by r_squared" in printed and "run it:" in printed
    snippet = RunLayout(run).autobuild.reduced_space.read_text()
    with (config / "configurations.toml").open("a") as handle:
        handle.write("\n" + snippet)
    assert main(["run", "P_reduced", "P_reduced.search.budget=4", "--config-dir", str(config), "--results",
                 str(results), "--no-progress", "-q"]) == 0
    (reduced_run,) = (results / "P_reduced").iterdir()
    pairs = {tuple(pair) for pair in tomllib.loads(snippet)["P_reduced"]["search_space"]["operator_pairs"]}
    with RunStore.open(RunLayout(reduced_run).store, readonly=True) as store:
        trials = [t for t in store.trials() if t.phase == TrialPhase.SEARCH]
        assert len(trials) == 4
        for trial in trials:
            cell = json.loads(trial.architecture_json or "{}")["cell"]
            assert {tuple(sorted((block[1], block[3]))) for block in cell} <= pairs, trial.architecture
