"""The SQLite connection under a run store: opening, pragmas, the writer lock and transactions.

:class:`StoreConnection` owns everything about *how* the store's database file is opened and
written; :class:`~scinas.store.sqlite.RunStore` owns *what* is read and written.

Design choices (why):

* **One writer.**  Only the coordinating process writes.  It holds an exclusive, non-blocking
  ``flock`` on the sibling file ``<store>.lock`` while open, so a second scinas process pointed
  at the same run folder fails at once with the holder's pid instead of interleaving trials.
  The operating system drops the lock when the holder dies (even by ``kill -9``), so a crashed
  run never blocks its own resume.  A read-only connection takes no lock and opens SQLite with
  ``mode=ro``: reports and notebooks can read a live run.  flock locks belong to an open file
  description: a second writer in the same process is refused too, but a child made by
  ``fork`` shares the parent's lock (and must not use the parent's store anyway).
* **Atomic writes.**  :meth:`StoreConnection.transaction` runs its body in exactly one
  ``BEGIN IMMEDIATE`` ... ``COMMIT`` and rolls back on any exception, so a crash or a bad value
  never leaves half a trial behind.  :meth:`StoreConnection.create` builds the schema in a
  temporary file and renames it into place, so a store either exists complete or not at all.
* **WAL journal, synchronous=FULL.**  WAL lets readers run beside the writer.  FULL makes every
  commit durable across a power cut, not only across a process crash (NORMAL may lose the last
  commits).  The store writes a few rows per epoch, so the extra fsync costs nothing
  measurable, while losing a "completed" mark could make a resumed run train a trial twice.
* **Waiting, not failing, on a busy file.**  Connections wait up to :data:`BUSY_TIMEOUT_S` for
  a lock held by a reader's checkpoint instead of raising ``database is locked`` at once.
* **Thread-safe use.**  One re-entrant mutex serialises every use of the connection, so a
  listener or a progress thread may read while the trial loop writes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from scinas.atomic import atomic_path
from scinas.store.lock import WriterLock
from scinas.store.records import StoreError
from scinas.store.schema import SCHEMA_SQL, SCHEMA_VERSION, check_schema

__all__ = ["BUSY_TIMEOUT_S", "StoreConnection", "connect_readonly"]

#: Seconds a connection waits for a lock held by another connection before giving up.
BUSY_TIMEOUT_S = 30.0


class StoreConnection:
    """One open SQLite database of a run store, as its writer or as a read-only reader.

    Example::

        connection = StoreConnection.open(path, readonly=True)
        with connection.mutex:
            rows = connection.db.execute("SELECT name FROM trials").fetchall()
        connection.close()
    """

    def __init__(self, path: Path, connection: sqlite3.Connection, *, readonly: bool, lock: WriterLock | None) -> None:
        """Internal: use :meth:`create` or :meth:`open`."""
        self.path = path
        self.readonly = readonly
        self.mutex = threading.RLock()
        self._connection: sqlite3.Connection | None = connection
        self._lock = lock

    @classmethod
    def create(cls, path: Path, populate: Callable[[sqlite3.Connection], None]) -> StoreConnection:
        """A new store file at ``path`` (which must not exist), opened for writing.

        The schema, its version and whatever ``populate`` writes (in the same transaction) are
        built in a temporary file renamed into place, so the store appears complete or not at all.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(path)
        lock.acquire()
        try:
            if path.exists():
                raise StoreError(
                    f"a run store already exists at {path}; open it with RunStore.open to "
                    "resume, or choose another run folder"
                )
            with atomic_path(path) as temporary:
                build = sqlite3.connect(temporary, isolation_level=None)
                try:
                    build.executescript(SCHEMA_SQL)
                    build.execute("BEGIN IMMEDIATE")
                    build.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                    populate(build)
                    build.execute("COMMIT")
                finally:
                    build.close()
            return cls._connect(path, readonly=False, lock=lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> StoreConnection:
        """The existing store file at ``path``: as its writer (an older schema is upgraded) unless ``readonly``."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"no run store at {path}; check the run folder, or start a new run")
        if readonly:
            return cls._connect(path, readonly=True, lock=None)
        lock = WriterLock(path)
        lock.acquire()
        try:
            return cls._connect(path, readonly=False, lock=lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _connect(cls, path: Path, *, readonly: bool, lock: WriterLock | None) -> StoreConnection:
        if readonly:
            connection = connect_readonly(path)
        else:
            connection = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            connection.row_factory = sqlite3.Row
            check_schema(connection, path, readonly=readonly)
            if readonly:
                connection.execute("PRAGMA query_only = ON")
            else:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = FULL")
                connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            connection.close()
            raise
        return cls(path, connection, readonly=readonly, lock=lock)

    @property
    def closed(self) -> bool:
        return self._connection is None

    @property
    def db(self) -> sqlite3.Connection:
        """The SQLite connection; use it while holding :attr:`mutex`."""
        if self._connection is None:
            raise StoreError(f"the run store {self.path} is closed")
        return self._connection

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all."""
        if self.readonly:
            raise StoreError(
                f"the run store {self.path} was opened read-only; open it without "
                "readonly=True (as the only writer) to change it"
            )
        with self.mutex:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the database and give up the writer lock; safe to call twice."""
        with self.mutex:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if self._lock is not None:
                self._lock.release()
                self._lock = None


def connect_readonly(path: Path, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A plain read-only SQLite connection to ``path`` (``mode=ro``: it can never write or lock)."""
    return sqlite3.connect(
        path.resolve().as_uri() + "?mode=ro",
        uri=True,
        isolation_level=None,
        timeout=timeout,
        check_same_thread=False,
    )
