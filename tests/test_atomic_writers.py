"""Every file write of scinas goes through :mod:`scinas.atomic`: no other temp-file scheme remains."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "scinas"

# What a hand-made atomic write looks like: a rename, or a temporary name/file.
_PATTERNS = re.compile(r"os\.replace\(|os\.rename\(|\.rename\(|\.replace\((?:temp|tmp)|tmp-|\.tmp\b|mkstemp|"
                       r"NamedTemporaryFile")
# data/cache.py publishes a whole folder of shards by renaming it (and moves a bad one aside the
# same way): a folder rename, not a file write, with its own fsync of each shard and of the folder.
_ALLOWED = {"atomic.py", "data/cache.py"}


def test_no_module_renames_or_builds_temporary_files_outside_the_helper() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative in _ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if _PATTERNS.search(code):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "write files with scinas.atomic instead:\n" + "\n".join(offenders)
