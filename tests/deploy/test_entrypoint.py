"""``docker/entrypoint.sh`` outside Docker: which command each argument form turns into.

``SCINAS_APP`` points the script at a temporary folder laid out like the image's ``/app``;
``SCINAS_ENTRYPOINT_DRY_RUN=1`` makes it print the command instead of running it, and a fake
``python`` (``SCINAS_PYTHON``) shows what a real run receives: arguments, working folder, and the
tracking variables a ``docker run -e`` passes in.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"

FAKE_PYTHON = """#!/usr/bin/env bash
echo "cwd=$PWD"
for arg in "$@"; do echo "arg=$arg"; done
echo "CONFIGS=${CONFIGS-unset}"
echo "MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI-unset}"
echo "NEPTUNE_PROJECT=${NEPTUNE_PROJECT-unset}"
echo "NEPTUNE_API_TOKEN=${NEPTUNE_API_TOKEN:+set}"
"""


@pytest.fixture
def app() -> Iterator[Path]:
    """A folder laid out like the image's /app, readable by every user (one test runs as nobody)."""
    folder = Path(tempfile.mkdtemp(prefix="scinas-app-"))
    try:
        folder.chmod(0o755)
        (folder / "config").mkdir()
        (folder / "results").mkdir(mode=0o755)
        (folder / "main.py").write_text("# stands in for src/main.py\n", encoding="utf-8")
        yield folder
    finally:
        shutil.rmtree(folder)


def _env(app: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key != "CONFIGS" and not key.startswith(("SCINAS_", "MLFLOW_", "NEPTUNE_"))}
    env.update(SCINAS_APP=str(app), **extra)
    return env


def _planned(app: Path, *arguments: str, **extra: str) -> list[str]:
    done = subprocess.run([str(ENTRYPOINT), *arguments], env=_env(app, SCINAS_ENTRYPOINT_DRY_RUN="1", **extra),
                          capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    return shlex.split(done.stdout)


@pytest.mark.parametrize(("arguments", "expected_tail"), [
    ([], []),
    (["CONFIGS=E A"], ["CONFIGS=E A"]),
    (["E", "A", "E.training.epochs=2", "--no-progress"], ["E", "A", "E.training.epochs=2", "--no-progress"]),
    (["run", "E", "--results", "/app/results/other"], ["run", "E", "--results", "/app/results/other"]),
    (["scinas", "list"], ["list"]),
    (["scinas", "run", "CONFIGS=E", "-q"], ["run", "CONFIGS=E", "-q"]),
    (["--resume", "/app/results/E/20260101-000000-abcd"], ["--resume", "/app/results/E/20260101-000000-abcd"]),
])
def test_arguments_reach_main_unchanged(app: Path, arguments: list[str], expected_tail: list[str]) -> None:
    assert _planned(app, *arguments) == ["python3", str(app / "main.py"), *expected_tail]


@pytest.mark.parametrize("shell", [["bash"], ["sh", "-c", "ls results"], ["python", "-V"], ["python3"]])
def test_shells_and_python_run_as_given(app: Path, shell: list[str]) -> None:
    assert _planned(app, *shell) == shell


def test_interpreter_and_script_can_be_chosen(app: Path) -> None:
    assert _planned(app, "E", SCINAS_PYTHON="/opt/py/bin/python", SCINAS_MAIN="/srv/main.py") == \
        ["/opt/py/bin/python", "/srv/main.py", "E"]


def _fake_python(folder: Path) -> Path:
    path = folder / "fake-python"
    path.write_text(FAKE_PYTHON, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_a_real_run_gets_the_arguments_the_folder_and_the_tracking_variables(app: Path, tmp_path: Path) -> None:
    env = _env(app, SCINAS_PYTHON=str(_fake_python(tmp_path)), CONFIGS="E A",
               MLFLOW_TRACKING_URI="http://tracking:5000", NEPTUNE_PROJECT="team/nas", NEPTUNE_API_TOKEN="secret")
    done = subprocess.run([str(ENTRYPOINT), "E.training.epochs=1"], env=env, capture_output=True, text=True,
                          check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [f"cwd={app}", f"arg={app / 'main.py'}", "arg=E.training.epochs=1", "CONFIGS=E A",
                     "MLFLOW_TRACKING_URI=http://tracking:5000", "NEPTUNE_PROJECT=team/nas", "NEPTUNE_API_TOKEN=set"]
    assert "secret" not in done.stdout + done.stderr


def test_results_folder_the_user_cannot_write_is_reported_before_running(app: Path, tmp_path: Path) -> None:
    fake = _fake_python(app)  # inside app: readable by the other user too
    # The checkout may sit in a folder the other user cannot enter (mode 0700, like `mktemp -d` or
    # a home folder): run a copy of the entry point from app, which every user can read.
    entrypoint = app / "entrypoint.sh"
    shutil.copyfile(ENTRYPOINT, entrypoint)
    entrypoint.chmod(0o755)
    command = [str(entrypoint), "E"]
    if os.geteuid() == 0:
        # root writes everywhere: run as nobody, for whom the root-owned results folder is read-only.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv is not available to drop to another user")
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    else:
        (app / "results").chmod(stat.S_IRUSR | stat.S_IXUSR)
    done = subprocess.run(command, env=_env(app, SCINAS_PYTHON=str(fake), HOME=str(app)), capture_output=True,
                          text=True, check=False, timeout=30, cwd=app)
    (app / "results").chmod(0o755)
    assert done.returncode == 2
    assert "is not writable by uid" in done.stderr and '--user "$(id -u):$(id -g)"' in done.stderr
    assert "arg=" not in done.stdout  # python never started
    # Commands that only read still run.
    listed = subprocess.run([*command[:-1], "list"], env=_env(app, SCINAS_PYTHON=str(fake), HOME=str(app)),
                            capture_output=True, text=True, check=False, timeout=30, cwd=app)
    assert listed.returncode == 0, listed.stderr
    assert "arg=list" in listed.stdout
