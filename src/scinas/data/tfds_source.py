"""Reading a TensorFlow Datasets dataset that is already prepared on this machine.

scinas never downloads: the dataset's prepared folder must exist under the data dir, or a
DataError names the dataset and the folder searched (prepare it once with
``tfds.builder(name, data_dir=...).download_and_prepare()`` where the network allows it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scinas.errors import ConfigError, DataError

__all__ = ["read_tfds", "require_tfds"]

Split = tuple[np.ndarray, np.ndarray]


def require_tfds() -> Any:
    """The ``tensorflow_datasets`` module; ConfigError with the install hint when it is missing."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ConfigError("TFDS datasets need the tensorflow-datasets package",
                          fix="pip install 'scinas[tfds]' (or make install EXTRAS=tfds)") from None
    return tfds


def read_tfds(name: str, data_dir: str, dataset: str, *, image_key: str = "image",
              label_key: str = "label") -> tuple[Split, Split | None, tuple[str, ...]]:
    """(train, test or None, class names) of TFDS dataset ``name`` prepared under ``data_dir``."""
    tfds = require_tfds()
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except (tfds.core.registered.DatasetNotFoundError, ValueError) as exc:
        raise DataError(f"{dataset}: TFDS dataset {name!r} is neither known to tensorflow-datasets nor prepared in "
                        f"{data_dir} ({str(exc).splitlines()[0]})") from None
    prepared = Path(builder.data_dir)
    if not (prepared / "dataset_info.json").exists():
        raise DataError(f"{dataset}: TFDS dataset {name!r} is not prepared in {data_dir} (looked for {prepared}); "
                        "scinas does not download: prepare it where the network allows, then copy the folder")
    splits = builder.info.splits
    if "train" not in splits:
        raise DataError(f"{dataset}: TFDS dataset {name!r} has no 'train' split (it has {sorted(splits)})")
    features = builder.info.features
    for key in (image_key, label_key):
        if key not in features:
            raise DataError(f"{dataset}: TFDS dataset {name!r} has no feature {key!r} (it has {sorted(features)})")
    label = features[label_key]
    names = tuple(label.names) if hasattr(label, "names") else ()

    def read(split: str) -> Split:
        images, labels = [], []
        for example in tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)):
            images.append(example[image_key])
            labels.append(example[label_key])
        return np.stack(images), np.asarray(labels)

    return read("train"), read("test") if "test" in splits else None, names
