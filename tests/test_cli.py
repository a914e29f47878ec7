from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scinas.cli import main, split_arguments
from scinas.errors import ConfigError
from tests.conftest import REPO, TINY_DATA, TINY_EXPERIMENTS, ConfigWriter


def test_split_arguments_names_configs_and_overrides() -> None:
    names, overrides = split_arguments(["E", "CONFIGS=A B", "E.training.epochs=2"], environ={})
    assert names == ["E", "A", "B"]
    assert overrides == ["E.training.epochs=2"]


def test_configs_from_environment_only_without_names() -> None:
    assert split_arguments([], environ={"CONFIGS": "E A"}) == (["E", "A"], [])
    assert split_arguments(["X"], environ={"CONFIGS": "E A"}) == (["X"], [])


def test_unknown_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'EPOCHS=3'"):
        split_arguments(["EPOCHS=3"], environ={})


def test_list_shows_experiments_and_datasets(write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--config-dir", str(write_config())]) == 0
    out = capsys.readouterr().out
    assert "* T" in out and "tiny dense model" in out and "[data: tiny]" in out
    assert "tiny" in out and "[michaelis_menten] tiny set for tests" in out


def test_config_error_exits_2_without_traceback(write_config: ConfigWriter,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config(TINY_EXPERIMENTS.replace("epochs = 2", "epochs = 0"))
    assert main(["run", "T", "--config-dir", str(folder), "--results", str(folder / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "[T.training] epochs = 0" in err
    assert "Traceback" not in err
    assert not (folder / "r").exists()  # nothing ran


def test_unknown_experiment_exits_2(write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "X", "--config-dir", str(write_config())]) == 2
    assert "unknown experiment 'X'" in capsys.readouterr().err


def test_no_names_and_no_default_lists_available(write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CONFIGS", raising=False)
    folder = write_config(TINY_EXPERIMENTS.replace('default = ["T"]', ""))
    assert main(["run", "--config-dir", str(folder)]) == 2
    assert "available: T" in capsys.readouterr().err


def test_bad_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--no-such-option"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_resume_refuses_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", str(tmp_path), "E"]) == 2
    assert "--resume takes no experiment names" in capsys.readouterr().err


def test_main_py_accepts_the_seed_form(write_config: ConfigWriter) -> None:
    folder = write_config()
    result = subprocess.run([sys.executable, str(REPO / "src" / "main.py"), "list", "--config-dir", str(folder)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "tiny dense model" in result.stdout
    result = subprocess.run([sys.executable, str(REPO / "src" / "main.py"), "CONFIGS=NOPE", "--config-dir",
                             str(folder)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "unknown experiment 'NOPE'" in result.stderr and "Traceback" not in result.stderr


def test_resume_of_a_folder_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a scinas run folder" in err and "Traceback" not in err


def test_unwritable_results_folder_is_reported(write_config: ConfigWriter, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", "T", "--config-dir", str(write_config()), "--results", str(blocker / "r")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_quiet_run_keeps_stdout_free_of_keras_epoch_lines(write_config: ConfigWriter, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config()
    assert main(["run", "T", "T.training.epochs=1", "--config-dir", str(folder), "--results", str(tmp_path),
                 "--no-progress", "-q"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1/1" not in out and "step" not in out


def test_list_names_the_default_generator_of_a_table_without_one(write_config: ConfigWriter,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = TINY_DATA.replace('generator = "michaelis_menten"\n', "")
    assert main(["list", "--config-dir", str(write_config(data=data))]) == 0
    assert "[michaelis_menten] tiny set for tests" in capsys.readouterr().out
