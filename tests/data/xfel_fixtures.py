"""Small molecules and detector settings that keep the XFEL tests fast (tiny 3D grids)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scinas.config.reader import Table
from scinas.data.base import ShapeConfig
from scinas.data.xfel import XfelGenerator, XfelParameters
from scinas.data.xfel.pdb import Structure, format_pdb

ELEMENTS = ("C", "N", "O", "C", "S", "C", "O", "N")

SMALL_DETECTOR: dict[str, Any] = {"n_pixels": 33, "pixel_size": 6e-4 * 127 / 33, "beam_stop_radius": 4}
"""The default field of view on 33×33 pixels (a 4-pixel beam stop)."""


def molecule(n_atoms: int = 40, *, hinge_degrees: float = 0.0, seed: int = 0) -> Structure:
    """Atoms in a 10 Å ball; with ``hinge_degrees`` the half with x > 0 is turned about the z axis."""
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n_atoms, 3))
    points *= 10.0 * rng.uniform(0.2, 1.0, (n_atoms, 1)) / np.linalg.norm(points, axis=1, keepdims=True)
    if hinge_degrees:
        angle = np.radians(hinge_degrees)
        turn = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
        half = points[:, 0] > 0
        points[half] = (points[half] - [4.0, 0.0, 0.0]) @ turn.T + [4.0, 0.0, 0.0]
    elements = tuple(ELEMENTS[i % len(ELEMENTS)] for i in range(n_atoms))
    names = tuple(e if e != "C" else "CA" for e in elements)
    return Structure("memory", names, ("ALA",) * n_atoms, tuple(range(1, n_atoms + 1)), elements, points,
                     (False,) * n_atoms, tuple(range(1, n_atoms + 1)))


def write_molecules(folder: Path, *, hinge_degrees: float = 40.0, n_atoms: int = 40) -> list[Path]:
    """Two conformations, ``open.pdb`` and ``closed.pdb``, of one small molecule (same atom list)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, hinge in (("open", 0.0), ("closed", hinge_degrees)):
        path = folder / f"{name}.pdb"
        path.write_text(format_pdb(molecule(n_atoms, hinge_degrees=hinge)))
        paths.append(path)
    return paths


def parameters(folder: Path, **changes: Any) -> XfelParameters:
    """Validated parameters of the small molecules on the small detector (``changes`` override keys)."""
    raw: dict[str, Any] = {"conformations": [str(p) for p in write_molecules(folder)], **SMALL_DETECTOR, **changes}
    return XfelGenerator.parse_parameters(Table(raw, file="data.toml", path="x15.parameters"))


def generator(folder: Path, *, n_samples: int = 12, n_shards: int = 3, seed: int = 5,
              **changes: Any) -> XfelGenerator:
    shape = ShapeConfig(seed, n_samples, n_shards, 4, 8, (0.5, 0.25, 0.25))
    return XfelGenerator("x15", parameters(folder, **changes), shape)
