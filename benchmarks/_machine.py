"""What a benchmark's numbers depend on: usable CPUs, load, platform and library versions.

Shared by the scripts in ``benchmarks/``: they run as ``python benchmarks/NAME.py``, so this
folder is on ``sys.path``; ``make bench`` skips files whose name starts with ``_``.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

__all__ = ["machine_facts"]


def machine_facts(**versions: str) -> dict[str, Any]:
    """CPUs usable by this process, the 1-minute load, platform, Python, numpy, scinas and ``versions``."""
    import scinas

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return {"cpus": usable, "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "numpy": np.__version__, **versions,
            "scinas": getattr(scinas, "__version__", "unknown")}
