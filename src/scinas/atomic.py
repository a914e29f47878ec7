"""Atomic file writes: the one way scinas replaces a file.

A reader (a resumed run, ``scinas report``, a tracker, another process) must never see half a
file, and a crash or power loss must leave either the old file or the new one.  Every writer of
scinas goes through this module, which does the same four steps each time:

1. write a temporary file in the *same folder* (so the rename below never crosses file systems),
   named ``.<stem>.tmp-<pid>-<token><suffix>`` (the suffix is kept for writers such as
   ``keras.Model.save`` or ``numpy.savez`` that insist on one);
2. ``fsync`` it, so its content is on disk before its name is;
3. ``os.replace`` it over the target (atomic on POSIX and Windows);
4. ``fsync`` the folder, so the rename itself survives a crash.

On any error the temporary file is removed and the target is left as it was.

    write_text_atomic(run_dir / "manifest.json", text)
    write_json_atomic(path, {"epoch": 3})
    with atomic_path(trial_dir / "model.keras") as temporary:
        model.save(temporary)          # any writer that takes a path
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["TEMP_MARKER", "atomic_path", "fsync_directory", "temporary_name", "write_bytes_atomic",
           "write_json_atomic", "write_text_atomic"]

TEMP_MARKER = ".tmp-"
"""Part of every temporary name (``.<stem>.tmp-<pid>-<token><suffix>``), for clean-up and tests."""


def temporary_name(path: Path) -> Path:
    """A fresh temporary path beside ``path`` that keeps its suffix (``.model.tmp-42-9f3a1c07.keras``)."""
    return path.with_name(f".{path.stem}{TEMP_MARKER}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def fsync_directory(directory: Path) -> None:
    """Persist the entries of ``directory`` (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the rename is still atomic
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends, the file written there replaces it.

    For writers that want a path rather than bytes (``model.save``, ``numpy.savez``, a SQLite
    database being built).  The folder of ``path`` is created if missing.  If the block raises,
    the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        yield temporary
        _fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def write_bytes_atomic(path: Path | str, data: bytes, *, mode: int = 0o666) -> Path:
    """Replace ``path`` with ``data`` atomically (see the module docstring); returns ``path``.

    ``mode`` is the new file's permission bits before the umask (``0o600``: owner only); the file
    never exists with wider permissions, not even under its temporary name.
    """
    path = Path(path)
    with atomic_path(path) as temporary, os.fdopen(
            os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as handle:
        handle.write(data)
    return path


def write_text_atomic(path: Path | str, text: str, *, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically; returns ``path``."""
    return write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: Path | str, value: Any, *, indent: int | None = 2, sort_keys: bool = False,
                      default: Any = None, newline: bool = False) -> Path:
    """Replace ``path`` with ``value`` as JSON atomically; ``newline`` ends the file with one."""
    text = json.dumps(value, indent=indent, sort_keys=sort_keys, default=default)
    return write_text_atomic(path, text + "\n" if newline else text)
