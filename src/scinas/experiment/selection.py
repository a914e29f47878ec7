"""After the search: model selection (``[X.selection]``) and the final training (``[X.final]``).

Selection retrains the ``top_k`` cells of the search's Pareto front (best score first) for
``epochs``, once per macro variant whose network stays within ``max_params``; the best by
validation score is chosen.  That score is the trial's fitness, as in the search: a retraining
that learning-curve early termination stopped is ranked by the score predicted for the end of
its budget, not by the (lower) value it had reached when it stopped.  Without a selection table,
the best search trial is chosen.

The final training fits the chosen architecture on train + validation, evaluates it on the test
split, and writes ``best_model/`` (Keras model, ONNX export checked against Keras with
onnxruntime unless ``onnx = false``, the cell plot, a summary).  Every retraining is a trial of the store, named
deterministically, so an interrupted run
resumes these phases like the search: nothing finished is trained again.  Both are phases of
the run's one trial loop (:class:`~scinas.experiment.loop.TrialLoop`): a
:class:`~scinas.search.fixed.PlannedStrategy` asks for their trials, recorded with the phase
``selection`` or ``final`` in the store's ``phase`` column; an interrupted retraining continues
from its checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from scinas.config.experiment import ExperimentConfig
from scinas.config.search import SelectionConfig
from scinas.data.pipeline import PreparedDataset
from scinas.errors import ScinasError
from scinas.execution.inline import InlineExecutor
from scinas.experiment.loop import TrialLoop
from scinas.models.lookup import generator_for
from scinas.models.saving import load_model
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.search.domain import Objectives
from scinas.search.fixed import PlannedStrategy
from scinas.search_space.architecture import Architecture, CellArchitecture
from scinas.search_space.darts_architecture import DartsArchitecture
from scinas.search_space.macro import MacroConfig
from scinas.store import RunStore, TrialPhase, TrialRecord, TrialStatus
from scinas.store.layout import RunLayout
from scinas.training.trainer import Trainer

__all__ = ["PostSearch", "selection_candidates"]

logger = logging.getLogger(__name__)

FINAL_TRIAL = "final"


def selection_candidates(front: Sequence[CellArchitecture], selection: SelectionConfig, base: MacroConfig,
                         info: Any) -> list[CellArchitecture]:
    """The (cell, macro variant) pairs selection retrains, in order, within ``max_params``."""
    chosen: list[CellArchitecture] = []
    seen: set[str] = set()
    for architecture in front[: selection.top_k]:
        for variant in selection.variants:
            macro = dataclasses.replace(base, **dict(variant))
            candidate = CellArchitecture(architecture.cell, macro)
            if candidate.to_text() in seen:
                continue
            if selection.max_params is not None:
                params = generator_for(candidate).count_params(candidate, info)
                if params is not None and params > selection.max_params:
                    logger.info("selection skips %s: %d parameters > max_params = %d", candidate, params,
                                selection.max_params)
                    continue
            seen.add(candidate.to_text())
            chosen.append(candidate)
    return chosen


@dataclass
class PostSearch:
    """Selection and final training of one search run."""

    config: ExperimentConfig
    dataset: PreparedDataset
    store: RunStore
    run_dir: Path
    objectives: Objectives
    verbose: int | None = None

    def select(self, front: Sequence[TrialRecord]) -> Architecture:
        """The architecture the final training uses (see the module docstring)."""
        if not front:
            raise ScinasError("the search completed no trial, so there is nothing to select; see the failure "
                              "reasons in csv/training_results.csv")
        data = [json.loads(record.architecture_json or "{}") for record in front]
        if data[0].get("kind") == "darts":  # a DARTS search: its genotypes, each in its evaluation network
            genotypes = [DartsArchitecture.from_json(item) for item in data]
            return self._select_genotype(genotypes)
        architectures = [CellArchitecture.from_json(item) for item in data]
        selection = self.config.search and self.config.selection
        if not selection:
            return architectures[0]
        candidates = selection_candidates(architectures, selection, architectures[0].macro, self.dataset.info)
        if not candidates:
            logger.warning("no selection candidate fits max_params = %s; keeping the best search cell",
                           selection.max_params)
            return architectures[0]
        training = self.config.training
        config = dataclasses.replace(self.config, training=dataclasses.replace(
            training, epochs=selection.epochs or training.epochs))
        executor = InlineExecutor(Trainer(config, self.dataset, self.store, verbose=self.verbose), self.store,
                                  RunLayout(self.run_dir).trials)
        requests = [TrialRequest(f"select-{index:02d}", candidate) for index, candidate in enumerate(candidates)]
        outcomes = self._run(executor, requests, TrialPhase.SELECTION)
        best: tuple[float, CellArchitecture] | None = None
        for request, candidate in zip(requests, candidates, strict=True):  # the first of equal fitness wins
            fitness = outcomes[request.name].fitness
            if fitness is not None and (best is None or fitness > best[0]):
                best = (fitness, candidate)
        if best is None:
            logger.warning("every selection trial failed; keeping the best search cell")
            return architectures[0]
        return best[1]

    def _select_genotype(self, genotypes: list[DartsArchitecture]) -> Architecture:
        """The best-scoring genotype of a DARTS search, retrained for ``[X.selection] epochs`` when
        there is more than one and a selection table (macro variants do not apply)."""
        selection = self.config.search and self.config.selection
        if not selection or len(genotypes) == 1:
            return genotypes[0]
        training = self.config.training
        config = dataclasses.replace(self.config, training=dataclasses.replace(
            training, epochs=selection.epochs or training.epochs))
        executor = InlineExecutor(Trainer(config, self.dataset, self.store, verbose=self.verbose), self.store,
                                  RunLayout(self.run_dir).trials)
        candidates = genotypes[: selection.top_k]
        requests = [TrialRequest(f"select-{index:02d}", c) for index, c in enumerate(candidates)]
        outcomes = self._run(executor, requests, TrialPhase.SELECTION)
        scored = [(fitness, -i) for i, r in enumerate(requests) if (fitness := outcomes[r.name].fitness) is not None]
        return candidates[-max(scored)[1]] if scored else genotypes[0]

    def final(self, architecture: Architecture) -> dict[str, Any]:
        """Train ``architecture`` on train+validation, evaluate on test, write ``best_model/``."""
        final = self.config.final
        training = self.config.training
        epochs = (final.epochs if final and final.epochs else None) or (
            self.config.selection.epochs if self.config.selection and self.config.selection.epochs else None
        ) or training.epochs
        config = dataclasses.replace(self.config, training=dataclasses.replace(
            training, epochs=epochs, early_stopping=None, early_termination=None))
        executor = InlineExecutor(Trainer(config, self.dataset, self.store, verbose=self.verbose,
                                          merge_validation=True), self.store, RunLayout(self.run_dir).trials)
        self._run(executor, [TrialRequest(FINAL_TRIAL, architecture)], TrialPhase.FINAL)
        record = self.store.trial(FINAL_TRIAL)
        if record is None or record.status != TrialStatus.COMPLETED:
            raise ScinasError(f"the final training failed: {record.failure_reason if record else 'no record'}")
        return self._export(record, architecture, onnx=final.onnx if final else True)

    def export_chosen(self, architecture: Architecture) -> dict[str, Any]:
        """Without a final training: export the trial that trained ``architecture`` (selection first)."""
        text = architecture.to_text()
        trained = [record for record in self.store.trials(TrialStatus.COMPLETED) if record.architecture == text]
        trained.sort(key=lambda record: record.phase != TrialPhase.SELECTION)
        if not trained:
            raise ScinasError(f"no completed trial trained {text}")
        return self._export(trained[0], architecture, onnx=True)

    def _run(self, executor: InlineExecutor, requests: list[TrialRequest], phase: TrialPhase
             ) -> dict[str, TrialOutcome]:
        """Train ``requests`` as ``phase`` in the run's trial loop; their outcomes by name."""
        strategy = PlannedStrategy(requests)
        TrialLoop(strategy, executor, self.store, phase=phase, trials_dir=RunLayout(self.run_dir).trials,
                  objectives=self.objectives).run()
        return strategy.outcomes

    def _export(self, record: TrialRecord, architecture: Architecture, *, onnx: bool) -> dict[str, Any]:
        from scinas.export.best_model import write_best_model

        model = load_model(RunLayout(self.run_dir).trial(record.name).model)
        inputs = _raw_inputs(self.dataset, "test" if self.dataset.size("test") else "validation", limit=64)
        test = {m.name: m.value for m in self.store.metrics(record.trial_id, split="test", epoch="final")}
        summary = {"architecture": architecture.to_text(), "architecture_json": architecture.to_json(),
                   "trial": record.name, "params": record.params, "flops": record.flops,
                   "latency_s": record.latency_s, "train_time_s": record.train_time_s,
                   "epochs": record.epochs_completed, "test_metrics": test}
        report = write_best_model(model, RunLayout(self.run_dir).best_model, architecture_text=architecture.to_text(),
                                  sample_inputs=inputs, summary=summary, onnx=onnx,
                                  cell=architecture.cell if isinstance(architecture, CellArchitecture) else None)
        keras.backend.clear_session()
        return dict(report.to_json()) if hasattr(report, "to_json") else summary


def _raw_inputs(dataset: PreparedDataset, split: str, *, limit: int) -> np.ndarray:
    """Up to ``limit`` un-normalised inputs of ``split`` (what a saved inference model takes)."""
    batches = []
    count = 0
    for x, _ in dataset.split(split, shuffle=False, normalize=False, augment=False):
        batches.append(np.asarray(x))
        count += len(batches[-1])
        if count >= limit:
            break
    return np.asarray(np.concatenate(batches)[:limit])
