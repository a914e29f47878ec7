"""Trains one trial: build (or restore) the model, fit it with the spine's callbacks, evaluate
every split, and save the model with its normalisation statistics.

Example::

    trainer = Trainer(experiment, dataset, store)
    outcome = trainer.train(request, directory=run_dir / "trials" / request.name)
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from scinas.atomic import write_json_atomic, write_text_atomic
from scinas.config.experiment import ExperimentConfig
from scinas.data.base import SPLITS, DatasetInfo
from scinas.data.pipeline import PreparedDataset
from scinas.errors import ConfigError, TrialFailed
from scinas.models.compile import build_loss, build_optimizer
from scinas.models.costs import measure_costs
from scinas.models.lookup import generator_for
from scinas.models.metrics import build_metric
from scinas.models.plot import plot_cell, plot_genotype, plot_model_graph
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.search_space.architecture import Architecture, CellArchitecture
from scinas.search_space.darts_architecture import DartsArchitecture, SupernetArchitecture
from scinas.stoppers import STOPPERS, FrontPoint
from scinas.stoppers.pareto import predicted_cost
from scinas.store.layout import TrialLayout
from scinas.training.callbacks import (
    EpochRecorder,
    InterruptCheck,
    IntervalSaver,
    MainHeadAliases,
    NaNGuard,
    ResumableEarlyStopping,
    ResumeCheckpoint,
    TrialStore,
    atomic_save_model,
    main_head_aliases,
)
from scinas.training.distribution import DistributionPlan
from scinas.training.early_termination import LearningCurveTermination, measured_value
from scinas.training.precise_bn import PreciseBatchNorm
from scinas.training.step_time import StepTimer

__all__ = ["MAIN_OUTPUT", "PRECISE_BN_AUTO_STEPS", "Trainer", "build_compiled_model", "build_metrics", "monitorable",
           "precise_bn_enabled"]

logger = logging.getLogger(__name__)


def build_metrics(experiment: ExperimentConfig, n_outputs: int, info: DatasetInfo | None = None
                  ) -> list[keras.metrics.Metric]:
    """Fresh metric objects for ``[X.compile] metrics`` (``info`` gives a segmentation dataset's
    classes and ignore_class)."""
    task = info.task if info is not None else None
    n_classes = info.n_classes if info is not None else None
    ignore_class = info.ignore_class if info is not None else None
    return [build_metric(dict(m.arguments, name=m.name) if m.arguments else m.name,
                         n_outputs=n_outputs, file=m.file, path=m.path, task=task, n_classes=n_classes,
                         ignore_class=ignore_class)
            for m in experiment.compile.metrics]


def monitorable(experiment: ExperimentConfig, n_outputs: int, info: DatasetInfo | None = None) -> set[str]:
    """The names Keras logs per epoch for this experiment (what early stopping may monitor)."""
    names = {"loss", *(metric.name for metric in build_metrics(experiment, n_outputs, info))}
    return names | {f"val_{name}" for name in names}


PRECISE_BN_AUTO_STEPS = 10
"""``precise_bn = "auto"`` recomputes the BN statistics when an epoch has at most this many steps
(chosen from ``benchmarks/precise_bn.py``, see docs/training.md)."""


def precise_bn_enabled(setting: bool | str, steps_per_epoch: int) -> bool:
    """Whether ``[X.training] precise_bn`` applies to an epoch of ``steps_per_epoch`` steps."""
    if setting == "auto":
        return steps_per_epoch <= PRECISE_BN_AUTO_STEPS
    return bool(setting)


MAIN_OUTPUT = "output"
"""Name of a multi-output model's final head: metrics are reported on it."""


def build_compiled_model(experiment: ExperimentConfig, architecture: Architecture,
                         dataset: PreparedDataset | None = None, *,
                         info: DatasetInfo | None = None) -> keras.Model:
    """The trial's model, compiled with the experiment's optimizer, loss and metrics.

    A model with several outputs (``multi_output`` cells) gets the loss on every head, weighted
    by its generator's ``loss_weights``, and the metrics on the final head only.  With
    ``[X.execution] xla = true`` it is compiled with ``jit_compile=True``.
    """
    info = dataset.info if dataset is not None else info
    if info is None:
        raise ValueError("build_compiled_model needs a dataset or its DatasetInfo")
    generator = generator_for(architecture)
    try:
        model = generator.build(architecture, info, name=experiment.name)
    except ConfigError as exc:  # a macro-architecture key the dataset rejects: name it in the experiment
        if exc.path and exc.path.startswith("architecture."):
            raise ConfigError(exc.problem, file=exc.file, path=f"{experiment.name}.{exc.path}", value=exc.value,
                              fix=exc.fix) from None
        raise
    compile_config = experiment.compile
    optimizer = build_optimizer(compile_config.optimizer)
    class_weights = _class_weights(experiment, info, dataset)
    metrics = build_metrics(experiment, info.n_targets, info)
    names = _output_names(model)
    xla: dict[str, Any] = {"jit_compile": True} if experiment.execution.xla else {}
    if len(names) == 1:
        model.compile(optimizer=optimizer, loss=build_loss(compile_config.loss, info.task,
                                                           ignore_class=info.ignore_class,
                                                           class_weights=class_weights),
                      metrics=metrics, **xla)
        return model
    weights = generator.loss_weights(architecture) or {}
    model.compile(optimizer=optimizer, loss={name: build_loss(compile_config.loss, info.task,
                                                              ignore_class=info.ignore_class,
                                                              class_weights=class_weights) for name in names},
                  loss_weights={name: weights.get(name, 1.0) for name in names},
                  metrics={MAIN_OUTPUT if MAIN_OUTPUT in names else names[-1]: metrics}, **xla)
    return model


def _class_weights(experiment: ExperimentConfig, info: DatasetInfo,
                   dataset: PreparedDataset | None) -> list[float] | None:
    """``balance_class_losses``: the dataset's class weights (uniform while only planning, without data)."""
    if not experiment.compile.balance_class_losses:
        return None
    if info.task == "regression":
        raise ConfigError("class weights need class labels, and this dataset is a regression dataset",
                          path=f"{experiment.name}.compile.balance_class_losses", value=True,
                          fix="remove balance_class_losses")
    if dataset is None:
        return [1.0] * int(info.n_classes or 0)
    return dataset.class_weights()


def _output_names(model: keras.Model) -> list[str]:
    """The names of ``model``'s outputs (one name, unused, for a single-output model)."""
    if len(model.outputs) == 1:
        return [MAIN_OUTPUT]
    return list(model.output_names)


def _targets_for(model: keras.Model) -> Callable[[tf.data.Dataset], tf.data.Dataset]:
    """How a split's ``(x, y)`` must look for ``model``: ``y`` repeated per head when it has several."""
    names = _output_names(model)
    if len(names) == 1:
        return lambda dataset: dataset
    return lambda dataset: dataset.map(lambda x, y: (x, {name: y for name in names}),
                                       num_parallel_calls=tf.data.AUTOTUNE)


def _main_head(model: keras.Model) -> keras.Model:
    """``model`` itself, or for a multi-output model the same network ending at its final head."""
    names = _output_names(model)
    if len(names) == 1:
        return model
    index = names.index(MAIN_OUTPUT) if MAIN_OUTPUT in names else len(names) - 1
    return keras.Model(model.inputs, model.outputs[index], name=model.name)


def _draw(model: keras.Model, architecture: Architecture, directory: Path) -> None:
    """The model graph (and the cell) next to the trial's summary; never fails the trial."""
    try:
        plot_model_graph(model, TrialLayout(directory).model_plot)
        if isinstance(architecture, CellArchitecture):
            plot_cell(architecture.cell, TrialLayout(directory).cell_plot)
        if isinstance(architecture, DartsArchitecture):  # cell_normal.png and cell_reduce.png
            plot_genotype(architecture.genotype, TrialLayout(directory).cell_plot)
    except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as exc:
        logger.warning("the graph of %s could not be drawn: %s", directory.name, exc)


@dataclass
class _Evaluator:
    dataset: PreparedDataset
    batch_size: int | None

    def __call__(self, model: keras.Model) -> dict[str, dict[str, float]]:
        results: dict[str, dict[str, float]] = {}
        targets = _targets_for(model)
        for split in SPLITS:
            if self.dataset.size(split) == 0:
                continue
            values = model.evaluate(targets(self.dataset.split(split, batch_size=self.batch_size, shuffle=False)),
                                    verbose=0, return_dict=True)
            results[split] = _flatten_metrics(main_head_aliases(dict(values)))
        return results


def _flatten_metrics(values: dict[str, Any]) -> dict[str, float]:
    """Scalars as they are; a vector metric (e.g. R² ``raw_values``) as ``name_0``, ``name_1``, ..."""
    flat: dict[str, float] = {}
    for name, value in values.items():
        array = np.asarray(value, dtype=float)
        if array.ndim == 0:
            flat[name] = float(array)
        else:
            flat.update({f"{name}_{i}": float(v) for i, v in enumerate(array.ravel())})
    return flat


class Trainer:
    """Runs trials of one experiment on one prepared dataset, recording into ``store``."""

    def __init__(self, experiment: ExperimentConfig, dataset: PreparedDataset, store: TrialStore,
                 *, verbose: int | None = None, merge_validation: bool = False) -> None:
        """``merge_validation`` fits on train+validation with no validation data (a final training)."""
        self.experiment = experiment
        self.dataset = dataset
        self.store = store
        self.verbose = verbose if verbose is not None else (1 if sys.stderr.isatty() else 2)
        self.merge_validation = merge_validation
        self.distribution = DistributionPlan.resolve(experiment.execution)
        self.termination_off: str | None = None  # why early termination was switched off for this run

    def train(self, request: TrialRequest, directory: Path) -> TrialOutcome:
        """Train ``request`` (continuing from its checkpoint if one exists); raise TrialFailed.

        The model is built, trained and evaluated inside the scope of the experiment's
        tf.distribute strategy (see :mod:`scinas.training.distribution`).
        """
        with self.distribution.scope():
            if isinstance(request.architecture, SupernetArchitecture):  # a DARTS search's supernet
                from scinas.training.darts_search import train_supernet_trial

                return train_supernet_trial(self, request, directory)  # type: ignore[no-any-return]
            return self._train(request, directory)

    def _train(self, request: TrialRequest, directory: Path) -> TrialOutcome:
        training = self.experiment.training
        batch_size = self.distribution.batch_size(training.batch_size,
                                                  tf.distribute.get_strategy().num_replicas_in_sync)
        record = self.store.start_trial(request.name, architecture=request.architecture.to_text(),
                                        architecture_json=json.dumps(request.architecture.to_json()))
        trial_id = record.trial_id
        directory.mkdir(parents=True, exist_ok=True)
        checkpoint_dir = TrialLayout(directory).checkpoint
        early: ResumableEarlyStopping | None = None
        if training.early_stopping is not None:
            es = training.early_stopping
            early = ResumableEarlyStopping(monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
                                           mode=es.mode, restore_best_weights=es.restore_best_weights,
                                           start_from_epoch=es.start_from_epoch, state_dir=checkpoint_dir)
        termination = self._termination()
        checkpoint = ResumeCheckpoint(checkpoint_dir,
                                      extra_state=(lambda: {"early_stopping": early.state()}) if early else None)
        state = checkpoint.load_state()
        if state is not None:
            initial_epoch = int(state["epoch"])
            model = keras.models.load_model(checkpoint.model_path)
            if early is not None and state.get("early_stopping"):
                early.restore(state["early_stopping"])
            logger.info("%s: resuming from the checkpoint of epoch %d", request.name, initial_epoch)
        else:
            initial_epoch = 0
            keras.utils.set_random_seed(self.experiment.seed)
            model = build_compiled_model(self.experiment, request.architecture, self.dataset)
            _draw(model, request.architecture, directory)
        self.store.truncate_epochs(trial_id, after=initial_epoch)
        if termination is not None and initial_epoch > 0:
            termination.restore(self.store.epochs(trial_id))

        evaluator = _Evaluator(self.dataset, batch_size)
        recorder = EpochRecorder(self.store, trial_id,
                                 annotate=termination.epoch_fields if termination is not None else None)
        guard = NaNGuard()
        # on the CPU, the process's CPU time per step is what other load leaves alone (docs/training.md)
        timer = StepTimer(clock="cpu" if self.distribution.device() == "cpu" else "wall")
        callbacks: list[keras.callbacks.Callback] = [InterruptCheck(), timer, recorder]
        precise = self._precise_bn(batch_size, seed=self.experiment.seed)
        if precise is not None:  # first: what later callbacks save or copy has its statistics
            callbacks.insert(0, precise)
        if termination is not None:  # before the recorder: it records the termination's verdict
            callbacks.insert(0, termination)
        if len(model.outputs) > 1:
            callbacks.insert(0, MainHeadAliases())
        if training.terminate_on_nan:
            callbacks.append(guard)
        if early is not None:
            callbacks.append(early)
        if training.save_interval:
            callbacks.append(IntervalSaver(training.save_interval, TrialLayout(directory).saved, self.store, trial_id,
                                           evaluator))
        callbacks.append(checkpoint)
        if training.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(TrialLayout(directory).tensorboard),
                                                         write_graph=False, profile_batch=0))

        has_validation = self.dataset.size("validation") > 0
        targets = _targets_for(model)
        seed = self.experiment.seed + initial_epoch
        static = self.distribution.xla  # XLA: every step the same shape (the last partial batch is dropped)
        fit_data = self.dataset.split("train", batch_size=batch_size, seed=seed, drop_remainder=static)
        if self.merge_validation and has_validation:
            fit_data = fit_data.concatenate(self.dataset.split("validation", batch_size=batch_size,
                                                               shuffle=True, augment=True,
                                                               seed=seed, drop_remainder=static))
            has_validation = False
        started = time.perf_counter()
        history = model.fit(
            targets(fit_data),
            validation_data=(targets(self.dataset.split("validation", batch_size=batch_size))
                             if has_validation else None),
            # a resumed trial whose stored history had already converged trains no further epoch
            epochs=initial_epoch if termination is not None and termination.converged else training.epochs,
            initial_epoch=initial_epoch, callbacks=callbacks, verbose=self.verbose,
            shuffle=False)  # the training split is shuffled by its tf.data pipeline
        elapsed = time.perf_counter() - started
        train_time = (record.train_time_s or 0.0) + recorder.train_time_s
        epochs_done = initial_epoch + len(history.epoch)
        if guard.reason is not None:
            self.store.update_trial(trial_id, epochs_completed=epochs_done, train_time_s=train_time)
            raise TrialFailed(guard.reason)

        results = evaluator(model)
        for split, values in results.items():
            self.store.record_metrics(trial_id, split, values)
        best_epoch = (early.best_epoch + 1) if early is not None and early.best is not None else epochs_done
        self._save_artifacts(model, directory, results)
        costs = measure_costs(model, self.experiment.costs)
        time_cost = timer.time_cost_s(training.epochs)
        # none when no step was timed after the warm-up: a resumed trial keeps its stored one
        timing = {} if time_cost is None else {"time_cost_s": time_cost}
        curve_fields: dict[str, Any] = {}
        if termination is not None:
            curve_fields = termination.summary(measured_value(termination.settings.monitor, results)).as_fields()
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        self.store.complete_trial(trial_id, best_epoch=best_epoch, epochs_completed=epochs_done,
                                  train_time_s=train_time, **timing, **costs.as_fields(), **curve_fields,
                                  extra={"loss_units": self.loss_units, "precise_bn": precise is not None})
        logger.info("%s: %d epochs in %.1f s (this session), test metrics %s", request.name,
                    len(history.epoch), elapsed, results.get("test", {}))
        # no fitness: that is the search's signed score, built from the store by the run's loop
        return TrialOutcome(request.name, completed=True,
                            metrics={f"{s}_{k}": v for s, vs in results.items() for k, v in vs.items()})

    @property
    def loss_units(self) -> str:
        """``"standardized"`` when losses and metrics are computed on standardised targets (each
        target minus its training-split mean, over its deviation), else ``"raw"``."""
        return "raw" if self.dataset.statistics.targets == "none" else "standardized"

    def _precise_bn(self, batch_size: int | None, *, seed: int) -> PreciseBatchNorm | None:
        """The precise-BN callback when ``[X.training] precise_bn`` applies to this training."""
        training = self.experiment.training
        samples = self.dataset.size("train")
        if self.merge_validation:
            samples += self.dataset.size("validation")
        steps = math.ceil(samples / (batch_size or self.dataset.generator.shape.batch_size))
        if not precise_bn_enabled(training.precise_bn, steps):
            return None
        if training.precise_bn == "auto":
            logger.info("precise_bn: on (%d steps per epoch <= %d); the BN statistics are recomputed over the "
                        "training split before each validation", steps, PRECISE_BN_AUTO_STEPS)
        return PreciseBatchNorm(lambda: self.dataset.split("train", batch_size=batch_size, shuffle=True,
                                                           augment=False, seed=seed),
                                max_batches=training.precise_bn_batches)

    def _termination(self) -> LearningCurveTermination | None:
        """The learning-curve early termination of a trial, if configured and its metric is logged.

        A final training (``merge_validation``) logs no validation metrics, so a ``val_*``
        monitor has nothing to follow there.
        """
        settings = self.experiment.training.early_termination
        if settings is None or (self.merge_validation and settings.monitor.startswith("val_")):
            return None
        if self.termination_off is not None:
            logger.info("early termination stays off for this run (its stopper raised: %s)", self.termination_off)
            return None
        target = self.experiment.training.epochs

        def switch_off(exc: BaseException) -> None:
            self.termination_off = f"{type(exc).__name__}: {exc}"

        try:
            front = self._front(settings.monitor, target) if STOPPERS.get(settings.stopper).needs_front else []
            return LearningCurveTermination(settings, target_epoch=target, front=front, on_error=switch_off)
        except Exception as exc:  # a stopper that cannot even be built: a bug in it, never the trial's failure
            switch_off(exc)
            logger.warning("early termination is switched off for this run: the %r stopper raised when built "
                           "(%s)", settings.stopper, self.termination_off)
            return None

    def _front(self, monitor: str, target_epoch: int) -> list[FrontPoint]:
        """The completed trials as (estimate, cost) points, for a stopper that needs the search's front.

        Only a store that lists its trials has them (the run store; a worker's trial journal does
        not, and its stopper then sees an empty front).
        """
        trials = getattr(self.store, "trials", None)
        if trials is None:
            return []
        points: list[FrontPoint] = []
        for record in trials("completed"):
            if record.monitor != monitor or record.estimate is None or not math.isfinite(record.estimate):
                continue
            cost = predicted_cost([epoch.epoch_time_s for epoch in self.store.epochs(record.trial_id)], target_epoch)
            if cost is not None:
                points.append(FrontPoint(record.estimate, cost))
        return points

    def _save_artifacts(self, model: keras.Model, directory: Path,
                        results: dict[str, dict[str, float]]) -> None:
        statistics = self.dataset.statistics
        layers: list[keras.layers.Layer] = [keras.Input(shape=self.dataset.info.input_shape)]  # type: ignore[list-item]
        layers.append(statistics.input_layer())
        layers.append(_main_head(model))
        output = statistics.target_output_layer()
        if output is not None:
            layers.append(output)
        inference = keras.Sequential(layers, name=f"{model.name}_inference")
        atomic_save_model(inference, TrialLayout(directory).model)
        statistics.save(TrialLayout(directory).normalization)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            model.summary(print_fn=lambda line, *_, **__: buffer.write(line + "\n"))
        write_text_atomic(TrialLayout(directory).summary, buffer.getvalue())
        write_json_atomic(TrialLayout(directory).metrics, results, sort_keys=True)
