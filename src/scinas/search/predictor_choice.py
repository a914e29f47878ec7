"""``[X.search] predictor`` and ``cost_predictor``: a registered predictor by name, with its own table.

A predictor-guided strategy (``popnas``, ``pnas``, ``pareto``) fits a score predictor and one cost
predictor per cost.  Each is chosen by its registered name (:data:`~scinas.predictors.PREDICTORS`)
and configured by the keys its class declares (its ``Options``; ``docs/options.md`` lists them),
which that class's ``from_table`` validates when the experiment is planned, before anything runs::

    [A.search]
    strategy = "popnas"
    predictor = "gin"                # the name alone: the predictor with its defaults

    [A.search.cost_predictor]        # or a sub-table: the predictor's own options
    name = "svr"                     # optional: the strategy's default predictor
    n_iter = 80

    # the same as an inline table:  cost_predictor = { name = "svr", n_iter = 80 }

The strategies' older keys ``predictor_epochs``, ``predictor_ensemble`` and ``svr_iterations`` are
shorthands: each sets the option it stands for in whichever chosen predictor declares that
shorthand (:attr:`~scinas.predictors.Predictor.search_shorthands`: GIN's ``epochs`` and
``ensemble``, SVR's ``n_iter``).  Setting a shorthand and the option it stands for both is an
error.  A strategy may give a shorthand a default of its own (``pareto`` trains 3 GIN networks,
not 5): :func:`predictor_table` applies it when neither is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from scinas.config.reader import Table
from scinas.configurable import options_table
from scinas.errors import ConfigError

if TYPE_CHECKING:
    from scinas.predictors import Predictor, SearchSettings

__all__ = ["DEFAULT_COST_PREDICTOR", "DEFAULT_SCORE_PREDICTOR", "PredictorChoice", "build_predictor", "check_choice",
           "predictor_table"]


def _predictors() -> Any:
    from scinas.predictors import PREDICTORS  # deferred: Keras starts slowly

    return PREDICTORS


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class PredictorChoice:
    """A predictor by registered ``name`` and the options its table sets (``settings``, validated).

    The value type of a strategy's ``predictor``/``cost_predictor`` option: it reads itself from a
    name or a table (:meth:`read_option`) and writes itself back (:meth:`to_option`).
    """

    name: str
    settings: tuple[tuple[str, Any], ...] = ()

    #: Its type as the options reference writes it.
    toml_type: ClassVar[str] = "string or table"

    @classmethod
    def read_option(cls, table: Table, key: str, default: PredictorChoice) -> PredictorChoice:
        """Read option ``key`` of ``table``: a predictor name, or a table of its options with ``name``."""
        registry = _predictors()
        if not table.has(key):
            table.any(key, None)
            return default
        raw = table.any(key)
        if isinstance(raw, str):
            registry.get(raw, file=table.file or None, path=table.key_path(key))
            return cls(raw)
        if not isinstance(raw, Mapping):
            raise table.error(key, "expected a predictor name or a table of its options",
                              fix=f'write {key} = "{default.name}" or [{table.key_path(key)}] with its options')
        sub = table.table(key)
        name = sub.string("name", default.name)
        own = {k: v for k, v in raw.items() if k != "name"}
        _, options = registry.resolve(name, Table(own, file=sub.file, path=sub.path), path=sub.key_path("name"))
        validated = options_table(options) if options is not None else own
        return cls(name, tuple((k, _frozen(validated.get(k, own[k]))) for k in own))

    @classmethod
    def option_variants(cls, value: PredictorChoice) -> list[Any]:
        """Other valid TOML values (for the conformance suite): the other registered predictors."""
        return [name for name in _predictors().names() if name != value.name]

    def to_option(self) -> str | dict[str, Any]:
        """The TOML value: the name alone, or a table with the name and the options set."""
        if not self.settings:
            return self.name
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.settings}}

    def predictor_class(self) -> type[Predictor]:
        """The registered class."""
        cls: type[Predictor] = _predictors().get(self.name)
        return cls


#: The strategies' default predictors: GIN for the score, SVR for each cost.
DEFAULT_SCORE_PREDICTOR = PredictorChoice("gin")
DEFAULT_COST_PREDICTOR = PredictorChoice("svr")


def predictor_table(choice: PredictorChoice, shorthands: Mapping[str, int | None],
                    defaults: Mapping[str, int]) -> dict[str, Any]:
    """The predictor's table with the strategy's shorthand keys applied.

    ``shorthands`` are the values of the strategy's shorthand keys (None: not set) and
    ``defaults`` the strategy's default for each.  A shorthand the chosen class declares sets its
    option unless the predictor's table sets it (both set: a :class:`ConfigError` at the shorthand).
    """
    table = {k: list(v) if isinstance(v, tuple) else v for k, v in choice.settings}
    for short, name in choice.predictor_class().search_shorthands.items():
        if short not in defaults:
            continue
        value = shorthands.get(short)
        if name in table:
            if value is not None:
                raise ConfigError(f"sets the {choice.name} predictor's {name} a second time", path=short,
                                  value=value, fix=f"remove {short}: the predictor's table sets {name} = "
                                                   f"{table[name]!r}")
            continue
        table[name] = value if value is not None else defaults[short]
    return table


def check_choice(choice: PredictorChoice, shorthands: Mapping[str, int | None], defaults: Mapping[str, int],
                 key: str) -> None:
    """Validate the predictor ``choice`` with the shorthands applied (a strategy's ``check``)."""
    table = predictor_table(choice, shorthands, defaults)
    _predictors().resolve(choice.name, Table(table, file="", path=key), path=key)


def build_predictor(choice: PredictorChoice, settings: SearchSettings, shorthands: Mapping[str, int | None],
                    defaults: Mapping[str, int]) -> Predictor:
    """The predictor ``choice`` names, built by its class's ``for_search`` with its options."""
    cls = choice.predictor_class()
    options = cls.from_table(Table(predictor_table(choice, shorthands, defaults), file="", path=""))
    return cls.for_search(settings, options)
