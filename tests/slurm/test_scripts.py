"""The scripts of ``slurm/``: argument handling against a recording fake ``sbatch``, and real runs.

The fake tests run everywhere in a second: a small shell script stands in for ``sbatch`` and
writes down the arguments and ``SLURM_*`` variables it was called with. The tests marked ``slurm``
submit real jobs to the single-node cluster of ``scripts/slurm-cluster`` (fixture ``slurm_cluster``)
with two tiny experiments of the shipped ``config/`` and check the run folders the jobs leave.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from scinas.store.sqlite import RunStore
from tests.slurm.conftest import SlurmCluster

REPO = Path(__file__).resolve().parents[2]
PARALLEL = REPO / "slurm" / "parallel-gpu.sh"
PARALLEL_CPU = REPO / "slurm" / "parallel-cpu.sh"
SUBMIT_CPU = REPO / "slurm" / "submit-cpu.sh"
# Two experiments of the shipped config, cut to seconds: 200 spectra, one epoch (D extends E).
TINY = ["E", "D", "E.training.epochs=1", "dtest.shape.n_samples=200", "--no-progress"]

FAKE_SBATCH = """#!/usr/bin/env bash
# Records each call: arguments one per line in N.args, SLURM_* variables in N.env; prints a job id.
n=$(ls "$FAKE_SBATCH_LOG" | grep -c '\\.args$' || true)
printf '%s\\n' "$@" > "$FAKE_SBATCH_LOG/$n.args"
env | grep '^SLURM_' | sort > "$FAKE_SBATCH_LOG/$n.env" || true
for arg in "$@"; do
  if [[ "$arg" == --account=refused ]]; then
    echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination" >&2
    exit 1
  fi
done
echo "$((100 + n));fakecluster"
"""

FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for the venv's python: shows what the job script would run, and in which setting.
echo "cwd=$PWD"
echo "argv=$*"
echo "OMP_NUM_THREADS=${OMP_NUM_THREADS-unset}"
echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}"
echo "CONFIGS=${CONFIGS-unset}"
"""


def _executable(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fake_sbatch(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A recording ``sbatch`` and an environment that uses it (no site settings inherited)."""
    log = tmp_path / "sbatch-calls"
    log.mkdir()
    script = _executable(tmp_path / "sbatch", FAKE_SBATCH)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLURM_", "SCINAS_", "SBATCH")) and key != "CONFIGS"}
    env.update(SBATCH=str(script), FAKE_SBATCH_LOG=str(log), SCINAS_SLURM_LOG_DIR=str(tmp_path / "logs"),
               SCINAS_CLUSTER_ENV=str(_cluster_env(tmp_path, "")))
    return log, env


def _cluster_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.env"
    path.write_text(text, encoding="utf-8")
    return path


def _calls(log: Path) -> list[list[str]]:
    return [(log / f"{index}.args").read_text(encoding="utf-8").splitlines()
            for index in range(len(list(log.glob("*.args"))))]


def _run(command: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def _shipped_experiments() -> list[str]:
    with (REPO / "config" / "configurations.toml").open("rb") as handle:
        document = tomllib.load(handle)
    return [name for name, value in document.items() if isinstance(value, dict)]


def test_without_names_every_experiment_is_submitted_once(fake_sbatch: tuple[Path, dict[str, str]]) -> None:
    log, env = fake_sbatch
    done = _run([str(PARALLEL)], env)
    assert done.returncode == 0, done.stderr
    experiments = _shipped_experiments()
    assert done.stdout.splitlines() == [f"{name} {100 + index}" for index, name in enumerate(experiments)]
    calls = _calls(log)
    assert [call[call.index("slurm/submit-gpu.sh") + 1] for call in calls] == experiments
    assert all("--parsable" in call and "--gpus=1" in call for call in calls)


def test_resources_come_from_cluster_env_and_environment_wins(tmp_path: Path,
                                                              fake_sbatch: tuple[Path, dict[str, str]]) -> None:
    log, env = fake_sbatch
    env["SCINAS_CLUSTER_ENV"] = str(_cluster_env(tmp_path, (
        "SCINAS_SLURM_PARTITION=gpu-a\nSCINAS_SLURM_CPU_PARTITION=cpu-b\nSCINAS_SLURM_ACCOUNT=proj7\n"
        "SCINAS_SLURM_GPUS=a100:2\nSCINAS_SLURM_MEM=30G\nSCINAS_SLURM_TIME=08:00:00\n")))
    env["SCINAS_SLURM_TIME"] = "00:30:00"
    env["SBATCH_ARGS"] = "--constraint=fast --mail-type=END"
    assert _run([str(PARALLEL), "E", "A.search.max_children=2", "--results", "/elsewhere"], env).returncode == 0
    assert _run([str(PARALLEL_CPU), "CONFIGS=E,D"], env).returncode == 0
    gpu, cpu_e, cpu_d = _calls(log)
    assert gpu == ["--parsable", "--job-name=scinas-E", f"--output={tmp_path}/logs/%x-%j.out", "--gpus=a100:2",
                   "--partition=gpu-a", "--account=proj7", "--cpus-per-task=8", "--mem=30G", "--time=00:30:00",
                   "--constraint=fast", "--mail-type=END", "slurm/submit-gpu.sh", "E", "A.search.max_children=2",
                   "--results=/elsewhere"]
    assert "--partition=cpu-b" in cpu_e and "--cpus-per-task=4" in cpu_e
    assert not any(arg.startswith("--gpus") for arg in cpu_e)
    assert cpu_e[-2:] == ["slurm/submit-cpu.sh", "E"] and cpu_d[-2:] == ["slurm/submit-cpu.sh", "D"]


def test_unknown_experiment_is_rejected_before_anything_is_submitted(
        fake_sbatch: tuple[Path, dict[str, str]]) -> None:
    log, env = fake_sbatch
    done = _run([str(PARALLEL), "E", "NOPE"], env)
    assert done.returncode == 2
    assert "no experiment 'NOPE'" in done.stderr and "known: E A" in done.stderr
    assert _calls(log) == []


def test_refused_submission_shows_sbatch_message_and_what_was_submitted(
        fake_sbatch: tuple[Path, dict[str, str]]) -> None:
    log, env = fake_sbatch
    env["SBATCH_ARGS"] = "--account=refused"
    done = _run([str(PARALLEL), "E", "D"], env)
    assert done.returncode == 1
    assert "Invalid account or account/partition combination" in done.stderr
    assert "sbatch refused the job of experiment E (exit 1)" in done.stderr
    assert len(_calls(log)) == 1  # D was not tried after E failed


def test_missing_sbatch_is_a_clear_error(tmp_path: Path) -> None:
    # A PATH with the tools the script needs, but no sbatch (this machine may have a real one).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "basename", "sed", "grep", "mkdir", "cat", "python3", "env"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "SCINAS_CLUSTER_ENV": str(_cluster_env(tmp_path, ""))}
    done = _run([str(bin_dir / "bash"), str(PARALLEL), "E"], env)
    assert done.returncode == 127
    assert "'sbatch' not found: submit from a Slurm login node" in done.stderr


def test_inside_a_job_only_slurm_conf_reaches_the_submitted_jobs(
        fake_sbatch: tuple[Path, dict[str, str]]) -> None:
    log, env = fake_sbatch
    env.update(SLURM_JOB_ID="41", SLURM_SUBMIT_DIR=str(REPO), SLURM_MEM_PER_NODE="1024", SLURM_CONF="/x/slurm.conf",
               SLURM_CPUS_PER_TASK="1")
    assert _run([str(PARALLEL), "E"], env).returncode == 0
    assert (log / "0.env").read_text(encoding="utf-8").splitlines() == ["SLURM_CONF=/x/slurm.conf"]


def test_spooled_copy_finds_the_repository_through_the_submit_folder(
        tmp_path: Path, fake_sbatch: tuple[Path, dict[str, str]]) -> None:
    # `sbatch slurm/parallel-gpu.sh` runs a copy of the script from Slurm's spool folder.
    log, env = fake_sbatch
    spool = tmp_path / "spool"
    spool.mkdir()
    copy = spool / "slurm_script"
    shutil.copy(PARALLEL, copy)
    env.update(SLURM_JOB_ID="42", SLURM_SUBMIT_DIR=str(REPO))
    done = _run([str(copy), "--cpu", "E"], env, cwd=spool)
    assert done.returncode == 0, done.stderr
    assert _calls(log)[0][-2:] == ["slurm/submit-cpu.sh", "E"]


@pytest.fixture
def fake_venv(tmp_path: Path) -> Path:
    """A folder that looks like a virtual environment whose ``python`` prints what it was given."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text(f'PATH="{venv}/bin:$PATH"\n', encoding="utf-8")
    _executable(venv / "bin" / "python", FAKE_PYTHON)
    return venv


def _job_env(tmp_path: Path, venv: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLURM_", "SCINAS_", "SBATCH")) and key != "CONFIGS"}
    env.update(SCINAS_VENV=str(venv), SCINAS_CLUSTER_ENV=str(_cluster_env(tmp_path, "")), **extra)
    return env


def _shown(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines()
                if "=" in line and not line.startswith("scinas"))


@pytest.mark.parametrize(("arguments", "environment", "expected"), [
    (["E", "E.training.epochs=1", "--no-progress"], {}, "src/main.py CONFIGS=E E.training.epochs=1 --no-progress"),
    (["CONFIGS=E A"], {}, "src/main.py CONFIGS=E A"),
    ([], {"CONFIGS": "D"}, "src/main.py CONFIGS=D"),
    (["--resume", "results/E/run-1"], {"CONFIGS": "E"}, "src/main.py --resume results/E/run-1"),
    (["E", "--results", "/scratch/r", "--config-dir", "mine"], {},
     "src/main.py CONFIGS=E --results /scratch/r --config-dir mine"),
])
def test_job_script_runs_scinas_with_the_experiment(tmp_path: Path, fake_venv: Path, arguments: list[str],
                                                    environment: dict[str, str], expected: str) -> None:
    env = _job_env(tmp_path, fake_venv, SLURM_CPUS_PER_TASK="3", **environment)
    shown = _shown(_run([str(SUBMIT_CPU), *arguments], env))
    assert shown["argv"] == expected
    assert shown["cwd"] == str(REPO)
    assert shown["OMP_NUM_THREADS"] == "3"
    assert shown["CUDA_VISIBLE_DEVICES"] == ""  # a CPU job hides the node's GPUs
    assert shown["CONFIGS"] == "unset"  # passed as an argument, never twice


def test_job_script_without_experiment_or_venv_says_what_to_do(tmp_path: Path, fake_venv: Path) -> None:
    done = _run([str(SUBMIT_CPU)], _job_env(tmp_path, fake_venv))
    assert done.returncode == 2 and "no experiment given" in done.stderr
    done = _run([str(SUBMIT_CPU), "E"], _job_env(tmp_path, tmp_path / "missing-venv"))
    assert done.returncode == 2 and "run `make install`" in done.stderr


def test_job_script_setup_commands_run_before_python(tmp_path: Path, fake_venv: Path) -> None:
    env = _job_env(tmp_path, fake_venv, SCINAS_SLURM_SETUP="export OMP_NUM_THREADS=11")
    assert _shown(_run([str(SUBMIT_CPU), "E"], env))["OMP_NUM_THREADS"] == "11"


# ---- real jobs on the single-node cluster ------------------------------------------------------------------


def _cluster_job_env(tmp_path: Path, cluster: SlurmCluster) -> dict[str, str]:
    env = {key: value for key, value in cluster.env.items()
           if not key.startswith(("SCINAS_", "SBATCH")) and key != "CONFIGS"}
    memory_mb = min(3000, cluster.memory_mb // max(2, cluster.cpus))
    env.update(SCINAS_SLURM_CPUS="1", SCINAS_SLURM_MEM=f"{memory_mb}M", SCINAS_SLURM_TIME="00:10:00",
               SCINAS_SLURM_LOG_DIR=str(tmp_path / "logs"), SCINAS_CLUSTER_ENV=str(_cluster_env(tmp_path, "")))
    return env


def _completed_run(results: Path, experiment: str) -> Path:
    runs = sorted((results / experiment).iterdir())
    assert len(runs) == 1, runs
    store = RunStore.open(runs[0] / "store.sqlite", readonly=True)
    try:
        assert store.run().experiment == experiment
        assert store.run().status == "completed"
        assert [trial.status for trial in store.trials()] == ["completed"]
    finally:
        store.close()
    assert (runs[0] / "manifest.json").is_file() and (runs[0] / "final_metrics.json").is_file()
    return runs[0]


@pytest.mark.slurm
def test_cpu_mode_runs_one_job_per_experiment(tmp_path: Path, slurm_cluster: SlurmCluster) -> None:
    env = _cluster_job_env(tmp_path, slurm_cluster)
    results = tmp_path / "results"
    done = _run([str(PARALLEL), "--cpu", *TINY, f"--results={results}"], env)
    assert done.returncode == 0, done.stderr
    jobs = dict(line.split() for line in done.stdout.splitlines())
    assert list(jobs) == ["E", "D"]
    for name, job in jobs.items():
        state = slurm_cluster.wait(job, timeout_s=400)
        log = tmp_path / "logs" / f"scinas-{name}-{job}.out"
        assert state == "COMPLETED", log.read_text(encoding="utf-8") if log.exists() else "no log"
        assert f"{name}: completed" in log.read_text(encoding="utf-8")
        _completed_run(results, name)


@pytest.mark.slurm
def test_sbatch_of_the_parallel_script_submits_from_a_job(tmp_path: Path, slurm_cluster: SlurmCluster) -> None:
    env = _cluster_job_env(tmp_path, slurm_cluster)
    results = tmp_path / "results"
    submitter_log = tmp_path / "submitter.out"
    done = _run(["sbatch", "--parsable", f"--output={submitter_log}", str(PARALLEL_CPU), "E",
                 "E.training.epochs=1", "dtest.shape.n_samples=200", "--no-progress", f"--results={results}"], env)
    assert done.returncode == 0, done.stderr
    assert slurm_cluster.wait(done.stdout.strip().split(";")[0], timeout_s=120) == "COMPLETED", \
        submitter_log.read_text(encoding="utf-8")
    lines = submitter_log.read_text(encoding="utf-8").split()
    assert lines[0] == "E" and len(lines) == 2
    assert slurm_cluster.wait(lines[1], timeout_s=400) == "COMPLETED"
    _completed_run(results, "E")


@pytest.mark.slurm
@pytest.mark.parametrize(("variable", "value", "message"), [
    ("SBATCH_ARGS", "--no-such-option=1", "unrecognized option '--no-such-option=1'"),
    ("SCINAS_SLURM_CPU_PARTITION", "no-such-partition", "invalid partition specified: no-such-partition"),
])
def test_options_sbatch_rejects_fail_with_its_message(tmp_path: Path, slurm_cluster: SlurmCluster, variable: str,
                                                      value: str, message: str) -> None:
    env = _cluster_job_env(tmp_path, slurm_cluster)
    env[variable] = value
    done = _run([str(PARALLEL), "--cpu", "E"], env)
    assert done.returncode != 0
    assert message in done.stderr
    assert "sbatch refused the job of experiment E" in done.stderr
    assert done.stdout == ""


@pytest.mark.slurm
def test_cluster_has_the_node_as_slurmd_sees_it(slurm_cluster: SlurmCluster) -> None:
    status = _run([str(REPO / "scripts" / "slurm-cluster"), "status"], slurm_cluster.env)
    assert status.returncode == 0 and f"export SLURM_CONF={slurm_cluster.conf}" in status.stdout
    seen = _run(["slurmd", "-C"], slurm_cluster.env).stdout
    assert f"CPUs={slurm_cluster.cpus} " in seen and f"RealMemory={slurm_cluster.memory_mb}" in seen
    node = _run(["sinfo", "--noheader", "--format=%c %m %P"], slurm_cluster.env).stdout.split()
    assert node == [str(slurm_cluster.cpus), str(slurm_cluster.memory_mb), f"{slurm_cluster.partition}*"]
    conf = slurm_cluster.conf.read_text(encoding="utf-8")
    for setting in ("ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres"):
        assert setting in conf
