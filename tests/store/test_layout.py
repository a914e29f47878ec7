"""RunLayout names every path a real run writes, and every reader and writer spells paths through it."""

from __future__ import annotations

import ast
from pathlib import Path

from scinas.cli import main
from scinas.store.layout import RunLayout
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

SRC = Path(__file__).resolve().parents[2] / "src" / "scinas"
FLAGS = ["--no-progress", "-q"]


def _unnamed(run: Path) -> list[str]:
    layout = RunLayout(run)
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and not layout.names(p))


def test_every_file_of_a_tiny_search_run_is_named_by_the_layout(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config(TINY_SEARCH.replace("tensorboard = false", "tensorboard = true"), SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "P", "--config-dir", str(folder), "--results", str(results), *FLAGS]) == 0
    (run,) = sorted((results / "P").iterdir())
    layout = RunLayout(run)
    for path in (layout.store, layout.manifest, layout.experiments_config, layout.data_config, layout.strategy_state,
                 layout.search_summary, layout.final_metrics, layout.training_results_csv, layout.report,
                 layout.best_model / "model.keras"):
        assert path.is_file(), path
    assert layout.trials.is_dir() and all(layout.trial(t.name).model.is_file() for t in layout.trials.iterdir())
    assert _unnamed(run) == []


def test_names_refuses_what_the_layout_does_not_know(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    assert layout.names(tmp_path / "store.sqlite") and layout.names(tmp_path / "plots" / "x.png")
    assert layout.names(layout.trial("t1").checkpoint / "last.keras") and layout.names(layout.trial("t1").metrics)
    assert not layout.names(tmp_path / "stray.json") and not layout.names(layout.trials / "t1" / "stray.txt")
    assert not layout.names(tmp_path / "plots")  # a folder itself is not a file it names


_RUN_NAMES = {"store.sqlite", "strategy.json", "search_summary.json", "search_timing.json", "best_model", "report.html",
              "manifest.json", "final_metrics.json", "tracking.json", "trials", "csv", "plots", "predictors", "run.log",
              "normalization.npz", "checkpoint", "journal.jsonl", "worker.log"}


def test_run_folder_paths_are_joined_only_in_the_layout() -> None:
    """No module builds ``something / "store.sqlite"`` (or another run-folder name) itself."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "store" / "layout.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant)
                    and node.right.value in _RUN_NAMES):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: / {node.right.value!r}")
    assert not offenders, "name run-folder paths with scinas.store.layout.RunLayout:\n" + "\n".join(offenders)
