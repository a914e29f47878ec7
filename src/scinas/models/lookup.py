"""Which registered model generator builds an architecture.

Kept apart from :mod:`scinas.models.base` (the interface and registry) because it needs every
built-in generator registered first, and :mod:`scinas.models.cell_network` imports the base: a
lookup inside the base would make the two modules import each other.
"""

from __future__ import annotations

import scinas.models.cell_network
import scinas.models.darts_network  # noqa: F401  (registers the DARTS evaluation-network generator)
from scinas.errors import ConfigError
from scinas.models.base import MODEL_GENERATORS, ModelGenerator
from scinas.search_space.architecture import Architecture

__all__ = ["generator_for"]


def generator_for(architecture: Architecture) -> ModelGenerator:
    """A generator for ``architecture``: the registered one serving its most specific type.

    Example::

        model = generator_for(trial.architecture).build(trial.architecture, info, name=trial.name)
    """
    best: type[ModelGenerator] | None = None
    for name in MODEL_GENERATORS:
        cls = MODEL_GENERATORS.get(name)
        if isinstance(architecture, cls.architecture_type) and (
                best is None or issubclass(cls.architecture_type, best.architecture_type)):
            best = cls
    if best is None:
        raise ConfigError(f"no model generator builds architectures of type {type(architecture).__name__}; "
                          f"known generators: {', '.join(MODEL_GENERATORS.names())}",
                          fix="register one with @register_model_generator")
    return best()
