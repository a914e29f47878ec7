"""The single-writer lock of a run store: an exclusive ``flock`` on ``<store>.lock``.

The operating system drops the lock when its holder dies (even by ``kill -9``), so a crashed
run never blocks its own resume; a second live writer is refused with the holder's pid.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from scinas.store.records import StoreError

if sys.platform != "win32":
    import fcntl

__all__ = ["WriterLock"]

logger = logging.getLogger(__name__)


class WriterLock:
    """The exclusive advisory lock on ``<store>.lock`` that makes one process the writer."""

    def __init__(self, store_path: Path) -> None:
        self.path = store_path.with_name(store_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        if sys.platform == "win32":
            logger.warning("no file locking on Windows: make sure one scinas process writes %s", self.path)
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            store = self.path.with_name(self.path.name.removesuffix(".lock"))
            raise StoreError(
                f"run store {store} is in use by another process (pid {holder}); wait for that run to "
                "finish or stop it, or open the store read-only (RunStore.open(path, readonly=True))"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        if sys.platform != "win32":
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
