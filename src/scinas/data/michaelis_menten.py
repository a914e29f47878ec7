"""Michaelis–Menten spectra: the regression dataset of the TOML-driven experiments.

Each sample is one enzyme reaction ``E + S ⇌ ES → E + P`` seen through a four-wavelength
spectrometer.  Rates ``k1, k2, k3`` and initial concentrations ``E0, S0`` are drawn uniformly, the
concentrations ``C(t) = [E, S, ES, P]`` are integrated from ``[E0, S0, 0, 0]`` on
``t = linspace(0, t_max, n_times)`` with the textbook kinetics::

    dE = -k1·E·S + (k2+k3)·ES    dS = -k1·E·S + k2·ES
    dES = k1·E·S - (k2+k3)·ES    dP = k3·ES

four unit spectra ``s_i`` and amplitudes ``A_i`` mix them into ``D = Σ A_i·outer(C[:, i], s_i)``
(divided by its Frobenius norm), and the reduced SVD ``D = U Σ Vᵀ`` gives the input
``x = U[:, :n]·Σ[:n]`` (shape ``(n_times, n, 1)``) and the target ``y = (Cᵀ U[:, :n])ᵀ`` flattened
(``4·n`` values, named ``E·u1, S·u1, ES·u1, P·u1, E·u2, ...``).

``kinetics = "seed"`` selects the variant of the project scinas grew from, where the ``k3`` term
regenerates S instead of E (``dE = -k1·E·S + k2·ES``, ``dS = -k1·E·S + (k2+k3)·ES``).  It is the
textbook system with the roles of E and S swapped, and exists only to reproduce old results.

How it is computed, and why (``benchmarks/data_generation.py`` compares it with a per-sample
``odeint`` loop; on two shared cores it is about 30 times faster):

* Both kinetics conserve two totals (textbook: ``E + ES = E0`` and ``S + ES + P = S0``; seed:
  ``S + ES = S0`` and ``E + ES + P = E0``), so only the consumed species and the complex are
  integrated and the other two follow exactly.  Hence ``C`` has rank 3 and only three singular
  components carry signal: ``n_components`` is at most 3 (a fourth would be rounding noise).
* The integrator is a Taylor-series method of order 16, vectorised over the batch.  A safe step
  comes from ``λ = k1·(E0+S0) + k2 + k3``, which bounds the (real) Jacobian eigenvalues along the
  trajectory: ``h·λ ≤ 1`` and ``h·k1·(E0+S0) ≤ 0.35`` (the nonlinear term limits the series'
  radius of convergence).  Samples are grouped by that step (small groups merge into stiffer
  ones, since each array operation has a fixed cost), and a group's step grows beyond it when
  the last Taylor terms show the truncation stays below 1e-12 of the trajectory's size.  Against
  ``scipy.integrate.odeint`` at tight tolerances the results agree to ~1e-11, also far outside
  the default ranges.
* The SVD never touches the ``n_times × 4`` matrix: ``D = Z·M`` with ``Z = [1, consumed, ES]``
  (three columns) and a small ``M``, so a Cholesky factor ``R`` of ``ZᵀZ`` and the SVD of the 3×4 matrix
  ``R·M`` (one-sided Jacobi, vectorised) give ``U``, ``Σ`` and ``CᵀU`` to rounding.
* Signs: each column of ``U`` is made to sum to a positive number, so results depend on no
  LAPACK build or algorithm.
* Spectra whose 4×4 matrix has a condition number above ``SPECTRA_MAX_CONDITION`` (100, about 5%
  of draws from [-1, 1]) are redrawn: beyond it the four species are barely distinguishable.
  ``spectra_min == spectra_max`` is refused, as every draw would be singular.
* Rates ``k1, k3`` and concentrations must be positive (``k2`` may be 0): a zero would leave fewer
  than three independent components.
* BLAS runs single-threaded while generating (its threads only slow the many tiny products);
  parallelism belongs to the shards.

Example ``data.toml`` (optional keys shown with their defaults)::

    [dtest]
    generator = "michaelis_menten"
    [dtest.parameters]
    k1_min = 0.01
    k1_max = 0.05
    k2_min = 0.01
    k2_max = 0.05
    k3_min = 0.01
    k3_max = 0.05
    E0_min = 0.1
    E0_max = 0.3
    S0_min = 0.1
    S0_max = 0.3
    spectra_min = -1
    spectra_max = 1
    amplitude_min = 0.2
    amplitude_max = 0.8
    kinetics = "textbook"
    t_max = 500.0
    n_times = 501
    n_components = 3
    layout = "image"     # or "series": inputs (n_times, n_components) for 1D models
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scinas.config.reader import Table
from scinas.data.base import GENERATORS, SPLITS, DatasetGenerator, DatasetInfo, split_sizes
from scinas.data.kinetics import (
    KINETICS,
    MAX_STEPS,
    Workspace,
    integration_steps,
    one_blas_thread,
    reaction_roles,
    reduced_kinetics,
    simulate_kinetics,
    species_map,
)
from scinas.errors import DataError

__all__ = [
    "KINETICS",
    "LAYOUTS",
    "SPECIES",
    "SPECTRA_MAX_CONDITION",
    "MichaelisMentenGenerator",
    "MichaelisMentenParameters",
    "SampleDraws",
    "Workspace",
    "draw_samples",
    "draw_spectra",
    "row_svd",
    "samples_from_draws",
    "simulate_kinetics",
    "spectral_components",
]

Array = NDArray[np.float64]

SPECIES: tuple[str, str, str, str] = ("E", "S", "ES", "P")
LAYOUTS = ("image", "series")
"""``layout``: inputs as a one-channel image ``(n_times, n_components, 1)`` or a series ``(n_times, n_components)``."""
SPECTRA_MAX_CONDITION = 100.0
"""Spectra matrices with a larger 2-norm condition number are redrawn."""

_MAX_REDRAW_ROUNDS = 200
_CHUNK = 4096  # samples processed together
_RIDGE = 1e-13  # keeps the Cholesky factorisation defined for degenerate samples


# -- spectra and components --------------------------------------------------------------------
def row_svd(matrices: Array) -> tuple[Array, Array]:
    """Left singular vectors ``(n, m, m)`` and singular values ``(n, m)`` (descending) of ``(n, m, w)``.

    One-sided Jacobi on the rows (``m <= w``), vectorised over the batch (kept as the last,
    contiguous axis): for many tiny matrices it is faster than a LAPACK call per matrix, and it
    is accurate to rounding.  Column signs are arbitrary (callers fix them).
    """
    rows = np.ascontiguousarray(matrices.transpose(1, 2, 0))  # (m, w, n)
    m, _, n = rows.shape
    rotation = np.zeros((m, m, n))  # rows = rotation @ matrices
    for i in range(m):
        rotation[i, i] = 1.0
    for _ in range(40):
        worst = 0.0
        for p in range(m - 1):
            for q in range(p + 1, m):
                alpha = np.einsum("wn,wn->n", rows[p], rows[p])
                beta = np.einsum("wn,wn->n", rows[q], rows[q])
                gamma = np.einsum("wn,wn->n", rows[p], rows[q])
                diff = beta - alpha
                root = np.sqrt(diff * diff + 4.0 * gamma * gamma)
                scale = np.abs(diff) + root
                with np.errstate(invalid="ignore", divide="ignore"):
                    worst = max(worst, float(np.nanmax(np.abs(gamma) / np.sqrt(alpha * beta), initial=0.0)))
                    tangent = 2.0 * gamma * np.copysign(1.0, diff) / scale
                tangent[scale == 0] = 0.0
                cosine = 1.0 / np.sqrt(1.0 + tangent * tangent)
                sine = cosine * tangent
                for block in (rows, rotation):
                    old_p = block[p].copy()
                    block[p] *= cosine
                    block[p] -= sine * block[q]
                    block[q] *= cosine
                    block[q] += sine * old_p
        if worst < 1e-13:  # quadratic convergence: the rotations left are at rounding level
            break
    sigma = np.sqrt(np.einsum("mwn,mwn->nm", rows, rows))
    order = np.argsort(-sigma, axis=1, kind="stable")
    sigma = np.take_along_axis(sigma, order, axis=1)
    u = np.take_along_axis(rotation.transpose(2, 1, 0), order[:, None, :], axis=2)
    return u, sigma


def draw_spectra(rng: np.random.Generator, n: int, low: float, high: float) -> Array:
    """``n`` matrices of 4 unit spectra (rows), redrawn while their condition number > 100."""
    spectra = np.empty((n, 4, 4))
    todo = np.arange(n)
    for _ in range(_MAX_REDRAW_ROUNDS):
        draw = rng.uniform(low, high, size=(todo.size, 4, 4))
        with np.errstate(invalid="ignore", divide="ignore"):
            draw /= np.linalg.norm(draw, axis=2, keepdims=True)
            draw = np.nan_to_num(draw, nan=0.0)  # an all-zero row: singular, redrawn below
        squares = np.linalg.eigvalsh(draw @ draw.transpose(0, 2, 1))  # σ², ascending
        good = squares[:, 3] <= SPECTRA_MAX_CONDITION**2 * squares[:, 0]
        spectra[todo[good]] = draw[good]
        todo = todo[~good]
        if todo.size == 0:
            return spectra
    raise DataError(f"spectra drawn from [{low:g}, {high:g}] are almost never well conditioned "
                    f"(condition number <= {SPECTRA_MAX_CONDITION:g}); widen spectra_min..spectra_max")


def _cholesky_factor(gram: Array) -> Array:
    """Upper ``R`` with ``RᵀR ≈ gram`` for a batch of 3×3 Gram matrices, in closed form.

    The matrix is first scaled to a unit diagonal (so the ridge that keeps degenerate samples
    finite is relative), which also makes the factor as accurate as the data allow.
    """
    scale = np.sqrt(np.maximum(np.diagonal(gram, axis1=1, axis2=2), 1e-300))  # (n, 3)
    g = gram / (scale[:, :, None] * scale[:, None, :])
    r = np.zeros_like(gram)
    r[:, 0, 0] = np.sqrt(1.0 + _RIDGE)
    r[:, 0, 1] = g[:, 0, 1] / r[:, 0, 0]
    r[:, 0, 2] = g[:, 0, 2] / r[:, 0, 0]
    r[:, 1, 1] = np.sqrt(np.maximum(1.0 + _RIDGE - r[:, 0, 1] ** 2, _RIDGE))
    r[:, 1, 2] = (g[:, 1, 2] - r[:, 0, 1] * r[:, 0, 2]) / r[:, 1, 1]
    r[:, 2, 2] = np.sqrt(np.maximum(1.0 + _RIDGE - r[:, 0, 2] ** 2 - r[:, 1, 2] ** 2, _RIDGE))
    factor: Array = r * scale[:, None, :]
    return factor


def _upper_solve(r: Array, rhs: Array) -> Array:
    """``R⁻¹·rhs`` for upper triangular 3×3 ``R`` (n, 3, 3) and ``rhs`` (n, 3, k), by back substitution."""
    out = np.empty_like(rhs)
    out[:, 2] = rhs[:, 2] / r[:, 2, 2, None]
    out[:, 1] = (rhs[:, 1] - r[:, 1, 2, None] * out[:, 2]) / r[:, 1, 1, None]
    out[:, 0] = (rhs[:, 0] - r[:, 0, 1, None] * out[:, 1] - r[:, 0, 2, None] * out[:, 2]) / r[:, 0, 0, None]
    return out


def spectral_components(reduced: Array, lmap: Array, amplitudes: Array, spectra: Array, n_components: int,
                        out: NDArray[np.float32] | None = None,
                        workspace: Workspace | None = None) -> tuple[NDArray[np.float32], Array]:
    """Inputs ``(n, n_t, n_components)`` (float32, written into ``out`` if given) and targets
    ``(n, 4·n_components)`` (float64) from reduced kinetics.

    ``reduced``: ``(2, n, n_t)`` trajectories ``[b, c]``; ``lmap``: ``(n, 3, 4)`` with
    ``C = [1, b, c] @ lmap``; ``amplitudes``: ``(n, 4)``; ``spectra``: ``(n, 4, 4)``, one per row.
    """
    _, n, n_t = reduced.shape
    b, c = reduced
    gram = np.empty((n, 3, 3))  # ZᵀZ for Z = [1, b, c]
    gram[:, 0, 0] = n_t
    gram[:, 0, 1:] = gram[:, 1:, 0] = reduced.sum(axis=2).T
    gram[:, 1, 1] = np.einsum("nt,nt->n", b, b)
    gram[:, 1, 2] = gram[:, 2, 1] = np.einsum("nt,nt->n", b, c)
    gram[:, 2, 2] = np.einsum("nt,nt->n", c, c)
    r = _cholesky_factor(gram)  # Z = Q·R
    mix = lmap @ (amplitudes[:, :, None] * spectra)  # D = Z @ mix
    small = r @ mix
    small /= np.linalg.norm(small, axis=(1, 2), keepdims=True)
    uk, sigma = row_svd(small)
    basis = _upper_solve(r, uk[:, :, :n_components])  # U = Z @ basis
    signs = np.where(np.einsum("ni,nij->nj", gram[:, 0], basis) < 0, -1.0, 1.0)  # column sums of U
    basis *= signs[:, None, :]
    weights = basis * sigma[:, None, :n_components]  # x = Z @ weights
    varying = (workspace or Workspace()).get("inputs", (n, n_components, n_t))
    np.matmul(weights[:, 1:].transpose(0, 2, 1), reduced.transpose(1, 0, 2), out=varying)
    x = np.empty((n, n_t, n_components), dtype=np.float32) if out is None else out
    for j in range(n_components):  # add the constant part while transposing, channel by channel
        np.add(varying[:, j], weights[:, 0, j, None], out=x[:, :, j], casting="same_kind")
    y = np.einsum("nij,nik->njk", basis, gram @ lmap)  # (Cᵀ U)ᵀ = basisᵀ·ZᵀZ·L
    return x, y.reshape(n, 4 * n_components)


# -- samples ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleDraws:
    """The random part of ``n`` samples, drawn in this order: k1, k2, k3, E0, S0, spectra, amplitudes."""

    k1: Array
    k2: Array
    k3: Array
    e0: Array
    s0: Array
    spectra: Array  # (n, 4, 4), row i = spectrum of species i (E, S, ES, P)
    amplitudes: Array  # (n, 4)


def draw_samples(rng: np.random.Generator, parameters: MichaelisMentenParameters, n: int) -> SampleDraws:
    """Draw everything random about ``n`` samples from ``rng``."""
    p = parameters
    k1, k2, k3, e0, s0 = (rng.uniform(*bounds, size=n) for bounds in (p.k1, p.k2, p.k3, p.e0, p.s0))
    spectra = draw_spectra(rng, n, *p.spectra)
    amplitudes = rng.uniform(*p.amplitude, size=(n, 4))
    return SampleDraws(k1, k2, k3, e0, s0, spectra, amplitudes)


def samples_from_draws(parameters: MichaelisMentenParameters,
                       draws: SampleDraws) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Inputs ``(n, n_times, n_components, 1)`` and targets ``(n, 4·n_components)``, float32.

    Samples are processed a chunk at a time, integrated in groups of similar stiffness (so a
    sample's values can differ with its company, by no more than the integration error).
    """
    p = parameters
    n = draws.k1.size
    a0, b0, regenerated = reaction_roles(p.kinetics, draws.e0, draws.s0)
    lmap = species_map(a0, b0, regenerated)
    dt = p.t_max / (p.n_times - 1)
    x = np.empty((n, p.n_times, p.n_components, 1), dtype=np.float32)
    y = np.empty((n, 4 * p.n_components), dtype=np.float32)
    workspace = Workspace()
    with one_blas_thread():
        for start in range(0, n, _CHUNK):
            part = slice(start, min(n, start + _CHUNK))
            reduced = reduced_kinetics(draws.k1[part], draws.k2[part], draws.k3[part], a0[part], b0[part], dt,
                                        p.n_times - 1, workspace)
            _, y[part] = spectral_components(reduced, lmap[part], draws.amplitudes[part], draws.spectra[part],
                                             p.n_components, x[part, :, :, 0], workspace)
    return x, y


# -- configuration and generator ---------------------------------------------------------------
@dataclass(frozen=True)
class MichaelisMentenParameters:
    """Validated ``[d.parameters]``; ranges are ``(min, max)`` pairs."""

    k1: tuple[float, float]
    k2: tuple[float, float]
    k3: tuple[float, float]
    e0: tuple[float, float]
    s0: tuple[float, float]
    spectra: tuple[float, float]
    amplitude: tuple[float, float]
    kinetics: str = "textbook"
    t_max: float = 500.0
    n_times: int = 501
    n_components: int = 3
    layout: str = "image"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(n_times, n_components, 1)`` as an image (the seed's form) or ``(n_times, n_components)``
        as a series of ``n_components`` channels (for 1D models)."""
        if self.layout == "series":
            return (self.n_times, self.n_components)
        return (self.n_times, self.n_components, 1)

    @classmethod
    def parse(cls, table: Table) -> MichaelisMentenParameters:
        """Read and check every key (ranges, optional settings, cost of the integration)."""
        ranges: dict[str, tuple[float, float]] = {}
        positive = {"k1": "a zero binding rate means no reaction", "k3": "a zero catalytic rate makes no product",
                    "E0": "no enzyme means no reaction", "S0": "no substrate means no reaction"}
        for stem in ("k1", "k2", "k3", "E0", "S0"):
            ranges[stem] = table.min_max(stem, minimum=0.0)
            if stem in positive and ranges[stem][0] == 0.0:
                raise table.error(f"{stem}_min", f"expected a number > 0: {positive[stem]}, and the "
                                  "samples would carry fewer than three independent components",
                                  fix=f"give {stem}_min a small positive value")
        spectra = table.min_max("spectra")
        if spectra[0] == spectra[1]:
            raise table.error("spectra_min", "spectra_min equals spectra_max: all spectra would be equal "
                              "and could never be told apart", fix="give spectra_min < spectra_max")
        amplitude = table.min_max("amplitude", minimum=0.0)
        if amplitude[1] == 0.0:
            raise table.error("amplitude_max", "all amplitudes would be 0, so the data would be empty",
                              fix="give amplitude_max > 0")
        kinetics = table.string("kinetics", "textbook", choices=KINETICS)
        t_max = table.number("t_max", 500.0, minimum=0.0, exclusive_minimum=True)
        n_times = table.integer("n_times", 501, minimum=3)
        n_components = table.integer("n_components", 3, minimum=1, maximum=3)
        layout = table.string("layout", "image", choices=LAYOUTS)
        table.finish()
        fastest = ranges["k1"][1] * (ranges["E0"][1] + ranges["S0"][1]) + ranges["k2"][1] + ranges["k3"][1]
        steps = integration_steps(t_max, *(ranges[k][1] for k in ("k1", "k2", "k3", "E0", "S0")))
        if steps > MAX_STEPS:
            raise table.error("t_max", f"the fastest reactions (rate {fastest:g}) over t_max = {t_max:g} need "
                              f"about {steps:.3g} integration steps per sample (at most {MAX_STEPS} allowed)",
                              fix="lower t_max or the upper ends of the rate and concentration ranges")
        return cls(ranges["k1"], ranges["k2"], ranges["k3"], ranges["E0"], ranges["S0"], spectra, amplitude,
                   kinetics, t_max, n_times, n_components, layout)


@GENERATORS.register("michaelis_menten")
class MichaelisMentenGenerator(DatasetGenerator):
    """Enzyme-kinetics spectra: SVD components as inputs, species projections as targets."""

    name = "michaelis_menten"
    version = 1
    description = "Michaelis–Menten enzyme kinetics seen through random spectra (SVD components → 12 targets)"
    parameters: MichaelisMentenParameters

    @classmethod
    def parse_parameters(cls, table: Table) -> MichaelisMentenParameters:
        return MichaelisMentenParameters.parse(table)

    @classmethod
    def example_table(cls, folder: Path) -> dict[str, Any]:
        """Every range required, each between 0.01 and 0.8 (spectra: ±1)."""
        ranges = {"k1": (0.01, 0.05), "k2": (0.01, 0.05), "k3": (0.01, 0.05), "E0": (0.1, 0.3), "S0": (0.1, 0.3),
                  "spectra": (-1.0, 1.0), "amplitude": (0.2, 0.8)}
        return {f"{stem}_{end}": value for stem, (low, high) in ranges.items()
                for end, value in (("min", low), ("max", high))}

    @classmethod
    def parameters_table(cls, parameters: Any) -> dict[str, Any]:
        """Each range is written back as its ``<name>_min`` and ``<name>_max`` keys (``E0``, ``S0``)."""
        table: dict[str, Any] = {}
        for key, value in super().parameters_table(parameters).items():
            if isinstance(value, list) and len(value) == 2:
                stem = {"e0": "E0", "s0": "S0"}.get(key, key)
                table[f"{stem}_min"], table[f"{stem}_max"] = value
            else:
                table[key] = value
        return table

    def info(self) -> DatasetInfo:
        p = self.parameters
        names = tuple(f"{s}·u{j + 1}" for j in range(p.n_components) for s in SPECIES)
        sizes = split_sizes(self.shape.n_samples, self.shape.splits)
        return DatasetInfo(name=self.dataset, task="regression", input_shape=p.input_shape,
                           target_shape=(4 * p.n_components,), split_sizes=dict(zip(SPLITS, sizes, strict=True)),
                           target_names=names)

    def generate_shard(self, index: int, n_samples: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n_samples`` samples drawn from ``rng`` (the shard index does not enter otherwise)."""
        x, y = samples_from_draws(self.parameters, draw_samples(rng, self.parameters, n_samples))
        return x.reshape((n_samples, *self.parameters.input_shape)), y
