"""Datasets read from files (or bundled with a library) rather than generated.

A :class:`LoadedDataset` loads its source once per instance (:meth:`LoadedDataset.load`), then
serves it through the same shard cache and tf.data pipeline as the generated datasets, so a
training run never reads the original files again.  What differs from a generator:

* the files give the number of samples: ``[d.shape] n_samples`` is optional; a smaller value
  takes a seeded random subset of that size (for quick runs), keeping the proportion of the
  source's test split; a larger one is an error;
* a source with a test split of its own (UCR ``_TEST`` files, a ``test/`` folder, TFDS "test",
  ``x_test`` arrays) keeps it as the test split, and the validation split is carved from its
  training part in the proportion ``splits[1] / (splits[0] + splits[1])``; otherwise the
  ``splits`` fractions divide everything;
* the samples of each part are permuted by ``seed`` (so validation is a random subset);
* the cache key covers the source files' names, sizes and modification times, so editing a
  file rebuilds the cache.

Labels of classification sources are mapped to ``0..k-1`` in sorted order of the original
labels (kept as ``DatasetInfo.target_names``) and stored as float32 class indices.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scinas.config.reader import Table
from scinas.data.base import SPLITS, DatasetGenerator, DatasetInfo, ShapeConfig, split_sizes
from scinas.errors import ConfigError, DataError

__all__ = ["LoadedDataset", "SourceArrays", "encode_labels", "existing_path", "file_signature"]


@dataclass(frozen=True, eq=False)
class SourceArrays:
    """What a source holds: training (and optional test) arrays, float32, and what the targets mean.

    ``y`` is ``(n,)`` class indices for classification, ``(n, ...)`` values for regression.
    """

    x: np.ndarray
    y: np.ndarray
    task: Literal["regression", "classification", "segmentation"]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    target_names: tuple[str, ...] = ()
    ignore_class: int | None = None

    @property
    def n_classes(self) -> int | None:
        return len(self.target_names) if self.task in ("classification", "segmentation") else None


def encode_labels(labels: Sequence[Any] | np.ndarray, *others: Sequence[Any] | np.ndarray
                  ) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Map labels (any type) to ``0..k-1`` in sorted order; returns the names and the index arrays
    of ``labels`` and each of ``others`` (a label of ``others`` must occur in ``labels``)."""
    values = np.asarray(labels)
    classes = sorted({_label_key(v) for v in values.tolist()}, key=_sort_key)
    index = {label: i for i, label in enumerate(classes)}
    encoded = []
    for array in (values, *(np.asarray(o) for o in others)):
        unknown = {_label_key(v) for v in array.tolist()} - index.keys()
        if unknown:
            raise DataError(f"labels {sorted(unknown, key=_sort_key)[:5]} of the test data do not occur in the "
                            f"training data (classes: {classes[:10]})")
        encoded.append(np.array([index[_label_key(v)] for v in array.tolist()], dtype=np.float32))
    return tuple(str(c) for c in classes), encoded


def _label_key(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def existing_path(table: Table, key: str, *, directory: bool = False) -> str:
    """The absolute path written at ``key``; a ConfigError naming the key when it does not exist.

    Relative paths are relative to the folder scinas is started from.
    """
    path = Path(table.string(key)).expanduser()
    kind = "folder" if directory else "file"
    if not path.exists():
        raise table.error(key, f"no such {kind} (from {Path.cwd()})",
                          fix="give an absolute path or one relative to the folder scinas is started from")
    if directory != path.is_dir():
        raise table.error(key, f"expected a {kind}")
    return str(path.resolve())


def file_signature(paths: Sequence[Path]) -> list[list[Any]]:
    """Names, sizes and modification times of ``paths`` (what the cache key needs to see changes)."""
    signature = []
    for path in sorted(paths):
        stat = path.stat()
        signature.append([str(path), stat.st_size, stat.st_mtime_ns])
    return signature


@dataclass(frozen=True, eq=False)
class _Resolved:
    x: np.ndarray | None  # None once released
    y: np.ndarray | None
    shape: ShapeConfig
    info: DatasetInfo


class LoadedDataset(DatasetGenerator):
    """Base of file-backed datasets: implement :meth:`parse_parameters`, :meth:`load` and
    :meth:`source_signature`."""

    generated = False

    @abc.abstractmethod
    def load(self) -> SourceArrays:
        """Read the whole source (called at most once per instance)."""

    @abc.abstractmethod
    def source_signature(self) -> Any:
        """JSON data that changes whenever the source's content may have (see :func:`file_signature`)."""

    # -- the requested shape is resolved against the source ------------------------------------
    @property  # type: ignore[override]
    def shape(self) -> ShapeConfig:
        return self._resolved.shape

    @shape.setter
    def shape(self, value: ShapeConfig) -> None:
        self._requested = value
        self.__dict__.pop("_resolved", None)

    def _checked_source(self) -> SourceArrays:
        source = self.load()
        for name, array in (("x", source.x), ("y", source.y)):
            if array.dtype != np.float32:
                raise DataError(f"{self.dataset}: load() returned {name} of dtype {array.dtype}, expected float32")
        if len(source.x) != len(source.y):
            raise DataError(f"{self.dataset}: {len(source.x)} inputs but {len(source.y)} targets")
        parts = (("inputs", source.x), ("targets", source.y), ("test inputs", source.x_test),
                 ("test targets", source.y_test))
        for part, values in parts:
            if values is not None and not np.isfinite(values).all():
                bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
                raise DataError(f"{self.dataset}: {int(bad.sum())} of the {len(values)} {part} hold NaN or infinite "
                                f"values (the first is sample {int(np.flatnonzero(bad)[0])}); scinas stores "
                                "finite numbers only: fill or drop them in the source")
        if source.task in ("classification", "segmentation") and len(source.target_names) < 2:
            raise DataError(f"{self.dataset}: a {source.task} dataset needs at least two classes, found "
                            f"{list(source.target_names)}")
        return source

    @functools.cached_property
    def _resolved(self) -> _Resolved:
        requested = self._requested
        source = self._checked_source()
        rng = np.random.default_rng(np.random.SeedSequence([requested.seed, 2024]))
        parts = [(source.x, source.y)]
        if source.x_test is not None and source.y_test is not None:
            parts.append((source.x_test, source.y_test))
        total = sum(len(x) for x, _ in parts)
        wanted = requested.n_samples or total
        if wanted > total:
            raise ConfigError(f"the source holds only {total} samples", path=f"{self.dataset}.shape.n_samples",
                              value=wanted, fix=f"leave n_samples out to use all {total}, or give fewer")
        if wanted < 3:
            raise DataError(f"{self.dataset}: the source holds only {total} samples; at least 3 are needed")
        # how many of each part to keep (proportional), then a seeded permutation of each
        counts = [len(x) for x, _ in parts]
        if wanted < total:
            kept = [round(c * wanted / total) for c in counts]
            kept[0] = wanted - sum(kept[1:])
            counts = kept
        chosen = []
        for (x, y), count in zip(parts, counts, strict=True):
            order = rng.permutation(len(x))[:count]
            chosen.append((x[order], y[order]))
        x_all = np.concatenate([x for x, _ in chosen])
        y_all = np.concatenate([y for _, y in chosen])
        if len(chosen) == 2:
            pool, n_test = counts[0], counts[1]
            share = requested.splits[1] / (requested.splits[0] + requested.splits[1])
            n_val = round(pool * share)
            sizes = (pool - n_val, n_val, n_test)
        else:
            sizes = split_sizes(wanted, requested.splits)
        if sizes[0] < 1:
            raise DataError(f"{self.dataset}: the training split would be empty ({sizes})")
        fractions = (sizes[0] / wanted, sizes[1] / wanted, sizes[2] / wanted)
        shape = dataclasses.replace(requested, n_samples=wanted, n_shards=min(requested.n_shards, wanted),
                                    splits=fractions)
        if split_sizes(wanted, fractions) != sizes:  # exact by construction; guard the arithmetic
            raise DataError(f"{self.dataset}: internal split mismatch {split_sizes(wanted, fractions)} != {sizes}")
        info = DatasetInfo(name=self.dataset, task=source.task, input_shape=tuple(int(d) for d in x_all.shape[1:]),
                           target_shape=tuple(int(d) for d in y_all.shape[1:]),
                           split_sizes=dict(zip(SPLITS, sizes, strict=True)), n_classes=source.n_classes,
                           target_names=source.target_names, ignore_class=source.ignore_class)
        return _Resolved(np.ascontiguousarray(x_all), np.ascontiguousarray(y_all), shape, info)

    # -- the generator interface ---------------------------------------------------------------
    def info(self) -> DatasetInfo:
        return self._resolved.info

    def generate_shard(self, index: int, n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        start, stop = self.shard_bounds()[index]
        if stop - start != n_samples:
            raise DataError(f"{self.dataset}: shard {index} holds {stop - start} samples, not {n_samples}")
        resolved = self._resolved
        if resolved.x is None or resolved.y is None:  # released: read the source again
            self.__dict__.pop("_resolved", None)
            previous, resolved = resolved, self._resolved
            if resolved.info != previous.info or resolved.x is None or resolved.y is None:
                raise DataError(f"{self.dataset}: the source changed while scinas was using it; run again")
        return resolved.x[start:stop], resolved.y[start:stop]

    def release(self) -> None:
        """Drop the samples held in memory (the cache serves them now); shapes and sizes stay known."""
        resolved = self.__dict__.get("_resolved")
        if resolved is not None and resolved.x is not None:
            self.__dict__["_resolved"] = dataclasses.replace(resolved, x=None, y=None)

    def definition(self) -> dict[str, Any]:
        definition = super().definition()
        definition["source"] = self.source_signature()
        definition["splits"] = list(self.shape.splits)
        return definition
