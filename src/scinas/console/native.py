"""TensorFlow's C++ start-up lines, kept off the console unless asked for.

When TensorFlow loads, its C++ runtime writes straight to the process's standard error (file
descriptor 2) before its own logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does not reach them::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796400887.568444 7578 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1796400887.568686 7578 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    E0000 00:00:1796400960.555304 10637 cuda_platform.cc:52] failed call to cuInit: ...

The last one looks like an error but only says that there is no GPU.  :func:`start_tensorflow`
imports TensorFlow and lets it look for its devices (the step that writes the ``cuInit`` line)
while descriptor 2 points at a temporary file; then it restores descriptor 2 and writes back
everything that is not such a start-up line, so a Python warning or a message of scinas written
in that window still reaches the console.  Only that window is filtered: tracebacks and error
messages written later go to standard error untouched.  With ``show=True`` (``scinas -v``)
nothing is filtered.

Example::

    hidden = start_tensorflow(show=args.verbose)   # before anything imports keras
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["NATIVE_STARTUP_LINE", "filtered_native_stderr", "split_native_lines", "start_tensorflow"]

logger = logging.getLogger(__name__)

#: A line TensorFlow's C++ runtime writes while it starts: Abseil's note that logging is not set up
#: yet, a glog-style record (``I0000 00:00:1796400887.568444    7578 port.cc:153] ...``; level
#: I, W, E or F), or the second line of the CPU-instructions notice.
NATIVE_STARTUP_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-]+:\d+\] .*"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.")


def split_native_lines(text: str) -> tuple[str, list[str]]:
    """``(kept, hidden)``: ``text`` without TensorFlow's start-up lines, and those lines."""
    kept: list[str] = []
    hidden: list[str] = []
    for line in text.splitlines(keepends=True):
        if NATIVE_STARTUP_LINE.fullmatch(line.rstrip("\r\n")):
            hidden.append(line.rstrip("\r\n"))
        else:
            kept.append(line)
    return "".join(kept), hidden


@contextlib.contextmanager
def filtered_native_stderr(*, show: bool = False) -> Iterator[list[str]]:
    """Inside the block, TensorFlow's start-up lines on descriptor 2 are held back (see the module).

    Yields the list that receives the hidden lines when the block ends.  Everything else written
    to standard error in the block is written back, in order, when it ends (also when it raises).
    With ``show=True``, or when descriptor 2 cannot be redirected, nothing is held back.
    """
    hidden: list[str] = []
    if show:
        yield hidden
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to redirect (a detached process)
        yield hidden
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield hidden
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()  # what Python buffered belongs to the window
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept, lines = split_native_lines(capture.read().decode("utf-8", errors="replace"))
            hidden.extend(lines)
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def start_tensorflow(*, show: bool = False) -> list[str]:
    """Import TensorFlow and let it find its devices, its start-up lines hidden unless ``show``.

    Returns the hidden lines (also logged at DEBUG level).  Listing the physical devices loads
    the GPU driver (or finds none) without creating TensorFlow's context, so device settings
    made later (visible devices, memory growth) still apply.
    """
    with filtered_native_stderr(show=show) as hidden:
        import tensorflow as tf

        tf.config.list_physical_devices()
    for line in hidden:
        logger.debug("TensorFlow start-up: %s", line)
    return hidden
