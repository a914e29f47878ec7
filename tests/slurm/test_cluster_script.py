"""``scripts/slurm-cluster``: its lock is never inherited by the daemons it starts.

``start`` and ``stop`` take a lock through file descriptor 9 of the script's shell. A daemon that
inherited that descriptor (munged, when ``start`` launched it on a fresh machine) held the lock
for its whole life, so the next ``stop`` waited out the 900 s lock timeout and left the daemons
running. The fast test reads the script; the ``slurm`` test runs start → stop → start → stop for
real, in private mount and network namespaces where no munged runs (as on a fresh CI machine),
without touching a cluster that may already run on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.slurm.conftest import SlurmCluster

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm-cluster"
# The commands of the script that leave a long-lived process behind (packages' scripts may start munged).
DAEMON_LAUNCH = re.compile(r"^\s*(runuser\b.*\bmunged\b|slurmctld -f|slurmd -f|apt-get install)")
STEP_LIMIT_S = 180  # start and stop take seconds; one that waits on an inherited lock takes 900 s


def test_every_daemon_launch_closes_the_lock_descriptor() -> None:
    lines = SCRIPT.read_text(encoding="utf-8").splitlines()
    assert any("exec 9>" in line for line in lines), "the lock is no longer fd 9: update this test"
    launches = [line for line in lines if DAEMON_LAUNCH.match(line)]
    assert len(launches) == 4, launches  # apt-get install, munged, slurmctld, slurmd
    for line in launches:
        assert "9>&-" in line, f"starts a daemon that inherits the lock (fd 9): {line.strip()}"


# Run inside `unshare --mount --net`: loopback and a bridge with an address (Slurm binds only where
# an IPv4 address other than loopback exists), and empty /run/munge, /etc/slurm and munge folders,
# so munged is not running and the script starts its own. Each step prints "step rc seconds".
NAMESPACE_SCRIPT = r"""
set -u
ip link set lo up
ip link add scinas0 type bridge && ip addr add 10.254.0.1/24 dev scinas0 && ip link set scinas0 up || exit 90
for folder in /run/munge /etc/slurm /var/log/munge /var/lib/munge; do mount -t tmpfs tmpfs "$folder" || exit 91; done
cleanup() {  # whatever a failed step left running in here
  for pidfile in "$SCINAS_SLURM_DIR/run/slurmd.pid" "$SCINAS_SLURM_DIR/run/slurmctld.pid" /run/munge/munged.pid; do
    [[ -s "$pidfile" ]] && kill -KILL "$(cat "$pidfile")" 2>/dev/null
  done
}
trap cleanup EXIT
step() {
  local name="$1" started rc
  shift
  started=$(date +%s%N)
  "$@" >>"$SCINAS_SLURM_DIR.out" 2>&1
  rc=$?
  echo "$name $rc $(( ($(date +%s%N) - started) / 1000000 ))"
}
locked() { ! flock --nonblock "$SCINAS_SLURM_DIR.lock" true; }
running() {
  pgrep -f -- "$SCINAS_SLURM_DIR/slurm.conf" >/dev/null && return 0
  [[ -s /run/munge/munged.pid ]] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null
}
munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && { echo "munged-visible 1 0"; exit 0; }
for round in 1 2; do
  step "start$round" timeout "$STEP_LIMIT" "$SCRIPT" start
  step "locked-after-start$round" locked
  step "stop$round" timeout "$STEP_LIMIT" "$SCRIPT" stop
  step "running-after-stop$round" running
done
"""


@pytest.mark.slurm
def test_start_stop_start_where_munged_was_not_running(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    # slurm_cluster: the packages are installed (the namespaces below have no network to install them).
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs Linux, root and unshare")
    probe = subprocess.run(["unshare", "--mount", "--net", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create mount and network namespaces here: {probe.stderr.strip()}")
    state = tmp_path / "cluster"
    env = {**os.environ, "SCINAS_SLURM_DIR": str(state), "SCINAS_SLURM_NO_INSTALL": "1", "SCRIPT": str(SCRIPT),
           "STEP_LIMIT": str(STEP_LIMIT_S)}
    env.pop("SLURM_CONF", None)
    done = subprocess.run(["unshare", "--mount", "--net", "bash", "-c", NAMESPACE_SCRIPT], env=env,
                          capture_output=True, text=True, check=False, timeout=4 * STEP_LIMIT_S + 60)
    output = Path(f"{state}.out")
    log = output.read_text(encoding="utf-8") if output.exists() else ""
    if done.returncode in (90, 91):
        pytest.skip(f"the namespaces cannot be set up here (exit {done.returncode}): {done.stderr.strip()}")
    steps = {name: (int(rc), int(ms)) for name, rc, ms in (line.split() for line in done.stdout.splitlines())}
    assert "munged-visible" not in steps, "munged of the machine is visible inside the namespace"
    for round_ in (1, 2):
        assert steps[f"start{round_}"][0] == 0, log
        assert steps[f"locked-after-start{round_}"][0] != 0, f"a daemon holds {state}.lock after start\n{log}"
        code, elapsed_ms = steps[f"stop{round_}"]
        assert code == 0, f"stop exited {code} after {elapsed_ms / 1000:.0f} s\n{log}"
        assert steps[f"running-after-stop{round_}"][0] != 0, f"daemons still running after stop\n{log}"
    assert "munged started" in log and "stopped munged" in log  # the script's own munged, started and stopped
