"""The model-generator interface: an architecture and a dataset description → a ``keras.Model``.

A :class:`ModelGenerator` serves one kind of :class:`~scinas.search_space.architecture.Architecture`
(its :attr:`~ModelGenerator.architecture_type`).  Two are built in: ``"cell_network"`` (searched
cells, :mod:`scinas.models.cell_network`) and ``"layer_stack"`` (fixed ``[X.structure]`` layer
lists).  :func:`scinas.models.lookup.generator_for` picks the generator of an architecture.

Add one of your own from Python::

    from scinas.models.base import ModelGenerator, register_model_generator

    @register_model_generator("my_net")
    class MyNetGenerator(ModelGenerator):
        architecture_type = MyArchitecture

        def build(self, architecture, info, *, name="model"):
            ...

and check it with :func:`scinas.testing.models.check_model_generator`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar, TypeVar

import keras

from scinas.configurable import Configurable
from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.models.layer_stack import build_layer_stack
from scinas.registry import Registry
from scinas.search_space.architecture import Architecture, LayerStackArchitecture

__all__ = [
    "MODEL_GENERATORS",
    "LayerStackGenerator",
    "ModelGenerator",
    "register_model_generator",
]

ArchitectureT = TypeVar("ArchitectureT", bound=Architecture)


class ModelGenerator(Configurable, abc.ABC):
    """Builds the Keras models of one kind of architecture.

    Generators are stateless: one instance may build any number of models.  Only :meth:`build` is
    abstract; :meth:`count_params` (analytic, without building) and :meth:`loss_weights` (for
    multi-output models) have safe defaults.
    """

    name: ClassVar[str] = ""
    """The registry name (set by :func:`register_model_generator`)."""
    architecture_type: ClassVar[type[Architecture]]
    """The architectures this generator builds (subclasses included); every generator sets it."""

    def accepts(self, architecture: Architecture) -> bool:
        return isinstance(architecture, self.architecture_type)

    def accepted(self, architecture: Architecture, kind: type[ArchitectureT]) -> ArchitectureT:
        """``architecture`` as ``kind``, or a ConfigError naming both types."""
        if not isinstance(architecture, kind):
            raise ConfigError(f"{type(self).__name__} builds {kind.__name__} architectures, "
                              f"not {type(architecture).__name__}", fix="use generator_for(architecture)")
        return architecture

    @abc.abstractmethod
    def build(self, architecture: Architecture, info: DatasetInfo, *, name: str = "model") -> keras.Model:
        """A new, uncompiled model of ``architecture`` for ``info``'s inputs and task.

        Classification models output class probabilities ``(batch, n_classes)``, regression models
        ``(batch, *target_shape)`` (``(batch, n_targets)`` for scalar or vector targets); outputs
        are float32 even under a mixed-precision policy.
        """

    def count_params(self, architecture: Architecture, info: DatasetInfo) -> int | None:
        """The exact ``model.count_params()`` of :meth:`build`, computed without building it, or
        ``None`` when this generator cannot tell."""
        return None

    def loss_weights(self, architecture: Architecture) -> dict[str, float] | None:
        """The loss weight of each output by name, for multi-output models; ``None`` for models
        with one output."""
        return None


MODEL_GENERATORS: Registry[type[ModelGenerator]] = Registry("model generator")
"""Every known model generator, by name."""

GeneratorT = TypeVar("GeneratorT", bound=type[ModelGenerator])


def register_model_generator(name: str) -> Callable[[GeneratorT], GeneratorT]:
    """Class decorator registering a generator under ``name`` (and setting its ``name``)."""

    def decorate(cls: GeneratorT) -> GeneratorT:
        if not isinstance(getattr(cls, "architecture_type", None), type):
            raise ValueError(f"{cls.__name__} must set the class attribute `architecture_type`")
        cls.name = name
        MODEL_GENERATORS.register(name)(cls)
        return cls

    return decorate


@register_model_generator("layer_stack")
class LayerStackGenerator(ModelGenerator):
    """Builds fixed ``[X.structure]`` layer lists as ``keras.Sequential`` models (see
    :func:`~scinas.models.layer_stack.build_layer_stack`); their parameter count is not analytic.

    Under a mixed-precision policy a stack whose last layer computes in float16 gets a final
    float32 ``Activation("linear")`` layer (no weights), so its outputs are float32 like those of
    every generator."""

    architecture_type: ClassVar[type[Architecture]] = LayerStackArchitecture

    def build(self, architecture: Architecture, info: DatasetInfo, *, name: str = "model") -> keras.Model:
        arch = self.accepted(architecture, LayerStackArchitecture)
        model = build_layer_stack(arch.layers, info, name=name)
        if keras.backend.standardize_dtype(model.outputs[0].dtype) != "float32":
            model.add(keras.layers.Activation("linear", dtype="float32", name="float32_output"))
        return model

