"""The one atomic write: content, fsync of file and folder, no temporary left behind on failure."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from scinas import atomic
from scinas.atomic import TEMP_MARKER, atomic_path, write_bytes_atomic, write_json_atomic, write_text_atomic


def _fsynced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what every ``os.fsync`` call synced: ``"dir"`` or ``"file"``."""
    calls: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        calls.append("dir" if _is_dir_fd(fd) else "file")
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    return calls


def _is_dir_fd(fd: int) -> bool:
    import stat

    return stat.S_ISDIR(os.fstat(fd).st_mode)


def test_writes_replace_the_content_and_sync_file_then_folder(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fsynced(monkeypatch)
    target = tmp_path / "state.json"
    target.write_text("old")
    write_json_atomic(target, {"epoch": 3}, newline=True)
    assert json.loads(target.read_text()) == {"epoch": 3} and target.read_text().endswith("\n")
    if os.name == "posix":
        assert calls == ["file", "dir"]
    write_text_atomic(tmp_path / "a.txt", "héllo")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    write_bytes_atomic(tmp_path / "sub" / "b.bin", b"\x00\x01")  # the folder is created
    assert (tmp_path / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "state.json", "sub"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        assert temporary.parent == tmp_path and temporary.suffix == ".keras" and TEMP_MARKER in temporary.name
        temporary.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_an_unserialisable_value_never_touches_the_target(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"x": object()})
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_atomic_path_syncs_what_a_path_writer_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fsynced(monkeypatch)
    with atomic_path(tmp_path / "w.npz") as temporary:
        temporary.write_bytes(b"npz")
    assert (tmp_path / "w.npz").read_bytes() == b"npz"
    if os.name == "posix":
        assert calls == ["file", "dir"]


def test_an_owner_only_write_never_exists_with_wider_permissions(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:  # the temporary file is fsynced before it is renamed
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    target = write_bytes_atomic(tmp_path / "task.json", b"{}", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert seen and seen[0] == 0o600
