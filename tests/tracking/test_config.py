"""``[X.tracking]``: parsing, did-you-mean errors, missing packages and Neptune credentials, before any trial."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.config.experiment import parse_experiment
from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.config.tracking import TrackingConfig, parse_tracking
from scinas.errors import ConfigError
from scinas.tracking import TRACKERS, check_tracking
from scinas.tracking.mlflow_tracker import MlflowSettings
from scinas.tracking.neptune_tracker import NeptuneSettings
from scinas.tracking.session import resolve_tracker
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter, PackageFaker


def _parse(table: dict[str, object]) -> TrackingConfig:
    return parse_tracking(Table({"tracking": table}, file="configurations.toml", path="E"))


def test_the_shipped_trackers_are_registered() -> None:
    assert TRACKERS.names() == ["mlflow", "neptune", "tensorboard"]


def _check(table: dict[str, object]) -> None:
    """Parse ``[E.tracking]`` and check it as planning does (each tracker validates its table)."""
    config = _parse(table)
    for name in (*config.trackers, *config.tables):
        resolve_tracker(config, name)


def test_trackers_from_the_list_and_from_sub_tables() -> None:
    assert _parse({}).trackers == ()
    config = _parse({"trackers": ["tensorboard"], "mlflow": {"tracking_uri": "http://host:5000",
                                                             "experiment_name": "x", "artifacts": False},
                     "neptune": {"mode": "offline"}})
    assert config.trackers == ("tensorboard", "mlflow", "neptune")
    _, mlflow = resolve_tracker(config, "mlflow")
    assert mlflow == MlflowSettings(tracking_uri="http://host:5000", experiment_name="x", artifacts=False)
    assert resolve_tracker(config, "neptune")[1] == NeptuneSettings(mode="offline")
    assert config.path == "E.tracking" and config.key_path("neptune", "mode") == "E.tracking.neptune.mode"
    switched_off = _parse({"trackers": ["tensorboard", "mlflow"], "mlflow": {"enabled": False}})
    assert switched_off.trackers == ("tensorboard",)


@pytest.mark.parametrize(("table", "message"), [
    ({"trackers": ["mlfow"]}, 'did you mean "mlflow"?'),
    ({"trackers": ["tensorboard", "tensorboard"]}, "listed twice"),
    ({"trackers": "mlflow"}, "expected an array"),
    ({"mlfow": {}}, 'did you mean "mlflow"?'),
    ({"mlflow": {"tracking_url": "x"}}, 'did you mean "tracking_uri"?'),
    ({"mlflow": {"tracking_uri": ""}}, "non-empty string"),
    ({"neptune": {"mode": "sync"}}, 'expected one of "async", "offline", "debug"'),
    ({"tensorboard": {"logdir": "x"}}, "unknown key"),
])
def test_bad_tables_are_config_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"configurations.toml: \[E.tracking") as caught:
        _check(table)
    assert message in str(caught.value)


def test_a_token_in_the_file_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        _check({"neptune": {"api_token": "secret-value"}})
    assert "secret-value" not in str(caught.value) and "NEPTUNE_API_TOKEN" in str(caught.value)


def test_a_missing_package_names_the_extra(as_installed: PackageFaker, monkeypatch: pytest.MonkeyPatch) -> None:
    as_installed("mlflow")
    config = _parse({"trackers": ["tensorboard", "mlflow"]})
    check_tracking(config, {})
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an environment without mlflow looks like
    with pytest.raises(ConfigError) as caught:
        check_tracking(config, {})
    text = str(caught.value)
    assert "[E.tracking] trackers" in text and "EXTRAS=mlflow" in text and "scinas[mlflow]" in text


def test_neptune_needs_credentials_only_to_reach_a_server(as_installed: PackageFaker) -> None:
    as_installed("neptune")
    credentials = {"NEPTUNE_API_TOKEN": "t", "NEPTUNE_PROJECT": "team/project"}
    check_tracking(_parse({"neptune": {"mode": "async"}}), credentials)
    check_tracking(_parse({"neptune": {"mode": "offline"}}), {})
    check_tracking(_parse({"neptune": {"mode": "debug"}}), {})
    with pytest.raises(ConfigError) as caught:
        check_tracking(_parse({"trackers": ["neptune"]}), {"NEPTUNE_PROJECT": "team/project"})
    text = str(caught.value)
    assert '[E.tracking.neptune] mode = "async"' in text and "NEPTUNE_API_TOKEN" in text
    assert "NEPTUNE_PROJECT" not in text.split("(fix:", maxsplit=1)[0]


def test_the_experiment_carries_its_tracking(write_config: ConfigWriter) -> None:
    experiments = TINY_EXPERIMENTS + '[T.tracking]\ntrackers = ["tensorboard"]\n'
    config = parse_experiment(load_config(write_config(experiments)), "T")
    assert config.tracking.trackers == ("tensorboard",)
    assert parse_experiment(load_config(write_config()), "T").tracking.trackers == ()


def test_cli_refuses_neptune_without_a_token_before_any_trial(write_config: ConfigWriter, tmp_path: Path,
                                                               as_installed: PackageFaker,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    as_installed("neptune")
    monkeypatch.delenv("NEPTUNE_API_TOKEN", raising=False)
    folder = write_config(TINY_EXPERIMENTS + '[T.tracking.neptune]\nmode = "async"\n')
    results = tmp_path / "results"
    assert main(["run", "T", "--config-dir", str(folder), "--results", str(results), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "NEPTUNE_API_TOKEN" in error and "Traceback" not in error
    assert not (results / "T").exists()
