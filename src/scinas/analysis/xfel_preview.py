"""A picture of the XFEL data: patterns of every conformation at several beam intensities.

The grid has one row per (conformation, orientation) and one column per beam intensity; a row
shows the same molecule in the same orientation, so only the photon count changes along it.
Images are drawn on a log scale (``log10(1 + photons)``) with one colour scale per column, and
each column is titled with its intensity and the fraction of pixels that received a photon.
Drawn with matplotlib's Agg canvas (no display needed, nothing global touched).

Example::

    result = write_preview(Path("xfel.png"), seed=3)
    result.grid                   # (rows, columns) = (2 classes × 2 orientations, 3 intensities)
    result.lit_fractions          # {1e14: 0.005, 1e15: 0.046, 1e16: 0.23}

Command line: ``scinas xfel preview --out xfel.png --seed 3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scinas.atomic import atomic_path
from scinas.data.xfel import XfelParameters
from scinas.data.xfel.geometry import quaternion_matrices, random_quaternions
from scinas.data.xfel.simulator import PatternSimulator, load_conformations, shipped_conformations
from scinas.errors import ConfigError

__all__ = ["DEFAULT_INTENSITIES", "PreviewResult", "default_parameters", "preview_patterns", "write_preview"]

DEFAULT_INTENSITIES = (1e14, 1e15, 1e16)
"""The seed's three beam intensities (photons per µm²)."""


@dataclass(frozen=True, eq=False)
class PreviewResult:
    """What :func:`write_preview` drew."""

    path: Path
    grid: tuple[int, int]
    """``(rows, columns)``: conformations × orientations per conformation, intensities."""
    lit_fractions: dict[float, float]
    """Fraction of pixels with at least one photon, per intensity (over the drawn patterns)."""
    row_labels: tuple[str, ...]


def default_parameters() -> XfelParameters:
    """The parameters of ``generator = "xfel"`` with every key at its default (the shipped pair)."""
    names = tuple(Path(p).stem for p in shipped_conformations())
    return XfelParameters(conformations=tuple(str(p) for p in shipped_conformations()), class_names=names)


def preview_patterns(parameters: XfelParameters, *, seed: int = 0, per_class: int = 2,
                     intensities: Sequence[float] = DEFAULT_INTENSITIES) -> tuple[np.ndarray, list[str]]:
    """Photon counts ``(rows, len(intensities), n_pixels, n_pixels)`` and the row labels.

    Row ``k·per_class + j`` is conformation ``k`` in orientation ``j`` (the same orientations
    for every conformation), Poisson-drawn at each intensity from ``seed``.
    """
    if per_class < 1:
        raise ConfigError("at least one pattern per conformation is needed", path="per_class", value=per_class,
                          fix="give --per-class 1 or more")
    if not intensities or any(not (i > 0) for i in intensities):
        raise ConfigError("beam intensities must be positive numbers", path="intensities", value=list(intensities),
                          fix="e.g. --intensities 1e14 1e15 1e16")
    p = parameters
    structures = load_conformations(p.conformations, hydrogens=p.hydrogens, waters=p.waters, align=p.align)
    simulator = PatternSimulator(structures, p.detector(), beam_intensity=p.beam_intensity,
                                 fluence_calibration=p.fluence_calibration, oversampling=p.grid_oversampling,
                                 grid_resolution=p.grid_resolution)
    rng = np.random.default_rng(seed)
    rotations = quaternion_matrices(random_quaternions(rng, per_class))
    n_classes = simulator.n_classes
    labels = np.repeat(np.arange(n_classes), per_class)
    turned = np.tile(rotations, (n_classes, 1, 1))
    unit = simulator.expected(labels, turned, beam_intensity=1.0)  # scales linearly with the intensity
    patterns = np.stack([rng.poisson(unit.astype(np.float64) * intensity) for intensity in intensities], axis=1)
    rows = [f"{p.class_names[k]} #{j + 1}" for k in range(n_classes) for j in range(per_class)]
    return patterns.astype(np.float32), rows


def write_preview(out: Path, parameters: XfelParameters | None = None, *, seed: int = 0, per_class: int = 2,
                  intensities: Sequence[float] = DEFAULT_INTENSITIES, dpi: int = 100) -> PreviewResult:
    """Draw :func:`preview_patterns` as a PNG grid at ``out`` (folders made as needed)."""
    p = parameters or default_parameters()
    patterns, rows = preview_patterns(p, seed=seed, per_class=per_class, intensities=intensities)
    n_rows, n_columns = patterns.shape[:2]
    figure = Figure(figsize=(2.2 * n_columns + 0.6, 2.2 * n_rows + 0.5), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, n_columns, squeeze=False)
    shown = np.log10(1.0 + patterns)
    lit: dict[float, float] = {}
    for column, intensity in enumerate(intensities):
        top = float(shown[:, column].max()) or 1.0
        lit[float(intensity)] = float((patterns[:, column] > 0).mean())
        for row in range(n_rows):
            ax = axes[row][column]
            ax.imshow(shown[row, column], cmap="magma", vmin=0.0, vmax=top, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{intensity:.0e} ph/µm²\n{100 * lit[float(intensity)]:.2g}% pixels lit", fontsize=9)
            if column == 0:
                ax.set_ylabel(rows[row], fontsize=9)
    figure.suptitle(f"XFEL diffraction patterns, log10(1 + photons), seed {seed}", fontsize=10)
    figure.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temporary:
        figure.savefig(temporary, format="png")
    return PreviewResult(out, (n_rows, n_columns), lit, tuple(rows))

