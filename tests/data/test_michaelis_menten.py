"""The Michaelis–Menten generator: physics, agreement with odeint, the data recipe, validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.integrate import odeint

from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.data.base import GENERATORS, ShapeConfig
from scinas.data.michaelis_menten import (
    SPECTRA_MAX_CONDITION,
    MichaelisMentenGenerator,
    MichaelisMentenParameters,
    draw_samples,
    draw_spectra,
    row_svd,
    samples_from_draws,
    simulate_kinetics,
)
from scinas.data.spec import build_generator
from scinas.errors import ConfigError, DataError
from scinas.testing.generators import check_generator
from tests.conftest import ConfigWriter

DEFAULTS: dict[str, Any] = {
    "k1_min": 0.01, "k1_max": 0.05, "k2_min": 0.01, "k2_max": 0.05, "k3_min": 0.01, "k3_max": 0.05,
    "E0_min": 0.1, "E0_max": 0.3, "S0_min": 0.1, "S0_max": 0.3,
    "spectra_min": -1, "spectra_max": 1, "amplitude_min": 0.2, "amplitude_max": 0.8,
}
T = np.linspace(0.0, 500.0, 501)


def _parameters(**changes: Any) -> MichaelisMentenParameters:
    raw = {**DEFAULTS, **changes}
    return MichaelisMentenGenerator.parse_parameters(Table(raw, file="data.toml", path="d.parameters"))


def _generator(n_samples: int = 100, **changes: Any) -> MichaelisMentenGenerator:
    shape = ShapeConfig(seed=0, n_samples=n_samples, n_shards=1, batch_size=8, shuffle_buffer_size=0,
                        splits=(0.8, 0.1, 0.1))
    return MichaelisMentenGenerator("d", _parameters(**changes), shape)


Params = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _draw(rng: np.random.Generator, n: int, k_max: float, c_max: float) -> Params:
    """k1, k2, k3 from [k_max/100, k_max], E0 and S0 from [c_max/50, c_max]."""
    k1, k2, k3 = (rng.uniform(0.01 * k_max, k_max, n) for _ in range(3))
    return k1, k2, k3, rng.uniform(0.02 * c_max, c_max, n), rng.uniform(0.02 * c_max, c_max, n)


def _odeint(k1: float, k2: float, k3: float, e0: float, s0: float, t: np.ndarray, kinetics: str) -> np.ndarray:
    regenerated = 0 if kinetics == "textbook" else 1  # the seed variant regenerates S instead of E

    def rhs(c: np.ndarray, _t: float) -> list[float]:
        binding = k1 * c[0] * c[1]
        d = [-binding + k2 * c[2], -binding + k2 * c[2], binding - (k2 + k3) * c[2], k3 * c[2]]
        d[regenerated] += k3 * c[2]
        return d

    scale = max(e0, s0)
    return np.asarray(odeint(rhs, [e0, s0, 0.0, 0.0], t, rtol=1e-12, atol=1e-15 * scale, mxstep=1_000_000))


def _one(params: Params, i: int) -> tuple[float, float, float, float, float]:
    k1, k2, k3, e0, s0 = (float(p[i]) for p in params)
    return k1, k2, k3, e0, s0


def _relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


# -- physics -----------------------------------------------------------------------------------
def test_textbook_conserves_enzyme_and_substrate_totals() -> None:
    k1, k2, k3, e0, s0 = _draw(np.random.default_rng(0), 50, 0.05, 0.3)
    c = simulate_kinetics(k1, k2, k3, e0, s0, T)
    assert c.shape == (50, 501, 4)
    np.testing.assert_allclose(c[:, 0], np.stack([e0, s0, 0 * e0, 0 * e0], axis=1), atol=1e-15)
    np.testing.assert_allclose(c[:, :, 0] + c[:, :, 2], np.broadcast_to(e0[:, None], (50, 501)), rtol=1e-12)
    np.testing.assert_allclose(c[:, :, 1] + c[:, :, 2] + c[:, :, 3], np.broadcast_to(s0[:, None], (50, 501)),
                               rtol=1e-12)
    assert c.min() > -1e-12  # concentrations stay non-negative
    assert np.all(np.diff(c[:, :, 3], axis=1) >= -1e-15)  # product only accumulates


def test_seed_variant_differs_and_conserves_its_own_totals() -> None:
    k1, k2, k3, e0, s0 = _draw(np.random.default_rng(1), 30, 0.05, 0.3)
    textbook = simulate_kinetics(k1, k2, k3, e0, s0, T)
    seed = simulate_kinetics(k1, k2, k3, e0, s0, T, kinetics="seed")
    assert np.abs(seed - textbook).max() > 1e-2  # the k3 term regenerates S, not E: visibly different data
    # In the seed variant S is the catalyst: S + ES = S0 and E + ES + P = E0.
    np.testing.assert_allclose(seed[:, :, 1] + seed[:, :, 2], np.broadcast_to(s0[:, None], (30, 501)), rtol=1e-12)
    np.testing.assert_allclose(seed[:, :, 0] + seed[:, :, 2] + seed[:, :, 3],
                               np.broadcast_to(e0[:, None], (30, 501)), rtol=1e-12)
    with pytest.raises(ValueError, match="textbook, seed"):
        simulate_kinetics(k1, k2, k3, e0, s0, T, kinetics="michaelis")


@pytest.mark.parametrize("kinetics", ["textbook", "seed"])
def test_agrees_with_odeint_on_default_ranges(kinetics: str) -> None:
    params = _draw(np.random.default_rng(2), 24, 0.05, 0.3)
    ours = simulate_kinetics(*params, T, kinetics=kinetics)
    for i in range(24):
        reference = _odeint(*_one(params, i), T, kinetics)
        # The contract is 1e-5 of each trajectory's scale; the integrator is far better than that.
        assert _relative_error(ours[i], reference) < 1e-8


@pytest.mark.parametrize("kinetics", ["textbook", "seed"])
def test_agrees_with_odeint_on_wide_stiff_ranges(kinetics: str) -> None:
    # Rates up to 1 and concentrations up to 5: up to 80x faster than the defaults, on a window
    # short enough to keep the test quick (the stiff transient is all over after t ≈ 10).
    t = np.linspace(0.0, 40.0, 81)
    params = _draw(np.random.default_rng(3), 24, 1.0, 5.0)
    ours = simulate_kinetics(*params, t, kinetics=kinetics)
    for i in range(24):
        reference = _odeint(*_one(params, i), t, kinetics)
        assert _relative_error(ours[i], reference) < 1e-8


@pytest.mark.slow
def test_agrees_with_odeint_on_wide_ranges_over_the_full_window() -> None:
    params = _draw(np.random.default_rng(4), 12, 1.0, 5.0)
    ours = simulate_kinetics(*params, T)
    for i in range(12):
        assert _relative_error(ours[i], _odeint(*_one(params, i), T, "textbook")) < 1e-8


def test_time_grid_must_be_uniform_from_zero() -> None:
    params = _draw(np.random.default_rng(5), 2, 0.05, 0.3)
    with pytest.raises(ValueError, match="uniformly spaced"):
        simulate_kinetics(*params, np.array([0.0, 1.0, 3.0]))
    with pytest.raises(ValueError, match="starting at 0"):
        simulate_kinetics(*params, np.array([1.0, 2.0, 3.0]))


# -- the data recipe ---------------------------------------------------------------------------
def _recipe(parameters: MichaelisMentenParameters, k1: float, k2: float, k3: float, e0: float, s0: float,
            spectra: np.ndarray, amplitudes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One sample the slow, obvious way: odeint, the full data matrix and LAPACK's SVD."""
    t = np.linspace(0.0, parameters.t_max, parameters.n_times)
    c = _odeint(k1, k2, k3, e0, s0, t, parameters.kinetics)
    d = sum(amplitudes[i] * np.outer(c[:, i], spectra[i]) for i in range(4))
    d = d / np.linalg.norm(d)
    u, sigma, _ = np.linalg.svd(d, full_matrices=False)
    n = parameters.n_components
    u = u[:, :n] * np.where(u[:, :n].sum(axis=0) < 0, -1.0, 1.0)  # each column sums to > 0
    return u * sigma[:n], (c.T @ u).T.ravel()


@pytest.mark.parametrize(("kinetics", "n_components"), [("textbook", 3), ("seed", 3), ("textbook", 2)])
def test_samples_match_the_recipe_computed_independently(kinetics: str, n_components: int) -> None:
    parameters = _parameters(kinetics=kinetics, n_components=n_components)
    draws = draw_samples(np.random.default_rng(6), parameters, 40)
    x, y = samples_from_draws(parameters, draws)
    for i in (0, 17, 39):
        x_ref, y_ref = _recipe(parameters, draws.k1[i], draws.k2[i], draws.k3[i], draws.e0[i], draws.s0[i],
                               draws.spectra[i], draws.amplitudes[i])
        np.testing.assert_allclose(x[i, :, :, 0], x_ref, atol=2e-6 * np.abs(x_ref).max())
        np.testing.assert_allclose(y[i], y_ref, atol=2e-6 * np.abs(y_ref).max())


def test_shard_shapes_dtypes_and_info() -> None:
    generator = _generator(100)
    x, y = generator.generate_shard(0, 37, np.random.default_rng(7))
    info = generator.info()
    assert x.shape == (37, *info.input_shape) == (37, 501, 3, 1)
    assert y.shape == (37, *info.target_shape) == (37, 12)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert np.isfinite(x).all() and np.isfinite(y).all()
    assert info.task == "regression" and info.n_targets == 12
    assert info.target_names[:5] == ("E·u1", "S·u1", "ES·u1", "P·u1", "E·u2")
    assert len(info.target_names) == 12
    assert info.split_sizes == {"train": 80, "validation": 10, "test": 10}
    # Inputs are the first singular vectors scaled by the singular values of a unit-norm matrix:
    # orthogonal columns whose squared norms are decreasing and sum to at most 1.
    gram = np.einsum("ntj,ntk->njk", x[:, :, :, 0].astype(np.float64), x[:, :, :, 0].astype(np.float64))
    energies = np.diagonal(gram, axis1=1, axis2=2)
    assert np.all(np.abs(gram - energies[:, :, None] * np.eye(3)).max(axis=(1, 2)) < 1e-5)
    assert np.all(np.diff(energies, axis=1) <= 1e-7) and np.all(energies.sum(axis=1) <= 1 + 1e-5)


def test_smaller_shapes_follow_n_times_and_n_components() -> None:
    generator = _generator(n_times=101, t_max=100.0, n_components=2)
    x, y = generator.generate_shard(0, 5, np.random.default_rng(8))
    assert x.shape == (5, 101, 2, 1) == (5, *generator.info().input_shape)
    assert y.shape == (5, 8) and generator.info().target_names[-1] == "P·u2"


def test_same_seed_same_samples_other_seed_other_samples() -> None:
    generator = _generator()
    first = generator.generate_shard(0, 20, np.random.default_rng(9))
    again = generator.generate_shard(0, 20, np.random.default_rng(9))
    other = generator.generate_shard(0, 20, np.random.default_rng(10))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.allclose(first[1], other[1])


def test_ill_conditioned_spectra_are_redrawn() -> None:
    first_round = np.random.default_rng(11).uniform(-1, 1, size=(400, 4, 4))
    first_round /= np.linalg.norm(first_round, axis=2, keepdims=True)
    bad = np.linalg.cond(first_round) > SPECTRA_MAX_CONDITION
    assert bad.any()  # ~5% of random spectra are ill-conditioned
    spectra = draw_spectra(np.random.default_rng(11), 400, -1.0, 1.0)
    assert np.all(np.linalg.cond(spectra) <= SPECTRA_MAX_CONDITION)
    np.testing.assert_allclose(np.linalg.norm(spectra, axis=2), 1.0)
    np.testing.assert_array_equal(spectra[~bad], first_round[~bad])  # only the bad ones are redrawn
    assert not np.isclose(spectra[bad], first_round[bad]).all(axis=(1, 2)).any()


def test_spectra_that_are_never_well_conditioned_raise() -> None:
    with pytest.raises(DataError, match="widen spectra_min"):
        draw_spectra(np.random.default_rng(12), 10, 0.999, 1.0)


def test_row_svd_matches_lapack() -> None:
    matrices = np.random.default_rng(13).normal(size=(200, 3, 4))
    matrices[:20, 2] *= 1e-6  # include nearly rank-deficient ones
    u, sigma = row_svd(matrices)
    u_ref, sigma_ref, _ = np.linalg.svd(matrices, full_matrices=False)
    np.testing.assert_allclose(sigma, sigma_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.abs(np.einsum("nij,nij->nj", u, u_ref)), 1.0, atol=1e-10)


# -- configuration ------------------------------------------------------------------------------
def _error(**changes: Any) -> str:
    with pytest.raises(ConfigError) as info:
        _parameters(**changes)
    return str(info.value)


def test_defaults_and_optional_keys() -> None:
    p = _parameters()
    assert (p.kinetics, p.t_max, p.n_times, p.n_components) == ("textbook", 500.0, 501, 3)
    assert p.k1 == (0.01, 0.05) and p.e0 == (0.1, 0.3) and p.spectra == (-1.0, 1.0)
    assert _parameters(kinetics="seed", k2_min=0.0).kinetics == "seed"  # k2 = 0 (irreversible binding) is fine


def test_min_above_max_names_the_key() -> None:
    message = _error(k2_min=0.5)
    assert "[d.parameters] k2_min = 0.5" in message and "k2_min is above k2_max" in message


def test_unknown_key_is_rejected_with_a_suggestion() -> None:
    message = _error(k4_min=0.1)
    assert "[d.parameters] k4_min = 0.1: unknown key" in message


def test_negative_and_zero_values_are_rejected() -> None:
    assert "[d.parameters] k3_min = -0.01: expected a number >= 0.0" in _error(k3_min=-0.01)
    assert "k1_min = 0.0: expected a number > 0" in _error(k1_min=0.0)
    assert "E0_min = 0.0: expected a number > 0" in _error(E0_min=0.0)
    assert "amplitude_min = -0.2" in _error(amplitude_min=-0.2)
    assert "amplitude_max" in _error(amplitude_min=0.0, amplitude_max=0.0)


def test_bad_kinetics_lists_the_choices() -> None:
    message = _error(kinetics="michaelis")
    assert 'kinetics = "michaelis": expected one of "textbook", "seed"' in message


def test_equal_spectra_bounds_are_rejected() -> None:
    assert "spectra_min equals spectra_max" in _error(spectra_min=0.5, spectra_max=0.5)


def test_other_settings_are_checked() -> None:
    assert "n_components = 4: expected an integer in [1, 3]" in _error(n_components=4)
    assert "n_times = 2" in _error(n_times=2)
    assert "t_max = 0" in _error(t_max=0)
    assert "integration steps per sample" in _error(k1_max=1000.0, E0_max=100.0)


def test_builds_from_data_toml(write_config: ConfigWriter) -> None:
    assert GENERATORS.get("michaelis_menten") is MichaelisMentenGenerator
    generator = build_generator(load_config(write_config()), "tiny")
    assert isinstance(generator, MichaelisMentenGenerator)
    assert generator.info().input_shape == (501, 3, 1)
    x, y = generator.generate_shard(1, 4, generator.shard_rng(1))
    assert x.shape == (4, 501, 3, 1) and y.shape == (4, 12)


def test_passes_the_generator_conformance_suite() -> None:
    shape = ShapeConfig(seed=3, n_samples=30, n_shards=3, batch_size=8, shuffle_buffer_size=16,
                        splits=(0.6, 0.2, 0.2))
    check_generator(MichaelisMentenGenerator("tiny", _parameters(n_times=51, t_max=50.0), shape))
