"""XFEL single-particle diffraction patterns (``generator = "xfel"``): which conformation is it?

Each sample is the diffraction pattern of one molecule in a random orientation (uniform on
SO(3)) hit by one X-ray pulse: 127×127 single-channel float images by default, Poisson photon
counts with a dark beam stop at the centre, ``log1p``-scaled.  The class is the conformation
(one PDB file each; by default the shipped open and closed adenylate kinase); the orientation
can be the target instead (``labels``).  The physics and its calibration are described in
:mod:`scinas.data.xfel.simulator`; docs/datasets.md lists every key.

Example ``data.toml`` (optional keys shown with their defaults)::

    [xfel15]
    generator = "xfel"
    [xfel15.parameters]
    beam_intensity = 1e15              # photons per µm² per pulse (the seed's 1e14, 1e15, 1e16)
    conformations = []                 # PDB files, one class each; [] = the shipped adk_open, adk_closed;
                                       # a shipped protein by name: ["villin_folded", "villin_unfolded"]
    class_names = []                   # default: the file names without .pdb
    photon_energy = 4.6                # keV (or wavelength = 2.695, Å)
    pixel_size = 6e-4                  # m
    distance = 0.2                     # m
    n_pixels = 127
    beam_stop_radius = 16              # pixels
    polarization = "horizontal"        # horizontal | vertical | unpolarized
    noise = "poisson"                  # poisson | none (expected photons)
    transform = "log1p"                # log1p | counts
    labels = "conformation"            # conformation | orientation (φ, θ, ψ) | quaternion (w, x, y, z)
    fluence_calibration = 0.49
    grid_oversampling = 2.0
    hydrogens = false
    waters = false
    align = true
    [xfel15.shape]
    seed = 15
    n_samples = 3000
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scinas.config.reader import Table
from scinas.data.base import GENERATORS, SPLITS, DatasetGenerator, DatasetInfo, split_sizes
from scinas.data.xfel.geometry import HC_KEV_ANGSTROM, POLARIZATIONS, Detector
from scinas.data.xfel.simulator import (
    FLUENCE_CALIBRATION,
    SHIPPED_PROTEINS,
    PatternSimulator,
    load_conformations,
    shipped_conformations,
    shipped_protein,
)
from scinas.data.xfel.volume import grid_half_size, grid_spacing, particle_diameter
from scinas.errors import DataError

__all__ = ["LABELS", "MAX_GRID_SIZE", "TRANSFORMS", "XfelGenerator", "XfelParameters", "label_names"]

LABELS = ("conformation", "orientation", "quaternion")
TRANSFORMS = ("log1p", "counts")
NOISES = ("poisson", "none")
MAX_GRID_SIZE = 201
"""Largest 3D grid (points per axis): 201³ takes seconds per conformation and ~130 MB."""


def label_names(labels: str) -> tuple[str, ...]:
    """Target names of a regression labelling (``orientation``: φ, θ, ψ; ``quaternion``: w, x, y, z)."""
    return ("phi", "theta", "psi") if labels == "orientation" else ("qw", "qx", "qy", "qz")


@dataclass(frozen=True)
class XfelParameters:
    """Validated ``[d.parameters]`` of an XFEL dataset (lengths in m, the wavelength in Å)."""

    conformations: tuple[str, ...]
    class_names: tuple[str, ...]
    beam_intensity: float = 1e15
    wavelength: float = HC_KEV_ANGSTROM / 4.6
    pixel_size: float = 6e-4
    distance: float = 0.2
    n_pixels: int = 127
    beam_stop_radius: float = 16.0
    polarization: str = "horizontal"
    noise: str = "poisson"
    transform: str = "log1p"
    labels: str = "conformation"
    fluence_calibration: float = FLUENCE_CALIBRATION
    grid_oversampling: float = 2.0
    grid_resolution: float | None = None
    hydrogens: bool = False
    waters: bool = False
    align: bool = True

    def detector(self) -> Detector:
        return Detector(self.n_pixels, self.pixel_size, self.distance, self.wavelength, self.polarization,
                        self.beam_stop_radius)

    @classmethod
    def parse(cls, table: Table) -> XfelParameters:
        """Read every key, then check the PDB files and that the geometry makes a pattern."""
        paths = _conformation_paths(table)
        names = table.string_list("class_names", [])
        if names and len(names) != len(paths):
            raise table.error("class_names", f"{len(names)} names for {len(paths)} conformations",
                              fix="give one name per conformation, or leave class_names out")
        names = names or tuple(Path(p).stem for p in paths)
        if len(set(names)) != len(names):
            raise table.error("class_names" if table.has("class_names") else "conformations",
                              f"two classes share a name ({', '.join(names)})",
                              fix="give distinct class_names")
        intensity = table.number("beam_intensity", 1e15, minimum=0.0, exclusive_minimum=True)
        if table.has("wavelength") and table.has("photon_energy"):
            raise table.error("photon_energy", "give either wavelength (Å) or photon_energy (keV), not both")
        if table.has("wavelength"):
            wavelength = table.number("wavelength", minimum=0.0, exclusive_minimum=True)
        else:
            wavelength = HC_KEV_ANGSTROM / table.number("photon_energy", 4.6, minimum=0.0, exclusive_minimum=True)
        resolution = (table.number("grid_resolution", minimum=0.0, exclusive_minimum=True)
                      if table.has("grid_resolution") else None)
        parameters = cls(
            conformations=paths, class_names=names, beam_intensity=intensity, wavelength=wavelength,
            pixel_size=table.number("pixel_size", 6e-4, minimum=0.0, exclusive_minimum=True),
            distance=table.number("distance", 0.2, minimum=0.0, exclusive_minimum=True),
            n_pixels=table.integer("n_pixels", 127, minimum=8, maximum=1024),
            beam_stop_radius=table.number("beam_stop_radius", 16.0, minimum=0.0),
            polarization=table.string("polarization", "horizontal", choices=POLARIZATIONS),
            noise=table.string("noise", "poisson", choices=NOISES),
            transform=table.string("transform", "log1p", choices=TRANSFORMS),
            labels=table.string("labels", "conformation", choices=LABELS),
            fluence_calibration=table.number("fluence_calibration", FLUENCE_CALIBRATION, minimum=0.0,
                                             exclusive_minimum=True),
            grid_oversampling=table.number("grid_oversampling", 2.0, minimum=1.0),
            grid_resolution=resolution,
            hydrogens=table.boolean("hydrogens", False), waters=table.boolean("waters", False),
            align=table.boolean("align", True))
        table.finish()
        if parameters.labels == "conformation" and len(paths) < 2:
            raise table.error("conformations", "a classification needs at least two conformations",
                              fix='give two or more PDB files, or labels = "orientation" for one')
        parameters.check(table)
        return parameters

    def check(self, table: Table) -> None:
        """Read the PDB files and check the geometry against the molecules (ConfigErrors naming keys)."""
        key = "conformations"
        try:
            structures = load_conformations(self.conformations, hydrogens=self.hydrogens, waters=self.waters,
                                            align=self.align)
        except DataError as exc:
            raise table.error(key, str(exc), fix="give readable PDB files (ATOM/HETATM records, x, y, z in "
                              "columns 31–54) of one molecule; align = false lifts the same-atoms rule") from None
        detector = self.detector()
        q_low, q_high = detector.q_range()
        if math.isnan(q_low):
            radius = math.hypot(self.n_pixels / 2, self.n_pixels / 2)
            raise table.error("beam_stop_radius", f"the beam stop hides the whole detector (its corners are "
                              f"{radius:.1f} pixels from the centre)", fix="give a smaller beam_stop_radius")
        if self.grid_resolution is not None and 2 * math.pi / self.grid_resolution < q_low:
            raise table.error("grid_resolution", f"the detector sees resolutions from {2 * math.pi / q_low:.3g} Å "
                              f"to {2 * math.pi / q_high:.3g} Å (outside the beam stop), all finer than the grid's "
                              "limit: the whole pattern would be dark",
                              fix="raise grid_resolution above the detector's range, leave it out, or move the "
                                  "detector further away (distance)")
        q_max = q_high if self.grid_resolution is None else min(q_high, 2 * math.pi / self.grid_resolution)
        diameter = max(particle_diameter(s.coordinates) for s in structures)
        size = 2 * grid_half_size(q_max, grid_spacing(diameter, self.grid_oversampling)) + 1
        if size > MAX_GRID_SIZE:
            raise table.error("grid_oversampling", f"the 3D grid would need {size}³ points (at most "
                              f"{MAX_GRID_SIZE}³): the molecules span up to {diameter:.0f} Å and the detector "
                              f"reaches {2 * math.pi / q_max:.3g} Å resolution",
                              fix="lower grid_oversampling, set grid_resolution, or move the detector away")


def _conformation_paths(table: Table) -> tuple[str, ...]:
    given = table.string_list("conformations", [])
    if not given:
        return tuple(str(p) for p in shipped_conformations())
    paths = []
    for i, text in enumerate(given):
        path = Path(text).expanduser()
        if not path.is_file() and text in SHIPPED_PROTEINS:
            path = shipped_protein(text)
        if not path.is_file():
            raise table.error("conformations", f"entry {i + 1}: no such PDB file {text!r} (from {Path.cwd()})",
                              fix="give absolute paths or paths relative to the folder scinas is started from, or "
                                  f"a shipped protein: {', '.join(SHIPPED_PROTEINS)}")
        paths.append(str(path.resolve()))
    return tuple(paths)


@GENERATORS.register("xfel")
class XfelGenerator(DatasetGenerator):
    """Single-particle X-ray diffraction patterns of two or more conformations of a molecule."""

    name = "xfel"
    version = 1
    augmentable = True  # [d.augmentation] rotation and friedel respect the physics of a pattern
    description = "XFEL single-particle diffraction patterns (127x127, Poisson photons), one class per conformation"
    parameters: XfelParameters

    @classmethod
    def parse_parameters(cls, table: Table) -> XfelParameters:
        return XfelParameters.parse(table)

    def info(self) -> DatasetInfo:
        p = self.parameters
        sizes = dict(zip(SPLITS, split_sizes(self.shape.n_samples, self.shape.splits), strict=True))
        shape = (p.n_pixels, p.n_pixels, 1)
        if p.labels == "conformation":
            return DatasetInfo(self.dataset, "classification", shape, (), sizes, n_classes=len(p.conformations),
                               target_names=p.class_names)
        names = label_names(p.labels)
        return DatasetInfo(self.dataset, "regression", shape, (len(names),), sizes, target_names=names)

    @property
    def simulator(self) -> PatternSimulator:
        """The pattern simulator (made on first use; its 3D grids are computed once)."""
        simulator: PatternSimulator | None = self.__dict__.get("_simulator")
        if simulator is None:
            p = self.parameters
            structures = load_conformations(p.conformations, hydrogens=p.hydrogens, waters=p.waters, align=p.align)
            simulator = PatternSimulator(structures, p.detector(), beam_intensity=p.beam_intensity,
                                         fluence_calibration=p.fluence_calibration, oversampling=p.grid_oversampling,
                                         grid_resolution=p.grid_resolution)
            simulator = self.__dict__.setdefault("_simulator", simulator)
        return simulator

    def generate_shard(self, index: int, n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n_samples`` patterns drawn from ``rng`` (see :meth:`PatternSimulator.simulate`)."""
        p = self.parameters
        batch = self.simulator.simulate(rng, n_samples, noise=p.noise == "poisson")
        images = np.log1p(batch.images) if p.transform == "log1p" else batch.images
        x = images.astype(np.float32)[..., None]
        if p.labels == "conformation":
            y = batch.labels.astype(np.float32)
        elif p.labels == "orientation":
            y = batch.angles.astype(np.float32)
        else:
            y = batch.quaternions.astype(np.float32)
        return x, y

    def release(self) -> None:
        """Drop the 3D grids once the cache holds every shard."""
        simulator = self.__dict__.get("_simulator")
        if simulator is not None:
            simulator.release()

    def definition(self) -> dict[str, Any]:
        """The parameters with each PDB file named by its content (a hash), not where it lies."""
        definition = super().definition()
        parameters = dataclasses.asdict(self.parameters)
        parameters["conformations"] = [_digest(Path(p)) for p in self.parameters.conformations]
        definition["parameters"] = parameters
        return definition


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
