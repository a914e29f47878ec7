"""Validate everything an experiment needs before anything runs.

:func:`plan_experiments` parses each named experiment, instantiates its dataset generator with
validated parameters, and builds and compiles its model once against the dataset's shapes, so
an unknown layer argument or a wrong output size is reported before the first experiment
starts generating data or training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras

from scinas.config.experiment import ExperimentConfig, dataset_of, parse_experiment
from scinas.config.loading import RawConfig
from scinas.config.reader import suggest
from scinas.config.structure import CellStructure, GenotypeStructure, LayersStructure, SearchStructure
from scinas.data.base import DatasetGenerator
from scinas.data.spec import build_generator
from scinas.errors import ConfigError
from scinas.execution.registry import check_execution
from scinas.predictors.curve_families import CURVE_FAMILIES
from scinas.search.registry import resolve_strategy
from scinas.search_space.architecture import Architecture, CellArchitecture, LayerStackArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.darts_architecture import DartsArchitecture
from scinas.stoppers import resolve_stopper
from scinas.tracking import check_tracking
from scinas.training.trainer import build_compiled_model, monitorable

__all__ = ["ExperimentPlan", "architecture_of", "plan_experiments", "resolve_names"]


def architecture_of(config: ExperimentConfig) -> Architecture:
    """The architecture described by ``[X.structure]`` (for a search: the empty cell, the
    smallest candidate, which is what the plan builds to check compile settings)."""
    structure = config.structure
    if isinstance(structure, LayersStructure):
        return LayerStackArchitecture(structure.layers)
    if isinstance(structure, SearchStructure):
        return CellArchitecture(Cell(()), structure.macro)
    if isinstance(structure, GenotypeStructure):
        if structure.genotype is None:
            raise ConfigError("the genotype was read without knowing the dataset's input rank",
                              fix="plan the experiment with its dataset (plan_experiments)")
        return DartsArchitecture(structure.genotype, structure.network)
    return CellArchitecture(structure.cell, structure.macro)


@dataclass(frozen=True)
class ExperimentPlan:
    """A validated experiment with its dataset generator and the TOML to write into its run folder."""

    config: ExperimentConfig
    generator: DatasetGenerator
    dataset_table: dict[str, Any]

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def architecture(self) -> Architecture:
        """What the experiment trains (its one architecture: there is no search yet)."""
        return architecture_of(self.config)

    def resolved_toml(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(configurations.toml, data.toml) documents that reproduce this experiment alone."""
        experiments = {"default": [self.name], self.name: dict(self.config.table)}
        return experiments, {self.config.dataset.training: self.dataset_table}


def resolve_names(raw: RawConfig, names: Sequence[str]) -> list[str]:
    """The experiments to run: the given names, else the file's ``default`` list."""
    if not names:
        if raw.default:
            return list(raw.default)
        listed = ", ".join(raw.experiment_names()) or "none"
        raise ConfigError(f"no experiment named and no `default = [...]` in the file; available: {listed}",
                          file=raw.experiments_file,
                          fix="name experiments (scinas run E A) or add default = [\"E\"] at the top of the file")
    for name in names:
        if name not in raw.experiments:
            raise ConfigError(f"unknown experiment {name!r}", file=raw.experiments_file,
                              fix=suggest(name, raw.experiments))
    return list(names)


def plan_experiments(raw: RawConfig, names: Sequence[str]) -> list[ExperimentPlan]:
    """Validate every named experiment in full (see the module docstring)."""
    plans = []
    for name in resolve_names(raw, names):
        dataset_name = dataset_of(raw, name)
        # The dataset is validated first: a cell's operators are checked against its input rank.
        generator = build_generator(raw, dataset_name) if dataset_name in raw.datasets else None
        rank = len(generator.info().input_shape) - 1 if generator is not None else None
        config = parse_experiment(raw, name, rank=rank if rank in (1, 2) else None)
        _check_rank(raw, config, rank)
        generator = generator or build_generator(raw, config.dataset.training)
        info = generator.info()
        try:
            check_execution(config)  # devices, workers, Slurm: before any data or trial
            check_tracking(config.tracking)  # known trackers, their packages, Neptune's credentials
            build_compiled_model(config, architecture_of(config), info=info)
            _check_monitor(raw, config, monitorable(config, info.n_targets, info),
                           has_validation=info.split_sizes.get("validation", 0) > 0)
            _check_search(raw, config, monitorable(config, info.n_targets, info),
                          has_validation=info.split_sizes.get("validation", 0) > 0)
        except ConfigError as exc:
            source = raw.file_for(exc.path or "", exc.file or raw.experiments_file)
            raise (exc.relocated(source) if source != exc.file else exc) from None
        finally:
            keras.backend.clear_session()
        plans.append(ExperimentPlan(config, generator, raw.datasets[config.dataset.training]))
    return plans


def _check_rank(raw: RawConfig, config: ExperimentConfig, rank: int | None) -> None:
    """A cell needs images (H, W, C) or series (L, C); a flat input has no spatial axis to convolve."""
    if isinstance(config.structure, CellStructure | SearchStructure | GenotypeStructure) and rank not in (1, 2):
        raise ConfigError(f"a cell needs inputs shaped (length, channels) or (height, width, channels), but "
                          f"dataset {config.dataset.training!r} has inputs of rank {rank}",
                          file=raw.file_for(f"{config.name}.structure", raw.experiments_file),
                          path=(f"{config.name}.structure.cell" if isinstance(config.structure, CellStructure)
                                else f"{config.name}.structure.genotype"
                                if isinstance(config.structure, GenotypeStructure)
                                else f"{config.name}.search_space"),
                          fix="use a layer stack for this dataset, or a dataset of series or images")


def _check_monitor(raw: RawConfig, config: ExperimentConfig, available: set[str], *, has_validation: bool) -> None:
    """Early stopping and early termination must watch values Keras actually logs (they would
    silently never act), and early termination must name a known curve family."""
    early = config.training.early_stopping
    if early is not None:
        _check_logged(raw, early.monitor, available, has_validation=has_validation,
                      path=f"{config.name}.training.early_stopping.monitor", what="early stopping")
    termination = config.training.early_termination
    if termination is not None:
        _check_logged(raw, termination.monitor, available, has_validation=has_validation,
                      path=f"{termination.path}.monitor", what="early termination")
        CURVE_FAMILIES.get(termination.curve, file=termination.file or raw.experiments_file,
                           path=f"{termination.path}.curve")
        resolve_stopper(dataclasses.replace(termination, file=termination.file or raw.experiments_file),
                        config.search)


def _check_logged(raw: RawConfig, monitor: str, available: set[str], *, has_validation: bool, path: str,
                  what: str) -> None:
    """``monitor`` (at TOML ``path``) must be one of the ``available`` values training logs."""
    if not has_validation:  # nothing named val_* is logged
        available = {name for name in available if not name.startswith("val_")}
    if monitor in available:
        return
    raise ConfigError(f"{what} would monitor a value that training does not log; logged: "
                      f"{', '.join(sorted(available))}", file=raw.experiments_file, path=path, value=monitor,
                      fix=suggest(monitor, available))


def _check_search(raw: RawConfig, config: ExperimentConfig, available: set[str], *, has_validation: bool) -> None:
    """The search score must be a metric the trials record on the validation split."""
    search = config.search
    if search is None:
        return
    strategy, _ = resolve_strategy(search)  # the strategy's class checks its own keys
    file = raw.file_for(search.path, raw.experiments_file)
    selection, structure = config.selection, config.structure
    if (isinstance(structure, SearchStructure) and structure.space is not None
            and structure.space.operator_pairs is not None and not strategy.operator_pairs_supported):
        path = f"{config.name}.search_space.operator_pairs"
        raise ConfigError(f"the {search.strategy} strategy cannot keep to chosen operator pairs",
                          file=raw.file_for(path, raw.experiments_file), path=path,
                          fix="remove operator_pairs (keep only operators) or use another strategy")
    if selection is not None and isinstance(structure, SearchStructure):
        for index, variant in enumerate(selection.variants):
            try:
                dataclasses.replace(structure.macro, **dict(variant))
            except ConfigError as exc:
                raise ConfigError(exc.problem, file=file, path=f"{selection.path}.variants[{index}].{exc.path}",
                                  value=exc.value, fix=exc.fix) from None
    if not has_validation:
        raise ConfigError(f"a search scores trials on the validation split, but dataset "
                          f"{config.dataset.training!r} has none", file=file, path=f"{search.path}.score",
                          value=search.score, fix="give the dataset a validation share in [d.shape] / its split")
    recorded = sorted(name for name in available if not name.startswith("val_"))
    if search.score not in recorded:
        raise ConfigError(f"the trials do not record this metric; recorded: {', '.join(recorded)}", file=file,
                          path=f"{search.path}.score", value=search.score,
                          fix=suggest(search.score, recorded) + f" (or add it to [{config.name}.compile] metrics)")
    if search.target is not None:
        from scinas.config.formula import parse_formula
        from scinas.search.outcome import TRIAL_QUANTITIES

        formula = parse_formula(search.target, file=file, path=f"{search.path}.target")
        formula.check_names([*recorded, *TRIAL_QUANTITIES], what="metrics and trial quantities")
        for measure, names in (("latency", ("latency_s", "latency_ms")), ("flops", ("flops",))):
            used = [name for name in formula.names if name in names]
            if used and not getattr(config.costs, measure):
                raise ConfigError(f"the target reads {used[0]}, but [{config.name}.costs] {measure} = false, so no "
                                  "trial records it", file=file, path=f"{search.path}.target", value=search.target,
                                  fix=f"set [{config.name}.costs] {measure} = true or leave {used[0]} out")
