"""How fast scinas simulates XFEL diffraction patterns, and how many pixels they light.

Run::

    .venv/bin/python benchmarks/xfel_generation.py [--images N] [--shard-size S] [--lit-images M] [--no-cache]

It prints one JSON object, for the default set-up of ``generator = "xfel"`` (127×127 pixels,
the shipped adenylate kinase pair, 4.6 keV, 600 µm pixels at 0.2 m, a 16-pixel beam stop):

* ``volume_s``: the one-off cost of the 3D intensities ``|F(q)|²`` of both conformations
  (``grid_size``³ points each, a direct sum over the atoms);
* ``images_per_s``: patterns per second in one thread once the volumes exist (slicing,
  trilinear interpolation, Poisson photons, ``log1p``), ``N`` images in shards of ``S``;
* ``cache_build_images_per_s``: building a shard cache of ``N`` images the way a run does
  (worker threads, checks, files written), volumes included;
* ``lit_fraction``: the fraction of pixels with at least one photon at the seed's intensities
  ``{"1e14": …, "1e15": …, "1e16": …}`` (``M`` Poisson patterns each, both conformations), to
  compare with the seed's 0.6 %, 4.4 % and 22 %; ``photons_per_image`` likewise;
* ``fitted_fluence_calibration``: the constant that best matches those three fractions (least
  squares of their logarithms, noiseless expectation ``1 − exp(−λ)`` over the same patterns),
  i.e. how ``FLUENCE_CALIBRATION`` was derived; ``fluence_calibration`` is the one in use.

Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

try:
    import scinas  # noqa: F401  (only: is it importable?)
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _machine import machine_facts
from scinas.config.reader import Table
from scinas.data.base import ShapeConfig
from scinas.data.cache import ensure_cache
from scinas.data.xfel import XfelGenerator
from scinas.data.xfel.geometry import quaternion_matrices, random_quaternions
from scinas.data.xfel.simulator import FLUENCE_CALIBRATION

__all__ = ["default_generator", "main", "measure_lit_fractions", "measure_speed"]

INTENSITIES = {"1e14": 1e14, "1e15": 1e15, "1e16": 1e16}
SEED_LIT_FRACTIONS = {"1e14": 0.006, "1e15": 0.044, "1e16": 0.22}


def default_generator(n_images: int, shard_size: int, beam_intensity: float = 1e15) -> XfelGenerator:
    """The xfel generator with every parameter at its default, as a ``data.toml`` entry builds it."""
    parameters = XfelGenerator.parse_parameters(Table({"beam_intensity": beam_intensity}, file="benchmark",
                                                      path="bench.parameters"))
    n_shards = max(1, min(n_images, round(n_images / shard_size)))
    shape = ShapeConfig(seed=0, n_samples=max(n_images, 3), n_shards=n_shards, batch_size=32, shuffle_buffer_size=0,
                        splits=(0.8, 0.1, 0.1))
    return XfelGenerator("bench", parameters, shape)


def measure_speed(n_images: int, shard_size: int, cache: bool) -> dict[str, Any]:
    generator = default_generator(n_images, shard_size)
    simulator = generator.simulator
    start = time.perf_counter()
    simulator.volumes()
    volume_s = time.perf_counter() - start
    start = time.perf_counter()
    for index, (a, b) in enumerate(generator.shard_bounds()):
        generator.generate_shard(index, b - a, generator.shard_rng(index))
    images_s = time.perf_counter() - start
    result: dict[str, Any] = {"images": n_images, "image_shape": list(generator.info().input_shape),
                              "grid_size": simulator.grid_size, "volume_s": round(volume_s, 3),
                              "images_per_s": round(n_images / images_s, 1)}
    if cache:
        fresh = default_generator(n_images, shard_size)  # volumes computed again, as in a run
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            ensure_cache(fresh, Path(folder), progress=False)
            result["cache_build_images_per_s"] = round(n_images / (time.perf_counter() - start), 1)
    return result


def measure_lit_fractions(n_images: int, seed: int = 1) -> dict[str, Any]:
    simulator = default_generator(3, 3).simulator
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_images) % simulator.n_classes)
    rotations = quaternion_matrices(random_quaternions(rng, n_images))
    unit = simulator.expected(labels, rotations, beam_intensity=1.0).astype(np.float64)  # linear in the intensity
    lit, photons = {}, {}
    for name, intensity in INTENSITIES.items():
        counts = rng.poisson(unit * intensity)
        lit[name] = round(float((counts > 0).mean()), 5)
        photons[name] = round(float(counts.sum(axis=(1, 2)).mean()), 1)
    uncalibrated = unit / FLUENCE_CALIBRATION  # expected photons per unit of FLUENCE_CALIBRATION

    def misfit(log_c: float) -> float:
        return sum((np.log(-np.expm1(-np.exp(log_c) * uncalibrated * INTENSITIES[k]).mean())
                    - np.log(target)) ** 2 for k, target in SEED_LIT_FRACTIONS.items())

    best = minimize_scalar(misfit, bounds=(-6.0, 6.0), method="bounded")
    return {"lit_images": n_images, "lit_fraction": lit, "seed_lit_fraction": SEED_LIT_FRACTIONS,
            "photons_per_image": photons, "fluence_calibration": FLUENCE_CALIBRATION,
            "fitted_fluence_calibration": round(float(np.exp(best.x)), 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="patterns generated for the speed measurement")
    parser.add_argument("--shard-size", type=int, default=500, help="patterns per generate_shard call")
    parser.add_argument("--lit-images", type=int, default=300, help="patterns per intensity for the lit fractions")
    parser.add_argument("--no-cache", action="store_true", help="skip the cache-build measurement")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {**machine_facts()}
    result.update(measure_speed(args.images, args.shard_size, not args.no_cache))
    result.update(measure_lit_fractions(args.lit_images))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
