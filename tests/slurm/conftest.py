"""The ``slurm_cluster`` fixture: a real single-node Slurm cluster started by ``scripts/slurm-cluster``.

The cluster (munged, slurmctld, slurmd; Debian packages ``slurm-wlm`` and ``munge``) needs root. When
this machine cannot run it the tests that use the fixture are skipped with the reason, except in CI
(``CI=true``), where a cluster that does not start fails them loudly. A cluster that was already
running is reused and left running; one started here is stopped at the end of the session, unless
another test session still uses it.

Jobs run as root from this checkout, so they find its ``.venv``. Slurm's commands find the cluster
through ``SLURM_CONF``, which the fixture sets for the session (subprocesses such as ``sbatch`` or
submitit's calls inherit it). There is no accounting database: ``sacct`` does not work; job states
come from ``scontrol show job`` (finished jobs stay visible for ten minutes), see
:meth:`SlurmCluster.job_state` and :meth:`SlurmCluster.wait`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm-cluster"
# First start may install the packages (apt-get update + install): minutes on a cold machine.
START_TIMEOUT_S = 900
FINISHED_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                             "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"})

__all__ = ["FINISHED_STATES", "SlurmCluster", "slurm_cluster"]


@dataclass(frozen=True)
class SlurmCluster:
    """A running test cluster: where its configuration is, its only partition, and job helpers."""

    conf: Path
    state_dir: Path
    partition: str
    cpus: int
    memory_mb: int

    @property
    def env(self) -> dict[str, str]:
        """The environment for a subprocess that talks to this cluster (``SLURM_CONF`` set)."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def job_state(self, job_id: str) -> str:
        """The job's state from ``scontrol show job`` (``PENDING``, ``RUNNING``, ``COMPLETED``, ...)."""
        shown = subprocess.run(["scontrol", "show", "job", job_id], env=self.env, capture_output=True,
                               text=True, check=False, timeout=30)
        match = re.search(r"JobState=(\S+)", shown.stdout)
        return match.group(1) if match else "UNKNOWN"

    def wait(self, job_id: str, timeout_s: float = 300.0) -> str:
        """Wait until the job has finished and return its final state; fail the test after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        state = self.job_state(job_id)
        while state not in FINISHED_STATES:
            if time.monotonic() > deadline:
                pytest.fail(f"Slurm job {job_id} still {state} after {timeout_s:.0f} s")
            time.sleep(0.5)
            state = self.job_state(job_id)
        return state


def _unavailable(reason: str) -> NoReturn:
    """Skip outside CI; in CI the Slurm suite must run, so fail with the same reason."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the Slurm test cluster is unavailable: {reason}", pytrace=False)
    pytest.skip(f"no Slurm test cluster: {reason}")


def _status(env: dict[str, str]) -> bool:
    done = subprocess.run([str(SCRIPT), "status"], env=env, capture_output=True, text=True, check=False,
                          timeout=60)
    return done.returncode == 0


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """Start (or reuse) the single-node cluster for the session; yields a :class:`SlurmCluster`."""
    if not sys.platform.startswith("linux"):
        _unavailable("needs Linux")
    if os.geteuid() != 0:
        _unavailable("scripts/slurm-cluster must run as root (it starts munged, slurmctld and slurmd)")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        _unavailable("slurm-wlm is not installed and there is no apt-get to install it")
    env = dict(os.environ)
    already_running = _status(env)
    if not already_running:
        try:
            started = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, check=False,
                                     timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _unavailable(f"scripts/slurm-cluster start did not finish within {START_TIMEOUT_S} s")
        if started.returncode != 0:
            _unavailable(f"scripts/slurm-cluster start failed (exit {started.returncode}): "
                         f"{(started.stderr or started.stdout).strip()[-2000:]}")
    printed = subprocess.run([str(SCRIPT), "env"], env=env, capture_output=True, text=True, check=True, timeout=30)
    conf = Path(printed.stdout.strip().removeprefix("export SLURM_CONF="))
    text = conf.read_text(encoding="utf-8")
    cpus = re.search(r"^NodeName=.*\bCPUs=(\d+)", text, flags=re.MULTILINE)
    memory = re.search(r"^NodeName=.*\bRealMemory=(\d+)", text, flags=re.MULTILINE)
    partition = re.search(r"^PartitionName=(\S+)", text, flags=re.MULTILINE)
    if cpus is None or memory is None or partition is None:
        _unavailable(f"cannot read the node and partition from {conf}")
    cluster = SlurmCluster(conf=conf, state_dir=conf.parent, partition=partition.group(1), cpus=int(cpus.group(1)),
                           memory_mb=int(memory.group(1)))
    # Other test sessions may share the cluster: each registers while it uses it, and the session that
    # started the cluster stops it only when no other live session is registered.
    users = cluster.state_dir / "users"
    users.mkdir(exist_ok=True)
    mine = users / str(os.getpid())
    mine.touch()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        mine.unlink(missing_ok=True)
        if not already_running and not any(_alive(int(other.name)) for other in users.iterdir()
                                           if other.name.isdigit()):
            subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, text=True, check=False, timeout=120)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
