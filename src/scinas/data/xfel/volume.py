"""The 3D diffracted intensity ``|F(q)|²`` of a molecule on a reciprocal-space grid, and its slices.

``F(q) = Σⱼ fⱼ(|q|)·exp(i q·rⱼ)`` is summed directly over the atoms (no FFT, so no aliasing
and no electron-density gridding), exploiting that a cubic grid is a tensor product: with
``q = (qx_a, qy_b, qz_c)``, ``exp(i q·r) = ex[a]·ey[b]·ez[c]``, so for the atoms of one
element ``S[a, b, c] = Σⱼ ex[a, j]·ey[b, j]·ez[c, j]`` is one complex matrix product per block
of ``a`` (``(block·N, atoms) @ (atoms, N)``), and ``F = Σ_elements f_e(|q|)·S_e``.  That is
exact to rounding and, through BLAS, a fraction of a second for a 20 kDa protein on a 73³ grid.
Memory is bounded by processing ``a`` in blocks of at most ``CHUNK_BYTES``.

The grid ``q_i = (i − h)·spacing``, ``i = 0 .. 2h``, is symmetric about 0, so Friedel's law
``I(q) = I(−q)`` holds on it (to rounding).  :meth:`IntensityVolume.sample` interpolates it
trilinearly, vectorised over any number of points; points outside the grid get 0.

Sampling: the intensity is the Fourier transform of the density's autocorrelation, which
vanishes beyond the particle's largest interatomic distance ``d``, so a spacing of ``π/d``
samples it completely (Shannon); :func:`grid_spacing` divides that by an oversampling factor
(2 by default) so trilinear interpolation stays close to the exact value between grid points.

Example::

    volume = compute_volume(elements, coordinates, spacing=grid_spacing(coordinates), q_max=0.8)
    values = volume.sample(q_vectors)          # (..., 3) → (...)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scinas.data.xfel.scattering import form_factors, normalize_element

__all__ = ["CHUNK_BYTES", "IntensityVolume", "compute_volume", "direct_intensity", "grid_half_size", "grid_spacing",
           "particle_diameter"]

Array = NDArray[np.float64]

CHUNK_BYTES = 64 * 1024 * 1024
"""Upper bound of the complex work arrays of one block of the direct sum."""
_POINTS_PER_BLOCK = 1 << 15


def particle_diameter(coordinates: Array) -> float:
    """An upper bound of the largest interatomic distance: twice the largest distance from the centroid."""
    centred = coordinates - coordinates.mean(axis=0)
    return float(2.0 * np.sqrt((centred**2).sum(axis=1).max())) if len(coordinates) > 1 else 1.0


def grid_spacing(diameter: float, oversampling: float = 2.0) -> float:
    """Grid spacing (Å⁻¹) that samples the intensity of a particle of ``diameter`` (Å) ``oversampling``
    times finer than Shannon's ``π / diameter``."""
    return math.pi / (max(diameter, 1.0) * oversampling)


def grid_half_size(q_max: float, spacing: float) -> int:
    """``h`` of the grid ``(2h + 1)³`` whose last interval still holds every ``|q| ≤ q_max``."""
    return max(1, math.ceil(q_max / spacing * (1.0 + 1e-9)) + 1)


@dataclass(frozen=True, eq=False)
class IntensityVolume:
    """``|F|²`` (electrons²) at ``q = (i − h)·spacing`` for ``i, j, k = 0 .. 2h`` (axes x, y, z)."""

    values: Array
    spacing: float

    @property
    def half_size(self) -> int:
        return int(self.values.shape[0] - 1) // 2

    @property
    def q_max(self) -> float:
        """The largest ``|q|`` inside the grid in every direction (the inscribed sphere's radius)."""
        return self.half_size * self.spacing

    def sample(self, q: Array) -> Array:
        """Trilinear interpolation at ``q`` (``(..., 3)``, Å⁻¹); 0 outside the grid."""
        points = np.asarray(q, dtype=np.float64)
        u = (points.reshape(-1, 3).T / self.spacing + self.half_size).astype(np.float32)
        result: Array = self.interpolate(u).astype(np.float64).reshape(points.shape[:-1])
        return result

    def slices(self, q: Array, rotations: Array) -> NDArray[np.float32]:
        """``(n_rotations, n_points)`` values at ``Rᵀ·q`` for each rotation ``R`` (``(n, 3, 3)``) and
        each point of ``q`` (``(n_points, 3)``): the patterns of the molecule turned by ``R``.

        Points beyond :attr:`q_max` get 0 whatever the rotation (a rotation keeps ``|q|``)."""
        far = np.linalg.norm(q, axis=1) > self.q_max
        scaled = (np.transpose(rotations, (0, 2, 1)) / self.spacing).astype(np.float32)  # (n, 3, 3)
        u = np.matmul(scaled, np.ascontiguousarray(q.T, dtype=np.float32))  # (n, 3, points)
        u += np.float32(self.half_size)
        values = self.interpolate(np.ascontiguousarray(u.transpose(1, 0, 2)).reshape(3, -1), inside=not far.any())
        result = values.reshape(len(rotations), len(q))
        result[:, far] = 0.0
        return result

    def interpolate(self, u: NDArray[np.float32], *, inside: bool = False) -> NDArray[np.float32]:
        """Trilinear interpolation at fractional grid indices ``u`` (``(3, m)``, float32, modified);
        0 outside the grid.  ``inside = True`` promises every point lies inside (skips the test).
        Works through blocks of ``_POINTS_PER_BLOCK`` points, whose work arrays stay in the
        processor's cache."""
        out = np.empty(u.shape[1], dtype=np.float32)
        for start in range(0, u.shape[1], _POINTS_PER_BLOCK):
            stop = min(u.shape[1], start + _POINTS_PER_BLOCK)
            out[start:stop] = self._interpolate_block(u[:, start:stop], inside)
        return out

    def _interpolate_block(self, u: NDArray[np.float32], trusted: bool) -> NDArray[np.float32]:
        n = self.values.shape[0]
        inside = None if trusted else ((u >= 0.0) & (u <= n - 1)).all(axis=0)
        if inside is not None:
            np.clip(u, 0.0, n - 1, out=u)
        base = np.minimum(u.astype(np.int32), n - 2)
        t = u - base  # fractions in [0, 1]
        index = (base[0] * n + base[1]) * n + base[2]
        v = self._flat32
        tx, ty, tz = t[0], t[1], t[2]
        out = np.zeros(u.shape[1], dtype=np.float32)
        for dx, wx in ((0, 1.0 - tx), (n * n, tx)):
            for dy, wy in ((0, 1.0 - ty), (n, ty)):
                corner = index + (dx + dy)
                low = v.take(corner)
                line = v.take(corner + 1)
                line -= low  # low + tz·(high − low), then weighted by wx·wy
                line *= tz
                line += low
                line *= wx
                line *= wy
                out += line
        if inside is not None:
            out[~inside] = 0.0
        return out

    @functools.cached_property
    def _flat32(self) -> NDArray[np.float32]:
        return self.values.astype(np.float32).ravel()


def _grouped(elements: Sequence[str]) -> dict[str, NDArray[np.intp]]:
    keys = [normalize_element(e) for e in elements]
    return {key: np.flatnonzero(np.array(keys) == key) for key in sorted(set(keys))}


def compute_volume(elements: Sequence[str], coordinates: Array, *, spacing: float, q_max: float) -> IntensityVolume:
    """``|F(q)|²`` of the atoms on the smallest symmetric grid of ``spacing`` that holds ``|q| ≤ q_max``.

    ``coordinates`` in Å (their origin does not matter: a translation only changes phases).
    """
    coordinates = np.asarray(coordinates, dtype=np.float64)
    centred = coordinates - coordinates.mean(axis=0)
    h = grid_half_size(q_max, spacing)
    n = 2 * h + 1
    axis = (np.arange(n) - h) * spacing
    groups = _grouped(elements)
    amplitude = np.zeros((n, n, n), dtype=np.complex128)
    largest = max(len(index) for index in groups.values())
    block = max(1, min(n, CHUNK_BYTES // (16 * n * max(largest, n))))
    for element, index in groups.items():
        x, y, z = (centred[index, i] for i in range(3))
        ex = np.exp(1j * np.outer(axis, x))  # (n, atoms)
        ey = np.exp(1j * np.outer(axis, y))
        ez_t = np.exp(1j * np.outer(z, axis))  # (atoms, n)
        for start in range(0, n, block):
            stop = min(n, start + block)
            pairs = (ex[start:stop, None, :] * ey[None, :, :]).reshape(-1, len(index))
            partial = (pairs @ ez_t).reshape(stop - start, n, n)
            qx, qy, qz = np.meshgrid(axis[start:stop], axis, axis, indexing="ij", sparse=True)
            f = form_factors([element], np.sqrt(qx**2 + qy**2 + qz**2))[0]
            amplitude[start:stop] += f * partial
    values = amplitude.real**2 + amplitude.imag**2
    return IntensityVolume(values, spacing)


def direct_intensity(elements: Sequence[str], coordinates: Array, q: Array) -> Array:
    """``|F(q)|²`` at arbitrary points ``q`` (``(..., 3)``) by the plain sum over atoms (slow; a reference)."""
    points = np.asarray(q, dtype=np.float64)
    flat = points.reshape(-1, 3)
    total = np.zeros(len(flat), dtype=np.complex128)
    norm = np.linalg.norm(flat, axis=1)
    centred = np.asarray(coordinates, dtype=np.float64) - np.asarray(coordinates).mean(axis=0)
    for element, index in _grouped(elements).items():
        f = form_factors([element], norm)[0]
        step = max(1, CHUNK_BYTES // (16 * len(index)))
        for start in range(0, len(flat), step):
            part = slice(start, start + step)
            total[part] += f[part] * np.exp(1j * (flat[part] @ centred[index].T)).sum(axis=1)
    result: Array = (total.real**2 + total.imag**2).reshape(points.shape[:-1])
    return result
