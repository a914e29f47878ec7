"""The on-disk shard cache: samples are generated once and streamed from disk by every later run.

A dataset is written as ``n_shards`` pairs of raw little-endian float32 files in one folder named
after the dataset, its generator and the fingerprint of its definition::

    <cache_root>/<dataset>-<generator>-<fingerprint>/
        meta.json                 format version, fingerprint, definition, shapes, dtype, shards
        shard-00000.x.f32         inputs of shard 0, C order, shape (count, *input_shape)
        shard-00000.y.f32         targets of shard 0, shape (count, *target_shape)
        ...

Raw float32 was chosen over TFRecord or ``.npy`` because a piece of a shard is read inside the
TensorFlow graph with ``tf.io.read_file`` + ``tf.strings.substr`` + ``tf.io.decode_raw`` (no
Python generator, no GIL, no per-record parsing) and by NumPy with ``np.fromfile`` at an offset;
everything needed to interpret the bytes lives in ``meta.json``.

A cache is built in a temporary sibling folder (``.<name>.tmp-<host>-<pid>-<token>``): each file
and the folder are fsync'ed, ``meta.json`` is written last, then the folder is renamed into
place, so an interrupted build never leaves a half-written cache behind.  When two processes
build the same cache, the one that loses the rename discards its copy.  Leftover temporary
folders of killed builds are removed by the next build.  Opening a cache checks ``meta.json``
against the generator and the size of every file; a mismatch logs a warning and rebuilds.

Example::

    cache = ensure_cache(generator, Path("results/.cache"))
    for piece in cache.pieces(0, 100):
        x, y = cache.read(piece)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from scinas.atomic import fsync_directory
from scinas.data.base import DatasetGenerator
from scinas.errors import DataError

__all__ = [
    "DTYPE",
    "FORMAT_VERSION",
    "META_FILE",
    "Piece",
    "Shard",
    "ShardCache",
    "cache_directory",
    "clean_stale",
    "default_workers",
    "ensure_cache",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when the layout of the cache changes; caches of another version are rebuilt."""
META_FILE = "meta.json"
DTYPE = "<f4"
"""Every sample is stored as little-endian float32, whatever the byte order of the machine."""
_ITEM_BYTES = 4
_MIN_SAMPLES_PER_WORKER_SHARD = 500  # smaller shards are built one after the other
_STALE_AGE_S = 24 * 3600.0  # a temporary folder of another host is stale after a day
_TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<host>[A-Za-z0-9_.]*)-(?P<pid>\d+)-(?P<token>[0-9a-f]+)$")


@dataclass(frozen=True)
class Shard:
    """One shard: global samples ``[start, stop)`` stored in ``x_file`` and ``y_file``."""

    index: int
    start: int
    stop: int
    x_file: str
    y_file: str

    @property
    def count(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Piece:
    """``count`` consecutive samples of shard ``shard`` from ``offset``; ``start`` is the global index."""

    shard: int
    offset: int
    count: int
    start: int


@dataclass(frozen=True)
class ShardCache:
    """A complete, validated cache folder (see the module docstring)."""

    directory: Path
    fingerprint: str
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    shards: tuple[Shard, ...]

    @property
    def n_samples(self) -> int:
        return self.shards[-1].stop if self.shards else 0

    def x_path(self, shard: int) -> Path:
        return self.directory / self.shards[shard].x_file

    def y_path(self, shard: int) -> Path:
        return self.directory / self.shards[shard].y_file

    def pieces(self, start: int, stop: int) -> list[Piece]:
        """The pieces of shards that hold global samples ``[start, stop)``, in order."""
        if not 0 <= start <= stop <= self.n_samples:
            raise DataError(f"sample range [{start}, {stop}) is outside the {self.n_samples} cached samples")
        pieces: list[Piece] = []
        for shard in self.shards:
            lo, hi = max(start, shard.start), min(stop, shard.stop)
            if lo < hi:
                pieces.append(Piece(shard.index, lo - shard.start, hi - lo, lo))
        return pieces

    def read(self, piece: Piece) -> tuple[np.ndarray, np.ndarray]:
        """The samples ``(x, y)`` of ``piece`` as float32 arrays (read from disk, nothing cached)."""
        return (_read_rows(self.x_path(piece.shard), piece.offset, piece.count, self.input_shape),
                _read_rows(self.y_path(piece.shard), piece.offset, piece.count, self.target_shape))

    def read_range(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Global samples ``[start, stop)`` as two float32 arrays (loads them all into memory)."""
        parts = [self.read(piece) for piece in self.pieces(start, stop)]
        if not parts:
            return (np.zeros((0, *self.input_shape), np.float32), np.zeros((0, *self.target_shape), np.float32))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    @classmethod
    def open(cls, directory: Path, generator: DatasetGenerator, *, verify: bool = False) -> ShardCache:
        """Open the cache of ``generator`` in ``directory``; DataError if it is missing or invalid.

        ``verify`` also checks the SHA-256 of every file (reads all the data).
        """
        meta_path = directory / META_FILE
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{meta_path} cannot be read: {exc}") from exc
        info = generator.info()
        expected = {
            "format_version": FORMAT_VERSION,
            "fingerprint": generator.fingerprint(),
            "definition": _canonical(generator.definition()),
            "dtype": DTYPE,
            "input_shape": list(info.input_shape),
            "target_shape": list(info.target_shape),
        }
        for key, value in expected.items():
            if not isinstance(meta, dict) or meta.get(key) != value:
                found = meta.get(key) if isinstance(meta, dict) else meta
                raise DataError(f"{meta_path}: {key} is {found!r}, expected {value!r}")
        bounds = generator.shard_bounds()
        try:
            shards = tuple(Shard(int(s["index"]), int(s["start"]), int(s["stop"]), str(s["x_file"]),
                                 str(s["y_file"])) for s in meta["shards"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{meta_path}: malformed shard list ({exc})") from exc
        if [(s.start, s.stop) for s in shards] != bounds or [s.index for s in shards] != list(range(len(bounds))):
            raise DataError(f"{meta_path}: the shard sizes do not match the dataset definition")
        cache = cls(directory, generator.fingerprint(), tuple(info.input_shape), tuple(info.target_shape), shards)
        digests = meta.get("sha256", {})
        for shard in shards:
            for name, shape in ((shard.x_file, cache.input_shape), (shard.y_file, cache.target_shape)):
                path = directory / name
                size = shard.count * math.prod(shape) * _ITEM_BYTES
                try:
                    actual = path.stat().st_size
                except OSError as exc:
                    raise DataError(f"{path} is missing: {exc}") from exc
                if actual != size:
                    raise DataError(f"{path} has {actual} bytes, expected {size}")
                if verify and digests.get(name) != _sha256_file(path):
                    raise DataError(f"{path} is corrupt (its SHA-256 differs from {META_FILE})")
        return cache


def cache_directory(generator: DatasetGenerator, cache_root: Path) -> Path:
    """``<cache_root>/<dataset>-<generator>-<fingerprint>`` (unsafe characters replaced)."""
    name = f"{generator.dataset}-{generator.name}-{generator.fingerprint()}"
    return Path(cache_root) / re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".")


def ensure_cache(generator: DatasetGenerator, cache_root: Path, *, progress: bool = True,
                 verify: bool = False, workers: int | None = None) -> ShardCache:
    """The cache of ``generator`` under ``cache_root``: reused when valid, (re)built otherwise.

    ``progress`` shows a tqdm bar while generating (only on a terminal); ``verify`` checks the
    checksum of every file of an existing cache before reusing it; ``workers`` is the number of
    threads generating shards (default: :func:`default_workers`).  Every shard has its own
    random stream, so the data do not depend on ``workers``.
    """
    cache_root = Path(cache_root)
    final = cache_directory(generator, cache_root)
    if final.exists():
        try:
            cache = ShardCache.open(final, generator, verify=verify)
        except DataError as exc:
            logger.warning("dataset cache %s is invalid (%s); rebuilding it", final, exc)
            _discard(final)
        else:
            logger.info("reusing the dataset cache %s", final)
            return cache
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the cache folder {cache_root}: {exc}") from exc
    clean_stale(cache_root)
    temp = _sibling(final, "tmp")
    temp.mkdir()
    try:
        _build(generator, temp, progress=progress, workers=workers)
        try:
            os.rename(temp, final)
        except OSError:
            if not final.exists():
                raise
            # Another process finished first: keep its cache, drop ours.
            logger.info("another process built %s first; discarding this copy", final)
            shutil.rmtree(temp, ignore_errors=True)
        else:
            fsync_directory(cache_root)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return ShardCache.open(final, generator)


def clean_stale(cache_root: Path) -> list[Path]:
    """Remove temporary folders of builds that were killed; return the folders removed.

    A folder made on this host is stale once its process is gone; one made on another host
    (a shared file system) once it is a day old.
    """
    removed: list[Path] = []
    host = _host()
    try:
        entries = list(Path(cache_root).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_PATTERN.match(entry.name)
        if match is None or not entry.is_dir():
            continue
        if match["host"] == host and os.name == "posix":
            stale = not _process_alive(int(match["pid"]))
        else:
            try:
                stale = time.time() - entry.stat().st_mtime > _STALE_AGE_S
            except OSError:
                continue
        if stale:
            logger.info("removing %s, left behind by an interrupted cache build", entry)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


# -- building --------------------------------------------------------------------------------------

def default_workers(generator: DatasetGenerator) -> int:
    """Threads for building a cache: one per core, but only for shards big enough to gain from
    it, and never more than there are shards."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_shard = generator.shape.n_samples / generator.shape.n_shards
    if per_shard < _MIN_SAMPLES_PER_WORKER_SHARD:
        return 1
    return max(1, min(cores, generator.shape.n_shards))


def _make_shard(generator: DatasetGenerator, index: int, start: int, stop: int,
                directory: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Generate, check and write one shard; runs in the building thread or a worker thread."""
    info = generator.info()
    count = stop - start
    try:
        x, y = generator.generate_shard(index, count, generator.shard_rng(index))
    except Exception as exc:
        raise DataError(f"dataset {generator.dataset!r}: generating shard {index} failed: "
                        f"{type(exc).__name__}: {exc}") from exc
    x_file, y_file = f"shard-{index:05d}.x.f32", f"shard-{index:05d}.y.f32"
    digests: dict[str, str] = {}
    for name, array, shape, what in ((x_file, x, tuple(info.input_shape), "inputs"),
                                     (y_file, y, tuple(info.target_shape), "targets")):
        data = _checked(generator, index, array, (count, *shape), what)
        digests[name] = _write_synced(directory / name, data)
    return {"index": index, "start": start, "stop": stop, "x_file": x_file, "y_file": y_file}, digests


def _build(generator: DatasetGenerator, directory: Path, *, progress: bool, workers: int | None = None) -> None:
    info = generator.info()
    input_shape, target_shape = tuple(info.input_shape), tuple(info.target_shape)
    bounds = generator.shard_bounds()
    workers = default_workers(generator) if workers is None else max(1, min(workers, len(bounds)))
    shards: dict[int, dict[str, Any]] = {}
    digests: dict[str, str] = {}
    started = time.perf_counter()
    show = progress and sys.stderr.isatty()
    with tqdm(total=generator.shape.n_samples, desc=f"generating {generator.dataset}", unit="sample",
              disable=not show, leave=False) as bar:
        if workers == 1:
            for index, (start, stop) in enumerate(bounds):
                shards[index], made = _make_shard(generator, index, start, stop, directory)
                digests.update(made)
                bar.update(stop - start)
        else:
            # Threads, not processes: generators do their work in NumPy, which releases the GIL,
            # and threads need no picklable generator or `if __name__ == "__main__"` guard in
            # user scripts.  BLAS is held at one thread: the parallelism is across shards.
            with ThreadPoolExecutor(max_workers=workers) as pool, threadpool_limits(limits=1, user_api="blas"):
                futures = {pool.submit(_make_shard, generator, index, start, stop, directory): stop - start
                           for index, (start, stop) in enumerate(bounds)}
                try:
                    for future in as_completed(futures):
                        shard, made = future.result()
                        shards[int(shard["index"])] = shard
                        digests.update(made)
                        bar.update(futures[future])
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    meta = {
        "format_version": FORMAT_VERSION,
        "fingerprint": generator.fingerprint(),
        "definition": _canonical(generator.definition()),
        "dataset": generator.dataset,
        "generator": generator.name,
        "dtype": DTYPE,
        "input_shape": list(input_shape),
        "target_shape": list(target_shape),
        "n_samples": generator.shape.n_samples,
        "shards": [shards[i] for i in range(len(bounds))],
        "sha256": dict(sorted(digests.items())),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_synced(directory / META_FILE, json.dumps(meta, indent=1, sort_keys=True).encode())
    fsync_directory(directory)
    logger.info("generated %d samples of %s in %d shards with %d thread(s) (%.1f s)",
                generator.shape.n_samples, generator.dataset, len(bounds), workers,
                time.perf_counter() - started)


def _checked(generator: DatasetGenerator, index: int, array: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``array`` as little-endian float32 after checking its shape and values."""
    where = f"dataset {generator.dataset!r} ({generator.name}), shard {index}"
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{where}: {what} must be a float32 NumPy array, got {type(array).__name__} "
                        f"{getattr(array, 'dtype', '')}")
    if array.shape != shape:
        raise DataError(f"{where}: {what} have shape {array.shape}, expected {shape} (see info())")
    data = np.ascontiguousarray(array, dtype=DTYPE)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise DataError(f"{where}: {what} contain {bad} NaN or infinite values")
    return data


def _write_synced(path: Path, data: np.ndarray | bytes) -> str:
    """Write ``data`` to ``path``, fsync it and return its SHA-256."""
    payload = data.data.cast("B") if isinstance(data, np.ndarray) else data
    with open(path, "wb") as file:
        file.write(payload)
        file.flush()
        os.fsync(file.fileno())
    return hashlib.sha256(payload).hexdigest()


def _read_rows(path: Path, offset: int, count: int, shape: tuple[int, ...]) -> np.ndarray:
    row = math.prod(shape)
    try:
        values = np.fromfile(path, dtype=DTYPE, count=count * row, offset=offset * row * _ITEM_BYTES)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if values.size != count * row:
        raise DataError(f"{path} is truncated: expected {count} samples from sample {offset}")
    return values.astype(np.float32, copy=False).reshape(count, *shape)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical(definition: dict[str, Any]) -> Any:
    """The definition as it reads back from JSON (tuples become lists, odd objects strings)."""
    return json.loads(json.dumps(definition, sort_keys=True, default=str))


# -- file-system helpers ---------------------------------------------------------------------------

def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _sibling(final: Path, kind: str) -> Path:
    return final.with_name(f".{final.name}.{kind}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}")


def _discard(directory: Path) -> None:
    """Move ``directory`` aside atomically, then delete it (readers never see it half-deleted)."""
    trash = _sibling(directory, "old")
    try:
        os.rename(directory, trash)
    except FileNotFoundError:
        return  # another process discarded it already
    except OSError as exc:
        raise DataError(f"cannot remove the invalid cache {directory}: {exc}") from exc
    shutil.rmtree(trash, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (POSIX only; elsewhere always True)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # signal 0 would not probe on Windows; rely on the age rule there
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True  # e.g. PermissionError: it exists but belongs to someone else
    return True
