"""Time-series datasets: .ts (multivariate, unequal lengths), aeon's bundled sets, .tsv, .npz."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scinas.config.reader import Table
from scinas.data.base import ShapeConfig
from scinas.data.time_series import TimeSeriesGenerator, fit_length
from scinas.errors import ConfigError, DataError
from scinas.testing.generators import check_generator

pytest.importorskip("aeon")

TS_HEADER = """\
@problemName tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true walk run sit
@data
"""


def _generator(parameters: dict[str, Any], shape: dict[str, Any] | None = None) -> TimeSeriesGenerator:
    params = TimeSeriesGenerator.parse_parameters(Table(parameters, file="data.toml", path="d.parameters"))
    config = ShapeConfig.parse(Table(shape or {}, file="data.toml", path="d.shape"), n_samples_required=False)
    return TimeSeriesGenerator("d", params, config)


def _ts(path: Path, rows: list[str], header: str = TS_HEADER) -> Path:
    path.write_text(header + "\n".join(rows) + "\n")
    return path


ROWS = [
    "1,2,3,4:10,20,30,40:walk",
    "5,6:50,60:run",
    "7,8,9:70,80,90:sit",
    "1,1,1,1,1:2,2,2,2,2:walk",
    "3,2:1,0:run",
    "0,0,0:1,1,1:sit",
]


def test_multivariate_unequal_ts_padded_with_labels_remapped(tmp_path: Path) -> None:
    generator = _generator({"source": "ts", "path": str(_ts(tmp_path / "tiny_TRAIN.ts", ROWS))},
                           {"splits": [0.5, 0.0, 0.5], "shuffle_buffer_size": 0})
    info = generator.info()
    assert info.input_shape == (5, 2) and info.task == "classification"
    assert info.target_names == ("run", "sit", "walk") and info.n_classes == 3
    x, y = generator.generate_shard(0, 6, generator.shard_rng(0))
    row = next(i for i in range(6) if np.array_equal(x[i, :2, 0], [5, 6]))
    np.testing.assert_array_equal(x[row], [[5, 50], [6, 60], [0, 0], [0, 0], [0, 0]])
    assert y[row] == 0  # "run"
    check_generator(generator)


def test_edge_padding_truncation_and_z_normalisation(tmp_path: Path) -> None:
    path = str(_ts(tmp_path / "t.ts", ROWS))
    edge = _generator({"source": "ts", "path": path, "pad": "edge"}, {"shuffle_buffer_size": 0})
    x, _ = edge.generate_shard(0, 6, edge.shard_rng(0))
    row = next(i for i in range(6) if np.array_equal(x[i, :2, 0], [5, 6]))
    np.testing.assert_array_equal(x[row, :, 1], [50, 60, 60, 60, 60])
    short = _generator({"source": "ts", "path": path, "length": 2})
    assert short.info().input_shape == (2, 2)
    normal = _generator({"source": "ts", "path": path, "z_normalize": True, "length": 3})
    xn, _ = normal.generate_shard(0, 6, normal.shard_rng(0))
    varying = xn[np.abs(xn).sum(axis=(1, 2)) > 0]
    np.testing.assert_allclose(varying.mean(axis=1), 0, atol=1e-5)


def test_fit_length_direct() -> None:
    out = fit_length([np.array([[1.0, 2.0, 3.0]]), np.array([[4.0]])], 0, "zero")
    np.testing.assert_array_equal(out[:, :, 0], [[1, 2, 3], [4, 0, 0]])


def test_test_file_is_the_test_split(tmp_path: Path) -> None:
    train = _ts(tmp_path / "a_TRAIN.ts", ROWS)
    test = _ts(tmp_path / "a_TEST.ts", ROWS[:3])
    generator = _generator({"source": "ts", "path": str(train), "test_path": str(test)}, {"splits": [0.7, 0.3, 0.0]})
    assert generator.info().split_sizes == {"train": 4, "validation": 2, "test": 3}


def test_mismatched_dimensions_are_named(tmp_path: Path) -> None:
    train = _ts(tmp_path / "a.ts", ROWS)
    other = _ts(tmp_path / "b.ts", ["1,2,3:walk", "4,5,6:run"],
                TS_HEADER.replace("@dimensions 2", "@dimensions 1").replace("@univariate false", "@univariate true"))
    with pytest.raises(DataError, match=r"b\.ts: series have 1 dimensions"):
        _generator({"source": "ts", "path": str(train), "test_path": str(other)}).info()
    broken = _ts(tmp_path / "c.ts", ["1,2,3:4,5,6:walk", "7,8,9:run"])
    with pytest.raises(DataError, match=r"c\.ts: not a readable .ts file: .*dimensions"):
        _generator({"source": "ts", "path": str(broken)}).info()


def test_regression_ts_from_its_header(tmp_path: Path) -> None:
    header = textwrap.dedent("""\
        @problemName reg
        @timeStamps false
        @univariate true
        @equalLength true
        @seriesLength 3
        @targetLabel true
        @data
        """)
    path = _ts(tmp_path / "r.ts", ["1,2,3:0.5", "2,3,4:1.5", "3,4,5:2.5", "4,5,6:3.5"], header)
    generator = _generator({"source": "ts", "path": str(path)})
    info = generator.info()
    assert info.task == "regression" and info.target_shape == (1,) and info.input_shape == (3, 1)


def test_aeon_bundled_dataset_by_name() -> None:
    generator = _generator({"source": "aeon", "name": "ItalyPowerDemand"}, {"n_shards": 2})
    info = generator.info()
    assert info.input_shape == (24, 1) and info.n_classes == 2
    assert info.split_sizes["test"] == 1029 and info.split_sizes["train"] + info.split_sizes["validation"] == 67
    check_generator(generator)


def test_unknown_aeon_name_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"GunPoint.*(fix: did you mean \"GunPoint\")"):
        _generator({"source": "aeon", "name": "Gunpoint"})


def test_tsv_and_npz(tmp_path: Path) -> None:
    tsv = tmp_path / "u.tsv"
    tsv.write_text("1\t0.1\t0.2\t0.3\n2\t0.4\t0.5\tNaN\n1\t0.7\t0.8\t0.9\n2\t1.0\t1.1\t1.2\n")
    generator = _generator({"source": "tsv", "path": str(tsv)})
    assert generator.info().input_shape == (3, 1) and generator.info().target_names == ("1", "2")
    np.savez(tmp_path / "s.npz", x=np.arange(24, dtype=float).reshape(4, 3, 2), y=np.array([0.5, 1, 2, 3]))
    npz = _generator({"source": "npz", "path": str(tmp_path / "s.npz"), "task": "regression"})
    assert npz.info().input_shape == (3, 2) and npz.info().task == "regression"
    with pytest.raises(ConfigError, match="no such file"):
        _generator({"source": "tsv", "path": str(tmp_path / "missing.tsv")})


def test_without_aeon_the_error_names_the_key_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "aeon", None)
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(ConfigError, match=r"\[d.parameters\] source = \"aeon\": reading .ts files needs aeon.*"
                                          r"scinas\[timeseries\]"):
        _generator({"source": "aeon", "name": "GunPoint"})


def test_z_normalisation_ignores_the_padding(tmp_path: Path) -> None:
    path = str(_ts(tmp_path / "t.ts", ROWS))
    for pad, tail in (("zero", [0, 0, 0]), ("edge", [1, 1, 1])):
        generator = _generator({"source": "ts", "path": path, "z_normalize": True, "pad": pad},
                               {"shuffle_buffer_size": 0})
        x, _ = generator.generate_shard(0, 6, generator.shard_rng(0))
        row = next(i for i in range(6) if x[i, 0, 0] < 0 and x[i, 1, 0] > 0 and x[i, 2, 0] == tail[0]
                   and x[i, 2, 1] == tail[0])  # "5,6:50,60": two values, mean 0 and deviation 1 on their own
        np.testing.assert_allclose(x[row, :, 0], [-1, 1, *tail], atol=1e-6)
        np.testing.assert_allclose(x[row, :, 1], [-1, 1, *tail], atol=1e-6)


def test_missing_values_are_an_error_or_interpolated(tmp_path: Path) -> None:
    rows = ["1,?,3,4:10,20,30,40:walk", "5,6:50,60:run", "7,8,9:70,80,90:sit", "1,2:3,4:walk"]
    path = str(_ts(tmp_path / "m.ts", rows, TS_HEADER.replace("@missing false", "@missing true")))
    with pytest.raises(DataError, match=r"m\.ts: series 1 has missing values \(first: channel 1, time 2\).*"
                                        r"missing = \"interpolate\""):
        _generator({"source": "ts", "path": path}).info()
    filled = _generator({"source": "ts", "path": path, "missing": "interpolate"}, {"shuffle_buffer_size": 0})
    x, _ = filled.generate_shard(0, 4, filled.shard_rng(0))
    row = next(i for i in range(4) if x[i, 0, 1] == 10)
    np.testing.assert_array_equal(x[row, :, 0], [1, 2, 3, 4])
    with pytest.raises(ConfigError, match=r"missing = \"drop\""):
        _generator({"source": "ts", "path": path, "missing": "drop"})


def test_tsv_trailing_nan_is_padding_but_a_gap_is_missing(tmp_path: Path) -> None:
    tsv = tmp_path / "g.tsv"
    tsv.write_text("1\t0.1\tNaN\t0.3\n2\t0.4\t0.5\t0.6\n1\t0.7\tNaN\tNaN\n")
    with pytest.raises(DataError, match=r"g\.tsv: series 1 has missing values \(first: channel 1, time 2\)"):
        _generator({"source": "tsv", "path": str(tsv)}).info()
    filled = _generator({"source": "tsv", "path": str(tsv), "missing": "interpolate", "pad": "edge"},
                        {"shuffle_buffer_size": 0})
    x, _ = filled.generate_shard(0, 3, filled.shard_rng(0))
    rows = {tuple(round(float(v), 3) for v in row[:, 0]) for row in x}
    assert rows == {(0.1, 0.2, 0.3), (0.4, 0.5, 0.6), (0.7, 0.7, 0.7)}


def test_numeric_labels_are_remapped_in_numeric_order(tmp_path: Path) -> None:
    tsv = tmp_path / "l.tsv"
    tsv.write_text("".join(f"{label}\t{i}\t{i + 1}\n" for i, label in enumerate([10, -1, 2, 10, 2, -1])))
    generator = _generator({"source": "tsv", "path": str(tsv)}, {"shuffle_buffer_size": 0})
    assert generator.info().target_names == ("-1", "2", "10") and generator.info().n_classes == 3
    x, y = generator.generate_shard(0, 6, generator.shard_rng(0))
    labels = {int(row[0, 0]): int(label) for row, label in zip(x, y, strict=True)}
    assert labels == {0: 2, 1: 0, 2: 1, 3: 2, 4: 1, 5: 0}
    assert y.dtype == np.float32 and generator.info().target_shape == ()


def test_gunpoint_and_an_aeon_regression_set(tmp_path: Path) -> None:
    gunpoint = _generator({"source": "aeon", "name": "GunPoint"}, {"splits": [0.8, 0.2, 0.0]})
    info = gunpoint.info()
    assert info.input_shape == (150, 1) and info.target_names == ("1", "2")
    assert info.split_sizes == {"train": 40, "validation": 10, "test": 150}
    covid = _generator({"source": "aeon", "name": "Covid3Month"}, {"n_shards": 2})
    assert covid.info().task == "regression" and covid.info().n_classes is None
    assert covid.info().target_shape == (1,) and covid.info().input_shape == (84, 1)
    check_generator(covid)
    forced = _generator({"source": "ts", "path": str(_ts(tmp_path / "w.ts", ROWS)), "task": "regression"})
    with pytest.raises(DataError, match="needs numeric targets"):
        forced.info()


def test_npz_series_conform_and_an_empty_file_is_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "s.npz", x=rng.normal(size=(12, 7)), y=np.array(["up", "down"] * 6))
    generator = _generator({"source": "npz", "path": str(tmp_path / "s.npz")}, {"n_shards": 3})
    assert generator.info().input_shape == (7, 1) and generator.info().target_names == ("down", "up")
    check_generator(generator)
    empty = _ts(tmp_path / "e.ts", [])
    with pytest.raises(DataError, match=r"e\.ts"):
        _generator({"source": "ts", "path": str(empty)}).info()
