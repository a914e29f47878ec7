from __future__ import annotations

from pathlib import Path

import pytest

from scinas.config.loading import deep_merge, load_config, parse_override
from scinas.errors import ConfigError
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter


def test_loads_experiments_datasets_and_default(write_config: ConfigWriter) -> None:
    raw = load_config(write_config())
    assert raw.experiment_names() == ["T"]
    assert list(raw.datasets) == ["tiny"]
    assert raw.default == ("T",)


def test_syntax_error_reports_line_and_column(write_config: ConfigWriter) -> None:
    text = TINY_EXPERIMENTS + "\n[broken\nx = 1\n"
    folder = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    line = text.splitlines().index("[broken") + 1
    message = str(info.value)
    assert "configurations.toml" in message
    assert f"line {line}, column 8" in message and "`[broken`" in message


def test_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration folder not found"):
        load_config(tmp_path / "nope")
    (tmp_path / "configurations.toml").write_text("")
    with pytest.raises(ConfigError, match=r"file not found: .*data\.toml"):
        load_config(tmp_path)


def test_default_must_name_existing_experiments(write_config: ConfigWriter) -> None:
    folder = write_config(TINY_EXPERIMENTS.replace('default = ["T"]', 'default = ["X"]'))
    with pytest.raises(ConfigError, match=r"default\[0\].*does not exist"):
        load_config(folder)


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("E.training.epochs=2", ["E", "training", "epochs"], 2),
        ("E.compile.optimizer.learning_rate=1e-4", ["E", "compile", "optimizer", "learning_rate"], 1e-4),
        ("E.dataset.training=dtest", ["E", "dataset", "training"], "dtest"),
        ('E.compile.loss="mae"', ["E", "compile", "loss"], "mae"),
        ("E.training.tensorboard=false", ["E", "training", "tensorboard"], False),
        ("d.shape.splits=[0.5, 0.25, 0.25]", ["d", "shape", "splits"], [0.5, 0.25, 0.25]),
    ],
)
def test_parse_override(text: str, path: list[str], value: object) -> None:
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["epochs=2", "E.training.epochs", "=3", "E..x=1", "E.x=[1,"])
def test_malformed_overrides(text: str) -> None:
    with pytest.raises(ConfigError, match="command line"):
        parse_override(text)


def test_overrides_apply_to_experiments_and_datasets(write_config: ConfigWriter) -> None:
    raw = load_config(write_config(), ["T.training.epochs=7", "tiny.shape.n_samples=50"])
    assert raw.experiments["T"]["training"]["epochs"] == 7
    assert raw.datasets["tiny"]["shape"]["n_samples"] == 50


def test_override_of_unknown_name_suggests(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError, match='did you mean "T"'):
        load_config(write_config(), ["t.training.epochs=7"])


def test_extends_merges_tables_and_replaces_arrays(write_config: ConfigWriter) -> None:
    experiments = TINY_EXPERIMENTS + """
[U]
extends = "T"
[U.training]
save_interval = 1
[U.structure]
layers = [{ type = "Flatten" }, { type = "Dense", units = 12 }]
"""
    raw = load_config(write_config(experiments))
    table = raw.experiment_table("U")
    assert table["training"] == {"epochs": 2, "save_interval": 1}
    assert len(table["structure"]["layers"]) == 2
    assert "extends" not in table
    assert table["compile"]["loss"] == "mse"
    assert "variant of T" in table["description"]


def test_extends_errors(write_config: ConfigWriter) -> None:
    cyclic = TINY_EXPERIMENTS + '\n[U]\nextends = "V"\n[V]\nextends = "U"\n'
    with pytest.raises(ConfigError, match="cycle: U -> V -> U"):
        load_config(write_config(cyclic)).experiment_table("U")
    unknown = TINY_EXPERIMENTS + '\n[U]\nextends = "TT"\n'
    with pytest.raises(ConfigError, match=r'\[U\] extends = "TT".*did you mean "T"'):
        load_config(write_config(unknown)).experiment_table("U")


def test_deep_merge_does_not_mutate() -> None:
    base = {"a": {"b": 1, "c": [1]}}
    merged = deep_merge(base, {"a": {"b": 2}})
    assert merged == {"a": {"b": 2, "c": [1]}}
    assert base == {"a": {"b": 1, "c": [1]}}
