"""One DARTS search, epoch by epoch, into a folder: memory check, resume, α history, genotype.

:func:`run_supernet_search` trains a :class:`~scinas.models.supernet.Supernet` with
:class:`~scinas.training.bilevel.BilevelSearch` and leaves in ``directory``:

* ``checkpoint/``: weights, α, both optimisers' states and the epoch, rewritten after every
  finished epoch; a search started again on the same folder resumes at the last finished epoch
  and ends with exactly the α of an uninterrupted one (the batches of epoch *e* are drawn from
  ``seed + e``, so nothing else has to be restored);
* ``alpha.json``: softmax(α) of both cells after every epoch (what the report's heat map shows);
* ``genotype.txt`` (DARTS' text), ``genotype.json`` and ``cells.txt`` (scinas' two cells), and
  the drawings ``cell_normal.png`` / ``cell_reduce.png`` (with Graphviz).

Before anything is built, :func:`check_supernet_memory` estimates what the search needs and
refuses one that will not fit, saying which smaller settings would.

Example::

    result = run_supernet_search(settings, info, BilevelSettings(epochs=20), batches, loss,
                                 directory=run_dir / "darts", seed=0)
    result.genotype.to_text()
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from scinas.atomic import write_text_atomic
from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.models.plot import plot_genotype
from scinas.models.supernet import CELL_KINDS, Supernet, SupernetSettings, edge_sources, reduction_layers
from scinas.search_space.darts_ops import darts_name
from scinas.search_space.genotype import Genotype, derive_genotype
from scinas.store.layout import DartsLayout, TrialLayout
from scinas.training.bilevel import BilevelSearch, BilevelSettings

__all__ = ["EpochCallback", "SupernetSearchResult", "alpha_metrics", "available_memory_bytes", "check_supernet_memory",
           "estimate_supernet_bytes", "metric_name", "run_supernet_search"]

logger = logging.getLogger(__name__)

Batches = Callable[[int], Iterable[tuple[tuple[Any, Any], tuple[Any, Any]]]]
"""``batches(epoch)``: that epoch's ``((x_train, y_train), (x_val, y_val))`` pairs."""

_TENSORS_PER_OPERATOR = 4
"""Activations an operator keeps for its backward pass (a separable convolution keeps about this many)."""


def estimate_supernet_bytes(settings: SupernetSettings, info: DatasetInfo, batch_size: int, *, order: int = 1) -> int:
    """An estimate of the memory a search step needs: every candidate's activations on every
    edge (about :data:`_TENSORS_PER_OPERATOR` tensors each, kept for the backward pass), the
    nodes, and the weights with their gradients and optimiser state, in float32.  The second
    order keeps a second set of activations and weights while it unrolls."""
    spatial = [int(n) for n in info.input_shape[:-1]]
    filters = settings.filters
    edges = len(edge_sources(settings.nodes))
    operators = len(settings.operators)
    per_sample = settings.stem_multiplier * filters * math.prod(spatial) * 2
    weights = 0
    for index in range(settings.layers):
        if index in reduction_layers(settings.layers):
            filters *= 2
            spatial = [math.ceil(n / 2) for n in spatial]
        size = filters * math.prod(spatial)
        per_sample += edges * operators * _TENSORS_PER_OPERATOR * size + (2 + settings.nodes) * size * 2
        weights += edges * operators * filters * (filters + 25)  # pointwise + depthwise kernels, roughly
    total = 4 * (batch_size * per_sample + 4 * weights)
    return int(total * (2 if order == 2 else 1))


def available_memory_bytes() -> int | None:
    """The memory the operating system says is available (``MemAvailable``), if it says."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_supernet_memory(settings: SupernetSettings, info: DatasetInfo, batch_size: int, *, order: int = 1,
                          limit_bytes: int | None = None) -> int:
    """The estimate of :func:`estimate_supernet_bytes`; a ConfigError naming the settings when it
    exceeds ``limit_bytes`` (default: the available memory), with the largest batch size and the
    largest filters that would fit."""
    needed = estimate_supernet_bytes(settings, info, batch_size, order=order)
    limit = available_memory_bytes() if limit_bytes is None else limit_bytes
    if limit is None or needed <= limit:
        return needed
    fits_batch = next((b for b in range(batch_size - 1, 0, -1)
                       if estimate_supernet_bytes(settings, info, b, order=order) <= limit), None)
    fits_filters = next((f for f in range(settings.filters - 1, 0, -1)
                         if estimate_supernet_bytes(replace(settings, filters=f), info, batch_size, order=order)
                         <= limit), None)
    options = [f"batch_size = {fits_batch}" if fits_batch else "",
               f"filters = {fits_filters}" if fits_filters else "",
               "fewer operators, nodes or layers", "order = 1" if order == 2 else ""]
    raise ConfigError(f"the supernet needs about {_size(needed)} for a batch of {batch_size} "
                      f"({settings.layers} layers, {settings.nodes} nodes, {len(settings.operators)} operators + "
                      f"none, {settings.filters} filters), more than the {_size(limit)} available",
                      file=settings.file or None, path=f"{settings.path}.filters" if settings.path else "filters",
                      value=settings.filters, fix="use " + " or ".join(o for o in options if o))


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


@dataclass
class SupernetSearchResult:
    """What a search left: its genotype, softmax(α) per finished epoch and the losses."""

    genotype: Genotype
    alphas: list[dict[str, list[list[float]]]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    resumed_at: int = 0
    stopped_at: int | None = None
    """The epoch after which early stopping on α ended the search (``None``: it ran every epoch)."""
    genotype_epoch: int = 0
    """The (1-based) epoch whose α the genotype was derived from (0: the initial α)."""


def _alpha_record(model: Supernet) -> dict[str, list[list[float]]]:
    return {kind: model.edge_weights(kind).tolist() for kind in CELL_KINDS}


EpochCallback = Callable[[int, float, "float | None", dict[str, float]], None]
"""``on_epoch(epoch, loss, seconds, metrics)``: after each finished epoch (1-based), its training
loss, wall time (``None`` for an epoch replayed from the folder on resume) and
:func:`alpha_metrics`."""


def metric_name(operator: str, rank: int) -> str:
    """A candidate's name in a metric key: its DARTS name, else its text with every character but
    letters, digits and ``_`` replaced by ``_`` (``"3:2dr dconv"`` has a DARTS name, ``"7 conv"``
    becomes ``7_conv``), so trackers with strict key rules (MLflow) accept it."""
    name = darts_name(operator, rank)
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def alpha_metrics(record: dict[str, Any], candidates: Sequence[str], nodes: int, rank: int) -> dict[str, float]:
    """One epoch's softmax(α) as flat scalars for the run store: ``alpha_<cell>_e<edge>_<candidate>``
    for every edge and candidate of both cells, and ``parameter_free_<cell>``, the skips and
    poolings of that cell in the genotype derived from them."""
    metrics: dict[str, float] = {}
    names = [metric_name(c, rank) for c in candidates]
    for kind in CELL_KINDS:
        for edge, row in enumerate(record[kind]):
            for name, weight in zip(names, row, strict=True):
                metrics[f"alpha_{kind}_e{edge}_{name}"] = float(weight)
    genotype = derive_genotype({kind: np.asarray(record[kind]) for kind in CELL_KINDS}, candidates, nodes, rank)
    for kind, count in genotype.parameter_free().items():
        metrics[f"parameter_free_{kind}"] = float(count)
    return metrics


def run_supernet_search(settings: SupernetSettings, info: DatasetInfo, bilevel: BilevelSettings, batches: Batches,
                        loss: Callable[[Any, Any], Any], *, directory: Path, seed: int = 0, batch_size: int = 64,
                        memory_limit_bytes: int | None = None, compiled: bool = True,
                        stop_parameter_free: int = 0, stop_warmup: int = 0, on_epoch: EpochCallback | None = None
                        ) -> SupernetSearchResult:
    """Search ``bilevel.epochs`` epochs (resuming from ``directory`` when it holds a checkpoint);
    see the module docstring.

    ``stop_parameter_free`` > 0 is early stopping on α, a counter-measure to DARTS' collapse onto
    parameter-free operations: after every epoch the genotype is derived from α, and once its
    normal cell has at least this many skips and poolings the search stops and keeps the
    genotype of the epoch before (of the first epoch, when that one already has them).  It is
    checked only after the first ``stop_warmup`` epochs: while the weights are untrained, skips and
    poolings (which need none) lead, and fall back as the convolutions learn.

    ``on_epoch`` is called after every finished epoch (see :data:`EpochCallback`); on resume,
    first for the epochs already in the folder, so a store killed a moment before it heard of an
    epoch still gets every one."""
    rank = len(info.input_shape) - 1
    check_supernet_memory(settings, info, batch_size, order=bilevel.order, limit_bytes=memory_limit_bytes)
    directory.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    model = Supernet(settings, info, seed=seed)
    search = BilevelSearch(model, loss, bilevel, compiled=compiled)
    layout = DartsLayout(directory)
    history_path, checkpoint = layout.alpha, layout.checkpoint
    history: dict[str, Any] = {"candidates": list(settings.candidates), "nodes": settings.nodes, "epochs": [],
                               "losses": []}
    start = 0
    stopped_at: int | None = None
    if (checkpoint / "state.json").exists():
        sample = next(iter(batches(0)))[0][0]
        state = search.load(checkpoint, sample)
        start = int(state["epoch"])
        stopped_at = start if state.get("stopped") else None
        history = json.loads(history_path.read_text())
        history["epochs"], history["losses"] = history["epochs"][:start], history["losses"][:start]
        logger.info("DARTS search: resuming after epoch %d of %d", start, bilevel.epochs)
        if on_epoch is not None:
            for done, (record, value) in enumerate(zip(history["epochs"], history["losses"], strict=True), 1):
                on_epoch(done, math.nan if value is None else float(value), None,
                         alpha_metrics(record, settings.candidates, settings.nodes, rank))

    def genotype_of(record: dict[str, Any]) -> Genotype:
        return derive_genotype({kind: np.asarray(record[kind]) for kind in CELL_KINDS}, settings.candidates,
                               settings.nodes, rank)

    for epoch in range(start, bilevel.epochs if stopped_at is None else start):
        began = time.perf_counter()
        loss_value = search.train_epoch(epoch, batches(epoch))
        seconds = time.perf_counter() - began
        history["epochs"].append(_alpha_record(model))
        history["losses"].append(None if math.isnan(loss_value) else loss_value)
        free = genotype_of(history["epochs"][-1]).parameter_free()["normal"]
        if stop_parameter_free and epoch + 1 > stop_warmup and free >= stop_parameter_free:
            stopped_at = epoch + 1
            history["stopped_at"] = stopped_at
        write_text_atomic(history_path, json.dumps(history))
        # state.json last: a complete epoch (and, once stopped, a finished search)
        search.save(checkpoint, extra={"epoch": epoch + 1, "stopped": stopped_at is not None})
        if on_epoch is not None:
            on_epoch(epoch + 1, loss_value, seconds,
                     alpha_metrics(history["epochs"][-1], settings.candidates, settings.nodes, rank))
        logger.info("DARTS search: epoch %d/%d, training loss %.4f, %d parameter-free operations in the "
                    "normal cell", epoch + 1, bilevel.epochs, loss_value, free)
        if stopped_at is not None:
            logger.info("DARTS search: stopped early after epoch %d (stop_parameter_free = %d)", stopped_at,
                        stop_parameter_free)
            break
    genotype_epoch = len(history["epochs"])
    if stopped_at is not None:
        genotype_epoch = max(stopped_at - 1, 1)
    if genotype_epoch:
        genotype = genotype_of(history["epochs"][genotype_epoch - 1])
    else:
        genotype = derive_genotype({kind: model.edge_weights(kind) for kind in CELL_KINDS}, settings.candidates,
                                   settings.nodes, rank)
    write_text_atomic(layout.genotype_txt, genotype.to_text() + "\n")
    write_text_atomic(layout.genotype_json, json.dumps(genotype.to_json(), indent=2))
    cells = genotype.cells()
    write_text_atomic(layout.cells_txt, "".join(f"{kind}: {cells[kind].to_text()}\n" for kind in CELL_KINDS))
    plot_genotype(genotype, layout.cell_plot)
    return SupernetSearchResult(genotype, history["epochs"], [float("nan") if v is None else v
                                                            for v in history["losses"]], start,
                                stopped_at=stopped_at, genotype_epoch=genotype_epoch)


def train_supernet_trial(trainer: Any, request: Any, directory: Path) -> Any:
    """Run the supernet trial ``request`` (a :class:`SupernetArchitecture`) of a DARTS search for
    ``trainer`` (a :class:`~scinas.training.trainer.Trainer`): the search goes into
    ``directory / "darts"`` (resumed from its checkpoint), its genotype onto the trial's record
    (``extra["genotype"]``, with the count of parameter-free operations)."""
    from scinas.models.compile import build_loss
    from scinas.search.base import TrialOutcome
    from scinas.search_space.darts_architecture import SupernetArchitecture
    from scinas.store.records import EpochRecord

    architecture = request.architecture
    if not isinstance(architecture, SupernetArchitecture):
        raise TypeError(f"expected a SupernetArchitecture, got {type(architecture).__name__}")
    experiment, dataset, store = trainer.experiment, trainer.dataset, trainer.store
    record = store.start_trial(request.name, architecture=architecture.to_text(),
                               architecture_json=json.dumps(architecture.to_json()))
    info = dataset.info
    batch_size = experiment.training.batch_size or dataset.generator.shape.batch_size
    settings = SupernetSettings(operators=architecture.operators, layers=architecture.layers,
                                nodes=architecture.nodes, filters=architecture.filters,
                                file=experiment.search.file if experiment.search else "",
                                path=experiment.search.path if experiment.search else "")

    def batches(epoch: int) -> Iterable[tuple[tuple[Any, Any], tuple[Any, Any]]]:
        seed = architecture.seed + epoch
        train = dataset.split("train", batch_size=batch_size, seed=seed)
        validation = dataset.split("validation", batch_size=batch_size, shuffle=True, augment=False, seed=seed)
        return ((a, b) for a, b in zip(train, validation.repeat(), strict=False))

    def record_epoch(epoch: int, loss: float, seconds: float | None, metrics: dict[str, float]) -> None:
        store.record_epoch(EpochRecord(record.trial_id, epoch, metrics={"loss": loss, **metrics}, loss=loss,
                                       epoch_time_s=seconds))

    started = time.perf_counter()
    result = run_supernet_search(settings, info, BilevelSettings(epochs=architecture.epochs, order=architecture.order),
                                 batches, build_loss(experiment.compile.loss, info.task),
                                 directory=TrialLayout(directory).darts.root,
                                 seed=architecture.seed, batch_size=batch_size,
                                 stop_parameter_free=architecture.stop_parameter_free,
                                 stop_warmup=architecture.stop_warmup, on_epoch=record_epoch)
    elapsed = (record.train_time_s or 0.0) + time.perf_counter() - started
    store.complete_trial(record.trial_id, epochs_completed=len(result.alphas), best_epoch=result.genotype_epoch,
                         train_time_s=elapsed,
                         extra={"genotype": result.genotype.to_text(),
                                "parameter_free": result.genotype.parameter_free(),
                                "stopped_at": result.stopped_at, "genotype_epoch": result.genotype_epoch})
    return TrialOutcome(request.name, completed=True)
