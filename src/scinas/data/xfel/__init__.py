"""XFEL single-particle diffraction: the two dataset generators and the physics behind them.

Importing this package registers ``generator = "xfel"`` (patterns simulated from PDB files,
:mod:`~scinas.data.xfel.generator`) and ``generator = "xfel_images"`` (recorded images laid out
as the seed's dataset, :mod:`~scinas.data.xfel.images`).  The simulation is split by concern:

- :mod:`~scinas.data.xfel.pdb`: reading and writing PDB structures;
- :mod:`~scinas.data.xfel.scattering`: atomic form factors (Cromer–Mann);
- :mod:`~scinas.data.xfel.geometry`: detector, orientations, polarisation;
- :mod:`~scinas.data.xfel.volume`: the molecule's intensity on a reciprocal-space grid;
- :mod:`~scinas.data.xfel.simulator`: patterns from volume, detector and beam
  (``proteins/`` holds the shipped open and closed adenylate kinase).

Example::

    from scinas.data.xfel import XfelGenerator, XfelParameters
"""

from __future__ import annotations

from scinas.data.xfel.generator import (
    LABELS,
    MAX_GRID_SIZE,
    TRANSFORMS,
    XfelGenerator,
    XfelParameters,
    label_names,
)
from scinas.data.xfel.images import XfelImagesGenerator, XfelImagesParameters

__all__ = ["LABELS", "MAX_GRID_SIZE", "TRANSFORMS", "XfelGenerator", "XfelImagesGenerator", "XfelImagesParameters",
           "XfelParameters", "label_names"]
