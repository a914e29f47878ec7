"""Image datasets: class folders (PNG, JPEG, float and 16-bit TIFF), .npz, digits, TFDS, augmentation."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image

from scinas.config.loading import load_config
from scinas.config.reader import Table
from scinas.data.augmentation import AugmentationConfig
from scinas.data.base import ShapeConfig
from scinas.data.images import ImagesGenerator
from scinas.data.pipeline import PreparedDataset
from scinas.data.spec import build_generator
from scinas.errors import ConfigError, DataError
from scinas.testing.generators import check_generator


def _generator(parameters: dict[str, Any], shape: dict[str, Any] | None = None,
               augmentation: AugmentationConfig | None = None) -> ImagesGenerator:
    params = ImagesGenerator.parse_parameters(Table(parameters, file="data.toml", path="d.parameters"))
    config = ShapeConfig.parse(Table(shape or {}, file="data.toml", path="d.shape"), n_samples_required=False)
    return ImagesGenerator("d", params, config, augmentation=augmentation)


def _png(path: Path, value: int, size: tuple[int, int] = (6, 5), mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if mode == "L" else 3
    array = np.full((size[0], size[1], channels), value, dtype=np.uint8)
    Image.fromarray(array[:, :, 0] if mode == "L" else array, mode=mode).save(path)


def _folder(root: Path, per_class: int = 4) -> Path:
    for label, value in (("cat", 10), ("dog", 200)):
        for i in range(per_class):
            _png(root / label / f"{i}.png", value + i)
    return root


def test_class_folders_give_sorted_labels_and_scaled_images(tmp_path: Path) -> None:
    generator = _generator({"source": "folder", "path": str(_folder(tmp_path / "pets"))})
    info = generator.info()
    assert info.task == "classification" and info.n_classes == 2 and info.target_names == ("cat", "dog")
    assert info.input_shape == (6, 5, 1) and info.target_shape == ()
    x, y = generator.generate_shard(0, generator.shape.n_samples, generator.shard_rng(0))
    assert x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    for image, label in zip(x, y, strict=True):  # cats are dark (10..13), dogs bright (200..203)
        assert (image.mean() < 0.1) == (label == 0)
    check_generator(generator)


def test_float_tiff_keeps_its_values_and_16_bit_is_rescaled(tmp_path: Path) -> None:
    for label, scale in (("a", 1e-3), ("b", 1e4)):
        (tmp_path / "t" / label).mkdir(parents=True)
        for i in range(3):  # values an 8-bit conversion would destroy
            tifffile.imwrite(tmp_path / "t" / label / f"{i}.tif", np.full((4, 4), scale * (i + 1.5), dtype=np.float32))
    generator = _generator({"source": "folder", "path": str(tmp_path / "t")})
    x, _ = generator.generate_shard(0, generator.shape.n_samples, generator.shard_rng(0))
    values = sorted({float(v) for v in np.unique(x)})
    assert pytest.approx(values[0], rel=1e-6) == 1.5e-3 and pytest.approx(values[-1], rel=1e-6) == 3.5e4
    (tmp_path / "u" / "a").mkdir(parents=True)
    (tmp_path / "u" / "b").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "u" / "a" / "0.tiff", np.full((3, 3), 65535, dtype=np.uint16))
    tifffile.imwrite(tmp_path / "u" / "b" / "0.tiff", np.full((3, 3), 0, dtype=np.uint16))
    tifffile.imwrite(tmp_path / "u" / "b" / "1.tiff", np.full((3, 3), 0, dtype=np.uint16))
    sixteen = _generator({"source": "folder", "path": str(tmp_path / "u")})
    x16, _ = sixteen.generate_shard(0, 3, sixteen.shard_rng(0))
    assert x16.max() == 1.0


def test_rgb_jpeg_to_grayscale_resized(tmp_path: Path) -> None:
    for label in ("x", "y"):
        for i in range(2):
            _png(tmp_path / "j" / label / f"{i}.jpg", 120, size=(10, 12) if i else (8, 8), mode="RGB")
    with pytest.raises(DataError, match=r"differ in shape.*resize"):
        _generator({"source": "folder", "path": str(tmp_path / "j")}).info()
    generator = _generator({"source": "folder", "path": str(tmp_path / "j"), "resize": [4, 6], "channels": 1})
    assert generator.info().input_shape == (4, 6, 1)
    three = _generator({"source": "folder", "path": str(tmp_path / "j"), "resize": [4, 6], "channels": 3})
    assert three.info().input_shape == (4, 6, 3)


def test_train_and_test_sub_folders_are_the_splits(tmp_path: Path) -> None:
    _folder(tmp_path / "s" / "train", per_class=5)
    _folder(tmp_path / "s" / "test", per_class=2)
    generator = _generator({"source": "folder", "path": str(tmp_path / "s")}, {"splits": [0.8, 0.2, 0.0]})
    assert generator.info().split_sizes == {"train": 8, "validation": 2, "test": 4}


@pytest.mark.parametrize(("layout", "message"), [
    ("empty", "no images"),
    ("one_class", "one class only"),
    ("broken", "not a readable image"),
])
def test_bad_folders(tmp_path: Path, layout: str, message: str) -> None:
    root = tmp_path / layout
    (root / "a").mkdir(parents=True)
    if layout == "one_class":
        _png(root / "a" / "0.png", 3)
    if layout == "broken":
        _png(root / "a" / "0.png", 3)
        (root / "b").mkdir()
        (root / "b" / "0.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=message):
        _generator({"source": "folder", "path": str(root)}).info()


def test_missing_path_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[d.parameters\] path = .*no such folder"):
        _generator({"source": "folder", "path": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError, match="source"):
        _generator({"source": "s3"})


def test_npz_classification_regression_and_test_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "c.npz", x=rng.integers(0, 255, (20, 5, 5), dtype=np.uint8), y=np.array([3, 7] * 10),
             x_test=rng.integers(0, 255, (6, 5, 5), dtype=np.uint8), y_test=np.array([7, 3] * 3))
    classes = _generator({"source": "npz", "path": str(tmp_path / "c.npz")})
    info = classes.info()
    assert info.task == "classification" and info.target_names == ("3", "7") and info.split_sizes["test"] == 6
    np.savez(tmp_path / "r.npz", images=rng.normal(size=(12, 4, 4, 2)).astype(np.float32),
             values=rng.normal(size=(12, 3)))
    regression = _generator({"source": "npz", "path": str(tmp_path / "r.npz"), "x_key": "images", "y_key": "values"})
    assert regression.info().task == "regression" and regression.info().target_shape == (3,)
    with pytest.raises(DataError, match="no array 'x'"):
        _generator({"source": "npz", "path": str(tmp_path / "r.npz")}).info()


def test_digits_pass_the_conformance_suite_and_subsample() -> None:
    digits = _generator({"source": "digits"}, {"n_shards": 3})
    assert digits.info().input_shape == (8, 8, 1) and digits.info().n_classes == 10
    assert sum(digits.info().split_sizes.values()) == 1797
    check_generator(digits)
    small = _generator({"source": "digits"}, {"n_samples": 60, "n_shards": 2})
    assert sum(small.info().split_sizes.values()) == 60 and small.fingerprint() != digits.fingerprint()
    with pytest.raises(ConfigError, match=r"\[d.shape\] n_samples = 5000: the source holds only 1797 samples"):
        _generator({"source": "digits"}, {"n_samples": 5000}).info()


def test_changing_a_file_changes_the_cache_key(tmp_path: Path) -> None:
    root = _folder(tmp_path / "p")
    before = _generator({"source": "folder", "path": str(root)}).fingerprint()
    _png(root / "cat" / "0.png", 99)
    os.utime(root / "cat" / "0.png", ns=(1, 1))
    assert _generator({"source": "folder", "path": str(root)}).fingerprint() != before


def test_classification_targets_cannot_be_standardised(tmp_path: Path) -> None:
    (tmp_path / "configurations.toml").write_text('default = []\n')
    (tmp_path / "data.toml").write_text(textwrap.dedent("""
        [digits]
        generator = "images"
        [digits.parameters]
        source = "digits"
        [digits.normalization]
        targets = "feature"
    """))
    with pytest.raises(ConfigError, match=r"\[digits.normalization\] targets"):
        build_generator(load_config(tmp_path), "digits")


def test_augmentation_changes_training_batches_only(tmp_path: Path) -> None:
    config = AugmentationConfig(flip="both", crop_padding=2, cutout=3)
    shape = {"n_samples": 64, "shuffle_buffer_size": 0, "splits": [0.5, 0.25, 0.25]}
    generator = _generator({"source": "digits"}, shape, augmentation=config)
    data = PreparedDataset.prepare(generator, tmp_path / "cache", progress=False)
    plain = data.split("train", shuffle=False, augment=False, batch_size=32)
    augmented = data.split("train", shuffle=False, batch_size=32)
    first = np.concatenate([x for x, _ in augmented.as_numpy_iterator()])
    second = np.concatenate([x for x, _ in augmented.as_numpy_iterator()])
    reference = np.concatenate([x for x, _ in plain.as_numpy_iterator()])
    assert first.shape == reference.shape == (32, 8, 8, 1)
    assert not np.allclose(first, reference) and not np.allclose(first, second)
    for split in ("validation", "test"):
        batches = np.concatenate([x for x, _ in data.split(split).as_numpy_iterator()])
        np.testing.assert_allclose(batches, data.arrays(split, normalize=True)[0], atol=1e-6)
    labels = np.concatenate([y for _, y in plain.as_numpy_iterator()])
    assert set(np.unique(labels)) <= set(range(10))


def test_augmentation_table_is_rejected_for_series(tmp_path: Path) -> None:
    assert AugmentationConfig.parse(Table({}, file="d", path="x.augmentation")) is None
    with pytest.raises(ConfigError, match="flip"):
        AugmentationConfig.parse(Table({"flip": "diagonal"}, file="d", path="x.augmentation"))


def test_tfds_dataset_prepared_locally_loads_and_an_absent_one_is_named(tmp_path: Path) -> None:
    tfds = pytest.importorskip("tensorflow_datasets")

    class ScinasTinyShapes(tfds.core.GeneratorBasedBuilder):  # type: ignore[misc,name-defined]
        VERSION = tfds.core.Version("1.0.0")

        def _info(self) -> Any:
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 1)),
                "label": tfds.features.ClassLabel(names=["round", "square"])}))

        def _split_generators(self, dl_manager: Any) -> Any:
            return {"train": self._generate_examples(16), "test": self._generate_examples(4)}

        def _generate_examples(self, n: int) -> Any:
            for i in range(n):
                yield i, {"image": np.full((8, 8, 1), i * 10, dtype=np.uint8), "label": i % 2}

    data_dir = tmp_path / "tfds"
    ScinasTinyShapes(data_dir=str(data_dir)).download_and_prepare()
    generator = _generator({"source": "tfds", "name": "scinas_tiny_shapes", "data_dir": str(data_dir)})
    info = generator.info()
    assert info.target_names == ("round", "square") and info.split_sizes["test"] == 4 and info.input_shape == (8, 8, 1)
    x, _ = generator.generate_shard(0, 20, generator.shard_rng(0))
    assert sorted(np.round(x[:, 0, 0, 0] * 255).astype(int).tolist()) == sorted([10 * i for i in range(16)] +
                                                                                [10 * i for i in range(4)])
    check_generator(generator)
    with pytest.raises(DataError, match=r"'scinas_tiny_shapes' is not prepared in .*empty"):
        _generator({"source": "tfds", "name": "scinas_tiny_shapes", "data_dir": str(tmp_path / "empty")}).info()


def _one(path: Path) -> np.ndarray:
    """Image ``path`` as scinas reads it (a copy in a second class folder makes the set valid)."""
    (path.parent.parent / "b").mkdir(exist_ok=True)
    for i in range(2):
        shutil.copyfile(path, path.parent.parent / "b" / f"{i}{path.suffix}")
    generator = _generator({"source": "folder", "path": str(path.parent.parent)})
    x, _ = generator.generate_shard(0, 3, generator.shard_rng(0))
    np.testing.assert_array_equal(x[0], x[1])
    return x[0]


@pytest.mark.parametrize(("name", "expected"), [
    ("bmp", (4, 4, 3)), ("gif", (4, 4, 3)), ("cmyk", (4, 4, 3)), ("la", (4, 4, 1)), ("png16", (4, 4, 1)),
    ("bilevel", (4, 4, 1)),
])
def test_pillow_formats_and_modes(tmp_path: Path, name: str, expected: tuple[int, ...]) -> None:
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    path = tmp_path / "f" / "a" / {"bmp": "0.bmp", "gif": "0.gif", "cmyk": "0.jpg"}.get(name, "0.png")
    path.parent.mkdir(parents=True)
    if name == "bmp":
        Image.fromarray(red).save(path)
    elif name == "gif":  # two frames: only the first (value 40) is read
        frames = [Image.fromarray(np.full((4, 4), v, dtype=np.uint8)) for v in (40, 220)]
        frames[0].save(path, save_all=True, append_images=frames[1:])
    elif name == "cmyk":
        Image.fromarray(red).convert("CMYK").save(path, quality=100)
    elif name == "la":
        Image.fromarray(np.full((4, 4, 2), (51, 7), dtype=np.uint8), mode="LA").save(path)
    elif name == "png16":
        Image.fromarray(np.full((4, 4), 13107, dtype=np.uint16)).save(path)
    else:
        Image.fromarray(np.full((4, 4), 255, dtype=np.uint8)).convert("1").save(path)
    image = _one(path)
    assert image.shape == expected
    expected_values = {"bmp": [1, 0, 0], "gif": [40 / 255] * 3, "cmyk": [1, 0, 0], "la": [0.2], "png16": [0.2],
                       "bilevel": [1.0]}[name]
    np.testing.assert_allclose(image[0, 0], expected_values, atol=0.02)


def test_tiff_channels_planes_and_alpha(tmp_path: Path) -> None:
    path = tmp_path / "t" / "a" / "0.tif"
    path.parent.mkdir(parents=True)
    tifffile.imwrite(path, np.stack([np.full((4, 4), v, np.float32) for v in (0.5, -2.0)], axis=2),
                     photometric="minisblack", planarconfig="contig")
    np.testing.assert_allclose(_one(path)[0, 0], [0.5, -2.0])  # two float channels, both kept
    tifffile.imwrite(path, np.stack([np.full((4, 4), v, np.uint16) for v in (0, 65535, 0)]),
                     photometric="rgb", planarconfig="separate")
    np.testing.assert_allclose(_one(path)[0, 0], [0, 1, 0])  # planes stored first become channels
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 2] = rgba[..., 3] = 255
    tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=["unassalpha"])
    np.testing.assert_allclose(_one(path)[0, 0], [0, 0, 1])  # the alpha is dropped


def test_rgb_to_gray_by_luminance_and_impossible_conversions(tmp_path: Path) -> None:
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    for label, i in (("a", 0), ("b", 0), ("b", 1)):
        (tmp_path / "c" / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(red).save(tmp_path / "c" / label / f"{i}.png")
    gray = _generator({"source": "folder", "path": str(tmp_path / "c"), "channels": 1})
    x, _ = gray.generate_shard(0, 3, gray.shard_rng(0))
    np.testing.assert_allclose(x[:, 0, 0, 0], 0.299, atol=1e-6)  # BT.601 weight of red, not the mean 1/3
    with pytest.raises(ConfigError, match=r"\[d.parameters\] channels = 2: expected 1 \(grayscale\), 3"):
        _generator({"source": "folder", "path": str(tmp_path / "c"), "channels": 2})
    tifffile.imwrite(tmp_path / "c" / "a" / "9.tif", np.zeros((4, 4, 2), np.float32), photometric="minisblack",
                     planarconfig="contig")
    with pytest.raises(DataError, match=r"9\.tif: an image with 2 channels cannot be made RGB"):
        _generator({"source": "folder", "path": str(tmp_path / "c"), "channels": 3}).info()


def test_a_failed_load_leaves_no_cache(tmp_path: Path) -> None:
    root = _folder(tmp_path / "p")
    (root / "dog" / "9.png").write_bytes(b"\x89PNG truncated")
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(DataError, match=r"9\.png: not a readable image"):
        PreparedDataset.prepare(_generator({"source": "folder", "path": str(root)}), cache, progress=False)
    assert list(cache.iterdir()) == []
    (root / "dog" / "9.png").unlink()
    data = PreparedDataset.prepare(_generator({"source": "folder", "path": str(root)}), cache, progress=False)
    assert sum(data.size(s) for s in ("train", "validation", "test")) == 8
    assert [p.name.startswith("d-images-") for p in cache.iterdir()] == [True]


def test_labels_suit_sparse_categorical_losses(tmp_path: Path) -> None:
    import keras

    data = PreparedDataset.prepare(_generator({"source": "digits"}, {"n_samples": 40, "n_shards": 1}),
                                   tmp_path / "cache", progress=False)
    _, y = next(iter(data.split("train", batch_size=8)))
    assert tuple(y.shape) == (8,) and set(np.asarray(y).tolist()) <= set(range(10))
    uniform = np.full((8, 10), 0.1, dtype=np.float32)
    loss = keras.losses.SparseCategoricalCrossentropy()(y, uniform)
    np.testing.assert_allclose(float(loss), np.log(10), rtol=1e-5)
    accuracy = keras.metrics.SparseCategoricalAccuracy()
    accuracy.update_state(y, keras.ops.one_hot(keras.ops.cast(y, "int32"), 10))
    assert float(accuracy.result()) == 1.0


def test_npz_generators_conform_and_reject_nan(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(15, 4, 4, 1)).astype(np.float32)
    np.savez(tmp_path / "a.npz", x=x, y=np.array(["b", "a", "c"] * 5))
    generator = _generator({"source": "npz", "path": str(tmp_path / "a.npz")}, {"n_shards": 2})
    assert generator.info().target_names == ("a", "b", "c")
    check_generator(generator)
    x[3, 1, 1, 0] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=np.arange(15) % 2)
    with pytest.raises(DataError, match=r"1 of the 15 inputs hold NaN or infinite values \(the first is sample"):
        _generator({"source": "npz", "path": str(tmp_path / "nan.npz")}).info()


def test_tfds_names_that_could_go_online_or_are_unknown(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ConfigError, match=r"\[d.parameters\] name = \"huggingface:mnist\": a namespaced"):
        _generator({"source": "tfds", "name": "huggingface:mnist"})
    with pytest.raises(DataError, match=r"'scinas_no_such_set' is neither known .* nor prepared in .*nothing"):
        _generator({"source": "tfds", "name": "scinas_no_such_set", "data_dir": str(tmp_path / "nothing")}).info()


def test_prepared_dataset_releases_the_source_arrays(tmp_path: Path) -> None:
    root = _folder(tmp_path / "p")
    generator = _generator({"source": "folder", "path": str(root)}, {"n_shards": 2})
    before = generator.generate_shard(1, 4, generator.shard_rng(1))
    data = PreparedDataset.prepare(generator, tmp_path / "cache", progress=False)
    assert generator.__dict__["_resolved"].x is None  # only the cache holds the samples now
    assert data.info == generator.info() and data.size("train") == 6
    after = generator.generate_shard(1, 4, generator.shard_rng(1))  # reads the files again, same samples
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])


def test_without_tfds_the_error_names_the_key_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ConfigError, match=r"\[d.parameters\] source = \"tfds\": TFDS datasets need the "
                                          r"tensorflow-datasets package \(the tfds extra\).*scinas\[tfds\]"):
        _generator({"source": "tfds", "name": "mnist"})
