"""``[X.execution]``: parsing, defaults, and every bad input refused before anything runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.config.experiment import parse_experiment
from scinas.config.loading import load_config
from scinas.errors import ConfigError
from scinas.execution import registry
from scinas.execution.inline import InlineKind
from scinas.execution.slurm import SlurmKind
from scinas.experiment.plan import plan_experiments
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter, PackageFaker


def _parse(write_config: ConfigWriter, execution: str):  # type: ignore[no-untyped-def]
    folder = write_config(TINY_EXPERIMENTS + "\n[T.execution]\n" + execution)
    return parse_experiment(load_config(folder), "T").execution


def _error(write_config: ConfigWriter, execution: str) -> ConfigError:
    """The error planning raises (the executor's own table is read by its class then)."""
    folder = write_config(TINY_EXPERIMENTS + "\n[T.execution]\n" + execution)
    with pytest.raises(ConfigError) as caught:
        plan_experiments(load_config(folder), ["T"])
    return caught.value


def test_defaults_are_inline_auto_one_trial(write_config: ConfigWriter) -> None:
    folder = write_config()
    execution = parse_experiment(load_config(folder), "T").execution
    assert (execution.distribution, execution.executor, execution.parallel_trials) == ("auto", "inline", 1)
    assert not (execution.mixed_precision or execution.xla or execution.allow_fallback or execution.oversubscribe)
    assert execution.executor_table == {} and execution.scale_batch_size
    assert registry.resolve_executor(execution)[0] is InlineKind


def test_every_key_is_read(write_config: ConfigWriter) -> None:
    execution = _parse(write_config, """
distribution = "cpu"
mixed_precision = true
xla = true
allow_fallback = true
scale_batch_size = false
executor = "slurm"
parallel_trials = 3
oversubscribe = true
threads_per_worker = 2
[T.execution.slurm]
partition = "debug"
account = "proj"
gpus_per_trial = 1
cpus_per_trial = 4
mem_gb = 2.5
time_minutes = 30
sbatch_options = ["--qos=low", "--exclusive"]
max_retries = 2
log_folder = "logs"
""")
    assert (execution.distribution, execution.executor, execution.parallel_trials) == ("cpu", "slurm", 3)
    assert execution.mixed_precision and execution.xla and execution.allow_fallback and execution.oversubscribe
    assert not execution.scale_batch_size and execution.threads_per_worker == 2
    kind, slurm = registry.resolve_executor(execution)
    assert kind is SlurmKind
    assert (slurm.partition, slurm.account, slurm.gpus_per_trial, slurm.cpus_per_trial) == ("debug", "proj", 1, 4)
    assert (slurm.mem_gb, slurm.time_minutes, slurm.max_retries, slurm.log_folder) == (2.5, 30, 2, "logs")
    assert slurm.sbatch_options == ("--qos=low", "--exclusive")


@pytest.mark.parametrize(("execution", "path", "words"), [
    ('distribution = "mutli-gpu"', "T.execution.distribution", 'did you mean "multi-gpu"'),
    ('strategy = "mutli-gpu"', "T.execution.strategy", 'did you mean "multi-gpu"'),
    ('executor = "slrum"', "T.execution.executor", 'did you mean "slurm"'),
    ('executor = "local"\nparallel_trials = 0', "T.execution.parallel_trials", "expected an integer >= 1"),
    ("parallel_trials = 2", "T.execution.parallel_trials", "one trial at a time"),
    ("paralel_trials = 2", "T.execution.paralel_trials", 'did you mean "parallel_trials"'),
    ('[T.execution.slurm]\npartition = "x"', "T.execution.slurm", 'executor = "slurm"'),
    ('executor = "slurm"\n[T.execution.slurm]\nsbatch_options = ["qos=low"]', "T.execution.slurm.sbatch_options",
     "long sbatch option"),
    ('executor = "slurm"\n[T.execution.slurm]\ntime_minute = 3', "T.execution.slurm.time_minute",
     'did you mean "time_minutes"'),
    ('tpu = "node-1"', "T.execution.tpu", 'distribution = "tpu"'),
])
def test_bad_input_names_its_toml_path(write_config: ConfigWriter, execution: str, path: str, words: str) -> None:
    error = _error(write_config, execution)
    assert error.path == path and error.file and error.file.endswith("configurations.toml")
    assert words in str(error)


def test_absent_gpu_is_a_config_error_at_planning_unless_fallback(write_config: ConfigWriter,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\nstrategy = "gpu"\n')
    # exit code 2 and no trial started: no run folder at all
    assert main(["run", "T", "--config-dir", str(folder), "--results", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "no GPU is visible" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    plans = plan_experiments(load_config(folder, ["T.execution.allow_fallback=true"]), ["T"])
    assert plans[0].config.execution.allow_fallback


def test_more_local_workers_than_cpus_needs_oversubscribe(write_config: ConfigWriter,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "usable_cpus", lambda: 2)
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\nstrategy = "cpu"\nexecutor = "local"\n'
                                             "parallel_trials = 3\n")
    with pytest.raises(ConfigError) as caught:
        plan_experiments(load_config(folder), ["T"])
    assert caught.value.path == "T.execution.parallel_trials" and "only 2 CPUs" in str(caught.value)
    assert "oversubscribe = true" in str(caught.value)
    plan_experiments(load_config(folder, ["T.execution.oversubscribe=true"]), ["T"])
    plan_experiments(load_config(folder, ["T.execution.parallel_trials=2"]), ["T"])


def test_slurm_without_sbatch_or_submitit_is_refused(write_config: ConfigWriter, as_installed: PackageFaker,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    as_installed("submitit")
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\nexecutor = "slurm"\n')
    monkeypatch.setenv("PATH", str(folder))  # no sbatch there
    with pytest.raises(ConfigError) as caught:
        plan_experiments(load_config(folder), ["T"])
    assert "sbatch command" in str(caught.value) and caught.value.path == "T.execution.executor"
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit now raises ImportError
    with pytest.raises(ConfigError) as caught:
        plan_experiments(load_config(folder), ["T"])
    assert "submitit" in str(caught.value) and "scinas[slurm]" in str(caught.value)


def test_sbatch_rejection_surfaces_its_own_message(write_config: ConfigWriter, tmp_path: Path,
                                                   as_installed: PackageFaker,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in sbatch that refuses like the real one: its message becomes the error."""
    as_installed("submitit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text("#!/bin/sh\necho 'sbatch: error: invalid partition specified: nowhere' >&2\nexit 1\n")
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\nexecutor = "slurm"\n[T.execution.slurm]\n'
                                             'partition = "nowhere"\n')
    with pytest.raises(ConfigError) as caught:
        plan_experiments(load_config(folder), ["T"])
    assert "invalid partition specified: nowhere" in str(caught.value)
    assert "--partition=nowhere" in str(caught.value) and caught.value.path == "T.execution.slurm"


def test_the_old_key_strategy_is_read_with_a_deprecation_warning(write_config: ConfigWriter,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        execution = _parse(write_config, 'strategy = "cpu"\n')
    assert execution.distribution == "cpu"
    assert "strategy is deprecated: write distribution = 'cpu'" in caplog.text


def test_strategy_and_distribution_together_are_an_error(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(write_config, 'strategy = "cpu"\ndistribution = "gpu"\n')
    assert caught.value.path == "T.execution.strategy" and "distribution replaces it" in str(caught.value)
