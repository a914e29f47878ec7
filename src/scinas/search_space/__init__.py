"""What trials train: operators (``operators``), cells and blocks (``cell``), the search space
(``space``), macro-architecture settings (``macro``), encodings for predictors (``encoding``) and
the :class:`~scinas.search_space.architecture.Architecture` types.

The package imports nothing eagerly, so the configuration schema can use its types without an
import cycle; import the submodules (``from scinas.search_space.cell import Cell``).
"""

__all__: list[str] = []
