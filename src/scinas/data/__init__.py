"""Datasets: generators registered by name, the on-disk shard cache, tf.data splits, statistics.

Importing this package registers the shipped generators (``michaelis_menten``, ``images``,
``time_series``, ``xfel``, ``xfel_images``, ``fluorescence_cells``).
"""

from scinas.data import images as _images  # registers the generator
from scinas.data import michaelis_menten as _michaelis_menten  # registers the generator
from scinas.data import microscopy as _microscopy  # registers fluorescence_cells
from scinas.data import time_series as _time_series  # registers the generator
from scinas.data import xfel as _xfel  # registers the xfel and xfel_images generators
from scinas.data.base import GENERATORS, DatasetGenerator, DatasetInfo, NormalizationConfig, ShapeConfig

__all__ = ["GENERATORS", "DatasetGenerator", "DatasetInfo", "NormalizationConfig", "ShapeConfig"]

del _images, _michaelis_menten, _microscopy, _time_series, _xfel
