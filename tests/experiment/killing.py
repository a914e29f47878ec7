"""Kill a ``scinas`` run in a subprocess at a chosen point (for the resume tests).

The run is frozen with SIGSTOP the moment ``ready()`` holds, so it cannot move on between the
check and the kill, and only then killed with SIGKILL (nothing gets to clean up, as with a node
failure).  The deadline is generous because a loaded machine starts TensorFlow slowly; a run that
ends before ``ready()`` held fails the test with what was observed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.conftest import REPO

__all__ = ["epochs_recorded", "kill_run_when"]


def epochs_recorded(store_path: Path) -> int:
    """Epoch rows in a run store read-only, 0 while it does not exist or is locked."""
    try:
        with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM epochs").fetchone()[0])
    except sqlite3.Error:
        return 0


def kill_run_when(arguments: Sequence[str], ready: Callable[[], bool], *, deadline_s: float = 600.0,
                  poll_s: float = 0.02) -> None:
    """Run ``python src/main.py ARGUMENTS``; SIGKILL it as soon as ``ready()`` is true."""
    command = [sys.executable, str(REPO / "src" / "main.py"), *arguments]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + deadline_s
        while process.poll() is None and not ready():
            if time.monotonic() > deadline:
                raise AssertionError(f"the run did not reach the kill point within {deadline_s:.0f} s")
            time.sleep(poll_s)
        if process.poll() is None:
            process.send_signal(signal.SIGSTOP)
        if process.poll() is not None:
            _, stderr = process.communicate(timeout=30)
            raise AssertionError(f"the run ended (exit {process.returncode}) before it could be killed: "
                                 f"{stderr.decode(errors='replace')[-2000:]}")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
