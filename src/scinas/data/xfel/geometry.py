"""Detector geometry and orientations of single-particle X-ray diffraction (REFERENCE §4).

A flat square detector of ``n_pixels × n_pixels`` pixels of side ``pixel_size`` (m) sits at
``distance`` (m) downstream of the sample, perpendicular to the beam (``+z``), centred on it.
Pixel ``(row, column)`` has its centre at ``x = (column − c)·pixel_size``,
``y = (row − c)·pixel_size`` with ``c = (n_pixels − 1)/2``, so the pixel grid is symmetric
under ``(x, y) → (−x, −y)``.  For the outgoing direction ``k̂ = (x, y, D)/r`` the scattering
vector is ``q = (2π/λ)(k̂ − ẑ)`` (Å⁻¹, ``λ`` in Å), ``|q| = 4π sin θ / λ`` with ``2θ`` the
scattering angle.  Each pixel sees the solid angle ``Ω = s²·D / r³`` (= ``s²/D² · cos³ 2θ``)
and the polarisation factor ``P = 1 − k̂_x²`` (beam polarised along ``x``, the usual
horizontal polarisation of an XFEL), ``1 − k̂_y²`` (along ``y``) or ``1 − (k̂_x² + k̂_y²)/2``
(unpolarised).

Orientations are uniform on SO(3): unit quaternions from normalised 4-dimensional Gaussian
draws (sign fixed to ``w ≥ 0``).  A rotation ``R`` turns the molecule, ``r → R·r``; its pattern
samples the reference intensity at ``Rᵀ·q``.  ``euler_zyz`` gives the angles ``(φ, θ, ψ)`` of
``R = Rz(φ)·Ry(θ)·Rz(ψ)`` (radians; ``φ, ψ ∈ (−π, π]``, ``θ ∈ [0, π]``), the orientation labels.

Example::

    detector = Detector(n_pixels=127, pixel_size=6e-4, distance=0.2, wavelength=2.5)
    pixels = detector.pixels()        # q vectors (127·127, 3), solid angles, polarisation, beam stop
    rotations = quaternion_matrices(random_quaternions(np.random.default_rng(0), 8))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "HC_KEV_ANGSTROM",
    "POLARIZATIONS",
    "Detector",
    "DetectorPixels",
    "euler_matrices",
    "euler_zyz",
    "quaternion_matrices",
    "random_quaternions",
    "superpose",
]

Array = NDArray[np.float64]

HC_KEV_ANGSTROM = 12.398419843320026
"""``h·c`` in keV·Å: ``λ [Å] = 12.398 / E [keV]``."""
POLARIZATIONS = ("horizontal", "vertical", "unpolarized")


@dataclass(frozen=True, eq=False)
class DetectorPixels:
    """Per-pixel quantities of a :class:`Detector`, flattened in row-major (image) order."""

    q: Array
    """``(n_pixels², 3)`` scattering vectors in Å⁻¹."""
    solid_angle: Array
    """``(n_pixels²,)`` solid angles in steradians."""
    polarization: Array
    """``(n_pixels²,)`` polarisation factors in [0, 1]."""
    beam_stop: NDArray[np.bool_]
    """``(n_pixels²,)`` true for the pixels behind the beam stop (always dark)."""

    @property
    def q_norm(self) -> Array:
        norm: Array = np.linalg.norm(self.q, axis=1)
        return norm


@dataclass(frozen=True)
class Detector:
    """A flat, square, centred detector; lengths in metres, the wavelength in Å."""

    n_pixels: int
    pixel_size: float
    distance: float
    wavelength: float
    polarization: str = "horizontal"
    beam_stop_radius: float = 0.0
    """Radius in pixels of the central disc hidden by the beam stop (pixel centres within it)."""

    def pixels(self) -> DetectorPixels:
        """q vectors, solid angles, polarisation factors and the beam-stop mask of every pixel."""
        centre = (self.n_pixels - 1) / 2.0
        steps = np.arange(self.n_pixels, dtype=np.float64) - centre
        rows, columns = np.meshgrid(steps, steps, indexing="ij")
        x = (columns * self.pixel_size).ravel()
        y = (rows * self.pixel_size).ravel()
        r = np.sqrt(x * x + y * y + self.distance**2)
        direction = np.stack([x / r, y / r, self.distance / r], axis=1)
        k = 2.0 * np.pi / self.wavelength
        q = k * (direction - np.array([0.0, 0.0, 1.0]))
        solid_angle = self.pixel_size**2 * self.distance / r**3
        if self.polarization == "horizontal":
            polarization = 1.0 - direction[:, 0] ** 2
        elif self.polarization == "vertical":
            polarization = 1.0 - direction[:, 1] ** 2
        else:
            polarization = 1.0 - 0.5 * (direction[:, 0] ** 2 + direction[:, 1] ** 2)
        beam_stop = (rows**2 + columns**2).ravel() <= self.beam_stop_radius**2 if self.beam_stop_radius > 0 else (
            np.zeros(x.size, dtype=bool))
        return DetectorPixels(q, solid_angle, polarization, beam_stop)

    def q_range(self) -> tuple[float, float]:
        """Smallest and largest ``|q|`` (Å⁻¹) of the pixels outside the beam stop (NaN if none)."""
        pixels = self.pixels()
        seen = pixels.q_norm[~pixels.beam_stop]
        if seen.size == 0:
            return float("nan"), float("nan")
        return float(seen.min()), float(seen.max())


# -- orientations --------------------------------------------------------------------------------
def random_quaternions(rng: np.random.Generator, n: int) -> Array:
    """``n`` unit quaternions ``(w, x, y, z)``, uniform on SO(3), with ``w ≥ 0``."""
    draws = rng.standard_normal((n, 4))
    norms = np.linalg.norm(draws, axis=1, keepdims=True)
    norms[norms == 0] = 1.0  # probability zero; keeps the division defined
    quaternions: Array = draws / norms
    quaternions[quaternions[:, 0] < 0] *= -1.0
    return quaternions


def quaternion_matrices(quaternions: Array) -> Array:
    """Rotation matrices ``(n, 3, 3)`` of unit quaternions ``(n, 4)`` ``(w, x, y, z)``."""
    w, x, y, z = (quaternions[:, i] for i in range(4))
    matrices = np.empty((len(quaternions), 3, 3))
    matrices[:, 0, 0] = 1 - 2 * (y * y + z * z)
    matrices[:, 0, 1] = 2 * (x * y - z * w)
    matrices[:, 0, 2] = 2 * (x * z + y * w)
    matrices[:, 1, 0] = 2 * (x * y + z * w)
    matrices[:, 1, 1] = 1 - 2 * (x * x + z * z)
    matrices[:, 1, 2] = 2 * (y * z - x * w)
    matrices[:, 2, 0] = 2 * (x * z - y * w)
    matrices[:, 2, 1] = 2 * (y * z + x * w)
    matrices[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return matrices


def euler_matrices(angles: Array) -> Array:
    """``Rz(φ)·Ry(θ)·Rz(ψ)`` for angles ``(n, 3)`` = ``(φ, θ, ψ)`` in radians."""
    phi, theta, psi = (np.asarray(angles, dtype=np.float64)[:, i] for i in range(3))
    c1, s1, c2, s2, c3, s3 = np.cos(phi), np.sin(phi), np.cos(theta), np.sin(theta), np.cos(psi), np.sin(psi)
    matrices = np.empty((len(phi), 3, 3))
    matrices[:, 0, 0] = c1 * c2 * c3 - s1 * s3
    matrices[:, 0, 1] = -c1 * c2 * s3 - s1 * c3
    matrices[:, 0, 2] = c1 * s2
    matrices[:, 1, 0] = s1 * c2 * c3 + c1 * s3
    matrices[:, 1, 1] = -s1 * c2 * s3 + c1 * c3
    matrices[:, 1, 2] = s1 * s2
    matrices[:, 2, 0] = -s2 * c3
    matrices[:, 2, 1] = s2 * s3
    matrices[:, 2, 2] = c2
    return matrices


def euler_zyz(matrices: Array) -> Array:
    """ZYZ Euler angles ``(n, 3)`` = ``(φ, θ, ψ)`` of rotation matrices ``(n, 3, 3)``.

    At the poles (``sin θ ≈ 0``) only ``φ ± ψ`` is defined; there ``ψ = 0``.
    """
    m = np.asarray(matrices, dtype=np.float64)
    theta = np.arccos(np.clip(m[:, 2, 2], -1.0, 1.0))
    phi = np.arctan2(m[:, 1, 2], m[:, 0, 2])
    psi = np.arctan2(m[:, 2, 1], -m[:, 2, 0])
    pole = np.hypot(m[:, 0, 2], m[:, 1, 2]) < 1e-9
    if pole.any():  # R = Rz(φ)·Ry(0 or π) with ψ = 0 holds everything in φ
        phi[pole] = np.arctan2(-m[pole, 0, 1], m[pole, 1, 1])
        psi[pole] = 0.0
    return np.stack([phi, theta, psi], axis=1)


def superpose(mobile: Array, reference: Array) -> Array:
    """``mobile`` (n, 3) rotated and translated onto ``reference`` (n, 3) by least squares (Kabsch).

    Both are centred on their centroids; the result is centred on the reference's centroid.
    """
    a = mobile - mobile.mean(axis=0)
    b = reference - reference.mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    sign = np.sign(np.linalg.det(u @ vt)) or 1.0  # no reflection
    correction = np.diag([1.0, 1.0, sign])
    rotation = u @ correction @ vt  # a @ rotation ≈ b
    placed: Array = a @ rotation + reference.mean(axis=0)
    return placed
