"""``scripts/docker-smoke`` and ``scripts/docker-engine`` without a Docker engine.

A fake ``docker`` on PATH plays a working image (or one broken in a chosen way, ``FAKE_BROKEN``), so
these tests show that each smoke check passes on a good image and fails on a bad one. CI runs the
same script against a real image built from docker/Dockerfile.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "scripts" / "docker-smoke"
ENGINE = REPO / "scripts" / "docker-engine"

# Arguments after `docker run --rm --name NAME`: options (--user U:G, -v HOST:CONTAINER,
# --entrypoint E), then the image and the container's arguments.
FAKE_DOCKER = r"""#!/usr/bin/env bash
case "$1 ${2:-}" in
  "image inspect") exit 0 ;;
  "image ls") echo 1.2GB; exit 0 ;;
  "rm -f") exit 0 ;;
esac
[[ "$1" == run ]] || exit 1
shift
user="" results="" entrypoint=""
while [[ "$1" == -* ]]; do
  case "$1" in
    --rm) shift ;;
    --name) shift 2 ;;
    --user) user="$2"; shift 2 ;;
    -v) [[ "$2" == *:/app/results ]] && results="${2%:/app/results}"; shift 2 ;;
    --entrypoint) entrypoint="$2"; shift 2 ;;
    *) shift ;;
  esac
done
shift  # the image
broken="${FAKE_BROKEN:-}"
if [[ -n "$entrypoint" ]]; then
  [[ "$broken" == graphviz ]] && { echo "sh: 1: dot: not found"; exit 127; }
  [[ "$broken" == fonts ]] && echo "Matplotlib is building the font cache; this may take a moment."
  echo "dot - graphviz version 2.43.0 (0)"
  exit 0
fi
case "$1" in
  list) [[ "$broken" == list ]] && exit 1; echo "E  small CNN on spectra"; exit 0 ;;
  NoSuchExperiment)
    [[ "$broken" == unknown ]] && { echo "Traceback (most recent call last):"; exit 1; }
    echo "error: unknown experiment 'NoSuchExperiment'" >&2; exit 2 ;;
esac
if [[ ! -w "$results" || ( -n "$user" && "$(id -u)" -eq 0 && "$(stat -c %u "$results")" != "${user%%:*}" ) ]]; then
  [[ "$broken" == entrypoint ]] && { echo "PermissionError: results"; exit 1; }
  echo "scinas: /app/results is not writable by uid ${user%%:*}: run the container with --user" >&2
  exit 2
fi
run="$results/E/run-1"
mkdir -p "$run"
version='"2.21.0"'
[[ "$broken" == manifest ]] && version=null
printf '{"packages": {"tensorflow": %s}}\n' "$version" >"$run/manifest.json"
if [[ "$(id -u)" -eq 0 && -n "$user" && "$broken" != owner ]]; then
  chown -R "$user" "$results/E"
fi
exit 0
"""


def _smoke(tmp_path: Path, broken: str = "") -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER, encoding="utf-8")
    docker.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_BROKEN": broken,
           "TMPDIR": str(tmp_path), "SCINAS_SMOKE_TIMEOUT": "30"}
    return subprocess.run([str(SMOKE), "scinas:test"], env=env, capture_output=True, text=True, check=False,
                          timeout=120)


def test_a_working_image_passes_every_check(tmp_path: Path) -> None:
    done = _smoke(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("docker-smoke: ok:") == 5
    assert "all checks passed" in done.stdout


BROKEN = [
    ("list", "scinas list"),
    ("graphviz", "graphviz"),
    ("fonts", "font cache"),
    ("manifest", "no TensorFlow version"),
    ("unknown", "unknown experiment name: exit 1"),
    ("entrypoint", "unwritable results folder: exit 1"),
]
if os.geteuid() == 0:  # only root can hand files to another uid
    BROKEN.append(("owner", "files not owned by"))


@pytest.mark.parametrize(("broken", "message"), BROKEN)
def test_each_broken_behaviour_fails_its_check(tmp_path: Path, broken: str, message: str) -> None:
    done = _smoke(tmp_path, broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stderr and message in done.stderr, done.stderr


def test_engine_script_explains_itself_and_rejects_unknown_commands() -> None:
    usage = subprocess.run([str(ENGINE), "--help"], capture_output=True, text=True, check=False, timeout=30)
    assert usage.returncode == 0
    assert "stand-in" in usage.stdout and "debootstrap" in usage.stdout
    wrong = subprocess.run([str(ENGINE), "launch"], capture_output=True, text=True, check=False, timeout=30)
    assert wrong.returncode == 2
