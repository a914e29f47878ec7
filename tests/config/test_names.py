"""Experiment and dataset names become folder names, so they are checked when the files are read:
letters, digits, ``_ . -``, no leading dot; a bad one is a config error (exit 2) naming the
file and the table, before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.config.loading import load_config
from scinas.errors import ConfigError
from tests.conftest import TINY_DATA, TINY_EXPERIMENTS, ConfigWriter

BAD = ["../escape", ".hidden", "..", "a/b", "with space", "tab\there", "naïve", "semi;colon", "", "C:\\x"]


def _experiments(name: str) -> str:
    return (TINY_EXPERIMENTS.replace('default = ["T"]\n', "").replace("[T", f"[{json.dumps(name)}"))


@pytest.mark.parametrize("name", BAD)
def test_a_bad_experiment_name_names_the_file_and_the_table(name: str, write_config: ConfigWriter) -> None:
    folder = write_config(_experiments(name))
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    text = str(caught.value)
    assert "configurations.toml: table [" in text
    assert "experiment names become folder names" in text and "not starting with a dot" in text


@pytest.mark.parametrize("name", BAD)
def test_a_bad_dataset_name_names_data_toml(name: str, write_config: ConfigWriter) -> None:
    folder = write_config(TINY_EXPERIMENTS, TINY_DATA.replace("[tiny", f"[{json.dumps(name)}"))
    with pytest.raises(ConfigError, match=r"data\.toml: table \[.*\]: dataset names become folder names"):
        load_config(folder)


@pytest.mark.parametrize("name", ["E", "my-exp_1", "v1.2", "X14", "_private", "a.b-c_d"])
def test_good_names_are_accepted(name: str, write_config: ConfigWriter) -> None:
    raw = load_config(write_config(_experiments(name), TINY_DATA.replace("[tiny", f"[{json.dumps(name)}")))
    assert raw.experiment_names() == [name] and list(raw.datasets) == [name]


def test_the_fix_suggests_a_safe_name(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError, match=r"fix: rename the table, e\.g\. \[_escape\]"):
        load_config(write_config(_experiments("../escape")))


@pytest.mark.parametrize("arguments", [
    ["run", "../escape"],
    ["run", "T", '"../escape".training.epochs=1'],
    ["run", "T", "../escape.training.epochs=1"],
])
def test_the_cli_refuses_unsafe_names_with_exit_code_2(arguments: list[str], write_config: ConfigWriter,
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    assert main([*arguments, "--config-dir", str(write_config()), "--results", str(results), "--no-progress"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not results.exists() or not any(results.iterdir())
    assert not (tmp_path / "escape").exists()


def test_a_file_with_a_bad_name_fails_the_cli_with_exit_code_2(write_config: ConfigWriter, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config(TINY_EXPERIMENTS + '\n["../escape"]\nextends = "T"\n')
    results = tmp_path / "results"
    assert main(["run", "T", "--config-dir", str(folder), "--results", str(results), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert 'table ["../escape"]' in error and "Traceback" not in error
    assert not results.exists() or not any(results.iterdir())
