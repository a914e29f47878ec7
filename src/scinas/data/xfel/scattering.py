"""Atomic X-ray scattering factors: the four-Gaussian Cromer–Mann fit of each element.

``f(q) = Σᵢ aᵢ·exp(−bᵢ·s²) + c`` with ``s = sin θ / λ = |q| / 4π`` (Å⁻¹) and ``|q| = 4π sin θ / λ``
in Å⁻¹, so ``f(0) ≈ Z`` electrons.  The coefficients are those tabulated in the International
Tables for Crystallography, Vol. C, Table 6.1.1.4 (neutral atoms), valid for ``s ≤ 2 Å⁻¹``
(resolution 0.25 Å), far beyond what single-particle imaging reaches.  Dispersion corrections
(f′, f″) are left out: away from absorption edges they change f by a few percent at most.

Example::

    form_factors(["C", "O"], np.array([0.0, 1.0]))   # (2 elements, 2 |q| values), ≈ [[6, 4.6], [8, 6.6]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from scinas.errors import DataError

__all__ = ["CROMER_MANN", "form_factors", "known_elements", "normalize_element"]

# element: (a1, a2, a3, a4, b1, b2, b3, b4, c); a in electrons, b in Å²
CROMER_MANN: dict[str, tuple[float, ...]] = {
    "H": (0.489918, 0.262003, 0.196767, 0.049879, 20.6593, 7.74039, 49.5519, 2.20159, 0.001305),
    "C": (2.31000, 1.02000, 1.58860, 0.865000, 20.8439, 10.2075, 0.568700, 51.6512, 0.215600),
    "N": (12.2126, 3.13220, 2.01250, 1.16630, 0.005700, 9.89330, 28.9975, 0.582600, -11.529),
    "O": (3.04850, 2.28680, 1.54630, 0.867000, 13.2771, 5.70110, 0.323900, 32.9089, 0.250800),
    "Na": (4.76260, 3.17360, 1.26740, 1.11280, 3.28500, 8.84220, 0.313600, 129.424, 0.676000),
    "Mg": (5.42040, 2.17350, 1.22690, 2.30730, 2.82750, 79.2611, 0.380800, 7.19370, 0.858400),
    "P": (6.43450, 4.17910, 1.78000, 1.49080, 1.90670, 27.1570, 0.526000, 68.1645, 1.11490),
    "S": (6.90530, 5.20340, 1.43790, 1.58630, 1.46790, 22.2151, 0.253600, 56.1720, 0.866900),
    "Cl": (11.4604, 7.19640, 6.25560, 1.64550, 0.010400, 1.16620, 18.5194, 47.7784, -9.5574),
    "K": (8.21860, 7.43980, 1.05190, 0.865900, 12.7949, 0.774800, 213.187, 41.6841, 1.42280),
    "Ca": (8.62660, 7.38730, 1.58990, 1.02110, 10.4421, 0.659900, 85.7484, 178.437, 1.37510),
    "Mn": (11.2819, 7.35730, 3.01930, 2.24410, 5.34090, 0.343200, 17.8674, 83.7543, 1.08960),
    "Fe": (11.7695, 7.35730, 3.52220, 2.30450, 4.76110, 0.307200, 15.3535, 76.8805, 1.03690),
    "Cu": (13.3380, 7.16760, 5.61580, 1.67350, 3.58280, 0.247000, 11.3966, 64.8126, 1.19100),
    "Zn": (14.0743, 7.03180, 5.16520, 2.41000, 3.26550, 0.233300, 10.3163, 58.7097, 1.30410),
    "Se": (17.0006, 5.81960, 3.97310, 4.35430, 2.40980, 0.272600, 15.2372, 43.8163, 2.84090),
}
"""Cromer–Mann coefficients ``(a1..a4, b1..b4, c)`` of the elements scinas knows."""

_ALIASES = {"D": "H"}  # deuterium scatters X-rays like hydrogen


def normalize_element(symbol: str) -> str:
    """``symbol`` as the table spells it (``"FE"`` → ``"Fe"``, ``"D"`` → ``"H"``)."""
    name = symbol.strip().capitalize()
    return _ALIASES.get(name, name)


def known_elements() -> list[str]:
    """The element symbols with coefficients, in table order."""
    return list(CROMER_MANN)


def form_factors(elements: Sequence[str], q: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """``f`` of each element at each ``|q|`` (Å⁻¹): shape ``(len(elements), *np.shape(q))``.

    An element without coefficients is a DataError that names it and lists the known ones.
    """
    q = np.asarray(q, dtype=np.float64)
    s2 = (q / (4.0 * np.pi)) ** 2
    out = np.empty((len(elements), *q.shape))
    for row, element in enumerate(elements):
        key = normalize_element(element)
        if key not in CROMER_MANN:
            raise DataError(f"no X-ray scattering factor for element {element!r}; scinas knows "
                            f"{', '.join(CROMER_MANN)} (add its Cromer–Mann coefficients to "
                            "scinas.data.xfel.scattering.CROMER_MANN, or remove those atoms)")
        a1, a2, a3, a4, b1, b2, b3, b4, c = CROMER_MANN[key]
        out[row] = (a1 * np.exp(-b1 * s2) + a2 * np.exp(-b2 * s2) + a3 * np.exp(-b3 * s2)
                    + a4 * np.exp(-b4 * s2) + c)
    return out
