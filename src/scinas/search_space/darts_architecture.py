"""A DARTS genotype stacked into an evaluation network: the architecture a DARTS search hands on.

:class:`DartsArchitecture` is a :class:`~scinas.search_space.genotype.Genotype` plus the
:class:`DartsNetwork` settings that stack it (``layers`` cells, reductions at 1/3 and 2/3,
``filters`` channels in the first cells, an optional auxiliary head and drop-path), the TOML
twin of DARTS' ``train.py`` arguments.  It is what ``[X.structure] genotype = "..."`` trains and
what a DARTS search's selection and final phases retrain; :mod:`scinas.models.darts_network`
builds it.

Example ``configurations.toml``::

    [G.structure]
    genotype = '''Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)],
                           reduce=[('max_pool_3x3', 0), ('avg_pool_3x3', 1)])'''
    layers = 8                # cells (>= 3: two reduction cells at layers // 3 and 2 * layers // 3)
    filters = 16              # channels of the first cells (doubled at each reduction)
    auxiliary_weight = 0.4    # loss weight of an auxiliary head after the second reduction (0: none)
    drop_path = 0.2           # probability of dropping an operation's path per sample in training
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scinas.config.reader import Table
from scinas.errors import ConfigError, format_value
from scinas.search_space.architecture import Architecture
from scinas.search_space.genotype import Genotype

__all__ = ["NETWORK_KEYS", "DartsArchitecture", "DartsNetwork", "SupernetArchitecture"]


@dataclass(frozen=True)
class DartsNetwork:
    """How a genotype is stacked (defaults: a small network that trains in minutes on a CPU;
    DARTS' CIFAR-10 evaluation used ``layers = 20, filters = 36, auxiliary_weight = 0.4,
    drop_path = 0.2``)."""

    layers: int = 8
    filters: int = 16
    stem_multiplier: int = 3
    auxiliary_weight: float = 0.0
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        for name in ("auxiliary_weight", "drop_path"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        if self.layers < 3:
            raise ConfigError("a network needs at least 3 cells for its two reduction cells (at layers // 3 and "
                              "2 * layers // 3)", path="layers", value=self.layers, fix="layers = 8 (at least 3)")
        if self.filters < 1 or self.stem_multiplier < 1:
            raise ConfigError("filters and stem_multiplier must be >= 1", path="filters", value=self.filters)
        if not 0 <= self.drop_path < 1:
            raise ConfigError("expected a probability in [0, 1)", path="drop_path", value=self.drop_path)
        if self.auxiliary_weight < 0:
            raise ConfigError("expected a weight >= 0 (0: no auxiliary head)", path="auxiliary_weight",
                              value=self.auxiliary_weight)

    @classmethod
    def parse(cls, table: Table) -> DartsNetwork:
        """Read the network keys of ``table`` (``[X.structure]``, or a DARTS search's ``[X.search]``
        with the prefix ``eval_``: :func:`parse_prefixed`)."""
        return cls.parse_prefixed(table, "")

    @classmethod
    def parse_prefixed(cls, table: Table, prefix: str) -> DartsNetwork:
        default = cls()
        values: dict[str, Any] = {
            "layers": table.integer(f"{prefix}layers", default.layers, minimum=3),
            "filters": table.integer(f"{prefix}filters", default.filters, minimum=1),
            "stem_multiplier": table.integer(f"{prefix}stem_multiplier", default.stem_multiplier, minimum=1),
            "auxiliary_weight": table.number(f"{prefix}auxiliary_weight", default.auxiliary_weight, minimum=0.0),
            "drop_path": table.number(f"{prefix}drop_path", default.drop_path, minimum=0.0),
        }
        try:
            return cls(**values)
        except ConfigError as exc:
            raise table.error(f"{prefix}{exc.path}", exc.problem, fix=exc.fix) from None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DartsNetwork:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    def differences(self) -> dict[str, Any]:
        default = type(self)()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}


NETWORK_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(DartsNetwork))
"""The keys of ``[X.structure]`` beside ``genotype``."""


@dataclass(frozen=True)
class DartsArchitecture(Architecture):
    """A genotype and the network that stacks it; the text is the genotype's DARTS text followed
    by the network settings that differ from the defaults."""

    genotype: Genotype
    network: DartsNetwork = dataclasses.field(default_factory=DartsNetwork)

    def to_text(self) -> str:
        differences = self.network.differences()
        if not differences:
            return self.genotype.to_text()
        tag = ", ".join(f"{key}={format_value(value)}" for key, value in differences.items())
        return f"{self.genotype.to_text()} {{{tag}}}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "darts", "genotype": self.genotype.to_json(), "network": self.network.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DartsArchitecture:
        if not isinstance(data, Mapping) or data.get("kind") != "darts":
            raise ConfigError("expected the JSON of a DARTS architecture: {\"kind\": \"darts\", ...}",
                              value=str(data))
        return cls(Genotype.from_json(data["genotype"]), DartsNetwork.from_json(data.get("network", {})))


@dataclass(frozen=True)
class SupernetArchitecture(Architecture):
    """What the supernet trial of a DARTS search trains: the candidate operators (scinas texts,
    ``none`` added by the supernet), the supernet's shape, the bilevel optimisation's ``epochs``
    and ``order``, the ``seed`` of this search and its early stopping on α
    (``stop_parameter_free``, 0: off, checked after ``stop_warmup`` epochs; see
    :func:`scinas.training.darts_search.run_supernet_search`)."""

    operators: tuple[str, ...]
    layers: int = 8
    nodes: int = 4
    filters: int = 16
    epochs: int = 50
    order: int = 1
    seed: int = 0
    stop_parameter_free: int = 0
    stop_warmup: int = 0

    def to_text(self) -> str:
        stop = f", stop_parameter_free={self.stop_parameter_free}" if self.stop_parameter_free else ""
        stop += f", stop_warmup={self.stop_warmup}" if self.stop_parameter_free and self.stop_warmup else ""
        return (f"supernet(operators=[{', '.join(self.operators)}], layers={self.layers}, nodes={self.nodes}, "
                f"filters={self.filters}, epochs={self.epochs}, order={self.order}, seed={self.seed}{stop})")

    def to_json(self) -> dict[str, Any]:
        return {"kind": "supernet", **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SupernetArchitecture:
        if not isinstance(data, Mapping) or data.get("kind") != "supernet":
            raise ConfigError("expected the JSON of a DARTS supernet: {\"kind\": \"supernet\", ...}", value=str(data))
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        values["operators"] = tuple(values.get("operators", ()))
        return cls(**values)
