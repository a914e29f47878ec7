"""XFEL physics: detector geometry, orientations, the 3D intensity, its slices and the photon budget."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.data.xfel.geometry import (
    Detector,
    euler_matrices,
    euler_zyz,
    quaternion_matrices,
    random_quaternions,
    superpose,
)
from scinas.data.xfel.pdb import Structure
from scinas.data.xfel.simulator import PatternSimulator
from scinas.data.xfel.volume import IntensityVolume, compute_volume, direct_intensity, grid_spacing, particle_diameter
from tests.data.xfel_fixtures import molecule

DETECTOR = Detector(n_pixels=33, pixel_size=6e-4 * 127 / 33, distance=0.2, wavelength=2.6953, beam_stop_radius=4)


def _volume(structure_seed: int = 0, q_max: float = 0.7) -> tuple[IntensityVolume, Structure]:
    atoms = molecule(30, seed=structure_seed)
    spacing = grid_spacing(particle_diameter(atoms.coordinates))
    return compute_volume(atoms.elements, atoms.coordinates, spacing=spacing, q_max=q_max), atoms


def test_scattering_vectors_follow_the_ewald_sphere() -> None:
    pixels = DETECTOR.pixels()
    side = DETECTOR.n_pixels
    q = pixels.q.reshape(side, side, 3)
    assert np.allclose(q[side // 2, side // 2], 0.0)
    rows, columns = np.indices((side, side)) - side // 2
    radius = np.hypot(rows, columns) * DETECTOR.pixel_size
    two_theta = np.arctan2(radius, DETECTOR.distance)
    expected = 4 * np.pi * np.sin(two_theta / 2) / DETECTOR.wavelength
    np.testing.assert_allclose(np.linalg.norm(q, axis=2), expected, rtol=1e-12, atol=1e-12)
    # mirrored pixels: (qx, qy) flip sign, qz (the curvature) stays
    np.testing.assert_allclose(q[::-1, ::-1, :2], -q[:, :, :2], atol=1e-12)
    np.testing.assert_allclose(q[::-1, ::-1, 2], q[:, :, 2], atol=1e-12)
    assert np.all(q[:, :, 2] <= 0)
    omega = pixels.solid_angle.reshape(side, side)
    assert omega[side // 2, side // 2] == pytest.approx((DETECTOR.pixel_size / DETECTOR.distance) ** 2)
    np.testing.assert_allclose(omega, omega[side // 2, side // 2] * np.cos(two_theta) ** 3, rtol=1e-12)
    assert pixels.beam_stop.sum() == np.count_nonzero(np.hypot(rows, columns) <= 4)


def test_polarisation_factors() -> None:
    side = DETECTOR.n_pixels
    centre = side // 2
    for kind in ("horizontal", "vertical", "unpolarized"):
        factor = Detector(side, DETECTOR.pixel_size, 0.05, 2.0, kind).pixels().polarization.reshape(side, side)
        along_x, along_y = factor[centre, -1], factor[-1, centre]  # a pixel on the x axis, one on the y axis
        two_theta = np.arctan2(centre * DETECTOR.pixel_size, 0.05)
        low, middle = np.cos(two_theta) ** 2, (1 + np.cos(two_theta) ** 2) / 2
        expected = {"horizontal": (low, 1.0), "vertical": (1.0, low), "unpolarized": (middle, middle)}[kind]
        assert (along_x, along_y) == pytest.approx(expected)


def test_orientations_are_uniform_rotations() -> None:
    quaternions = random_quaternions(np.random.default_rng(1), 20000)
    assert np.all(quaternions[:, 0] >= 0) and np.allclose(np.linalg.norm(quaternions, axis=1), 1.0)
    rotations = quaternion_matrices(quaternions)
    assert np.allclose(rotations @ rotations.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(rotations), 1.0)
    assert np.abs(rotations.mean(axis=0)).max() < 0.02  # Haar measure: every entry averages to 0
    beam = rotations[:, :, 2]  # where the molecule's z axis points: uniform on the sphere
    assert np.abs(beam.mean(axis=0)).max() < 0.02 and np.var(beam[:, 2]) == pytest.approx(1 / 3, abs=0.01)
    angles = euler_zyz(rotations)
    assert np.allclose(euler_matrices(angles), rotations, atol=1e-10)
    assert angles[:, 1].min() >= 0 and angles[:, 1].max() <= np.pi


def test_superpose_undoes_a_rigid_motion() -> None:
    points = molecule(25).coordinates
    turn = quaternion_matrices(random_quaternions(np.random.default_rng(2), 1))[0]
    moved = points @ turn.T + [5.0, -3.0, 2.0]
    np.testing.assert_allclose(superpose(moved, points), points, atol=1e-9)


def test_the_volume_is_the_direct_sum_and_obeys_friedel() -> None:
    volume, atoms = _volume()
    n = volume.values.shape[0]
    rng = np.random.default_rng(3)
    picks = rng.integers(0, n, size=(40, 3))
    q = (picks - volume.half_size) * volume.spacing
    direct = direct_intensity(atoms.elements, atoms.coordinates, q)
    np.testing.assert_allclose(volume.values[tuple(picks.T)], direct, rtol=1e-9)
    np.testing.assert_allclose(volume.values, volume.values[::-1, ::-1, ::-1], rtol=1e-10)
    assert volume.values[volume.half_size, volume.half_size, volume.half_size] == pytest.approx(
        sum({"C": 6.0, "N": 7.0, "O": 8.0, "S": 16.0}[e] for e in atoms.elements) ** 2, rel=1e-3)


def test_trilinear_interpolation_is_exact_on_the_grid_and_for_linear_data() -> None:
    volume, _ = _volume()
    h = volume.half_size
    grid = (np.array([[0, 0, 0], [1, -2, 3], [-h, h, 0]]) * volume.spacing).astype(float)
    nodes = tuple((grid / volume.spacing).round().astype(int).T + h)
    np.testing.assert_allclose(volume.sample(grid), volume.values[nodes], rtol=1e-6)
    axis = (np.arange(2 * h + 1) - h) * volume.spacing
    qx, qy, qz = np.meshgrid(axis, axis, axis, indexing="ij")
    linear = IntensityVolume(3.0 + qx - 2.0 * qy + 0.5 * qz, volume.spacing)
    points = np.random.default_rng(4).uniform(-0.9, 0.9, (500, 3)) * volume.q_max
    expected = 3.0 + points[:, 0] - 2.0 * points[:, 1] + 0.5 * points[:, 2]
    np.testing.assert_allclose(linear.sample(points), expected, rtol=1e-5, atol=1e-5)
    assert linear.sample(np.array([[2.0 * volume.q_max, 0.0, 0.0]]))[0] == 0.0  # outside the grid


def test_identity_rotation_reproduces_the_reference_slice() -> None:
    volume, atoms = _volume(q_max=DETECTOR.q_range()[1])
    q = DETECTOR.pixels().q
    sliced = volume.slices(q, np.eye(3)[None])[0]
    np.testing.assert_allclose(sliced, volume.sample(q), rtol=1e-5)
    direct = direct_intensity(atoms.elements, atoms.coordinates, q)
    assert np.abs(sliced - direct).mean() / direct.mean() < 0.05
    assert np.corrcoef(sliced, direct)[0, 1] > 0.995


def test_a_turned_molecule_gives_the_slice_at_the_turned_q() -> None:
    volume, atoms = _volume(q_max=DETECTOR.q_range()[1])
    q = DETECTOR.pixels().q
    turn = quaternion_matrices(random_quaternions(np.random.default_rng(5), 1))
    direct = direct_intensity(atoms.elements, atoms.coordinates @ turn[0].T, q)
    sliced = volume.slices(q, turn)[0]
    assert np.corrcoef(sliced, direct)[0, 1] > 0.995
    wrong = volume.slices(q, turn.transpose(0, 2, 1))[0]  # the inverse rotation is a different pattern
    assert np.corrcoef(wrong, direct)[0, 1] < 0.98


def test_noiseless_patterns_are_centrosymmetric_at_small_curvature() -> None:
    atoms = molecule(30)
    turns = quaternion_matrices(random_quaternions(np.random.default_rng(6), 3))
    asymmetry = {}
    for wavelength, distance in ((0.05, 10.0), (4.0, 0.1)):  # |q| up to ~0.6 Å⁻¹ on a flat vs a curved sphere
        pixel_size = distance * (0.6 * wavelength / (2 * np.pi)) / 16
        detector = Detector(33, pixel_size, distance, wavelength, beam_stop_radius=2)
        simulator = PatternSimulator([atoms], detector, beam_intensity=1e16)
        images = simulator.expected(np.zeros(3, dtype=np.int64), turns)
        asymmetry[wavelength] = np.abs(images - images[:, ::-1, ::-1]).sum() / images.sum()
    assert asymmetry[0.05] < 0.01
    assert asymmetry[4.0] > 5 * asymmetry[0.05]


def test_expected_photons_scale_linearly_with_fluence() -> None:
    atoms = molecule(30)
    simulator = PatternSimulator([atoms], DETECTOR, beam_intensity=1e15)
    turns = quaternion_matrices(random_quaternions(np.random.default_rng(7), 4))
    labels = np.zeros(4, dtype=np.int64)
    base = simulator.expected(labels, turns).astype(np.float64)
    for factor in (0.1, 10.0, 1000.0):
        scaled = simulator.expected(labels, turns, beam_intensity=1e15 * factor).astype(np.float64)
        np.testing.assert_allclose(scaled.sum(axis=(1, 2)), factor * base.sum(axis=(1, 2)), rtol=1e-5)
    doubled = PatternSimulator([atoms], DETECTOR, beam_intensity=1e15, fluence_calibration=0.98)
    np.testing.assert_allclose(doubled.expected(labels, turns), 2 * base, rtol=1e-5)
    batch = simulator.simulate(np.random.default_rng(8), 200, beam_intensity=1e18)
    assert batch.images.sum() == pytest.approx(batch.expected_photons.sum(), rel=0.01)  # Poisson: mean = λ
