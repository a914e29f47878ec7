"""Segmentation datasets from files (folders, .npz, TFDS) and the joint augmentation of masks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from scinas.config.reader import Table
from scinas.data.augmentation import AugmentationConfig, augment_batches
from scinas.data.base import ShapeConfig
from scinas.data.images import ImagesGenerator
from scinas.errors import ConfigError, DataError
from scinas.testing.generators import check_generator


def _generator(parameters: dict[str, Any]) -> ImagesGenerator:
    params = ImagesGenerator.parse_parameters(Table({"task": "segmentation", **parameters}, file="data.toml",
                                                    path="d.parameters"))
    shape = ShapeConfig.parse(Table({"n_shards": 2, "splits": [0.5, 0.25, 0.25]}, file="data.toml", path="d.shape"),
                              n_samples_required=False)
    return ImagesGenerator("d", params, shape)


def _masks(n: int, size: tuple[int, int] = (8, 8)) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 3, (n, *size)).astype(np.uint8)


def test_npz_masks_with_an_ignore_class(tmp_path: Path) -> None:
    y = _masks(8)
    y[:, 0, 0] = 255
    x = (np.random.default_rng(1).random((8, 8, 8)) * 255).astype(np.uint8)
    np.savez(tmp_path / "seg.npz", x=x, y=y)
    generator = _generator({"source": "npz", "path": str(tmp_path / "seg.npz"), "ignore_class": 255})
    info = generator.info()
    assert info.task == "segmentation" and info.n_classes == 3 and info.ignore_class == 255
    assert info.input_shape == (8, 8, 1) and info.target_shape == (8, 8)
    check_generator(generator)
    _, masks = generator.generate_shard(0, 4, generator.shard_rng(0))
    assert set(np.unique(masks)) <= {0.0, 1.0, 2.0, 255.0}


def test_folder_pairs_resized_by_nearest_neighbour(tmp_path: Path) -> None:
    masks = _masks(4, (10, 10))
    for i, mask in enumerate(masks):
        for part, array in (("images", (mask * 80).astype(np.uint8)), ("masks", mask)):
            (tmp_path / part).mkdir(exist_ok=True)
            Image.fromarray(array, mode="L").save(tmp_path / part / f"s{i}.png")
    generator = _generator({"source": "folder", "path": str(tmp_path), "resize": [5, 5], "classes": 4})
    info = generator.info()
    assert info.n_classes == 4 and info.target_shape == (5, 5)
    _, y = generator.generate_shard(0, 2, generator.shard_rng(0))
    assert set(np.unique(y)) <= {0.0, 1.0, 2.0}  # nearest neighbour: no blended labels


def test_bad_masks_name_their_file(tmp_path: Path) -> None:
    for part, size in (("images", (10, 10)), ("masks", (10, 9))):
        (tmp_path / part).mkdir()
        Image.fromarray(np.zeros(size, np.uint8), mode="L").save(tmp_path / part / "a.png")
    with pytest.raises(DataError, match=r"masks/a.png: the mask is 10x9 but its image is 10x10"):
        _generator({"source": "folder", "path": str(tmp_path)}).info()
    y = _masks(6)
    y[3, 2, 2] = 9
    np.savez(tmp_path / "bad.npz", x=np.zeros((6, 8, 8), np.float32), y=y)
    with pytest.raises(DataError, match=r"bad.npz\[3\]: mask values \[9\] are neither classes 0..2"):
        _generator({"source": "npz", "path": str(tmp_path / "bad.npz"), "classes": 3}).info()
    np.savez(tmp_path / "few.npz", x=np.zeros((6, 8, 8), np.float32), y=np.zeros((6, 8, 8), np.uint8))
    with pytest.raises(DataError, match="fewer than two classes"):
        _generator({"source": "npz", "path": str(tmp_path / "few.npz")}).info()


@pytest.mark.parametrize(("table", "key", "message"), [
    ({"source": "digits"}, "task", "no masks"),
    ({"source": "npz", "classes": 1}, "classes", "at least two classes"),
    ({"source": "npz", "classes": 3, "ignore_class": 2}, "ignore_class", "one of the 3 classes"),
])
def test_bad_segmentation_keys_are_named(tmp_path: Path, table: dict[str, Any], key: str, message: str) -> None:
    np.savez(tmp_path / "s.npz", x=np.zeros((4, 8, 8)), y=np.zeros((4, 8, 8)))
    if table["source"] == "npz":
        table = {**table, "path": str(tmp_path / "s.npz")}
    with pytest.raises(ConfigError, match=rf"\[d.parameters\] {key}.*{message}"):
        _generator(table)
    with pytest.raises(ConfigError, match=r"\[d.parameters\] ignore_class.*segmentation masks only"):
        ImagesGenerator.parse_parameters(Table({"source": "digits", "ignore_class": 3}, file="data.toml",
                                               path="d.parameters"))


def test_flips_and_crops_move_each_mask_with_its_image() -> None:
    rng = np.random.default_rng(3)
    masks = rng.integers(0, 3, (16, 12, 12)).astype(np.float32)
    images = np.stack([masks * 10.0, -masks], axis=-1)  # every channel a function of the label
    config = AugmentationConfig(flip="both", crop_padding=3)
    batches = tf.data.Dataset.from_tensor_slices((images, masks)).batch(8)
    changed = 0
    for start, (x_batch, y_batch) in zip((0, 8), augment_batches(batches, config, seed=5, joint=True), strict=True):
        x, y = x_batch.numpy(), y_batch.numpy()
        np.testing.assert_array_equal(x[..., 0], y * 10.0)
        np.testing.assert_array_equal(x[..., 1], -y)
        changed += int(np.any(y != masks[start:start + 8]))
    assert changed  # the masks were moved, not left alone


def test_tfds_masks_prepared_locally(tmp_path: Path) -> None:
    tfds = pytest.importorskip("tensorflow_datasets")

    class ScinasTinyMasks(tfds.core.GeneratorBasedBuilder):  # type: ignore[misc,name-defined]
        VERSION = tfds.core.Version("1.0.0")

        def _info(self) -> Any:
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 1)),
                "segmentation_mask": tfds.features.Image(shape=(8, 8, 1))}))

        def _split_generators(self, dl_manager: Any) -> Any:
            return {"train": self._generate_examples(8, 0), "test": self._generate_examples(4, 8)}

        def _generate_examples(self, n: int, offset: int) -> Any:
            for i in range(n):
                mask = np.zeros((8, 8, 1), np.uint8)
                mask[: (i + offset) % 8] = 1
                mask[:, :2] = 2
                yield i, {"image": mask * 100, "segmentation_mask": mask}

    data_dir = tmp_path / "tfds"
    ScinasTinyMasks(data_dir=str(data_dir)).download_and_prepare()
    generator = _generator({"source": "tfds", "name": "scinas_tiny_masks", "data_dir": str(data_dir)})
    info = generator.info()
    assert info.task == "segmentation" and info.n_classes == 3 and info.split_sizes["test"] == 4
    assert info.target_shape == (8, 8)
    x, y = generator.generate_shard(0, 6, generator.shard_rng(0))
    np.testing.assert_allclose(x[..., 0] * 255, y * 100, atol=1e-3)  # each mask stays with its image
