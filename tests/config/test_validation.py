"""Every class of configuration error gives one message naming file, TOML path, value, expectation, fix."""

from __future__ import annotations

import pytest

from scinas.config.experiment import parse_experiment
from scinas.config.loading import load_config
from scinas.errors import ConfigError
from scinas.experiment.plan import plan_experiments
from tests.conftest import TINY_DATA, TINY_EXPERIMENTS, ConfigWriter


def _plan_error(write_config: ConfigWriter, experiments: str = TINY_EXPERIMENTS, data: str = TINY_DATA,
                overrides: tuple[str, ...] = ()) -> str:
    raw = load_config(write_config(experiments, data), overrides)
    with pytest.raises(ConfigError) as info:
        plan_experiments(raw, ["T"])
    return str(info.value)


def test_valid_config_parses_into_typed_objects(write_config: ConfigWriter) -> None:
    config = parse_experiment(load_config(write_config()), "T")
    assert config.training.epochs == 2
    assert config.compile.optimizer.name == "adam"
    assert dict(config.compile.optimizer.arguments) == {"learning_rate": 1e-3}
    assert [m.name for m in config.compile.metrics] == ["R_squared", "MeanAbsoluteError"]
    assert config.layers[1].type == "Dense" and config.layers[1].arguments == {"units": 8, "activation": "relu"}
    assert config.layers[1].path == "T.structure.layers[1]"


def test_unknown_key(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace("epochs = 2", "epochs = 2\nepoch = 3"))
    assert message.endswith('configurations.toml: [T.training] epoch = 3: unknown key (fix: did you mean "epochs"?)')


def test_wrong_type(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace("epochs = 2", 'epochs = "two"'))
    assert '[T.training] epochs = "two": expected an integer >= 1, got a string' in message


def test_out_of_range(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace("epochs = 2", "epochs = -3"))
    assert "[T.training] epochs = -3: expected an integer >= 1" in message


def test_min_above_max(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, data=TINY_DATA.replace("k1_min = 0.01", "k1_min = 0.5"))
    assert "data.toml: [tiny.parameters] k1_min = 0.5" in message
    assert "above k1_max" in message and "fix:" in message


def test_splits_must_sum_to_one(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, data=TINY_DATA.replace("[0.6, 0.2, 0.2]", "[0.6, 0.3, 0.2]"))
    assert "[tiny.shape] splits = [0.6, 0.3, 0.2]: the splits sum to 1.1, expected 1" in message


def test_unknown_dataset(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace('training = "tiny"', 'training = "tinny"'))
    assert '[T.dataset] training = "tinny": no dataset of that name' in message
    assert 'did you mean "tiny"' in message


def test_unknown_generator(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, data=TINY_DATA.replace('"michaelis_menten"', '"michaelis"'))
    assert '[tiny] generator = "michaelis": unknown dataset generator' in message
    assert "michaelis_menten" in message


def test_unknown_layer_type(write_config: ConfigWriter) -> None:
    experiments = TINY_EXPERIMENTS.replace('type = "Dense", units = 8', 'type = "Dens", units = 8')
    message = _plan_error(write_config, experiments)
    assert '[T.structure.layers[1]] type = "Dens": unknown layer type' in message
    assert 'did you mean "Dense"' in message


def test_unknown_layer_argument(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace("units = 8,", "unit = 8,"))
    assert "[T.structure.layers[1]] unit = 8: Dense has no argument 'unit'" in message
    assert 'did you mean "units"' in message


def test_layer_rejected_by_keras(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace('activation = "relu"', 'activation = "relux"'))
    assert "T.structure" in message and "layers[1]" in message and "relux" in message


def test_output_size_must_match_targets(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace("units = 12", "units = 10"))
    assert "layers[2]" in message and "(10,)" in message and "(12,)" in message
    assert "units = 12" in message


def test_layers_that_do_not_fit_the_input(write_config: ConfigWriter) -> None:
    conv = '{ type = "Conv1D", filters = 2, kernel_size = 3 },'
    experiments = TINY_EXPERIMENTS.replace('{ type = "Flatten" },', conv)
    message = _plan_error(write_config, experiments)
    assert "layers[0]" in message and "Conv1D does not fit its input" in message


def test_unknown_optimizer_loss_and_metric(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace('name = "adam"', 'name = "adamm"'))
    assert '[T.compile] optimizer = "adamm": unknown optimizer' in message
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace('loss = "mse"', 'loss = "msee"'))
    assert '[T.compile] loss = "msee": unknown loss' in message
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace('"MeanAbsoluteError"]', '"MeanAbsoluteEror"]'))
    assert "MeanAbsoluteEror" in message and "metrics[1]" in message


def test_unknown_optimizer_argument(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, TINY_EXPERIMENTS.replace("learning_rate = 1e-3", "learningrate = 1e-3"))
    assert "[T.compile.optimizer] learningrate = 0.001: Adam has no argument 'learningrate'" in message


def test_error_from_command_line_override_names_it(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, overrides=("T.training.epochs=0",))
    assert message.startswith("command line override T.training.epochs: [T.training] epochs = 0")


def test_save_interval_above_epochs_warns_and_runs(write_config: ConfigWriter,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    raw = load_config(write_config(), ["T.training.save_interval=5"])
    with caplog.at_level("WARNING"):
        (plan,) = plan_experiments(raw, ["T"])
    assert plan.config.training.save_interval == 5
    assert "T.training.save_interval: save_interval = 5 is above epochs = 2" in caplog.text


def test_early_stopping_must_monitor_a_logged_value(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, overrides=('T.training.early_stopping={ monitor = "val_r2" }',))
    assert '[T.training.early_stopping] monitor = "val_r2"' in message
    assert "val_r_squared" in message and "val_mean_absolute_error" in message


def test_early_stopping_on_validation_needs_a_validation_split(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, overrides=("T.training.early_stopping=true",
                                                   "tiny.shape.splits=[0.8, 0.0, 0.2]"))
    assert '[T.training.early_stopping] monitor = "val_loss"' in message and "logged: loss," in message
