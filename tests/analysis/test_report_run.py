"""A real tiny search writes its report at the end, and saves every trial's model every N epochs."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from scinas.cli import main
from tests.conftest import SERIES_DATA, TINY_DATA, TINY_EXPERIMENTS, TINY_SEARCH, ConfigWriter

pytestmark = pytest.mark.slow

# Three epochs per trial, a model saved after each, and early termination that can settle at once.
SEARCH = TINY_SEARCH.replace("[P.training]\nepochs = 1\n", """[P.training]
epochs = 3
save_interval = 1
early_termination = { min_epochs = 2, window = 2, tolerance = 50.0 }
""")


@pytest.fixture(scope="module")
def search_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search")
    config = root / "config"
    config.mkdir()
    (config / "configurations.toml").write_text(SEARCH)
    (config / "data.toml").write_text(SERIES_DATA)
    assert main(["run", "P", "--config-dir", str(config), "--results", str(root / "results"), "--no-progress",
                 "-q"]) == 0
    (run,) = sorted((root / "results" / "P").iterdir())
    return run


def test_the_run_ends_with_its_report(search_run: Path) -> None:
    page = (search_run / "report.html").read_text(encoding="utf-8")
    figures = set(re.findall(r'data-figure="([^"]+)"', page))
    assert {"pareto", "learning_curves", "wall_time", "epochs_saved", "convergence_epochs"} <= figures
    assert any(name.startswith("predictor_quality_") for name in figures)  # popnas wrote predictors/ at B2
    for figure in figures:
        assert (search_run / "report" / f"{figure}.png").stat().st_size > 1000
    assert 'href="best_model/"' in page
    linked = re.findall(r'href="trials/([^"/]+)/"', page)
    assert linked and all((search_run / "trials" / name / "model.keras").is_file() for name in linked)


def test_every_search_trial_saves_its_model_every_interval(search_run: Path) -> None:
    with sqlite3.connect(search_run / "store.sqlite") as db:
        trials = db.execute("SELECT trial_id, name, epochs_completed, phase FROM trials "
                            "WHERE status = 'completed'").fetchall()
        search = [t for t in trials if t[3] == "search"]
        assert len(search) >= 4
        for trial_id, name, epochs, _ in search:
            saved = sorted(p.name for p in (search_run / "trials" / name / "saved").iterdir())
            assert saved == [f"epoch-{n:04d}.keras" for n in range(1, epochs + 1)], name
            splits = {row[0] for row in db.execute(
                "SELECT DISTINCT split FROM metrics WHERE trial_id = ? AND epoch = 1", (trial_id,))}
            assert splits == {"train", "validation", "test"}, name


def test_exported_tables_of_a_real_run(search_run: Path, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    assert main(["export", str(search_run), "--format", "parquet", "--out", str(tmp_path), "-q"]) == 0
    trials = pd.read_parquet(tmp_path / "trials.parquet")
    epochs = pd.read_parquet(tmp_path / "epochs.parquet")
    joined = epochs.merge(trials[["trial_id", "params", "flops", "architecture"]], on="trial_id")
    assert len(joined) == len(epochs) > 0 and (joined["params"] > 0).all()
    assert {"val_r_squared", "r_squared", "epoch_time_s", "prediction", "converged", "curve"} <= set(epochs.columns)
    assert set(epochs["curve"].dropna()) == {"shifted_exponential"}


def test_a_fixed_run_ends_with_the_subset_that_applies(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(TINY_EXPERIMENTS, TINY_DATA)
    assert main(["run", "T", "--config-dir", str(config), "--results", str(tmp_path / "results"), "--no-progress",
                 "-q"]) == 0
    (run,) = sorted((tmp_path / "results" / "T").iterdir())
    page = (run / "report.html").read_text(encoding="utf-8")
    assert set(re.findall(r'data-figure="([^"]+)"', page)) == {"learning_curves", "wall_time"}
    assert 'href="trials/trial-0000/"' in page and "validation loss (min)" in page
