"""The XFEL generator: conformance, determinism, classes, intensities, labels, cache and bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.data.base import GENERATORS
from scinas.data.cache import ensure_cache
from scinas.data.spec import build_generator
from scinas.data.xfel import XfelGenerator, XfelParameters
from scinas.data.xfel.geometry import quaternion_matrices, random_quaternions
from scinas.data.xfel.pdb import format_pdb
from scinas.data.xfel.simulator import PatternSimulator, load_conformations, shipped_conformations
from scinas.data.xfel.volume import particle_diameter
from scinas.errors import ConfigError
from scinas.testing.generators import check_generator
from tests.conftest import ConfigWriter
from tests.data.xfel_fixtures import SMALL_DETECTOR, generator, molecule, parameters, write_molecules


def test_the_generator_conforms(tmp_path: Path) -> None:
    assert GENERATORS.get("xfel") is XfelGenerator
    check_generator(generator(tmp_path))


def test_info_and_samples_of_the_shipped_pair(tmp_path: Path) -> None:
    p = XfelGenerator.parse_parameters(Table(dict(SMALL_DETECTOR), file="data.toml", path="x.parameters"))
    assert p.conformations == tuple(str(path) for path in shipped_conformations())
    from scinas.data.base import ShapeConfig

    made = XfelGenerator("x", p, ShapeConfig(0, 10, 1, 4, 4, (0.6, 0.2, 0.2)))
    info = made.info()
    assert info.task == "classification" and info.n_classes == 2 and info.target_names == ("adk_open", "adk_closed")
    assert info.input_shape == (33, 33, 1) and info.target_shape == ()
    x, y = made.generate_shard(0, 10, made.shard_rng(0))
    assert x.dtype == np.float32 and x.shape == (10, 33, 33, 1)
    assert sorted(y.tolist()) == [0.0] * 5 + [1.0] * 5  # balanced classes
    assert x.min() == 0.0 and np.all(x[:, 16, 16] == 0.0)  # log1p(counts), dark beam stop


def test_the_default_image_is_127_pixels() -> None:
    p = XfelGenerator.parse_parameters(Table({}, file="data.toml", path="x.parameters"))
    assert (p.n_pixels, p.beam_stop_radius, p.transform, p.labels) == (127, 16.0, "log1p", "conformation")
    assert p.wavelength == pytest.approx(12.398 / 4.6, rel=1e-4)


def test_deterministic_for_a_seed_and_different_across_seeds(tmp_path: Path) -> None:
    a, b = generator(tmp_path / "a"), generator(tmp_path / "b")
    xa, ya = a.generate_shard(1, 4, a.shard_rng(1))
    xb, yb = b.generate_shard(1, 4, b.shard_rng(1))
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    other = generator(tmp_path / "c", seed=6)
    xc, _ = other.generate_shard(1, 4, other.shard_rng(1))
    assert not np.array_equal(xa, xc)


def test_the_two_conformations_give_different_patterns() -> None:
    structures = load_conformations(shipped_conformations())
    from scinas.data.xfel.geometry import Detector

    detector = Detector(33, 6e-4 * 127 / 33, 0.2, 2.6953, beam_stop_radius=4)
    simulator = PatternSimulator(structures, detector, beam_intensity=1e16)
    turns = quaternion_matrices(random_quaternions(np.random.default_rng(0), 4))
    first = simulator.expected(np.zeros(4, dtype=np.int64), turns)
    second = simulator.expected(np.ones(4, dtype=np.int64), turns)
    difference = np.abs(first - second).sum(axis=(1, 2)) / first.sum(axis=(1, 2))
    assert np.all(difference > 0.2)
    # and their spherically averaged profiles differ too (no orientation can make them alike)
    assert abs(first.sum() - second.sum()) / first.sum() > 0.02


def test_lit_fractions_follow_the_seeds_intensities() -> None:
    p = XfelGenerator.parse_parameters(Table({}, file="data.toml", path="x.parameters"))  # 127x127, the shipped pair
    structures = load_conformations(p.conformations)
    simulator = PatternSimulator(structures, p.detector(), beam_intensity=1e15)
    lit = {}
    for intensity in (1e14, 1e15, 1e16):
        batch = simulator.simulate(np.random.default_rng(1), 24, beam_intensity=intensity)
        lit[intensity] = float((batch.images > 0).mean())
    assert lit[1e14] < lit[1e15] < lit[1e16]
    assert 0.002 < lit[1e14] < 0.012 and 0.025 < lit[1e15] < 0.08 and 0.14 < lit[1e16] < 0.32  # ~0.6%, 4.4%, 22%


def test_noise_transform_and_orientation_labels(tmp_path: Path) -> None:
    plain = generator(tmp_path, noise="none", transform="counts", labels="orientation")
    info = plain.info()
    assert info.task == "regression" and info.target_shape == (3,) and info.target_names == ("phi", "theta", "psi")
    x, y = plain.generate_shard(0, 4, plain.shard_rng(0))
    batch = plain.simulator.simulate(plain.shard_rng(0), 4, noise=False)
    np.testing.assert_allclose(x[..., 0], batch.images)
    np.testing.assert_allclose(y, batch.angles, rtol=1e-6)
    assert np.any(x % 1 > 0)  # expected photons, not counts
    counted = generator(tmp_path, transform="counts", labels="quaternion")
    xc, yc = counted.generate_shard(0, 4, counted.shard_rng(0))
    assert np.all(xc % 1 == 0) and np.allclose(np.linalg.norm(yc, axis=1), 1.0, atol=1e-6)
    logged = generator(tmp_path, labels="quaternion")
    xl, _ = logged.generate_shard(0, 4, logged.shard_rng(0))
    np.testing.assert_allclose(xl, np.log1p(xc), rtol=1e-6)


def test_cache_round_trip_and_the_fingerprint_follows_the_files(tmp_path: Path) -> None:
    made = generator(tmp_path / "molecules")
    cache = ensure_cache(made, tmp_path / "cache", progress=False)
    x, y = cache.read_range(0, made.shape.n_samples)
    direct = [made.generate_shard(i, b - a, made.shard_rng(i)) for i, (a, b) in enumerate(made.shard_bounds())]
    assert np.array_equal(x, np.concatenate([d[0] for d in direct]))
    assert np.array_equal(y, np.concatenate([d[1] for d in direct]))
    moved = generator(tmp_path / "elsewhere")  # the same molecules in another folder: the same data
    assert moved.fingerprint() == made.fingerprint()
    changed = generator(tmp_path / "hinged")
    (tmp_path / "hinged" / "closed.pdb").write_text(format_pdb(molecule(40, hinge_degrees=10.0)))
    assert changed.fingerprint() != made.fingerprint()


def _error(tmp_path: Path, **changes: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parameters(tmp_path, **changes)
    return str(caught.value)


@pytest.mark.parametrize(("changes", "key", "message"), [
    ({"beam_intensity": 0}, "beam_intensity = 0", "expected a number > 0"),
    ({"beam_intensity": -1e15}, "beam_intensity = -1000000000000000.0", "> 0"),
    ({"pixel_size": 0.0}, "pixel_size = 0.0", "> 0"),
    ({"distance": -0.2}, "distance = -0.2", "> 0"),
    ({"wavelength": 0}, "wavelength = 0", "> 0"),
    ({"photon_energy": -4.6}, "photon_energy = -4.6", "> 0"),
    ({"wavelength": 1.0, "photon_energy": 4.6}, "photon_energy = 4.6", "not both"),
    ({"grid_resolution": 100.0}, "grid_resolution = 100.0", "whole pattern would be dark"),
    ({"beam_stop_radius": 40}, "beam_stop_radius = 40", "hides the whole detector"),
    ({"grid_oversampling": 30.0}, "grid_oversampling = 30.0", "points (at most 201³)"),
    ({"class_names": ["a"]}, "class_names", "1 names for 2 conformations"),
    ({"labels": "phase"}, 'labels = "phase"', "expected one of"),
    ({"beam_intensty": 1e15}, "beam_intensty", "unknown key"),
])
def test_bad_settings_name_their_key(tmp_path: Path, changes: dict[str, Any], key: str, message: str) -> None:
    text = _error(tmp_path, **changes)
    assert f"data.toml: [x15.parameters] {key}" in text and message in text


def test_bad_pdb_files_name_the_key_the_file_and_the_line(tmp_path: Path) -> None:
    text = _error(tmp_path, conformations=[str(tmp_path / "missing.pdb"), str(tmp_path / "also.pdb")])
    assert "[x15.parameters] conformations" in text and "entry 1: no such PDB file" in text
    broken = tmp_path / "broken.pdb"
    broken.write_text("ATOM      1  CA  ALA A   1      1.000   x.yz    3.000  1.00  0.00           C\n")
    good = write_molecules(tmp_path / "good")
    text = _error(tmp_path, conformations=[str(good[0]), str(broken)])
    assert "[x15.parameters] conformations" in text and "broken.pdb, line 1" in text
    odd = tmp_path / "odd.pdb"
    odd.write_text(format_pdb(molecule(8)).replace("           C\n", "          XX\n", 1))
    text = _error(tmp_path, conformations=[str(good[0]), str(odd)])
    assert "odd.pdb, line 1" in text and "element 'Xx'" in text


def test_different_atom_lists_need_align_false(tmp_path: Path) -> None:
    small = tmp_path / "small.pdb"
    small.write_text(format_pdb(molecule(30)))
    good = write_molecules(tmp_path / "good")
    text = _error(tmp_path, conformations=[str(good[0]), str(small)])
    assert "[x15.parameters] conformations" in text and "has 30 atoms but" in text and "align = false" in text
    unaligned = parameters(tmp_path, conformations=[str(good[0]), str(small)], align=False)
    assert unaligned.class_names == ("open", "small")
    assert "at least two conformations" in _error(tmp_path, conformations=[str(good[0])])
    assert parameters(tmp_path, conformations=[str(good[0])], labels="orientation").class_names == ("open",)


def test_built_from_data_toml(write_config: ConfigWriter, tmp_path: Path) -> None:
    paths = write_molecules(tmp_path / "pdb")
    data = f"""
    [x15]
    generator = "xfel"
    [x15.parameters]
    conformations = ["{paths[0]}", "{paths[1]}"]
    class_names = ["open", "closed"]
    beam_intensity = 1e15
    n_pixels = 33
    pixel_size = 0.0023
    beam_stop_radius = 4
    [x15.shape]
    n_samples = 12
    """
    raw = load_config(write_config(data=textwrap.dedent(data)))
    made = build_generator(raw, "x15")
    assert isinstance(made, XfelGenerator) and made.info().target_names == ("open", "closed")
    bad = load_config(write_config(data=textwrap.dedent(data).replace("1e15", "-1.0"), name="bad"))
    with pytest.raises(ConfigError, match=r"data\.toml: \[x15\.parameters\] beam_intensity = -1\.0"):
        build_generator(bad, "x15")


def test_a_shipped_protein_is_selected_by_name(tmp_path: Path) -> None:
    table = Table({"conformations": ["villin_folded", "villin_unfolded"]}, file="data.toml", path="v.parameters")
    p = XfelParameters.parse(table)
    assert [Path(c).name for c in p.conformations] == ["villin_folded.pdb", "villin_unfolded.pdb"]
    assert p.class_names == ("villin_folded", "villin_unfolded")
    folded, unfolded = load_conformations(p.conformations)
    assert len(folded.elements) == len(unfolded.elements) == 287 and set(folded.elements) == {"C", "N", "O", "S"}
    assert 15.0 < particle_diameter(folded.coordinates) < 45.0
    with pytest.raises(ConfigError, match=r"\[v.parameters\] conformations.*villin_folded"):
        XfelParameters.parse(Table({"conformations": ["villin", "adk_open"]}, file="data.toml", path="v.parameters"))
