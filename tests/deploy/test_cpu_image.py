"""The CPU image of docker/Dockerfile: tensorflow-cpu in place of the locked tensorflow wheel.

``docker/install-locked.sh cpu-tensorflow`` swaps the locked ``tensorflow`` entry (whose Linux x86_64
wheel carries CUDA kernels) for ``tensorflow-cpu`` of the same version, hashes included, and
``install-wheel`` then accepts exactly the one pip check complaint that swap causes. Checked here
without Docker: a fake ``uname`` picks the machine, a fake interpreter plays pip.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docker" / "install-locked.sh"
CPU_HASHES = REPO / "docker" / "tensorflow-cpu.txt"

REQUIREMENTS = """\
absl-py==2.1.0 ; python_version >= "3.11" \\
    --hash=sha256:aaaa
tensorflow==2.21.0 ; python_version >= "3.11" and python_version < "3.14" \\
    --hash=sha256:dddd \\
    --hash=sha256:eeee
wrapt==1.17.0 ; python_version >= "3.11" \\
    --hash=sha256:ffff
"""

HASHES = """\
# the CPU build
tensorflow-cpu==2.21.0 \\
    --hash=sha256:1111 \\
    --hash=sha256:2222
"""


def _fake_bin(tmp_path: Path, machine: str) -> dict[str, str]:
    """An environment whose PATH has a `uname` that reports MACHINE."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    uname = bin_dir / "uname"
    uname.write_text(f"#!/bin/sh\necho {machine}\n", encoding="utf-8")
    uname.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _swap(tmp_path: Path, *, machine: str = "x86_64", requirements: str = REQUIREMENTS,
          hashes: str = HASHES, locked_version: str = "2.21.0") -> subprocess.CompletedProcess[str]:
    out = tmp_path / "locked"
    out.mkdir(exist_ok=True)
    (out / "requirements.txt").write_text(requirements, encoding="utf-8")
    (out / "tensorflow-version").write_text(f"{locked_version}\n", encoding="utf-8")
    (tmp_path / "tensorflow-cpu.txt").write_text(hashes, encoding="utf-8")
    return subprocess.run([str(SCRIPT), "cpu-tensorflow", str(out), str(tmp_path / "tensorflow-cpu.txt")],
                          env=_fake_bin(tmp_path, machine), capture_output=True, text=True, check=False,
                          timeout=30)


def test_x86_64_installs_tensorflow_cpu_of_the_locked_version_with_its_hashes(tmp_path: Path) -> None:
    done = _swap(tmp_path)
    assert done.returncode == 0, done.stderr
    installed = (tmp_path / "locked" / "requirements.txt").read_text(encoding="utf-8")
    assert "tensorflow==" not in installed and "dddd" not in installed and "eeee" not in installed
    assert "tensorflow-cpu==2.21.0 \\\n    --hash=sha256:1111 \\\n    --hash=sha256:2222" in installed
    # Every other locked entry is untouched, hashes included.
    assert "absl-py==2.1.0" in installed and "--hash=sha256:aaaa" in installed
    assert "wrapt==1.17.0" in installed and "--hash=sha256:ffff" in installed
    assert "# the CPU build" not in installed


def test_other_machines_keep_the_locked_tensorflow(tmp_path: Path) -> None:
    done = _swap(tmp_path, machine="aarch64")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "locked" / "requirements.txt").read_text(encoding="utf-8") == REQUIREMENTS
    assert "kept" in done.stdout


def test_a_tensorflow_cpu_of_another_version_stops_the_build(tmp_path: Path) -> None:
    done = _swap(tmp_path, locked_version="2.22.0")
    assert done.returncode == 1
    assert "tensorflow-cpu 2.21.0" in done.stderr and "tensorflow 2.22.0" in done.stderr


def test_cuda_libraries_in_the_requirements_stop_the_build(tmp_path: Path) -> None:
    done = _swap(tmp_path, requirements=REQUIREMENTS + "nvidia-cublas-cu12==12.5.3.2 \\\n    --hash=sha256:9999\n")
    assert done.returncode == 1
    assert "nvidia-cublas-cu12" in done.stderr


FAKE_PYTHON = """#!/usr/bin/env bash
if [[ "$1" == -c ]]; then
  [[ "$2" == *tensorflow-cpu* && "${FAKE_TF_CPU:-0}" == 1 ]]
  exit
elif [[ "$1 $2 $3" == "-m pip check" ]]; then
  [[ -z "$FAKE_CHECK" ]] && { echo "No broken requirements found."; exit 0; }
  printf '%b\\n' "$FAKE_CHECK"
  exit 1
fi
"""


def _install_wheel(tmp_path: Path, check: str, *, tf_cpu: bool) -> subprocess.CompletedProcess[str]:
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON, encoding="utf-8")
    python.chmod(0o755)
    wheel_dir = tmp_path / "wheel"
    wheel_dir.mkdir()
    (wheel_dir / "scinas-0.1.0-py3-none-any.whl").write_bytes(b"")
    env = {**os.environ, "PYTHON": str(python), "FAKE_CHECK": check, "FAKE_TF_CPU": "1" if tf_cpu else "0"}
    return subprocess.run([str(SCRIPT), "install-wheel", str(wheel_dir)], env=env, capture_output=True,
                          text=True, check=False, timeout=30)


MISSING_TF = "scinas 0.1.0 requires tensorflow, which is not installed."


def test_pip_check_accepts_tensorflow_provided_by_tensorflow_cpu(tmp_path: Path) -> None:
    done = _install_wheel(tmp_path, MISSING_TF, tf_cpu=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tensorflow-cpu" in done.stdout


def test_pip_check_still_fails_without_tensorflow_cpu(tmp_path: Path) -> None:
    done = _install_wheel(tmp_path, MISSING_TF, tf_cpu=False)
    assert done.returncode == 1
    assert MISSING_TF in done.stdout


def test_pip_check_still_fails_for_any_other_problem(tmp_path: Path) -> None:
    other = "keras 3.12.0 has requirement numpy>=2, but you have numpy 1.0."
    done = _install_wheel(tmp_path, f"{MISSING_TF}\\n{other}", tf_cpu=True)
    assert done.returncode == 1
    assert other in done.stdout and MISSING_TF not in done.stdout


def _locked_version(package: str) -> str:
    lock = tomllib.loads((REPO / "poetry.lock").read_text(encoding="utf-8"))
    return next(str(entry["version"]) for entry in lock["package"] if entry["name"] == package)


def test_the_tensorflow_cpu_entry_is_the_locked_tensorflow_version() -> None:
    entry = re.search(r"^tensorflow-cpu==([^ \\]+)", CPU_HASHES.read_text(encoding="utf-8"), re.MULTILINE)
    assert entry is not None, f"{CPU_HASHES} has no tensorflow-cpu==VERSION line"
    locked = _locked_version("tensorflow")
    assert entry.group(1) == locked, (
        f"{CPU_HASHES.name} holds tensorflow-cpu {entry.group(1)} but poetry.lock pins tensorflow {locked}: "
        "put the sha256 hashes of the tensorflow-cpu wheels of that version there")
    hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", CPU_HASHES.read_text(encoding="utf-8"))
    assert len(hashes) >= 1


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfiles_ask_for_no_remote_frontend(dockerfile: str) -> None:
    # A `# syntax=` line makes BuildKit pull its front end from a registry.
    text = (REPO / "docker" / dockerfile).read_text(encoding="utf-8")
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)


def test_every_file_the_cpu_image_copies_reaches_the_build_context() -> None:
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    text = (REPO / "docker" / "Dockerfile").read_text(encoding="utf-8")
    sources = [source.rstrip("/") for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE)
               for source in line.split()[:-1]]
    assert sources
    for source in sources:
        assert any(source == path or source.startswith(f"{path}/") for path in included), (
            f"docker/Dockerfile copies {source}, which .dockerignore leaves out of the build context")


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_images_draw_graphs_and_keep_matplotlibs_font_cache(dockerfile: str) -> None:
    text = (REPO / "docker" / dockerfile).read_text(encoding="utf-8")
    assert re.search(r"apt-get install [^\n]*\bgraphviz\b", text), "Graphviz's dot draws cells and models"
    config_dir = re.search(r"MPLCONFIGDIR=(\S+)", text)
    assert config_dir is not None
    # Under /tmp the cache is empty in every new container, so matplotlib rebuilds it at each start.
    assert not config_dir.group(1).startswith("/tmp"), config_dir.group(1)
    assert "import matplotlib.font_manager" in text, "the font cache is built when the image is"
