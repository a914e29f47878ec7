"""Stores of older schema versions, made from the SQL dumps in ``data/``, and raw reads of them.

``store_v2.sql`` .. ``store_v4.sql`` were dumped from the RunStore of that schema version; the
migration tests load one into a file and open it with today's RunStore.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DATA = Path(__file__).parent / "data"


def store_from_dump(version: int, path: Path) -> Path:
    """Write the schema-``version`` dump into a new SQLite file at ``path``; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(path)
    try:
        raw.executescript((DATA / f"store_v{version}.sql").read_text(encoding="utf-8"))
    finally:
        raw.close()
    return path


def raw_rows(path: Path, query: str) -> list[tuple[object, ...]]:
    """The rows of ``query`` read with plain sqlite3, bypassing the RunStore."""
    raw = sqlite3.connect(path)
    try:
        return list(raw.execute(query).fetchall())
    finally:
        raw.close()
