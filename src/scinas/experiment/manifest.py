"""The run manifest: what produced a run (versions, git revision, seed, host, devices)."""

from __future__ import annotations

import importlib.metadata
import platform
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["build_manifest"]

_PACKAGES = ("scinas", "tensorflow", "keras", "numpy", "scipy", "scikit-learn")
# Distributions that install a package under another name: the CPU image of docker/ installs
# TensorFlow as `tensorflow-cpu` (the same version without CUDA kernels).
_ALTERNATIVES: dict[str, tuple[str, ...]] = {"tensorflow": ("tensorflow-cpu",)}


def _version(package: str) -> str | None:
    for distribution in (package, *_ALTERNATIVES.get(package, ())):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10,
                                check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _devices() -> list[dict[str, str]]:
    import tensorflow as tf

    return [{"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()]


def build_manifest(*, experiment: str, run_id: str, seed: int, argv: list[str],
                   source_dir: Path | None = None) -> dict[str, Any]:
    """Everything needed to tell how a run was produced."""
    source_dir = source_dir or Path(__file__).resolve().parent
    revision = _git(["rev-parse", "HEAD"], source_dir)
    dirty = _git(["status", "--porcelain", "--untracked-files=no"], source_dir)
    return {
        "experiment": experiment,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "command": argv,
        "python": sys.version.split()[0],
        "packages": {name: _version(name) for name in _PACKAGES},
        "git": {"revision": revision, "dirty": bool(dirty) if dirty is not None else None},
        "host": {"name": socket.gethostname(), "platform": platform.platform(),
                 "processor": platform.machine()},
        "devices": _devices(),
    }
