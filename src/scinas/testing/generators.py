"""The conformance suite of :class:`~scinas.data.base.DatasetGenerator` implementations.

Every generator, built-in or contributed, should pass :func:`check_generator` on a small
configuration of itself.  The suite checks the contract the cache and the pipeline rely on:

* ``info()`` is consistent (shapes of positive ints, a known task, split sizes that are those of
  :func:`~scinas.data.base.split_sizes`) and stable;
* ``shard_bounds()`` covers ``[0, n_samples)`` contiguously with ``n_shards`` non-empty shards;
* ``generate_shard`` returns float32 NumPy arrays of shape ``(count, *input_shape)`` and
  ``(count, *target_shape)``, all finite;
* a shard depends only on its index and the seed: generating it again, or after other shards,
  gives identical bytes; different shards differ;
* ``release()`` (called once the cache is built) keeps ``info()`` and the fingerprint, and a
  shard generated afterwards is still the same;
* ``definition()`` is plain JSON; ``fingerprint()`` is stable, ignores batching and shuffling,
  and changes with the seed and the number of samples (and so do the samples).

Example (in a test module)::

    def test_my_generator_conforms():
        check_generator(MyGenerator("tiny", MyParameters(...), ShapeConfig(1, 60, 3, 8, 16, (0.6, 0.2, 0.2))))
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from scinas.data.base import SPLITS, TASKS, DatasetGenerator, DatasetInfo, split_sizes

__all__ = ["check_generator"]


def check_generator(generator: DatasetGenerator, *, max_shards: int = 3) -> None:
    """Raise AssertionError, naming the broken rule, unless ``generator`` honours the contract.

    At most ``max_shards`` shards (the first, second and last) are generated, each a few times,
    so run it on a small configuration.
    """
    label = f"{type(generator).__name__} ({generator.name or 'no name'})"
    _require(bool(generator.name), label, "the class attribute `name` must be set (its data.toml name)")
    _require(isinstance(generator.version, int) and generator.version >= 1, label,
             f"`version` must be an integer >= 1, got {generator.version!r}")
    info = _check_info(generator, label)
    bounds = _check_bounds(generator, label)

    chosen = sorted({0, 1, len(bounds) - 1} & set(range(len(bounds))))[:max(1, max_shards)]
    fingerprint = generator.fingerprint()
    first = {i: _generate(generator, i, bounds, info, label) for i in chosen}
    for i in reversed(chosen):  # again, in another order: nothing may depend on earlier calls
        x, y = _generate(generator, i, bounds, info, label)
        _require(np.array_equal(x, first[i][0]) and np.array_equal(y, first[i][1]), label,
                 f"shard {i} differs when generated again: a shard must depend only on its index and "
                 "the rng passed in (use `rng`, never global random state or state kept between calls)")
    if len(chosen) > 1:
        a, b = first[chosen[0]][0], first[chosen[1]][0]
        rows = min(len(a), len(b))
        _require(not np.array_equal(a[:rows], b[:rows]), label,
                 f"shards {chosen[0]} and {chosen[1]} have identical inputs: use the rng of each shard")
    _require(generator.fingerprint() == fingerprint, label, "generating shards changed the fingerprint")
    generator.release()  # what PreparedDataset does once the cache is built
    _require(generator.info() == info and generator.fingerprint() == fingerprint, label,
             "release() changed info() or the fingerprint")
    x, y = _generate(generator, chosen[0], bounds, info, label)
    _require(np.array_equal(x, first[chosen[0]][0]) and np.array_equal(y, first[chosen[0]][1]), label,
             f"shard {chosen[0]} differs after release(): released data must be read or made again identically")
    _check_fingerprint(generator, first[chosen[0]][0], label)


def _require(condition: bool, label: str, message: str) -> None:
    if not condition:
        raise AssertionError(f"{label}: {message}")


def _check_info(generator: DatasetGenerator, label: str) -> DatasetInfo:
    info = generator.info()
    _require(isinstance(info, DatasetInfo), label, f"info() must return a DatasetInfo, got {type(info).__name__}")
    _require(info == generator.info(), label, "info() differs between two calls")
    for what, shape in (("input_shape", info.input_shape), ("target_shape", info.target_shape)):
        _require(isinstance(shape, tuple) and all(isinstance(d, int) and d > 0 for d in shape), label,
                 f"info().{what} must be a tuple of positive ints, got {shape!r}")
    _require(info.task in TASKS, label, f"unknown task {info.task!r}")
    if info.task in ("classification", "segmentation"):
        _require(info.n_classes is not None and info.n_classes >= 2, label,
                 f"a {info.task} dataset must give n_classes >= 2")
    if info.task == "segmentation":
        _require(len(info.input_shape) == 3 and info.target_shape == info.input_shape[:2], label,
                 f"a segmentation dataset has images (h, w, c) and masks (h, w); got {info.input_shape} and "
                 f"{info.target_shape}")
    config = generator.shape
    expected = dict(zip(SPLITS, split_sizes(config.n_samples, config.splits), strict=True))
    _require(dict(info.split_sizes) == expected, label,
             f"info().split_sizes is {dict(info.split_sizes)}, expected {expected} "
             "(compute it with scinas.data.base.split_sizes)")
    return info


def _check_bounds(generator: DatasetGenerator, label: str) -> list[tuple[int, int]]:
    bounds = generator.shard_bounds()
    shape = generator.shape
    _require(len(bounds) == shape.n_shards, label, f"shard_bounds() has {len(bounds)} shards, "
             f"expected n_shards = {shape.n_shards}")
    position = 0
    for i, (start, stop) in enumerate(bounds):
        _require(start == position and stop > start, label,
                 f"shard {i} covers [{start}, {stop}): shards must be non-empty and contiguous from 0")
        position = stop
    _require(position == shape.n_samples, label,
             f"the shards cover {position} samples, expected n_samples = {shape.n_samples}")
    return bounds


def _generate(generator: DatasetGenerator, index: int, bounds: list[tuple[int, int]], info: DatasetInfo,
              label: str) -> tuple[np.ndarray, np.ndarray]:
    count = bounds[index][1] - bounds[index][0]
    result = generator.generate_shard(index, count, generator.shard_rng(index))
    _require(isinstance(result, tuple) and len(result) == 2, label,
             f"generate_shard must return a tuple (x, y), got {type(result).__name__}")
    x, y = result
    for what, array, shape in (("x", x, info.input_shape), ("y", y, info.target_shape)):
        _require(isinstance(array, np.ndarray), label,
                 f"shard {index}: {what} must be a NumPy array, got {type(array).__name__}")
        _require(array.dtype == np.float32, label, f"shard {index}: {what} has dtype {array.dtype}, expected float32")
        _require(array.shape == (count, *shape), label,
                 f"shard {index}: {what} has shape {array.shape}, expected {(count, *shape)} (from info())")
        bad = int(np.count_nonzero(~np.isfinite(array)))
        _require(bad == 0, label, f"shard {index}: {what} has {bad} NaN or infinite values")
    if info.task == "segmentation":
        allowed = set(range(int(info.n_classes or 0)))
        if info.ignore_class is not None:
            allowed.add(info.ignore_class)
        found = set(np.unique(y).tolist())
        _require(found <= allowed, label, f"shard {index}: mask values {sorted(found - allowed)[:5]} are neither "
                 f"classes 0..{int(info.n_classes or 0) - 1} nor the ignore_class")
    return x, y


def _variant(generator: DatasetGenerator, **shape_changes: Any) -> DatasetGenerator:
    """The same generator with a changed ``[d.shape]`` (built the way ``build_generator`` does)."""
    shape = dataclasses.replace(generator.shape, **shape_changes)
    if generator.augmentation is None:  # generators written before augmentation keep their signature
        return type(generator)(generator.dataset, generator.parameters, shape, generator.normalization)
    return type(generator)(generator.dataset, generator.parameters, shape, generator.normalization,
                           augmentation=generator.augmentation)


def _check_fingerprint(generator: DatasetGenerator, x0: np.ndarray, label: str) -> None:
    definition = generator.definition()
    try:
        json.dumps(definition, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{label}: definition() must be plain JSON data (it names the cache): {exc}") from None
    fingerprint = generator.fingerprint()
    _require(isinstance(fingerprint, str) and len(fingerprint) >= 8, label,
             f"fingerprint() must be a string of at least 8 characters, got {fingerprint!r}")
    _require(_variant(generator).fingerprint() == fingerprint, label,
             "an identical generator has another fingerprint")
    shape = generator.shape
    batching = _variant(generator, batch_size=shape.batch_size + 1, shuffle_buffer_size=shape.shuffle_buffer_size + 1)
    _require(batching.fingerprint() == fingerprint, label,
             "batch_size or shuffle_buffer_size changed the fingerprint: they do not change the samples")

    reseeded = _variant(generator, seed=shape.seed + 1)
    _require(reseeded.fingerprint() != fingerprint, label, "another seed gives the same fingerprint")
    bounds = reseeded.shard_bounds()
    other, _ = reseeded.generate_shard(0, bounds[0][1] - bounds[0][0], reseeded.shard_rng(0))
    _require(not np.array_equal(other, x0), label, "another seed gives the same samples in shard 0")

    # a generator makes any number of samples; a dataset read from files can only shrink
    resized = _variant(generator, n_samples=shape.n_samples + (1 if generator.generated else -1))
    _require(resized.fingerprint() != fingerprint, label, "another n_samples gives the same fingerprint")
