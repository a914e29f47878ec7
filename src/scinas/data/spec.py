"""From a ``data.toml`` entry to a configured :class:`DatasetGenerator`.

Example::

    generator = build_generator(raw, "dtest")
    generator.info().input_shape    # (501, 3, 1)
"""

from __future__ import annotations

import logging

from scinas.config.loading import RawConfig
from scinas.config.reader import Table, suggest
from scinas.data.augmentation import AugmentationConfig
from scinas.data.base import GENERATORS, DatasetGenerator, NormalizationConfig, ShapeConfig
from scinas.errors import ConfigError

__all__ = ["DEFAULT_GENERATOR", "build_generator", "dataset_description"]

logger = logging.getLogger(__name__)

DEFAULT_GENERATOR = "michaelis_menten"
"""The generator of a ``data.toml`` entry that names none (the seed project's files name none)."""


def build_generator(raw: RawConfig, name: str) -> DatasetGenerator:
    """Validate dataset ``name`` of ``data.toml`` in full and instantiate its generator."""
    if name not in raw.datasets:
        raise ConfigError(f"unknown dataset {name!r}", file=raw.data_file, fix=suggest(name, raw.datasets))
    table = Table(raw.datasets[name], file=raw.data_file, path=name)
    try:
        if not table.has("generator"):
            logger.info("%s: [%s] names no generator; using generator = %r", raw.data_file, name, DEFAULT_GENERATOR)
        generator_name = table.string("generator", DEFAULT_GENERATOR)
        cls = GENERATORS.get(generator_name, file=raw.data_file, path=f"{name}.generator")
        table.string("description", "")
        parameters = cls.parse_parameters(table.table("parameters"))
        shape = ShapeConfig.parse(table.table("shape", required=cls.generated), n_samples_required=cls.generated,
                                  fresh_allowed=cls.generated)
        normalization = NormalizationConfig.parse(table.table("normalization"))
        augmentation = None
        augmentation_table = table.table("augmentation")
        if cls.augmentable:
            augmentation = AugmentationConfig.parse(augmentation_table)
        elif augmentation_table.raw:
            key = next(iter(augmentation_table.raw))
            raise augmentation_table.error(key, f"the {generator_name} generator does not augment its data",
                                           fix="remove the table (augmentation applies to image datasets)")
        table.finish()
        generator = (cls(name, parameters, shape, normalization, augmentation=augmentation) if cls.augmentable
                     else cls(name, parameters, shape, normalization))
        info = generator.info()
        if augmentation is not None:
            augmentation.diffraction.check(augmentation_table, info.input_shape)
        task = info.task
        if task == "segmentation" and augmentation is not None and augmentation.crop_padding >= min(
                info.input_shape[:2]):
            raise augmentation_table.error("crop_padding", f"a segmentation crop pads by reflection, which needs a "
                                           f"padding below the image size {info.input_shape[:2]}",
                                           fix="use a smaller crop_padding")
        if task in ("classification", "segmentation") and normalization.targets == "feature":
            raise ConfigError("class labels cannot be standardised", file=raw.data_file,
                              path=f"{name}.normalization.targets", value=normalization.targets,
                              fix='use targets = "auto" (the default) or "none" for a classification dataset')
        generator.normalization = normalization.resolved(task)
    except ConfigError as exc:
        source = raw.file_for(exc.path or "", raw.data_file)
        raise (exc.relocated(source) if source != exc.file else exc) from None
    return generator


def dataset_description(raw: RawConfig, name: str) -> str:
    """The one-line description of a dataset (its ``description`` key or its generator's)."""
    entry = raw.datasets.get(name, {})
    text = entry.get("description")
    if isinstance(text, str) and text:
        return text
    generator = entry.get("generator", DEFAULT_GENERATOR)
    if isinstance(generator, str) and generator in GENERATORS:
        return GENERATORS.get(generator).description
    return ""
