"""``[X.search] strategy = "darts"`` end to end: supernet trials, the genotype's retraining, the
final training and its export, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.errors import ConfigError
from scinas.search.cell_domain import CellDomain
from scinas.search.darts import DartsStrategy
from scinas.search.domain import Objectives
from scinas.search.registry import STRATEGIES
from scinas.search_space.darts_architecture import SupernetArchitecture
from scinas.search_space.macro import MacroConfig
from scinas.search_space.space import SearchSpace
from scinas.store import RunStore
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

DARTS_SEARCH = TINY_SEARCH.replace('strategy = "popnas"', 'strategy = "darts"').replace(
    "max_children = 2\nmax_exploration_children = 1\npredictor_epochs = 5\npredictor_ensemble = 1\n",
    "epochs = 1\nlayers = 3\nnodes = 1\nfilters = 2\neval_layers = 3\neval_filters = 2\n",
).replace('operators = ["identity", "3 conv"]', 'operators = ["identity", "sep_conv_3x3"]') + """
[P.final]
epochs = 1
"""

OBJECTIVES = Objectives("score", True, ())


def test_darts_is_a_registered_strategy() -> None:
    assert STRATEGIES.get("darts") is DartsStrategy and not DartsStrategy.budget_required


@pytest.mark.slow
def test_a_darts_search_finds_trains_and_exports_a_genotype(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(DARTS_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "--config-dir", str(config), "--results", str(results), "--no-progress"]) == 0
    run = next((results / "P").iterdir())
    darts = run / "trials" / "supernet-s1" / "darts"
    text = (darts / "genotype.txt").read_text().strip()
    assert text.startswith("Genotype(normal=[") and "none" not in text
    assert len(json.loads((darts / "alpha.json").read_text())["epochs"]) == 1
    summary = json.loads((run / "best_model" / "summary.json").read_text())
    assert summary["architecture_json"]["kind"] == "darts"
    with RunStore.open(run / "store.sqlite", readonly=True) as store:  # α per epoch in the store too
        supernet = store.trial("supernet-s1")
        assert supernet is not None
        (epoch,) = store.epochs(supernet.trial_id)
        alphas = json.loads((darts / "alpha.json").read_text())["epochs"][0]
    assert epoch.epoch == 1 and epoch.epoch_time_s and epoch.loss is not None
    assert epoch.metrics["alpha_normal_e0_skip_connect"] == alphas["normal"][0][1]
    assert epoch.metrics["alpha_reduce_e1_sep_conv_3x3"] == alphas["reduce"][1][2]
    assert epoch.metrics["parameter_free_normal"] in (0.0, 1.0, 2.0)
    assert summary["architecture_json"]["network"]["layers"] == 3
    assert (run / "best_model" / "model.onnx").exists()
    rows = (run / "csv" / "training_results.csv").read_text()
    assert "supernet-s1" in rows and "genotype-s1" in rows
    search = json.loads((run / "search_summary.json").read_text()) if (run / "search_summary.json").exists() else {}
    assert not search or "supernet-s1" in json.dumps(search)


def test_early_stopping_on_alpha_reaches_the_supernet_trial(tiny_domain: CellDomain) -> None:
    strategy = DartsStrategy(tiny_domain, OBJECTIVES, budget=None, seed=3, nodes=2, stop_parameter_free=2,
                             epochs=10, stop_warmup=4)
    (request,) = strategy.ask(5)
    architecture = request.architecture
    assert isinstance(architecture, SupernetArchitecture) and architecture.stop_parameter_free == 2
    assert architecture.stop_warmup == 4 and "stop_parameter_free=2, stop_warmup=4" in architecture.to_text()
    assert SupernetArchitecture.from_json(architecture.to_json()) == architecture
    off = DartsStrategy(tiny_domain, OBJECTIVES, budget=None, seed=3).ask(1)[0].architecture
    assert isinstance(off, SupernetArchitecture) and off.stop_parameter_free == 0
    assert "stop_parameter_free" not in off.to_text()  # the text of searches without it is unchanged


def test_an_unreachable_stop_threshold_names_its_key(write_config: ConfigWriter,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(DARTS_SEARCH.replace("nodes = 1\n", "nodes = 1\nstop_parameter_free = 3\n"), SERIES_DATA)
    assert main(["run", "--config-dir", str(config), "--results", str(config / "r"), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "[P.search] stop_parameter_free = 3" in error and "nodes = 1" in error and "Traceback" not in error
    with pytest.raises(ConfigError, match="stop_parameter_free"):
        DartsStrategy(CellDomain(SearchSpace(("identity",), max_blocks=1), MacroConfig(filters=8)), OBJECTIVES,
                      budget=None, seed=0, nodes=2, stop_parameter_free=5)
    with pytest.raises(ConfigError, match="stop_parameter_free"):
        DartsStrategy(CellDomain(SearchSpace(("identity",), max_blocks=1), MacroConfig(filters=8)), OBJECTIVES,
                      budget=None, seed=0, stop_parameter_free=-1)
    with pytest.raises(ConfigError, match=r"stop_warmup = 8: leaves none of the epochs = 8"):
        DartsStrategy(CellDomain(SearchSpace(("identity",), max_blocks=1), MacroConfig(filters=8)), OBJECTIVES,
                      budget=None, seed=0, epochs=8, stop_parameter_free=1, stop_warmup=8)
