"""``[X.structure]``: what one experiment trains — a fixed layer stack or a fixed cell.

A layer stack (the seed project's form)::

    [E.structure]
    layers = [{ type = "Conv2D", filters = 32, kernel_size = 3 }, { type = "Flatten" }, { type = "Dense", units = 3 }]

A cell (POPNAS form), with the macro-architecture in ``[X.architecture]`` and, optionally, the
search space the cell must belong to in ``[X.search_space]``::

    [C.structure]
    cell = "[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]"
    [C.architecture]
    filters = 16
    motifs = 2
    normal_cells_per_motif = 1
    [C.search_space]          # optional: without it, any operator and lookback_depth = 2
    blocks = 5
    lookback_depth = 2
    operators = ["identity", "3x3 conv", "3x3 dconv", "2x2 maxpool"]

A DARTS genotype (as DARTS prints it, parsed and never evaluated; see docs/darts.md), stacked
into an evaluation network whose settings sit beside it::

    [G.structure]
    genotype = '''Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)],
                           reduce=[('max_pool_3x3', 0), ('avg_pool_3x3', 1)])'''
    layers = 8
    filters = 16
    auxiliary_weight = 0.4
    drop_path = 0.2

Operators are checked against the rank of the dataset's inputs (1 = series, 2 = images), which
the caller passes as ``rank`` once the dataset is known; without it only the structure is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.search_space.cell import Cell
from scinas.search_space.darts_architecture import DartsNetwork
from scinas.search_space.genotype import Genotype, parse_genotype
from scinas.search_space.layer_spec import LayerSpec
from scinas.search_space.macro import MacroConfig
from scinas.search_space.operators import parse_operator
from scinas.search_space.space import SearchSpace

__all__ = ["CellStructure", "GenotypeStructure", "LayersStructure", "SearchStructure", "Structure",
           "parse_search_structure", "parse_structure"]

DEFAULT_LOOKBACK_DEPTH = 2
DEFAULT_MAX_BLOCKS = 5


@dataclass(frozen=True)
class LayersStructure:
    """``[X.structure] layers = [...]``."""

    layers: tuple[LayerSpec, ...]


@dataclass(frozen=True)
class CellStructure:
    """``[X.structure] cell = "..."`` with its macro-architecture and search space.

    ``space`` is ``None`` only when the structure was parsed without knowing the input rank.
    """

    cell: Cell
    macro: MacroConfig
    space: SearchSpace | None


@dataclass(frozen=True)
class SearchStructure:
    """A searched cell: ``[X.search_space]`` (``None`` while the input rank is unknown) and the
    macro-architecture ``[X.architecture]`` every candidate is stacked with."""

    space: SearchSpace | None
    macro: MacroConfig


@dataclass(frozen=True)
class GenotypeStructure:
    """``[X.structure] genotype = "Genotype(...)"`` and its network settings; ``genotype`` is
    ``None`` only when the structure was parsed without knowing the input rank."""

    text: str
    genotype: Genotype | None
    network: DartsNetwork


Structure = LayersStructure | CellStructure | SearchStructure | GenotypeStructure


def _parse_layers(table: Table) -> tuple[LayerSpec, ...]:
    entries = table.array("layers")
    if not entries:
        raise table.error("layers", "expected at least one layer",
                          fix='add e.g. { type = "Dense", units = 1 }')
    layers = []
    for index, entry in enumerate(entries):
        path = f"{table.key_path('layers')}[{index}]"
        if not isinstance(entry, Mapping):
            raise ConfigError("expected a table { type = \"...\", ... }", file=table.file, path=path,
                              value=entry, fix='write { type = "Dense", units = 64 }')
        kind = entry.get("type")
        if not isinstance(kind, str):
            raise ConfigError("each layer needs a string `type` (a Keras layer class name)",
                              file=table.file, path=path, value=entry,
                              fix='add type = "Dense" (or Conv2D, Flatten, ...)')
        arguments = {k: v for k, v in entry.items() if k != "type"}
        layers.append(LayerSpec(kind, arguments, table.file, path))
    return tuple(layers)


def _located(exc: ConfigError, file: str | None, path: str) -> ConfigError:
    """``exc`` with the file and TOML path of the value it is about, when it has none."""
    if exc.path:
        return exc
    return ConfigError(exc.problem, file=file, path=path, value=exc.value, fix=exc.fix)


def _space_for(top: Table, cell: Cell, cell_path: str, rank: int) -> SearchSpace:
    if top.has("search_space"):
        return SearchSpace.parse(top.table("search_space"), rank=rank)
    top.any("search_space", None)
    operators: list[str] = []
    for operator in cell.operators:
        try:
            text = parse_operator(operator, rank).text
        except ConfigError as exc:
            raise ConfigError(exc.problem, file=top.file, path=cell_path, value=cell.to_text(), fix=exc.fix) from None
        if text not in operators:
            operators.append(text)
    return SearchSpace(operators=tuple(operators) or ("identity",),
                       max_blocks=max(DEFAULT_MAX_BLOCKS, cell.n_blocks),
                       lookback_depth=DEFAULT_LOOKBACK_DEPTH, rank=rank)


def _parse_cell(top: Table, structure: Table, rank: int | None) -> CellStructure:
    text = structure.string("cell")
    cell_path = structure.key_path("cell")
    try:
        cell = Cell.from_text(text)
    except ConfigError as exc:
        raise _located(exc, structure.file, cell_path) from None
    macro = MacroConfig.parse(top.table("architecture"))
    if rank is None:
        top.any("search_space", None)
        return CellStructure(cell, macro, None)
    space = _space_for(top, cell, cell_path, rank)
    try:
        cell = space.validate(cell, file=structure.file, path=cell_path)
    except ConfigError as exc:
        raise _located(exc, structure.file, cell_path) from None
    return CellStructure(cell, macro, space)


def _parse_genotype(top: Table, structure: Table, rank: int | None) -> GenotypeStructure:
    for key in ("architecture", "search_space"):
        if top.has(key):
            raise top.error(key, "a genotype's network is set in [X.structure] itself (layers, filters, "
                            "auxiliary_weight, drop_path)", fix=f"remove [{top.key_path(key)}]")
    text = structure.string("genotype")
    genotype = None if rank is None else parse_genotype(text, rank, file=structure.file,
                                                         path=structure.key_path("genotype"))
    network = DartsNetwork.parse(structure)
    structure.finish()
    return GenotypeStructure(text, genotype, network)


def parse_structure(top: Table, *, rank: int | None = None) -> Structure:
    """Read ``[X.structure]`` (and, for a cell, ``[X.architecture]`` and ``[X.search_space]``)."""
    structure = top.table("structure", required=True)
    has_layers, has_cell = structure.has("layers"), structure.has("cell")
    if structure.has("genotype") and has_cell:
        raise structure.error("cell", "give either `cell` or `genotype`, not both", fix="remove one of the two keys")
    if has_layers and has_cell:
        raise structure.error("cell", "give either `layers` or `cell`, not both",
                              fix="remove one of the two keys")
    if structure.has("genotype"):  # `layers` is then the number of cells
        parsed: Structure = _parse_genotype(top, structure, rank)
    elif has_cell:
        parsed = _parse_cell(top, structure, rank)
    elif has_layers:
        for key in ("architecture", "search_space"):
            if top.has(key):
                raise top.error(key, "only a cell structure has a macro-architecture or a search space",
                                fix=f"remove [{top.key_path(key)}] or describe the model as "
                                    "[X.structure] cell = \"...\"")
        parsed = LayersStructure(_parse_layers(structure))
    else:
        raise structure.error("layers", "expected `layers = [...]` (a layer stack), `cell = \"...\"` (a cell) or "
                              "`genotype = \"Genotype(...)\"` (a DARTS genotype)",
                              fix='e.g. cell = "[(-1, 3x3 conv, -1, 2x2 maxpool)]"')
    structure.finish()
    return parsed


def parse_search_structure(top: Table, *, rank: int | None = None) -> SearchStructure:
    """Read what a search explores: ``[X.search_space]`` (required) and ``[X.architecture]``."""
    if top.has("structure"):
        raise top.error("structure", "an experiment with [X.search] searches its architecture; it has no "
                        "fixed structure", fix=f"remove [{top.key_path('structure')}], or remove "
                        f"[{top.key_path('search')}] to train that one architecture")
    if not top.has("search_space"):
        raise top.error("search_space", "a search needs the cells it may explore", value=None,
                        fix=f'add [{top.key_path("search_space")}] with operators = ["identity", "3x3 conv", '
                            '"2x2 maxpool"] (and blocks, lookback_depth)')
    macro = MacroConfig.parse(top.table("architecture"))
    if rank is None:
        top.any("search_space")
        return SearchStructure(None, macro)
    return SearchStructure(SearchSpace.parse(top.table("search_space"), rank=rank), macro)
