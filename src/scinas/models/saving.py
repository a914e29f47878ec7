"""Loading models scinas saved: the custom layers and metrics they use are registered first.

A ``model.keras`` written by scinas may contain operator layers (``scinas>ConvOp``, ...) and
metrics (``scinas>r_squared``); Keras finds them only once their modules are imported.
:func:`load_model` does that, so a saved model loads in a fresh Python session::

    from scinas.models.saving import load_model
    model = load_model("results/C/<run>/trials/trial-0000/model.keras")
    probabilities = model.predict(images)
"""

from __future__ import annotations

from pathlib import Path

import keras

__all__ = ["load_model", "register_custom_objects"]


def register_custom_objects() -> None:
    """Import every module that registers Keras objects scinas models may contain."""
    import scinas.models.metrics
    import scinas.search_space.operators  # noqa: F401  (operator layers)


def load_model(path: str | Path, *, compile: bool = True) -> keras.Model:
    """``keras.models.load_model`` with scinas' custom layers and metrics registered."""
    register_custom_objects()
    return keras.models.load_model(str(path), compile=compile)
