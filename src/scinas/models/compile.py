"""Optimizers and losses named in ``[X.compile]``, resolved against Keras with clear errors.

Example::

    [E.compile]
    optimizer = { name = "adam", learning_rate = 1e-3 }   # or optimizer = "adam"
    loss = "mean_squared_error"      # or "mse", "Huber", { name = "Huber", delta = 0.5 }; default "auto"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from scinas.config.experiment import NamedSpec
from scinas.config.reader import suggest
from scinas.errors import ConfigError
from scinas.models.catalog import constructor_arguments, public_classes
from scinas.models.segmentation import PixelCrossentropy

__all__ = ["AUTO_LOSS", "build_loss", "build_optimizer"]


def _normalise(name: str) -> str:
    return name.replace("_", "").lower()


def _find(spec: NamedSpec, classes: dict[str, type], kind: str, aliases: dict[str, str]) -> type:
    wanted = aliases.get(_normalise(spec.name), _normalise(spec.name))
    for name, cls in classes.items():
        if _normalise(name) == wanted:
            return cls
    known = sorted(set(classes) | set(aliases))
    raise ConfigError(f"unknown {kind}", file=spec.file, path=spec.path, value=spec.name,
                      fix=suggest(spec.name, known))


def _instantiate(spec: NamedSpec, cls: type, kind: str) -> Any:
    allowed = constructor_arguments(cls)
    for argument, value in spec.arguments.items():
        if argument not in allowed:
            raise ConfigError(f"{cls.__name__} has no argument {argument!r}", file=spec.file,
                              path=f"{spec.path}.{argument}", value=value, fix=suggest(argument, allowed))
    try:
        return cls(**dict(spec.arguments))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Keras rejected the {kind} arguments: {exc}", file=spec.file, path=spec.path,
                          fix=f"check the arguments of {cls.__name__}") from None


_OPTIMIZER_ALIASES = {"sgd": "sgd", "adam": "adam", "adamw": "adamw", "rmsprop": "rmsprop"}
_LOSS_ALIASES = {
    "mse": "meansquarederror",
    "mae": "meanabsoluteerror",
    "mape": "meanabsolutepercentageerror",
    "msle": "meansquaredlogarithmicerror",
    "huberloss": "huber",
    "crossentropy": "categoricalcrossentropy",
}


def build_optimizer(spec: NamedSpec) -> keras.optimizers.Optimizer:
    """A fresh optimizer instance for one trial (names are case- and underscore-insensitive)."""
    cls = _find(spec, public_classes(keras.optimizers, keras.optimizers.Optimizer), "optimizer", _OPTIMIZER_ALIASES)
    optimizer: keras.optimizers.Optimizer = _instantiate(spec, cls, "optimizer")
    return optimizer


AUTO_LOSS = "auto"
"""The default loss name: sparse categorical cross-entropy for classification, MSE for regression."""


def build_loss(spec: NamedSpec, task: str = "regression", *, ignore_class: int | None = None,
               class_weights: Sequence[float] | None = None) -> keras.losses.Loss:
    """A loss instance: ``"mean_squared_error"``, ``"mse"``, ``"Huber"`` or a table with arguments.

    ``"auto"`` (the default) picks by the dataset's ``task``: sparse categorical cross-entropy
    on the class indices of a classification dataset, the same per pixel (leaving out the
    dataset's ``ignore_class``) for segmentation, mean squared error otherwise.  ``class_weights``
    (``balance_class_losses``) weigh the cross-entropy of each class.
    """
    if _normalise(spec.name) == AUTO_LOSS:
        if spec.arguments:
            raise ConfigError("the automatic loss takes no arguments", file=spec.file, path=spec.path,
                              fix="name the loss explicitly to give it arguments")
        if task == "segmentation" or (task == "classification" and class_weights is not None):
            return PixelCrossentropy(ignore_class=ignore_class, class_weights=class_weights,
                                     name="sparse_categorical_crossentropy")
        name = "sparse_categorical_crossentropy" if task == "classification" else "mean_squared_error"
        spec = NamedSpec(name, {}, spec.file, spec.path)
    cls = _find(spec, public_classes(keras.losses, keras.losses.Loss), "loss", _LOSS_ALIASES)
    loss: keras.losses.Loss = _instantiate(spec, cls, "loss")
    return loss
