"""TensorFlow's C++ start-up lines are kept off standard error; everything else written there stays."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from scinas.console.native import NATIVE_STARTUP_LINE, filtered_native_stderr, split_native_lines
from tests.conftest import REPO

# What TensorFlow 2.21 wrote here when it started (CPU only, no CUDA driver).
STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796400887.568444    7578 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796400887.568686    7578 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796400887.615074    7578 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796400960.555304   10637 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""  # noqa: E501


def test_the_startup_lines_are_recognised_and_nothing_else() -> None:
    others = ("error: config/configurations.toml: [E.training] epochs = 0: expected an integer >= 1\n"
              "/x/y.py:3: DeprecationWarning: old\n  warnings.warn('old')\n"
              "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nValueError: E0000\n")
    kept, hidden = split_native_lines(STARTUP + others)
    assert kept == others
    assert hidden == STARTUP.splitlines()


def test_the_window_holds_back_native_lines_and_writes_back_the_rest(capfd: pytest.CaptureFixture[str]) -> None:
    with filtered_native_stderr() as hidden:
        os.write(2, STARTUP.encode())
        os.write(2, b"a C library message\n")
        print("a Python message", file=sys.stderr)
    os.write(2, b"I0000 00:00:1.5 1 after.cc:1] written after the window\n")
    lines = capfd.readouterr().err.splitlines()
    # (pytest's capture takes sys.stderr itself, so the Python line may come first here)
    assert sorted(lines[:2]) == ["a C library message", "a Python message"]
    assert lines[2:] == ["I0000 00:00:1.5 1 after.cc:1] written after the window"]
    assert len(hidden) == len(STARTUP.splitlines())


def test_shown_with_verbose(capfd: pytest.CaptureFixture[str]) -> None:
    with filtered_native_stderr(show=True) as hidden:
        os.write(2, STARTUP.encode())
    assert capfd.readouterr().err == STARTUP and hidden == []


def test_an_error_in_the_window_still_reaches_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ZeroDivisionError), filtered_native_stderr():
        os.write(2, b"written before the error\n")
        raise ZeroDivisionError
    assert capfd.readouterr().err == "written before the error\n"
    os.write(2, b"descriptor 2 is back\n")
    assert capfd.readouterr().err == "descriptor 2 is back\n"


def _native_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if NATIVE_STARTUP_LINE.fullmatch(line)]


def test_tensorflow_starts_without_its_lines_and_shows_them_when_asked() -> None:
    code = textwrap.dedent("""
        import sys
        from scinas.console.native import start_tensorflow
        hidden = start_tensorflow(show=sys.argv[1] == "show")
        print(len(hidden))
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    quiet = subprocess.run([sys.executable, "-c", code, "hide"], capture_output=True, text=True, env=env,
                           timeout=300, check=False)
    assert quiet.returncode == 0, quiet.stderr
    assert _native_lines(quiet.stderr) == [], quiet.stderr
    if int(quiet.stdout.split()[-1]) == 0:
        pytest.skip("this TensorFlow wrote no start-up lines")
    shown = subprocess.run([sys.executable, "-c", code, "show"], capture_output=True, text=True, env=env,
                           timeout=300, check=False)
    assert shown.returncode == 0, shown.stderr
    assert _native_lines(shown.stderr), shown.stderr
