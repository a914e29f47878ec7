"""What the Slurm executor hands a job, without a cluster: scinas's JSON task file (the submitted
function's only argument is its path), and a log folder for submitit's own payloads that stays
inside the run folder, owner-only."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.execution.slurm import SlurmExecutor
from scinas.execution.slurm_options import SlurmConfig
from scinas.execution.task import TASK_FILE, WorkerTask, run_task_file
from scinas.experiment.plan import plan_experiments
from scinas.search.base import TrialRequest
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter, PackageFaker
from tests.execution.conftest import StartedRun


def _read(table: Table) -> SlurmConfig:
    from scinas.configurable import read_options

    options: SlurmConfig = read_options(SlurmConfig, table)
    return options


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("folder", ["/tmp/shared-logs", "..", "../elsewhere", "logs/../../elsewhere", "", "."])
def test_a_log_folder_outside_the_run_folder_is_refused(folder: str) -> None:
    table = Table({"log_folder": folder}, file="configurations.toml", path="T.execution.slurm")
    with pytest.raises(ConfigError) as caught:
        _read(table)
    assert "configurations.toml: [T.execution.slurm] log_folder" in str(caught.value)
    assert "inside the run folder" in str(caught.value)


@pytest.mark.parametrize("folder", ["slurm", "logs/slurm", "a..b"])
def test_a_relative_log_folder_inside_the_run_folder_is_accepted(folder: str) -> None:
    assert _read(Table({"log_folder": folder}, file="", path="")).log_folder == folder


def test_the_plan_refuses_an_escaping_log_folder_before_looking_for_sbatch(write_config: ConfigWriter,
                                                                           as_installed: PackageFaker,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    as_installed("submitit")
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\nexecutor = "slurm"\n[T.execution.slurm]\n'
                                             'log_folder = "../../shared"\n')
    monkeypatch.setenv("PATH", str(folder))  # no sbatch: the log folder is checked first
    with pytest.raises(ConfigError) as caught:
        plan_experiments(load_config(folder), ["T"])
    assert caught.value.path == "T.execution.slurm.log_folder" and caught.value.value == "../../shared"


class _Job:
    job_id = "4242"


class _FakeSubmitit:
    """Records what the executor would submit (submitit pickles exactly this call)."""

    def __init__(self, folder: Path, python: str) -> None:
        self.folder = folder
        self.calls: list[tuple[Any, tuple[Any, ...]]] = []

    def update_parameters(self, **_: Any) -> None:
        pass

    def submit(self, function: Any, *arguments: Any) -> _Job:
        self.calls.append((function, arguments))
        return _Job()


def test_a_job_gets_the_path_of_a_json_task_and_an_owner_only_log_folder(started_run: StartedRun,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    submitit = pytest.importorskip("submitit", reason="the slurm extra (make install EXTRAS=slurm)")

    monkeypatch.setattr(submitit, "SlurmExecutor", _FakeSubmitit)
    executor = SlurmExecutor(started_run.store, started_run.run_dir, "T", started_run.cache_root,
                             SlurmConfig(log_folder="logs/slurm"), jobs=1, verbose=0)
    architecture = started_run.plan.architecture
    started_run.store.add_trial("trial-0000", architecture=architecture.to_text())
    executor.submit(TrialRequest("trial-0000", architecture))
    fake = executor._executor
    assert isinstance(fake, _FakeSubmitit)
    ((function, arguments),) = fake.calls
    task_path = started_run.run_dir / "trials" / "trial-0000" / TASK_FILE
    assert function is run_task_file and arguments == (str(task_path),)
    assert all(isinstance(argument, str) for argument in arguments)  # nothing of scinas's is pickled
    assert _mode(task_path) == 0o600 and json.loads(task_path.read_text())["executor"] == "slurm"
    assert WorkerTask.load(task_path).request.name == "trial-0000"
    assert _mode(started_run.run_dir / "logs" / "slurm") == 0o700
    assert fake.folder == started_run.run_dir / "logs" / "slurm" / "%j"
