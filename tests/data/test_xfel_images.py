"""Diffraction images in the seed's folder layout (``generator = "xfel_images"``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image

from scinas.config.reader import Table
from scinas.data.base import GENERATORS, ShapeConfig
from scinas.data.xfel.images import XfelImagesGenerator, read_angles
from scinas.errors import ConfigError, DataError
from scinas.testing.generators import check_generator


def _dataset(root: Path, intensity: str = "1e15", *, test: bool = True, tiff: bool = False) -> dict[str, float]:
    """Writes 3 + 3 training and 1 + 1 test images of two classes; returns each file stem's value."""
    values: dict[str, float] = {}
    splits = (("trainset", 3), ("testset", 1)) if test else (("trainset", 3),)
    for split, count in splits:
        for label, base in (("closed", 20), ("open", 120)):
            folder = root / intensity / "images" / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                stem = f"{split}_{label}_{i}"
                value = base + 10 * i
                values[stem] = float(value)
                if tiff:
                    tifffile.imwrite(folder / f"{stem}.tif", np.full((9, 9), value * 1e-3, dtype=np.float32))
                else:
                    Image.fromarray(np.full((9, 9), value, dtype=np.uint8)).save(folder / f"{stem}.png")
    return values


def _generator(root: Path, shape: dict[str, Any] | None = None, **parameters: Any) -> XfelImagesGenerator:
    raw = {"path": str(root), "intensity": "1e15", **parameters}
    p = XfelImagesGenerator.parse_parameters(Table(raw, file="data.toml", path="seed15.parameters"))
    config = ShapeConfig.parse(Table(shape or {}, file="data.toml", path="seed15.shape"), n_samples_required=False)
    return XfelImagesGenerator("seed15", p, config)


def test_class_folders_with_a_test_set(tmp_path: Path) -> None:
    _dataset(tmp_path)
    made = _generator(tmp_path, {"splits": [0.6, 0.4, 0.0], "n_shards": 2})
    assert GENERATORS.get("xfel_images") is XfelImagesGenerator
    info = made.info()
    assert info.task == "classification" and info.target_names == ("closed", "open")
    assert info.input_shape == (9, 9, 1) and info.split_sizes["test"] == 2 and sum(info.split_sizes.values()) == 8
    x, y = made.generate_shard(0, made.shard_bounds()[0][1], made.shard_rng(0))
    for image, label in zip(x, y, strict=True):  # closed images are dark (20..40 / 255), open ones bright
        assert (image.mean() < 0.2) == (label == 0)
    check_generator(made)


def test_float_tiffs_keep_their_values_without_a_test_set(tmp_path: Path) -> None:
    _dataset(tmp_path, test=False, tiff=True)
    made = _generator(tmp_path, {"splits": [0.5, 0.25, 0.25]})
    x, _ = made.generate_shard(0, 6, made.shard_rng(0))
    assert sorted({round(float(v), 6) for v in np.unique(x)}) == [0.02, 0.03, 0.04, 0.12, 0.13, 0.14]


def test_orientation_labels_from_an_angles_file(tmp_path: Path) -> None:
    values = _dataset(tmp_path)
    rows = ["image,conformation,phi,theta,psi"]
    for i, stem in enumerate(sorted(values)):
        name = f"trainset/open/{stem}.png" if stem == "trainset_open_1" else stem  # a path under images/ also works
        rows.append(f"{name},x,{values[stem]},{i},{-values[stem]}")
    (tmp_path / "1e15" / "angles.csv").write_text("\n".join(rows) + "\n\n")
    made = _generator(tmp_path, {"splits": [0.75, 0.25, 0.0]}, labels="orientation", angles="angles.csv")
    info = made.info()
    assert info.task == "regression" and info.target_names == ("phi", "theta", "psi") and info.target_shape == (3,)
    x, y = made.generate_shard(0, 8, made.shard_rng(0))
    np.testing.assert_allclose(x.reshape(8, -1).mean(axis=1) * 255, y[:, 0], atol=1e-3)  # each image gets its row
    np.testing.assert_allclose(y[:, 2], -y[:, 0])


def test_angles_files_that_do_not_fit(tmp_path: Path) -> None:
    values = _dataset(tmp_path)
    angles = tmp_path / "1e15" / "angles.csv"
    angles.write_text("image,phi,theta\na,1,2\n")
    with pytest.raises(DataError, match=r"angles\.csv, line 1: .* lacks psi"):
        read_angles(angles)
    angles.write_text("image,phi,theta,psi\na,1,2,x\n")
    with pytest.raises(DataError, match=r"angles\.csv, line 2: expected numbers"):
        read_angles(angles)
    angles.write_text("image,phi,theta,psi\n" + "\n".join(f"{s},1,2,3" for s in list(values)[1:]))
    made = _generator(tmp_path, labels="orientation", angles="angles.csv")
    with pytest.raises(DataError, match=r"no angles for image trainset/closed/trainset_closed_0\.png"):
        made.info()


def test_bad_settings_name_their_key(tmp_path: Path) -> None:
    _dataset(tmp_path)
    with pytest.raises(ConfigError, match=r"\[seed15\.parameters\] intensity = \"1e16\": no folder .*intensities "
                                          r"found under .*: 1e15"):
        _generator(tmp_path, intensity="1e16")
    with pytest.raises(ConfigError, match=r"\[seed15\.parameters\] labels = \"orientation\": .*angles file"):
        _generator(tmp_path, labels="orientation")
    with pytest.raises(ConfigError, match=r"\[seed15\.parameters\] angles = \"nope.csv\": no such file"):
        _generator(tmp_path, angles="nope.csv")
    with pytest.raises(ConfigError, match=r"\[seed15\.parameters\] path = .*no such folder"):
        _generator(tmp_path / "missing")
