"""``[X.search] prior``: a registered data-free prior by name (or ``"none"``), with its own table.

::

    [A.search]
    strategy = "pareto"
    prior = "synflow"               # the name alone: the prior with its defaults

    [A.search.prior]                # or a sub-table with its options (docs/options.md)
    name = "flops"
    unknown_layers = "ignore"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from scinas.config.reader import Table
from scinas.configurable import options_table

if TYPE_CHECKING:
    from scinas.priors import Prior

__all__ = ["NO_PRIOR", "PriorChoice"]


def _priors() -> Any:
    from scinas.priors import PRIORS  # deferred: Keras starts slowly

    return PRIORS


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class PriorChoice:
    """A prior by registered ``name`` (``"none"``: no prior) and the options its table sets (validated)."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()

    #: Its type as the options reference writes it.
    toml_type: ClassVar[str] = "string or table"

    @classmethod
    def read_option(cls, table: Table, key: str, default: PriorChoice) -> PriorChoice:
        """Read option ``key`` of ``table``: ``"none"``, a prior name, or a table of its options with ``name``."""
        registry = _priors()
        if not table.has(key):
            table.any(key, None)
            return default
        raw = table.any(key)
        if raw == "none":
            return cls("none")
        if isinstance(raw, str):
            registry.get(raw, file=table.file or None, path=table.key_path(key))
            return cls(raw)
        if not isinstance(raw, Mapping):
            raise table.error(key, 'expected "none", a prior name or a table of its options',
                              fix=f'write {key} = "params" or [{table.key_path(key)}] with name and options')
        sub = table.table(key)
        name = sub.string("name")
        own = {k: v for k, v in raw.items() if k != "name"}
        _, options = registry.resolve(name, Table(own, file=sub.file, path=sub.path), path=sub.key_path("name"))
        validated = options_table(options) if options is not None else own
        return cls(name, tuple((k, _frozen(validated.get(k, own[k]))) for k in own))

    @classmethod
    def option_variants(cls, value: PriorChoice) -> list[Any]:
        """Other valid TOML values (for the conformance suite)."""
        return [name for name in ["none", *_priors().names()] if name != value.name]

    def to_option(self) -> str | dict[str, Any]:
        """The TOML value: the name alone, or a table with the name and the options set."""
        if not self.settings:
            return self.name
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.settings}}

    def build(self) -> Prior | None:
        """The prior (None for ``"none"``)."""
        if self.name == "none":
            return None
        cls: type[Prior] = _priors().get(self.name)
        return cls(**{k: list(v) if isinstance(v, tuple) else v for k, v in self.settings})


#: No prior: the warm-up is random.
NO_PRIOR = PriorChoice("none")
