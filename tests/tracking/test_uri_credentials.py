"""An MLflow ``tracking_uri`` with credentials is refused (it would be copied into every run
folder, the store and MLflow), without the error echoing the password."""

from __future__ import annotations

from pathlib import Path

import pytest

from scinas.cli import main
from scinas.config.reader import Table
from scinas.config.tracking import parse_tracking
from scinas.errors import ConfigError
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter

SECRET = "s3cr3t-pw"


def _parse(uri: str) -> None:
    parse_tracking(Table({"tracking": {"mlflow": {"tracking_uri": uri}}}, file="configurations.toml", path="E"))


@pytest.mark.parametrize("uri", [
    f"https://alice:{SECRET}@mlflow.example.org",
    f"http://alice:{SECRET}@mlflow.example.org:5000/prefix",
    f"https://alice:pre@{SECRET}@mlflow.example.org",
    f"https://alice:pre/{SECRET}@mlflow.example.org",
    f"postgresql://mlflow:{SECRET}@db.example.org/mlflow",
    f"https://{SECRET}@mlflow.example.org",
])
def test_credentials_in_the_uri_are_refused_without_echoing_them(uri: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(uri)
    text = str(caught.value)
    assert text.startswith("configurations.toml: [E.tracking.mlflow] tracking_uri = ")
    assert SECRET not in text and "alice" not in text and "***@" in text
    assert "MLFLOW_TRACKING_USERNAME" in text and "MLFLOW_TRACKING_PASSWORD" in text


@pytest.mark.parametrize("uri", ["http://mlflow.example.org:5000", "databricks", "sqlite:////tmp/a@b/mlflow.db",
                                 "file:///tmp/mlruns", "https://mlflow.example.org/path"])
def test_uris_without_credentials_are_accepted(uri: str) -> None:
    _parse(uri)


@pytest.mark.parametrize("where", ["file", "override"])
def test_the_cli_refuses_credentials_with_exit_code_2_and_writes_nothing(
        where: str, write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"https://alice:{SECRET}@mlflow.example.org"
    experiments = TINY_EXPERIMENTS + (f'[T.tracking.mlflow]\nenabled = false\ntracking_uri = "{uri}"\n'
                                      if where == "file" else "")
    override = [f'T.tracking.mlflow.tracking_uri="{uri}"'] if where == "override" else []
    folder = write_config(experiments)
    results = tmp_path / "results"
    assert main(["run", "T", *override, "--config-dir", str(folder), "--results", str(results),
                 "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err and "Traceback" not in captured.err
    assert "[T.tracking.mlflow] tracking_uri" in captured.err
    assert not (results / "T").exists()
