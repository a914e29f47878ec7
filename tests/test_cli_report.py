"""`scinas report` and `scinas export` through scinas.cli.main: outputs, exit codes, bad input."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from scinas.cli import main
from tests.analysis.test_report import make_fixed_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_fixed_run(tmp_path / "results" / "F" / "run-1")


def test_report_writes_the_page_and_figures(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir), "-q"]) == 0
    assert (run_dir / "report.html").is_file()
    assert sorted(p.name for p in (run_dir / "report").iterdir()) == ["learning_curves.png", "wall_time.png"]
    assert capsys.readouterr().out.strip() == f"{run_dir / 'report.html'} (2 figures)"


def test_report_into_another_folder(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    assert main(["report", str(run_dir), "--out", str(out), "-q"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'href="../results/F/run-1/trials/trial-0000/"' in page
    assert not (run_dir / "report.html").exists()


def test_export_csv_by_default_into_the_run_folder(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run_dir), "-q"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(run_dir / "csv" / f"{table}.csv") for table in ("trials", "epochs", "metrics")]
    with (run_dir / "csv" / "epochs.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"] and rows[2]["val_loss"] == repr(1.2 / 3)


def test_export_parquet_to_a_chosen_folder(run_dir: Path, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    out = tmp_path / "tables"
    assert main(["export", str(run_dir), "--format", "parquet", "--out", str(out), "-q"]) == 0
    trials = pd.read_parquet(out / "trials.parquet")
    assert list(trials["name"]) == ["trial-0000"] and int(trials.loc[0, "params"]) == 300
    assert len(pd.read_parquet(out / "epochs.parquet")) == 3


@pytest.mark.parametrize("command", ["report", "export"])
def test_a_folder_that_is_not_a_run_exits_2(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "is not a scinas run folder (no store.sqlite)" in error and "Traceback" not in error
    (tmp_path / "store.sqlite").write_text("junk")
    assert main([command, str(tmp_path)]) == 2
    assert "not a scinas run store" in capsys.readouterr().err


def test_export_rejects_an_unknown_format(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run_dir), "--format", "xlsx"]) == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'xlsx'" in error and "csv" in error and "parquet" in error


def test_export_parquet_without_pyarrow_names_the_extra(run_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert main(["export", str(run_dir), "--format", "parquet"]) == 2
    assert "make install EXTRAS=parquet" in capsys.readouterr().err
