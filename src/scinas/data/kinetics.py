"""Vectorised integration of Michaelis–Menten kinetics (E + S ⇌ ES → E + P) for many reactions at once.

Both kinetics conserve two totals (textbook: ``E + ES = E0`` and ``S + ES + P = S0``), so only the
consumed species and the complex are integrated; the other two follow exactly.  The integrator is a
Taylor-series method of order 16, vectorised over the batch: each sample's step is a power-of-two
(or three-times-power-of-two) multiple of the output spacing with ``h·λ`` bounded, where
``λ = k1·(E0+S0) + k2 + k3`` bounds the Jacobian's eigenvalues along the trajectory; samples with the
same step are integrated together, and no sample depends on the others.  It agrees with a tight
``scipy.integrate.odeint`` solution to about 1e-11 of each trajectory's scale.

Example::

    t = np.linspace(0.0, 500.0, 501)
    c = simulate_kinetics(k1, k2, k3, e0, s0, t)      # (n, 501, 4): E, S, ES, P
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

__all__ = [
    "KINETICS",
    "MAX_STEPS",
    "Workspace",
    "integration_steps",
    "one_blas_thread",
    "reaction_roles",
    "reduced_kinetics",
    "simulate_kinetics",
    "species_map",
]

Array = NDArray[np.float64]

KINETICS: tuple[str, ...] = ("textbook", "seed")

_ORDER = 16  # Taylor order
_LINEAR_STEP = 1.0  # safe step: largest h·λ, λ = k1·(E0+S0) + k2 + k3 (truncation ≈ (h·λ)^17/17!)
_NONLINEAR_STEP = 0.35  # safe step: largest h·k1·(E0+S0) (truncation ≲ 0.35^17 near a complex-time pole)
_MAX_OUTPUTS_PER_STEP = 32  # cap on the step for slow samples, in output intervals
_TOLERANCE = 1e-12  # truncation per step (last two Taylor terms), relative to the trajectory's size
_STABLE_STEP = 5.0  # largest h·λ of a lengthened step (the order-16 method is stable up to 7.3)
MAX_STEPS = 200_000  # integration steps per sample above which a configuration is refused
_LADDER = np.unique(np.concatenate([2 ** np.arange(41), 3 * 2 ** np.arange(40)]))  # 1, 2, 3, 4, 6, 8, 12, ...
_GROUP_OVERHEAD = 1024  # fixed cost of an array operation, in samples' worth of work (see _group_codes)


class Workspace:
    """Scratch arrays reused from chunk to chunk.

    Touching fresh memory costs a page fault per 4 KiB, which in virtual machines can cost more
    than the arithmetic done on it; reusing the same buffers avoids that.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Array] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> Array:
        """A C-contiguous float64 array of ``shape`` (contents undefined)."""
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size)
        return buffer[:size].reshape(shape)


def one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread: its threads only add overhead to the many tiny products here
    (several times slower on a busy machine); parallelism belongs to the shards."""
    limiter: contextlib.AbstractContextManager[Any] = threadpool_limits(limits=1, user_api="blas")
    return limiter


def _taylor_coefficients(state: Array, a_scaled: Array, linear: Array, coef: Array, conv: Array) -> None:
    """Fill ``coef`` (order+1, 2, n) with the Taylor coefficients of ``[b̃, d̃]`` at ``state`` (see _taylor_bucket)."""
    coef[0, 0] = state[0]
    np.add(a_scaled, state[1], out=coef[0, 1])  # row 0 holds ã's constant term while recursing
    for k in range(_ORDER):
        np.einsum("jn,jn->n", coef[: k + 1, 1], coef[k::-1, 0], out=conv)  # (ã·b̃)_k
        np.multiply(linear, state[1] if k == 0 else coef[k, 1], out=coef[k + 1])
        coef[k + 1] -= conv
        coef[k + 1] *= 1.0 / (k + 1)
    coef[0, 1] = state[1]


def _taylor_bucket(k1: Array, k2: Array, k3: Array, a0: Array, b0: Array, dt: float,
                   n_intervals: int, code: int, workspace: Workspace | None = None) -> Array:
    """Reduced trajectories ``(2, n, n_intervals+1)`` of ``[b, c]``, at least as finely as ``code`` says.

    ``b`` is the consumed species, ``c`` the complex and ``a = a0 - c`` the regenerated one.  In
    time ``τ = t/dt`` and scaled concentrations ``x̃ = k1·dt·x`` the system reads
    ``b̃' = -ã·b̃ - k2·dt·d̃``, ``d̃' = -ã·b̃ - (k2+k3)·dt·d̃`` with ``d = -c``, so the Taylor
    coefficients of ``ã`` are those of ``d̃`` (but the constant one) and the quadratic term
    needs no rate: the innermost loop is one Cauchy product and three array operations.

    ``code`` is the step every member may safely take (see :func:`_step_codes`): ``q > 0`` output
    intervals, or ``1/m`` of one for ``-m``.  When the last two Taylor terms of all members show
    that a longer step keeps the truncation below ``_TOLERANCE`` (relative), and the step stays
    well inside the method's stability interval, the step is lengthened (after the initial
    transient, typically by 2–4×).  A step of ``q`` intervals is evaluated at its ``q`` output
    times by one matrix product, written straight into the ``(2, n, time)`` result.
    """
    n = k1.size
    scale = np.maximum(k1 * dt, 1e-150)  # k1 below 1e-150/dt acts as that value
    linear = np.stack([-k2 * dt, -(k2 + k3) * dt])  # (2, n)
    a_scaled = scale * a0
    reference = np.maximum(scale * np.maximum(a0, b0), 1e-300)  # the size of each trajectory, scaled
    fastest = float(np.max((k1 * (a0 + b0) + k2 + k3) * dt, initial=0.0))
    longest = min(_MAX_OUTPUTS_PER_STEP, _STABLE_STEP / fastest if fastest > 0 else math.inf)
    substeps = -code if code < 0 else 1
    powers = np.arange(1.0, _MAX_OUTPUTS_PER_STEP + 1.0)[None, :] ** np.arange(_ORDER + 1.0)[:, None]
    substep_powers = (1.0 / substeps) ** np.arange(_ORDER + 1.0)

    workspace = workspace or Workspace()
    out = workspace.get("trajectories", (2, n, n_intervals + 1))
    out[0, :, 0] = scale * b0
    out[1, :, 0] = 0.0
    coef = workspace.get("coefficients", (_ORDER + 1, 2, n))
    flat = coef.reshape(_ORDER + 1, 2 * n)
    conv = np.empty(n)
    state = np.ascontiguousarray(out[:, :, 0])
    done = 0
    while done < n_intervals:
        _taylor_coefficients(state, a_scaled, linear, coef, conv)
        allowed = 0.0
        if longest >= 1:
            tails = [float(np.max(np.abs(coef[k]).max(axis=0) / reference)) for k in (_ORDER - 1, _ORDER)]
            allowed = min(longest, *((_TOLERANCE / t) ** (1.0 / k) if t > 0 else math.inf
                                     for t, k in zip(tails, (_ORDER - 1, _ORDER), strict=True)))
        if code > 0 or allowed >= 1:
            longer = int(_LADDER[np.searchsorted(_LADDER, allowed, side="right") - 1]) if allowed >= 1 else 0
            step = min(max(code, longer), n_intervals - done)
            block = out[:, :, done + 1: done + 1 + step].reshape(2 * n, step)
            np.matmul(flat.T, powers[:, :step], out=block)
            state = np.ascontiguousarray(out[:, :, done + step])
            done += step
        else:  # one interval in `substeps` safe steps
            for sub in range(substeps):
                if sub:
                    _taylor_coefficients(state, a_scaled, linear, coef, conv)
                state = np.tensordot(substep_powers, coef, axes=1)
            done += 1
            out[:, :, done] = state
    out *= np.stack([1.0 / scale, -1.0 / scale])[:, :, None]  # back to [b, c]
    return out


def _step_codes(k1: Array, k2: Array, k3: Array, a0: Array, b0: Array, dt: float) -> NDArray[np.int64]:
    """Per sample, the longest step within both limits, from the ladder 1, 2, 3, 4, 6, 8, 12, ...

    Code ``q > 0`` means ``h = q·dt``; code ``-m`` means ``h = dt/m``.  The ladder keeps the
    number of distinct steps (groups integrated together) small while wasting at most a third.
    """
    nonlinear = k1 * (a0 + b0)
    total = nonlinear + k2 + k3
    with np.errstate(divide="ignore"):
        limit = np.minimum(_NONLINEAR_STEP / nonlinear, _LINEAR_STEP / total) / dt  # in output intervals
    up = _LADDER[_LADDER <= _MAX_OUTPUTS_PER_STEP]
    codes = up[np.maximum(np.searchsorted(up, limit, side="right") - 1, 0)]
    short = limit < 1
    if short.any():
        with np.errstate(divide="ignore"):
            substeps = _LADDER[np.minimum(np.searchsorted(_LADDER, 1.0 / limit[short]), _LADDER.size - 1)]
        codes[short] = -substeps
    result: NDArray[np.int64] = codes.astype(np.int64)
    return result


def _group_codes(codes: NDArray[np.int64], n_intervals: int) -> NDArray[np.int64]:
    """The step code each sample is integrated with, after merging small groups into stiffer ones.

    Every group costs ``steps × (members + _GROUP_OVERHEAD)``: the overhead stands for the
    fixed cost of each array operation, which dominates for small groups.  Sorted from the
    stiffest, the groups are split into consecutive runs (each run takes the step of its
    stiffest member, which is safe for all) minimising the total, by dynamic programming.
    """
    values, counts = np.unique(codes, return_counts=True)
    steps = np.where(values > 0, -(-n_intervals // np.maximum(values, 1)), n_intervals * -values)
    order = np.argsort(-steps, kind="stable")
    values, counts, steps = values[order], counts[order], steps[order]
    k = values.size
    best = np.zeros(k + 1)
    cut = np.zeros(k, dtype=np.int64)
    for i in range(k - 1, -1, -1):
        totals = np.cumsum(counts[i:])
        costs = steps[i] * (totals + _GROUP_OVERHEAD) + best[i + 1:]
        cut[i] = i + 1 + int(np.argmin(costs))
        best[i] = costs.min()
    merged = values.copy()
    i = 0
    while i < k:
        merged[i: cut[i]] = values[i]
        i = int(cut[i])
    order = np.argsort(values)
    return merged[order][np.searchsorted(values[order], codes)]


def reduced_kinetics(k1: Array, k2: Array, k3: Array, a0: Array, b0: Array, dt: float,
                      n_intervals: int, workspace: Workspace | None = None) -> Array:
    """``[b, c]`` on the output grid, shape ``(2, n, n_intervals+1)``, integrated group by group."""
    workspace = workspace or Workspace()
    codes = _group_codes(_step_codes(k1, k2, k3, a0, b0, dt), n_intervals)
    groups = np.unique(codes)
    if groups.size == 1:
        return _taylor_bucket(k1, k2, k3, a0, b0, dt, n_intervals, int(groups[0]), workspace)
    out = workspace.get("assembled", (2, k1.size, n_intervals + 1))
    for code in groups:
        idx = np.flatnonzero(codes == code)
        out[:, idx] = _taylor_bucket(k1[idx], k2[idx], k3[idx], a0[idx], b0[idx], dt, n_intervals, int(code),
                                     workspace)
    return out


def reaction_roles(kinetics: str, e0: Array, s0: Array) -> tuple[Array, Array, int]:
    """(regenerated initial, consumed initial, column of the regenerated species in C)."""
    if kinetics == "textbook":
        return e0, s0, 0
    if kinetics == "seed":
        return s0, e0, 1
    raise ValueError(f"unknown kinetics {kinetics!r}; expected one of {', '.join(KINETICS)}")


def species_map(a0: Array, b0: Array, regenerated: int) -> Array:
    """``L`` with ``C = [1, b, c] @ L``, shape ``(n, 3, 4)`` (exact by the conservation laws)."""
    n = a0.size
    lmap = np.zeros((n, 3, 4))
    consumed = 1 - regenerated
    lmap[:, 0, regenerated] = a0  # regenerated = a0 - c
    lmap[:, 2, regenerated] = -1.0
    lmap[:, 1, consumed] = 1.0  # consumed = b
    lmap[:, 2, 2] = 1.0  # complex = c
    lmap[:, 0, 3] = b0  # product = b0 - b - c
    lmap[:, 1, 3] = -1.0
    lmap[:, 2, 3] = -1.0
    return lmap


def _check_grid(t: Array) -> float:
    if t.ndim != 1 or t.size < 2 or t[0] != 0.0:
        raise ValueError("t must be a 1-D grid of at least 2 times starting at 0")
    dt = float(t[-1]) / (t.size - 1)
    if dt <= 0 or np.max(np.abs(np.diff(t) - dt)) > 1e-9 * dt:
        raise ValueError("t must be uniformly spaced and increasing, e.g. np.linspace(0, t_max, n)")
    return dt


def simulate_kinetics(k1: Array, k2: Array, k3: Array, e0: Array, s0: Array, t: Array,
                      kinetics: str = "textbook") -> Array:
    """Concentrations ``[E, S, ES, P]`` of ``n`` reactions on the uniform grid ``t``: ``(n, len(t), 4)``.

    All parameters are arrays of length ``n``; ``t`` starts at 0 (``np.linspace(0, t_max, n_t)``).
    ``kinetics`` is ``"textbook"`` or ``"seed"`` (see the module docstring).
    """
    k1, k2, k3, e0, s0 = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (k1, k2, k3, e0, s0))
    dt = _check_grid(np.asarray(t, dtype=np.float64))
    a0, b0, regenerated = reaction_roles(kinetics, e0, s0)
    with one_blas_thread():
        reduced = reduced_kinetics(k1, k2, k3, a0, b0, dt, len(t) - 1)
    lmap = species_map(a0, b0, regenerated)
    concentrations: Array = lmap[:, None, 0, :] + np.matmul(reduced.transpose(1, 2, 0), lmap[:, 1:, :])
    return concentrations


def integration_steps(t_max: float, k1: float, k2: float, k3: float, e0: float, s0: float) -> float:
    """Safe-step integration steps one sample with these (largest) rates needs over ``[0, t_max]``."""
    binding = k1 * (e0 + s0)
    fastest = binding + k2 + k3
    return t_max * max(binding / _NONLINEAR_STEP, fastest / _LINEAR_STEP)
