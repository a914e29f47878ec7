"""What people see: no TensorFlow start-up lines, a progress display instead of Keras' lines,
Graphviz missing said once per run, and errors that still reach standard error."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.console.native import NATIVE_STARTUP_LINE
from scinas.models import plot
from tests.conftest import REPO, SERIES_DATA, TINY_EXPERIMENTS, TINY_SEARCH, ConfigWriter

# Runs the command line in a fresh interpreter and says on stdout whether it imported TensorFlow.
_RUN = textwrap.dedent("""
    import sys
    from scinas.cli import main
    code = main(sys.argv[1:])
    print("tensorflow imported:", "tensorflow" in sys.modules)
    sys.exit(code)
""")


def _scinas(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def _native_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if NATIVE_STARTUP_LINE.fullmatch(line)]


def test_list_neither_loads_tensorflow_nor_prints_its_lines(write_config: ConfigWriter) -> None:
    result = _scinas("list", "--config-dir", str(write_config()))
    assert result.returncode == 0, result.stderr
    assert "tiny dense model" in result.stdout
    assert "tensorflow imported: False" in result.stdout
    assert result.stderr == ""


def test_a_toml_error_is_reported_before_tensorflow_loads(write_config: ConfigWriter) -> None:
    folder = write_config(TINY_EXPERIMENTS + "\n[broken\n")
    result = _scinas("run", "T", "--config-dir", str(folder))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "configurations.toml" in result.stderr
    assert "Traceback" not in result.stderr
    assert "tensorflow imported: False" in result.stdout


def test_a_config_error_shows_its_message_and_no_tensorflow_lines_unless_verbose(write_config: ConfigWriter) -> None:
    folder = write_config(TINY_EXPERIMENTS.replace("epochs = 2", "epochs = 0"))
    result = _scinas("run", "T", "--config-dir", str(folder), "--results", str(folder / "r"))
    assert result.returncode == 2
    assert _native_lines(result.stderr) == [], result.stderr
    assert result.stderr.startswith("error: ") and "[T.training] epochs = 0" in result.stderr
    assert "Traceback" not in result.stderr
    verbose = _scinas("run", "T", "-v", "--config-dir", str(folder), "--results", str(folder / "r"))
    assert verbose.returncode == 2
    assert "[T.training] epochs = 0" in verbose.stderr
    if not _native_lines(verbose.stderr):
        pytest.skip("this TensorFlow wrote no start-up lines")


def test_a_run_shows_epochs_not_keras_lines_and_keras_lines_with_verbose(
        write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config()
    assert main(["run", "T", "--config-dir", str(folder), "--results", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1/2" not in out and "step" not in out  # Keras' own lines
    assert "T: training - " in out
    assert "T trial-0000 epoch 1/2: loss " in out and "T trial-0000 epoch 2/2: loss " in out
    assert "T trial-0000 completed in " in out
    assert main(["run", "T", "-v", "--config-dir", str(folder), "--results", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "T trial-0000 epoch 1/2" in out


def test_a_search_says_once_that_graphviz_is_missing(write_config: ConfigWriter, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plot, "dot_program", lambda: None)
    folder = write_config(TINY_SEARCH, SERIES_DATA)
    with caplog.at_level(logging.INFO):
        assert main(["run", "P", "P.search.budget=2", "--config-dir", str(folder), "--results", str(tmp_path),
                     "--no-progress"]) == 0
    run_log = next(tmp_path.glob("P/*/run.log")).read_text()  # what the run said, whatever else logs
    notes = [line for line in run_log.splitlines() if "Graphviz" in line and " INFO " in line]
    assert len(notes) == 1, notes
    drawn = list(tmp_path.glob("P/*/trials/*/cell.dot"))
    assert len(drawn) >= 2 and not list(tmp_path.glob("P/*/trials/*/*.png"))  # two trials, nothing drawn
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("P: popnas search, at most 2 trials - ")
    assert [line.split(" | ")[1].split(",")[0] for line in out if " | " in line] == ["1/2 trials", "2/2 trials"]
