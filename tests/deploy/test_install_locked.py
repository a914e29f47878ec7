"""``docker/install-locked.sh install-deps``: what the images install from the exported lock.

A fake interpreter (``PYTHON``) reports the base image's TensorFlow version and records the
requirements file pip is given, so the GPU images' rule can be checked without Docker: the base's
TensorFlow is kept only when it is the locked version, and then every other locked entry, hashes
included, is still installed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docker" / "install-locked.sh"

REQUIREMENTS = """\
absl-py==2.1.0 ; python_version >= "3.11" \\
    --hash=sha256:aaaa
tensorboard==2.21.0 ; python_version >= "3.11" \\
    --hash=sha256:bbbb \\
    --hash=sha256:cccc
tensorflow==2.21.0 ; python_version >= "3.11" and python_version < "3.14" \\
    --hash=sha256:dddd \\
    --hash=sha256:eeee
tensorflow-datasets==4.9.10 ; python_version >= "3.11" \\
    --hash=sha256:ffff
"""

FAKE_PYTHON = """#!/usr/bin/env bash
if [[ "$1" == -c && "$2" == *importlib.metadata* ]]; then
  [[ -n "${FAKE_TF_VERSION:-}" ]] || exit 1
  echo "$FAKE_TF_VERSION"
elif [[ "$1" == -m && "$2" == pip ]]; then
  while [[ $# -gt 0 ]]; do
    [[ "$1" == --requirement ]] && cp "$2" "$FAKE_RECORD"
    shift
  done
fi
"""


@pytest.fixture
def locked(tmp_path: Path) -> Path:
    out = tmp_path / "locked"
    out.mkdir()
    (out / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    (out / "tensorflow-version").write_text("2.21.0\n", encoding="utf-8")
    return out


def _install(tmp_path: Path, locked: Path, *options: str, tf_version: str = "") -> subprocess.CompletedProcess[str]:
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON, encoding="utf-8")
    python.chmod(0o755)
    env = {**os.environ, "PYTHON": str(python), "FAKE_RECORD": str(tmp_path / "installed.txt"),
           "FAKE_TF_VERSION": tf_version}
    return subprocess.run([str(SCRIPT), "install-deps", str(locked), *options], env=env, capture_output=True,
                          text=True, check=False, timeout=30)


def test_cpu_image_installs_the_whole_lock(tmp_path: Path, locked: Path) -> None:
    assert _install(tmp_path, locked).returncode == 0
    assert (tmp_path / "installed.txt").read_text(encoding="utf-8") == REQUIREMENTS


def test_gpu_image_keeps_the_base_tensorflow_and_installs_everything_else(tmp_path: Path, locked: Path) -> None:
    done = _install(tmp_path, locked, "--keep-base-tensorflow", tf_version="2.21.0")
    assert done.returncode == 0, done.stderr
    installed = (tmp_path / "installed.txt").read_text(encoding="utf-8")
    expected = [line for line in REQUIREMENTS.splitlines()
                if "tensorflow==" not in line and "dddd" not in line and "eeee" not in line]
    assert installed.splitlines() == expected
    assert "tensorflow-datasets==4.9.10" in installed and "--hash=sha256:ffff" in installed


@pytest.mark.parametrize(("tf_version", "message"), [
    ("2.20.0", "the base image has tensorflow 2.20.0 but poetry.lock pins 2.21.0"),
    ("", "the base image has no tensorflow package"),
])
def test_gpu_image_with_another_tensorflow_stops_the_build(tmp_path: Path, locked: Path, tf_version: str,
                                                           message: str) -> None:
    done = _install(tmp_path, locked, "--keep-base-tensorflow", tf_version=tf_version)
    assert done.returncode == 1
    assert message in done.stderr
    assert not (tmp_path / "installed.txt").exists()

