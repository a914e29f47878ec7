"""The on-disk shard cache: reuse, invalidation, atomic builds, corruption and races."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scinas.data.cache import META_FILE, ShardCache, _host, cache_directory, clean_stale, ensure_cache
from scinas.errors import DataError

MakeGenerator = Callable[..., Any]  # the fixture of conftest.py


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


def test_built_once_then_reused(make_generator: MakeGenerator, cache_root: Path) -> None:
    first = make_generator()
    cache = ensure_cache(first, cache_root, progress=False)
    assert first.calls == [0, 1, 2, 3]
    assert cache.directory == cache_root / f"tagged-tagged_test-{first.fingerprint()}"
    assert [(s.start, s.stop) for s in cache.shards] == first.shard_bounds()
    meta = json.loads((cache.directory / META_FILE).read_text())
    assert meta["fingerprint"] == first.fingerprint()
    assert meta["input_shape"] == [4, 2] and meta["target_shape"] == [3] and meta["dtype"] == "<f4"
    assert (cache.directory / "shard-00001.x.f32").stat().st_size == cache.shards[1].count * 8 * 4

    second = make_generator()
    again = ensure_cache(second, cache_root, progress=False)
    assert second.calls == []
    assert again == cache
    assert _leftovers(cache_root) == []


def test_cached_bytes_are_the_generated_samples(make_generator: MakeGenerator, cache_root: Path) -> None:
    generator = make_generator()
    cache = ensure_cache(generator, cache_root, progress=False)
    start, stop = generator.shard_bounds()[2]
    x, y = generator.generate_shard(2, stop - start, generator.shard_rng(2))
    cx, cy = cache.read_range(start, stop)
    assert cx.dtype == np.float32 and np.array_equal(cx, x) and np.array_equal(cy, y)


def test_changed_definition_builds_a_new_cache(make_generator: MakeGenerator, cache_root: Path) -> None:
    old = ensure_cache(make_generator(), cache_root, progress=False)
    changed = make_generator(scale=3.0)
    new = ensure_cache(changed, cache_root, progress=False)
    assert new.directory != old.directory and new.fingerprint != old.fingerprint
    assert changed.calls == [0, 1, 2, 3]
    assert old.directory.exists()
    reseeded = make_generator(seed=8)
    assert cache_directory(reseeded, cache_root) not in (old.directory, new.directory)


def test_batching_does_not_change_the_cache(make_generator: MakeGenerator, cache_root: Path) -> None:
    ensure_cache(make_generator(), cache_root, progress=False)
    rebatched = make_generator(batch_size=3, shuffle_buffer_size=0, inputs="global")
    ensure_cache(rebatched, cache_root, progress=False)
    assert rebatched.calls == []


def test_crash_mid_build_leaves_no_cache(make_generator: MakeGenerator, cache_root: Path) -> None:
    crashing = make_generator()
    crashing.fail_on_shard = 2
    with pytest.raises(DataError, match="generating shard 2 failed: RuntimeError: simulated crash"):
        ensure_cache(crashing, cache_root, progress=False)
    assert crashing.calls == [0, 1, 2]
    assert not cache_directory(crashing, cache_root).exists()
    assert _leftovers(cache_root) == []

    healthy = make_generator()
    cache = ensure_cache(healthy, cache_root, progress=False)
    assert healthy.calls == [0, 1, 2, 3]
    assert cache.read_range(0, 50)[1][:, 0].tolist() == list(range(50))


def test_temporary_folders_of_killed_builds_are_removed(make_generator: MakeGenerator, cache_root: Path) -> None:
    generator = make_generator()
    name = cache_directory(generator, cache_root).name
    cache_root.mkdir()
    dead = cache_root / f".{name}.tmp-{_host()}-99999999-0badf00d"  # no such process
    dead.mkdir()
    (dead / "shard-00000.x.f32").write_bytes(b"\0" * 12)  # half-written
    live = cache_root / f".{name}.tmp-{_host()}-{os.getpid()}-0000beef"  # a build still running
    live.mkdir()
    unrelated = cache_root / ".notes"
    unrelated.mkdir()

    cache = ensure_cache(generator, cache_root, progress=False)
    assert not dead.exists()
    assert live.exists() and unrelated.exists()
    assert generator.calls == [0, 1, 2, 3] and cache.directory.exists()
    assert clean_stale(cache_root) == []


@pytest.mark.parametrize("damage", ["truncate", "delete", "meta", "definition"])
def test_damaged_cache_is_rebuilt(make_generator: MakeGenerator, cache_root: Path, damage: str,
                                  caplog: pytest.LogCaptureFixture) -> None:
    cache = ensure_cache(make_generator(), cache_root, progress=False)
    expected = cache.read_range(0, 50)
    shard = cache.directory / "shard-00001.x.f32"
    meta = cache.directory / META_FILE
    if damage == "truncate":
        shard.write_bytes(shard.read_bytes()[:-5])
    elif damage == "delete":
        shard.unlink()
    elif damage == "meta":
        meta.write_text("{ not json")
    else:
        text = json.loads(meta.read_text())
        text["definition"]["parameters"]["scale"] = 99.0
        meta.write_text(json.dumps(text))

    generator = make_generator()
    with caplog.at_level(logging.WARNING, logger="scinas.data.cache"):
        rebuilt = ensure_cache(generator, cache_root, progress=False)
    assert "invalid" in caplog.text and "rebuilding" in caplog.text
    assert generator.calls == [0, 1, 2, 3]
    assert rebuilt.directory == cache.directory
    for got, want in zip(rebuilt.read_range(0, 50), expected, strict=True):
        assert np.array_equal(got, want)
    assert _leftovers(cache_root) == []


def test_verify_detects_flipped_bytes(make_generator: MakeGenerator, cache_root: Path) -> None:
    cache = ensure_cache(make_generator(), cache_root, progress=False)
    shard = cache.directory / "shard-00000.y.f32"
    data = bytearray(shard.read_bytes())
    data[3] ^= 0xFF
    shard.write_bytes(bytes(data))

    unchecked = make_generator()
    ensure_cache(unchecked, cache_root, progress=False)  # same size: only a checksum notices
    assert unchecked.calls == []
    checked = make_generator()
    ensure_cache(checked, cache_root, progress=False, verify=True)
    assert checked.calls == [0, 1, 2, 3]
    ShardCache.open(cache.directory, make_generator(), verify=True)


def test_a_builder_that_loses_the_race_discards_its_copy(make_generator: MakeGenerator, cache_root: Path) -> None:
    rival = make_generator()
    slow = make_generator()

    def finish_rival_first(index: int) -> None:
        if index == 3:  # while the slow builder writes its last shard, the rival completes
            ensure_cache(rival, cache_root, progress=False)

    slow.on_shard = finish_rival_first
    cache = ensure_cache(slow, cache_root, progress=False)
    assert rival.calls == [0, 1, 2, 3] and slow.calls == [0, 1, 2, 3]
    assert [p.name for p in cache_root.iterdir()] == [cache.directory.name]
    assert cache.read_range(0, 50)[1][:, 0].tolist() == list(range(50))


def test_wrong_shapes_from_a_generator_are_a_data_error(make_generator: MakeGenerator, cache_root: Path) -> None:
    generator = make_generator()
    original = generator.generate_shard

    def transposed(index: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = original(index, n, rng)
        return x.transpose(0, 2, 1), y

    generator.generate_shard = transposed  # type: ignore[method-assign]
    with pytest.raises(DataError, match=r"inputs have shape \(12, 2, 4\), expected \(12, 4, 2\)"):
        ensure_cache(generator, cache_root, progress=False)
    assert not cache_directory(generator, cache_root).exists()
    assert _leftovers(cache_root) == []


def test_pieces_cross_shard_boundaries(make_generator: MakeGenerator, cache_root: Path) -> None:
    generator = make_generator()  # shards [0,12) [12,25) [25,38) [38,50)
    cache = ensure_cache(generator, cache_root, progress=False)
    pieces = cache.pieces(10, 40)
    assert [(p.shard, p.offset, p.count, p.start) for p in pieces] == [
        (0, 10, 2, 10), (1, 0, 13, 12), (2, 0, 13, 25), (3, 0, 2, 38)]
    x, y = cache.read_range(10, 40)
    assert y[:, 0].tolist() == list(range(10, 40)) and x.shape == (30, 4, 2)
    assert cache.pieces(7, 7) == []
    with pytest.raises(DataError, match="outside"):
        cache.pieces(0, 51)
