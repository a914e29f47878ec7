"""Synthetic fluorescence-microscopy images with exact segmentation masks (``generator = "fluorescence_cells"``).

Each image shows a few cells, drawn as random ellipses that may overlap (a later cell lies on top
of an earlier one), each with a nucleus: a smaller ellipse of the same orientation lying wholly
inside it.  The mask labels every pixel ``0`` (background), ``1`` (cytoplasm) or ``2`` (nucleus),
exactly, from the ellipses' geometry.  The image is what a fluorescence microscope would record:

* every cell and nucleus has its own brightness, modulated by a smooth random texture;
* the optics blur it (a Gaussian of ``blur`` pixels);
* a background offset and a linear gradient across the field (uneven illumination) are added;
* photon shot noise: each pixel is a Poisson draw of ``photons`` × its intensity, divided back.

With ``channels = 2`` the two stains are separate channels (0: the cell body, 1: the nuclei, as
a cytoplasm dye and DAPI would give); with ``channels = 1`` one channel shows both, the nuclei
brighter.  Samples depend only on the seed and the shard (cached like every generator).

Example ``data.toml``::

    [cells]
    generator = "fluorescence_cells"
    [cells.parameters]
    size = [64, 64]          # height, width in pixels
    cells = [3, 8]           # cells per image, drawn uniformly from this range
    cell_radius = [6.0, 14.0]
    nucleus_scale = [0.35, 0.6]   # nucleus axes / cell axes
    blur = 1.0               # Gaussian sigma of the optics, pixels (0: none)
    photons = 100.0          # expected photons at intensity 1 (lower: noisier)
    background = 0.05
    gradient = 0.1           # illumination ramp across the field
    texture = 0.3            # relative amplitude of the intensity texture
    channels = 1
    [cells.shape]
    n_samples = 600
    batch_size = 16
    [cells.augmentation]     # training split only; each mask moves with its image
    flip = "both"
    crop_padding = 4
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from scinas.config.reader import Table
from scinas.data.base import GENERATORS, SPLITS, DatasetGenerator, DatasetInfo, split_sizes

__all__ = ["CLASS_NAMES", "FluorescenceCellsGenerator", "FluorescenceParameters", "draw_cells"]

CLASS_NAMES: tuple[str, str, str] = ("background", "cytoplasm", "nucleus")


def _ordered_pair(table: Table, key: str, default: tuple[float, float], *, minimum: float,
                  whole: bool = False) -> tuple[float, float]:
    low, high = table.number_list(key, list(default), length=2, minimum=minimum)
    if low > high:
        raise table.error(key, f"the lower end {low:g} is above the upper end {high:g}", fix="write [low, high]")
    if whole and (int(low) != low or int(high) != high):
        raise table.error(key, "expected two whole numbers [low, high]")
    return float(low), float(high)


@dataclass(frozen=True)
class FluorescenceParameters:
    """Validated ``[d.parameters]`` of the ``fluorescence_cells`` generator (see the module docstring)."""

    size: tuple[int, int] = (64, 64)
    cells: tuple[int, int] = (3, 8)
    cell_radius: tuple[float, float] = (6.0, 14.0)
    nucleus_scale: tuple[float, float] = (0.35, 0.6)
    blur: float = 1.0
    photons: float = 100.0
    background: float = 0.05
    gradient: float = 0.1
    texture: float = 0.3
    channels: int = 1

    @classmethod
    def parse(cls, table: Table) -> FluorescenceParameters:
        size = table.number_list("size", [64, 64], length=2, minimum=8)
        if any(int(v) != v for v in size):
            raise table.error("size", "expected two whole numbers [height, width] (at least 8 each)")
        height, width = int(size[0]), int(size[1])
        low, high = _ordered_pair(table, "cells", (3, 8), minimum=0, whole=True)
        if high < 1:
            raise table.error("cells", "no image would hold a cell", fix="give an upper end of at least 1")
        radius = _ordered_pair(table, "cell_radius", (6.0, 14.0), minimum=1.0)
        if radius[1] > max(height, width):
            raise table.error("cell_radius", f"a radius of {radius[1]:g} px exceeds the image ({height}x{width})",
                              fix="use radii below the image size")
        nucleus = _ordered_pair(table, "nucleus_scale", (0.35, 0.6), minimum=0.05)
        if nucleus[1] >= 1:
            raise table.error("nucleus_scale", "a nucleus must be smaller than its cell", fix="keep it below 1")
        blur = table.number("blur", 1.0, minimum=0.0)
        photons = table.number("photons", 100.0, minimum=0.0, exclusive_minimum=True)
        background = table.number("background", 0.05, minimum=0.0)
        gradient = table.number("gradient", 0.1, minimum=0.0)
        texture = table.number("texture", 0.3, minimum=0.0, maximum=1.0)
        channels = table.integer("channels", 1, minimum=1, maximum=2)
        table.finish()
        return cls((height, width), (int(low), int(high)), radius, nucleus, blur, photons, background, gradient,
                   texture, channels)


def _texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A smooth random field of mean 0 and deviation 1."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5, mode="wrap")
    normalised: np.ndarray = (field - field.mean()) / max(float(field.std()), 1e-6)
    return normalised


def _ellipse(rows: np.ndarray, columns: np.ndarray, centre: tuple[float, float], axes: tuple[float, float],
             turn: tuple[float, float]) -> np.ndarray:
    """The pixels inside an ellipse of semi-axes ``axes`` turned by the angle of (cos, sin) ``turn``."""
    dy, dx = rows - centre[0], columns - centre[1]
    cos, sin = turn
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    inside: np.ndarray = (u / axes[0]) ** 2 + (v / axes[1]) ** 2 <= 1.0
    return inside


def draw_cells(p: FluorescenceParameters, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One image ``(h, w, channels)`` float32 and its mask ``(h, w)`` float32 of class indices."""
    height, width = p.size
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    mask = np.zeros((height, width), np.int64)
    body = np.zeros((height, width))  # cell-body stain intensity of the pixel's top cell
    nuclear = np.zeros((height, width))  # nuclear stain intensity
    for _ in range(int(rng.integers(p.cells[0], p.cells[1] + 1))):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        major = rng.uniform(*p.cell_radius)
        minor = major * rng.uniform(0.6, 1.0)
        angle = rng.uniform(0, np.pi)
        cos, sin = np.cos(angle), np.sin(angle)
        scale = rng.uniform(*p.nucleus_scale)
        # a nucleus of the same orientation shifted by at most (1 - scale) * minor stays inside the cell
        shift = rng.uniform(0, 0.8) * (1 - scale) * minor
        direction = rng.uniform(0, 2 * np.pi)
        ny, nx = cy + shift * np.sin(direction), cx + shift * np.cos(direction)

        cell = _ellipse(rows, columns, (cy, cx), (major, minor), (cos, sin))
        nucleus = _ellipse(rows, columns, (ny, nx), (scale * major, scale * minor), (cos, sin)) & cell
        cell_brightness = rng.uniform(0.25, 0.55)
        nucleus_brightness = rng.uniform(0.65, 1.0)
        mask[cell] = 1
        mask[nucleus] = 2
        body[cell] = cell_brightness
        nuclear[cell] = 0.0
        nuclear[nucleus] = nucleus_brightness
        if p.channels == 1:
            body[nucleus] = 0.0
    texture = _texture(rng, (height, width))
    body = np.clip(body * (1 + p.texture * texture), 0, None)
    nuclear = np.clip(nuclear * (1 + p.texture * _texture(rng, (height, width))), 0, None)
    stains = [body + nuclear] if p.channels == 1 else [body, nuclear]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * columns / max(width - 1, 1) + np.sin(angle) * rows / max(height - 1, 1))
    ramp = ramp - ramp.min()
    ramp = ramp / max(float(ramp.max()), 1e-9)
    channels = []
    for stain in stains:
        blurred = ndimage.gaussian_filter(stain, p.blur, mode="nearest") if p.blur > 0 else stain
        expected = np.clip(blurred + p.background + p.gradient * ramp, 0, None)
        channels.append(rng.poisson(expected * p.photons) / p.photons)
    image = np.stack(channels, axis=-1).astype(np.float32)
    return image, mask.astype(np.float32)


@GENERATORS.register("fluorescence_cells")
class FluorescenceCellsGenerator(DatasetGenerator):
    """Cells and nuclei in simulated fluorescence images, with exact 3-class masks."""

    name = "fluorescence_cells"
    version = 1
    augmentable = True
    description = "synthetic fluorescence microscopy: cells and nuclei with exact masks (segmentation)"
    parameters: FluorescenceParameters

    @classmethod
    def parse_parameters(cls, table: Table) -> FluorescenceParameters:
        return FluorescenceParameters.parse(table)

    def info(self) -> DatasetInfo:
        p = self.parameters
        sizes = split_sizes(self.shape.n_samples, self.shape.splits)
        return DatasetInfo(name=self.dataset, task="segmentation", input_shape=(*p.size, p.channels),
                           target_shape=p.size, split_sizes=dict(zip(SPLITS, sizes, strict=True)),
                           n_classes=len(CLASS_NAMES), target_names=CLASS_NAMES)

    def generate_shard(self, index: int, n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        pairs = [draw_cells(self.parameters, rng) for _ in range(n_samples)]
        return np.stack([x for x, _ in pairs]), np.stack([y for _, y in pairs])
