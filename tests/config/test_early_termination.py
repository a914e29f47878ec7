"""``[X.training.early_termination]``: parsing, defaults and every error with its TOML path."""

from __future__ import annotations

import pytest

from scinas.config.experiment import EarlyTerminationConfig, parse_experiment
from scinas.config.loading import load_config
from scinas.errors import ConfigError
from scinas.experiment.plan import plan_experiments
from tests.conftest import TINY_DATA, TINY_EXPERIMENTS, TINY_SEARCH, ConfigWriter


def _with(table: str) -> str:
    return TINY_EXPERIMENTS + "[T.training.early_termination]\n" + table


def _config(write_config: ConfigWriter, experiments: str, name: str = "T") -> EarlyTerminationConfig | None:
    return parse_experiment(load_config(write_config(experiments)), name).training.early_termination


def _plan_error(write_config: ConfigWriter, experiments: str) -> str:
    with pytest.raises(ConfigError) as info:
        plan_experiments(load_config(write_config(experiments, TINY_DATA)), ["T"])
    return str(info.value)


def test_off_unless_asked_for(write_config: ConfigWriter) -> None:
    assert _config(write_config, TINY_EXPERIMENTS) is None
    off = TINY_EXPERIMENTS.replace("epochs = 2", "epochs = 2\nearly_termination = false")
    assert _config(write_config, off) is None
    assert _config(write_config, _with('enabled = false\ncurve = "mmf"\n')) is None


def test_defaults_are_the_a4nn_rule_fitted_to_the_tail(write_config: ConfigWriter) -> None:
    config = _config(write_config, TINY_EXPERIMENTS.replace("epochs = 2", "epochs = 2\nearly_termination = true"))
    assert config is not None
    assert (config.curve, config.min_epochs, config.window, config.tolerance, config.scale) == (
        "shifted_exponential", 4, 3, 0.5, "auto")
    assert (config.skip_lag, config.fit_window) == (True, 8)
    # a fixed experiment has no score: the default monitor is the validation loss, minimised
    assert config.monitor == "val_loss" and config.mode == "min" and not config.maximize
    assert config.path == "T.training.early_termination"


def test_every_key(write_config: ConfigWriter) -> None:
    config = _config(write_config, _with('monitor = "val_r_squared"\ncurve = "weibull"\nmin_epochs = 5\n'
                                         'window = 4\ntolerance = 0.25\nscale = "fraction"\nskip_lag = false\n'
                                         'fit_window = 0\n'))
    assert config == EarlyTerminationConfig(monitor="val_r_squared", curve="weibull", min_epochs=5, window=4,
                                            tolerance=0.25, mode="max", scale="fraction", skip_lag=False,
                                            fit_window=0, file=config.file if config else "",
                                            path="T.training.early_termination")


def test_a_search_monitors_its_score_with_its_direction(write_config: ConfigWriter) -> None:
    search = TINY_SEARCH + "[P.training.early_termination]\n"
    config = _config(write_config, search, "P")
    assert config is not None and config.monitor == "val_r_squared" and config.mode == "max"
    minimised = search.replace('score = "r_squared"', 'score = "mean_absolute_error"')
    config = _config(write_config, minimised, "P")
    assert config is not None and config.monitor == "val_mean_absolute_error" and config.mode == "min"


def test_a_metric_of_unknown_direction_needs_a_mode(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError) as info:
        _config(write_config, _with('monitor = "val_custom"\n'))
    assert '[T.training.early_termination] monitor = "val_custom": the direction of this metric is unknown' in str(
        info.value)
    config = _config(write_config, _with('monitor = "val_custom"\nmode = "min"\n'))
    assert config is not None and config.mode == "min"


@pytest.mark.parametrize(("line", "expected"), [
    ("tolerance = 0", "[T.training.early_termination] tolerance = 0: expected a number > 0.0"),
    ("tolerance = -0.5", "[T.training.early_termination] tolerance = -0.5: expected a number > 0.0"),
    ("window = 1", "[T.training.early_termination] window = 1: expected an integer >= 2"),
    ("min_epochs = 0", "[T.training.early_termination] min_epochs = 0: expected an integer >= 1"),
    ('scale = "percentage"', '[T.training.early_termination] scale = "percentage": expected one of "auto"'),
    ('mode = "maximum"', '[T.training.early_termination] mode = "maximum": expected one of "auto"'),
    ("fit_window = -1", "[T.training.early_termination] fit_window = -1: expected an integer >= 0"),
    ('skip_lag = "yes"', '[T.training.early_termination] skip_lag = "yes": expected'),
    ('stopper = 3', '[T.training.early_termination] stopper = 3: expected a string'),
])
def test_structural_errors_name_the_toml_path(write_config: ConfigWriter, line: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _config(write_config, _with(line + "\n"))
    assert expected in str(info.value)


def test_an_unknown_key_is_reported_when_planned(write_config: ConfigWriter) -> None:
    # the stopper class owns every key the table itself does not read, so it checks them
    message = _plan_error(write_config, _with('monitor = "val_r_squared"\nwindows = 3\n'))
    assert '[T.training.early_termination] windows = 3: unknown key (fix: did you mean "window"?)' in message


def test_an_unknown_stopper_lists_the_known_ones(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, _with('monitor = "val_r_squared"\nstopper = "paretto"\n'))
    assert '[T.training.early_termination] stopper = "paretto": unknown stopper; known: curve, pareto' in message
    assert 'did you mean "pareto"' in message


def test_a_key_of_the_stopper_class_is_checked_by_it(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, _with('monitor = "val_r_squared"\nensemble = ["mmf", "weibul"]\n'))
    assert '[T.training.early_termination] ensemble[1] = "weibul": unknown learning-curve family' in message
    message = _plan_error(write_config, _with('monitor = "val_r_squared"\nmax_band = 2.0\n'))
    assert "max_band = 2.0: max_band needs an ensemble" in message
    message = _plan_error(write_config, _with('monitor = "val_r_squared"\nmargin = 1.0\n'))
    assert "margin = 1.0: unknown key" in message  # pareto's key under the default curve stopper


def test_the_pareto_stopper_needs_a_search_on_the_monitored_score(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, _with('monitor = "val_r_squared"\nstopper = "pareto"\n'))
    assert '[T.training.early_termination] stopper = "pareto": the pareto stopper compares trials with the ' \
           "search's front, and this experiment has no [X.search]" in message


def test_an_unknown_curve_family_lists_the_known_ones(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, _with('curve = "weibul"\n'))
    assert '[T.training.early_termination] curve = "weibul": unknown learning-curve family; known: ' in message
    assert "exponential, logarithmic, mmf, power_law, shifted_exponential, weibull" in message
    assert 'did you mean "weibull"' in message


def test_the_monitor_must_be_logged_by_training(write_config: ConfigWriter) -> None:
    message = _plan_error(write_config, _with('monitor = "val_accuracy"\nmode = "max"\n'))
    assert '[T.training.early_termination] monitor = "val_accuracy": early termination would monitor a value ' \
           "that training does not log" in message
    assert "val_r_squared" in message
    # the same check as early stopping's
    stopping = TINY_EXPERIMENTS.replace("epochs = 2", 'epochs = 2\nearly_stopping = { monitor = "val_acc" }')
    assert "[T.training.early_stopping] monitor = \"val_acc\": early stopping would monitor" in _plan_error(
        write_config, stopping)


def test_a_valid_table_plans(write_config: ConfigWriter) -> None:
    (plan,) = plan_experiments(load_config(write_config(_with('monitor = "val_r_squared"\n'))), ["T"])
    assert plan.config.training.early_termination is not None


def test_a_window_beyond_the_budget_warns(write_config: ConfigWriter, caplog: pytest.LogCaptureFixture) -> None:
    _config(write_config, _with("min_epochs = 2\n"))  # earliest stop 4 > epochs = 2
    assert "will never stop a trial" in caplog.text
