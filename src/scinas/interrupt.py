"""A run's interrupt (SIGINT: Ctrl-C, ``kill -INT``, the dashboard's stop) that cannot be lost.

Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the main thread happens to be.
When that is inside a ``__del__`` method or a weak-reference callback, Python cannot raise it:
it prints ``Exception ignored in ...`` and drops the interrupt, and the run goes on as if nobody
had asked.  TensorFlow runs such callbacks all the time while it traces a function, which is what
a search does between two steps (fitting its predictors): an interrupt sent then was seen to be
ignored for minutes.

While a run executes, :func:`interruptible` installs a handler that records the request *and*
raises ``KeyboardInterrupt`` at once, as Python's own does.  The places that a run passes through
often — each pass of the trial loop, each training batch, each epoch of a predictor's fit, each
poll of a worker — call :func:`check_interrupt`, which raises it again when it was requested: an
interrupt dropped in a callback is then answered at the next of those places, within a second or
so, and the run stops cleanly and resumable as it does after any interrupt.

The request lives in the installed handler itself (``signal.getsignal``), so there is no module
state: outside :func:`interruptible`, and in threads other than the main one, nothing changes.

Example::

    with interruptible():
        for batch in batches:
            check_interrupt()
            train(batch)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["InterruptRequest", "check_interrupt", "interruptible"]


class InterruptRequest:
    """The SIGINT handler of :func:`interruptible`: remembers that an interrupt came, then raises it."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        raise KeyboardInterrupt


@contextmanager
def interruptible() -> Iterator[InterruptRequest | None]:
    """Install :class:`InterruptRequest` as the SIGINT handler for the block (the previous one after).

    Yields the handler; ``None`` (and nothing installed) off the main thread, where Python delivers
    no signal, and when SIGINT is ignored (a background job of a non-interactive shell) or handled
    by code that is not Python's, which stays as it is.  Nested blocks share the outer block's handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    previous = signal.getsignal(signal.SIGINT)
    if isinstance(previous, InterruptRequest):
        yield previous
        return
    if previous is signal.SIG_IGN or previous is None:  # None: a handler not set from Python, kept
        yield None
        return
    handler = InterruptRequest()
    signal.signal(signal.SIGINT, handler)
    try:
        yield handler
    finally:
        signal.signal(signal.SIGINT, previous)


def check_interrupt() -> None:
    """Raise ``KeyboardInterrupt`` when an interrupt was requested in :func:`interruptible` (cheap)."""
    handler = signal.getsignal(signal.SIGINT)
    if isinstance(handler, InterruptRequest) and handler.requested:
        raise KeyboardInterrupt
