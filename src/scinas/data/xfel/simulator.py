"""Single-particle diffraction patterns: molecules, detector, beam and photon noise (REFERENCE §4).

The expected number of photons in pixel ``p`` of a molecule turned by ``R`` is::

    λ_p = Φ · r_e² · P_p · Ω_p · |F(Rᵀ q_p)|²,      Φ = FLUENCE_CALIBRATION · beam_intensity · 10¹² m⁻²

with ``r_e`` the classical electron radius, ``P_p`` and ``Ω_p`` the pixel's polarisation factor
and solid angle (:mod:`scinas.data.xfel.geometry`), ``|F|²`` the molecule's intensity
(electrons², :mod:`scinas.data.xfel.volume`), and ``beam_intensity`` the pulse fluence in
photons per µm².  Each image is a Poisson draw of ``λ``; pixels behind the beam stop (and any
beyond the resolution of the 3D grid) are 0.  ``|F|²`` is computed once per conformation on a
3D grid and each pattern is a trilinear slice of it along the Ewald sphere, vectorised over a
batch of orientations.

Calibration: the seed's dataset (eEF2, a 95 kDa protein, on an unknown detector) has about
0.6 %, 4.4 % and 22 % of its pixels lit at beam intensities 1e14, 1e15 and 1e16.  With the
default set-up (4.6 keV, 600 µm pixels at 0.2 m, 127×127 pixels, a 16-pixel beam stop, the
shipped adenylate kinase pair) the physical fluence (``FLUENCE_CALIBRATION = 1``) lights
1.1 %, 8.3 % and 34 %.  ``FLUENCE_CALIBRATION = 0.49`` is the least-squares fit, in log space,
of the three fractions over 600 patterns (300 uniform orientations of each conformation): it
lights about 0.55 %, 4.7 % and 23 % (``benchmarks/xfel_generation.py`` measures them).  The
remaining difference is the shape of ``1 − exp(−λ)`` summed over the pattern, which one
constant cannot change.

Example::

    simulator = PatternSimulator(load_conformations(shipped_conformations()), Detector(127, 6e-4, 0.2, 2.6953,
                                 beam_stop_radius=16), beam_intensity=1e15)
    batch = simulator.simulate(np.random.default_rng(0), 8)
    batch.images.shape                   # (8, 127, 127) photon counts
"""

from __future__ import annotations

import importlib.resources
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from scinas.data.xfel.geometry import Detector, euler_zyz, quaternion_matrices, random_quaternions, superpose
from scinas.data.xfel.pdb import Structure, read_pdb
from scinas.data.xfel.scattering import CROMER_MANN, normalize_element
from scinas.data.xfel.volume import IntensityVolume, compute_volume, grid_half_size, grid_spacing, particle_diameter
from scinas.errors import DataError

__all__ = [
    "CLASSICAL_ELECTRON_RADIUS",
    "FLUENCE_CALIBRATION",
    "SHIPPED_CONFORMATIONS",
    "SHIPPED_PROTEINS",
    "PatternSimulator",
    "SimulatedPatterns",
    "load_conformations",
    "shipped_conformations",
    "shipped_protein",
]

CLASSICAL_ELECTRON_RADIUS = 2.8179403262e-15
"""``r_e`` in metres."""
FLUENCE_CALIBRATION = 0.49
"""Photons per m² of one unit of ``beam_intensity``, in units of 10¹² (see the module docstring)."""
SHIPPED_CONFORMATIONS = ("adk_open.pdb", "adk_closed.pdb")
"""E. coli adenylate kinase, open (4AKE) and closed (1AKE), heavy atoms, one atom list."""
logger = logging.getLogger(__name__)

_IMAGES_PER_BLOCK = 64  # orientations sliced together (bounds the work arrays to ~10 MB)


SHIPPED_PROTEINS = ("adk_open", "adk_closed", "villin_folded", "villin_unfolded")
"""Every PDB file in ``proteins/`` by name (``conformations = ["villin_folded", ...]`` selects them):
adenylate kinase open and closed, and the villin headpiece folded and unfolded (``proteins/README.md``)."""


def shipped_protein(name: str) -> Path:
    """The path of shipped PDB file ``name`` (one of :data:`SHIPPED_PROTEINS`, without ``.pdb``)."""
    root = importlib.resources.files("scinas.data.xfel").joinpath("proteins")
    return Path(str(root.joinpath(f"{name}.pdb")))


def shipped_conformations() -> list[Path]:
    """Paths of the default pair shipped inside scinas (:data:`SHIPPED_CONFORMATIONS`)."""
    return [shipped_protein(Path(name).stem) for name in SHIPPED_CONFORMATIONS]


def load_conformations(paths: Sequence[Path | str], *, hydrogens: bool = False, waters: bool = False,
                       align: bool = True) -> list[Structure]:
    """Read the PDB files, keep the atoms wanted, check their elements, and superpose them.

    ``align`` superposes every conformation onto the first (least squares over the same atom
    list, which the files must then share), so orientation labels mean the same for every
    class; otherwise each keeps its file's frame.  DataError naming the file on any problem.
    """
    structures = []
    for path in paths:
        structure = read_pdb(Path(path))
        if not hydrogens:
            structure = structure.without_hydrogens()
        if not waters:
            structure = structure.without_water()
        if structure.n_atoms == 0:
            raise DataError(f"{path}: no atoms left once hydrogens and waters are dropped")
        for element, line in zip(structure.elements, structure.lines, strict=True):
            if normalize_element(element) not in CROMER_MANN:
                raise DataError(f"{path}, line {line}: no X-ray scattering factor for element {element!r}; "
                                f"scinas knows {', '.join(CROMER_MANN)}")
        structures.append(structure)
    if align and len(structures) > 1:
        reference = structures[0]
        for i, other in enumerate(structures[1:], start=1):
            if other.n_atoms != reference.n_atoms:
                raise DataError(f"{other.path} has {other.n_atoms} atoms but {reference.path} has "
                                f"{reference.n_atoms}: aligning conformations needs the same atom list "
                                "(set align = false to keep each file's own frame)")
            for j, (a, b) in enumerate(zip(reference.elements, other.elements, strict=True)):
                if normalize_element(a) != normalize_element(b):
                    raise DataError(f"{other.path}, line {other.lines[j]}: atom {j + 1} is {b}, but {a} in "
                                    f"{reference.path} (line {reference.lines[j]}); aligning conformations "
                                    "needs the same atom list (set align = false to skip it)")
            placed = superpose(other.coordinates, reference.coordinates)
            structures[i] = Structure(other.path, other.names, other.residues, other.sequence, other.elements,
                                      placed, other.hetero, other.lines)
    return structures


@dataclass(frozen=True, eq=False)
class SimulatedPatterns:
    """A batch of patterns with everything known about them."""

    images: NDArray[np.float32]
    """``(n, n_pixels, n_pixels)`` photon counts (or expected photons without noise)."""
    labels: NDArray[np.int64]
    """``(n,)`` conformation index."""
    quaternions: NDArray[np.float64]
    """``(n, 4)`` orientation ``(w, x, y, z)``, ``w ≥ 0``."""
    angles: NDArray[np.float64]
    """``(n, 3)`` ZYZ Euler angles ``(φ, θ, ψ)`` in radians."""
    expected_photons: NDArray[np.float64]
    """``(n,)`` expected photons on the whole detector."""


class PatternSimulator:
    """Diffraction patterns of ``structures`` (one class each) on ``detector``.

    ``grid_resolution`` (Å) limits the 3D grid (pixels beyond it stay dark); by default the grid
    reaches the detector's largest ``|q|``.  The volumes are computed on first use (thread-safe)
    and dropped by :meth:`release`.
    """

    def __init__(self, structures: Sequence[Structure], detector: Detector, *, beam_intensity: float,
                 fluence_calibration: float = FLUENCE_CALIBRATION, oversampling: float = 2.0,
                 grid_resolution: float | None = None) -> None:
        if not structures:
            raise DataError("a pattern simulator needs at least one structure")
        self.structures = list(structures)
        self.detector = detector
        self.beam_intensity = float(beam_intensity)
        self.fluence_calibration = float(fluence_calibration)
        pixels = detector.pixels()
        self._pixels = pixels
        q_norm = pixels.q_norm
        seen = q_norm[~pixels.beam_stop]
        q_detector = float(seen.max()) if seen.size else 0.0
        self.q_max = q_detector if grid_resolution is None else min(q_detector, 2.0 * np.pi / grid_resolution)
        self.spacing = grid_spacing(max(particle_diameter(s.coordinates) for s in structures), oversampling)
        self.active = ~pixels.beam_stop & (q_norm <= self.q_max * (1.0 + 1e-12))
        self._q_active = pixels.q[self.active]
        self._factor = (pixels.polarization * pixels.solid_angle)[self.active] * CLASSICAL_ELECTRON_RADIUS**2
        self._volumes: list[IntensityVolume] | None = None
        self._lock = threading.Lock()

    @property
    def n_classes(self) -> int:
        return len(self.structures)

    @property
    def grid_size(self) -> int:
        """Points per axis of the 3D grids."""
        return 2 * grid_half_size(self.q_max, self.spacing) + 1

    def fluence(self, beam_intensity: float | None = None) -> float:
        """Photons per m² of one pulse."""
        intensity = self.beam_intensity if beam_intensity is None else float(beam_intensity)
        return self.fluence_calibration * intensity * 1e12

    def volumes(self) -> list[IntensityVolume]:
        """``|F|²`` of each conformation on the 3D grid (computed once)."""
        with self._lock:
            if self._volumes is None:
                started = time.perf_counter()
                self._volumes = [compute_volume(s.elements, s.coordinates, spacing=self.spacing, q_max=self.q_max)
                                 for s in self.structures]
                logger.info("3D intensities of %d conformation(s) on %d³ grids (|q| ≤ %.3g Å⁻¹): %.1f s",
                            len(self.structures), self.grid_size, self.q_max, time.perf_counter() - started)
            return self._volumes

    def release(self) -> None:
        """Drop the 3D grids (they are computed again when needed)."""
        with self._lock:
            self._volumes = None

    def expected(self, labels: NDArray[np.int64], rotations: NDArray[np.float64],
                 beam_intensity: float | None = None) -> NDArray[np.float32]:
        """Expected photons ``(n, n_pixels, n_pixels)`` of conformations ``labels`` turned by ``rotations``."""
        volumes = self.volumes()
        n, side = len(labels), self.detector.n_pixels
        active = np.zeros((n, int(self.active.sum())), dtype=np.float32)
        for label in np.unique(labels):
            chosen = np.flatnonzero(labels == label)
            for start in range(0, chosen.size, _IMAGES_PER_BLOCK):
                rows = chosen[start:start + _IMAGES_PER_BLOCK]
                active[rows] = volumes[int(label)].slices(self._q_active, rotations[rows])
        active *= (self._factor * self.fluence(beam_intensity)).astype(np.float32)
        images = np.zeros((n, side * side), dtype=np.float32)
        images[:, self.active] = active
        return images.reshape(n, side, side)

    def simulate(self, rng: np.random.Generator, n: int, *, noise: bool = True,
                 beam_intensity: float | None = None) -> SimulatedPatterns:
        """``n`` patterns: balanced random classes, uniform orientations, Poisson photons.

        Draws from ``rng`` in this order: the class permutation, the orientations, the photons.
        """
        labels = rng.permutation(np.arange(n) % self.n_classes).astype(np.int64)
        quaternions = random_quaternions(rng, n)
        rotations = quaternion_matrices(quaternions)
        side = self.detector.n_pixels
        images = np.empty((n, side, side), dtype=np.float32)
        totals = np.empty(n)
        for start in range(0, n, _IMAGES_PER_BLOCK):  # blocks bound the memory of big shards
            block = slice(start, min(n, start + _IMAGES_PER_BLOCK))
            expected = self.expected(labels[block], rotations[block], beam_intensity)
            totals[block] = expected.sum(axis=(1, 2), dtype=np.float64)
            images[block] = rng.poisson(expected) if noise else expected
        return SimulatedPatterns(images, labels, quaternions, euler_zyz(rotations), totals)
