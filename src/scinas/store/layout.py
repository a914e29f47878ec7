"""The names of every path of a run folder, in one place.

A run folder ``results/<experiment>/<run-id>/`` is read by resume, ``scinas report``,
``scinas predict``, the trackers and the dashboard, and written by the coordinator, the
executors and the trainer.  They all spell its paths through :class:`RunLayout` (and
:class:`TrialLayout` for one trial's folder), so a file is renamed in one place::

    layout = RunLayout(run_dir)
    RunStore.open(layout.store)
    layout.trial("t0003").model            # trials/t0003/model.keras

Layout::

    configurations.toml, data.toml   the resolved configuration (a config folder of its own)
    manifest.json                    versions, git revision, seed, host, devices
    store.sqlite (+ .lock)           runs, trials, epochs and metrics (the data commons)
    csv/                             trials/epochs/metrics.csv, training_results.csv,
                                     pareto_front.csv, search_summary.csv, the Pareto
                                     strategy's per-step predictions
    strategy.json                    the search strategy's state (resume)
    search_timing.json               wall time of the search so far (resume)
    search_summary.json              the search's summary
    final_metrics.json               metrics of every split of each completed trial
    trials/<trial>/                  see TrialLayout
    predictors/                      the predictors' measured vs predicted values per step
    plots/                           search plots
    autobuild/                       ranked units and a reduced space (`scinas autobuild`)
    best_model/                      the chosen model: Keras, ONNX, summary, parity check
    tensorboard/, tracking.json      run-level TensorBoard logs, trackers' resume state
    slurm/                           submitit's job files (Slurm executor, its log_folder)
    report.html, report/             the run report and its figures
    run.log                          the log of the run

Only names live here: no file is read or written, so every layer can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scinas.config.loading import DATA_FILE, EXPERIMENTS_FILE

__all__ = ["AutobuildLayout", "BestModelLayout", "DartsLayout", "RunLayout", "TrialLayout"]


@dataclass(frozen=True)
class BestModelLayout:
    """The paths of ``best_model/`` (written by :func:`scinas.export.best_model.write_best_model`)."""

    root: Path

    @property
    def keras(self) -> Path:
        """``model.keras``: the chosen model, normalisation included."""
        return self.root / "model.keras"

    @property
    def onnx(self) -> Path:
        """``model.onnx``: its ONNX export (when tf2onnx is installed)."""
        return self.root / "model.onnx"

    @property
    def parity(self) -> Path:
        """``parity.json``: how closely the ONNX export reproduces the Keras model."""
        return self.root / "parity.json"

    @property
    def summary_txt(self) -> Path:
        """``summary.txt``: the Keras summary."""
        return self.root / "summary.txt"

    @property
    def summary_json(self) -> Path:
        """``summary.json``: architecture, costs, test metrics, task (read by ``scinas predict``)."""
        return self.root / "summary.json"

    @property
    def cell_plot(self) -> Path:
        """``cell.png``: the cell drawing (when graphviz is installed)."""
        return self.root / "cell.png"

    @property
    def cell_dot(self) -> Path:
        """``cell.dot``: the cell as a Graphviz program."""
        return self.root / "cell.dot"

    @property
    def predictions(self) -> Path:
        """``predictions/``: what ``scinas predict`` wrote for this model, one folder per dataset."""
        return self.root / "predictions"

    def files(self) -> tuple[Path, ...]:
        """Every file of ``best_model/`` named here."""
        return (self.keras, self.onnx, self.parity, self.summary_txt, self.summary_json, self.cell_plot,
                self.cell_dot)


@dataclass(frozen=True)
class AutobuildLayout:
    """The paths of ``autobuild/`` (written by ``scinas autobuild``, see docs/autobuild.md)."""

    root: Path

    @property
    def summary(self) -> Path:
        """``autobuild.json``: the target, the trials used and dropped, every unit and operator score."""
        return self.root / "autobuild.json"

    @property
    def units(self) -> Path:
        """``units.csv``: the operator pairs, best first, with their scores."""
        return self.root / "units.csv"

    @property
    def operators(self) -> Path:
        """``operators.csv``: the operators, by importance."""
        return self.root / "operators.csv"

    @property
    def sub_cells(self) -> Path:
        """``sub_cells.csv``: the two-block units (a block and a block reading it), best first."""
        return self.root / "sub_cells.csv"

    @property
    def reduced_space(self) -> Path:
        """``reduced_space.toml``: an experiment that searches the reduced space (paste or run it)."""
        return self.root / "reduced_space.toml"

    @property
    def best_cell(self) -> Path:
        """``best_cell.json``: the best trial's cell graph and each node's importance per hop."""
        return self.root / "best_cell.json"

    def best_cell_plot(self, hop: int) -> Path:
        """``best_cell_hop<h>.png``: that graph, nodes coloured by their importance at hop ``h`` (Graphviz)."""
        return self.root / f"best_cell_hop{hop}.png"

    def files(self) -> tuple[Path, ...]:
        """Every file of ``autobuild/`` named here (the drawings, one per hop, aside)."""
        return (self.summary, self.units, self.operators, self.sub_cells, self.reduced_space, self.best_cell)


@dataclass(frozen=True)
class DartsLayout:
    """The paths of a DARTS supernet trial's search folder ``trials/<trial>/darts/``."""

    root: Path

    @property
    def checkpoint(self) -> Path:
        """``checkpoint/``: weights, α, both optimisers' states and the epoch (resume)."""
        return self.root / "checkpoint"

    @property
    def alpha(self) -> Path:
        """``alpha.json``: softmax(α) of both cells after every epoch, and the training losses."""
        return self.root / "alpha.json"

    @property
    def genotype_txt(self) -> Path:
        """``genotype.txt``: the derived genotype in DARTS' text form."""
        return self.root / "genotype.txt"

    @property
    def genotype_json(self) -> Path:
        """``genotype.json``: the derived genotype as JSON (what the evaluation trials read)."""
        return self.root / "genotype.json"

    @property
    def cells_txt(self) -> Path:
        """``cells.txt``: the genotype's two cells in scinas' cell notation."""
        return self.root / "cells.txt"

    @property
    def cell_plot(self) -> Path:
        """``cell.png``: the base name of the cell drawings (with Graphviz)."""
        return self.root / "cell.png"


@dataclass(frozen=True)
class TrialLayout:
    """The paths of one trial's folder ``trials/<trial>/``."""

    root: Path

    @property
    def model(self) -> Path:
        """``model.keras``: the trained model (inference form)."""
        return self.root / "model.keras"

    @property
    def normalization(self) -> Path:
        """``normalization.npz``: the input/target statistics the model was trained with."""
        return self.root / "normalization.npz"

    @property
    def summary(self) -> Path:
        """``summary.txt``: the Keras summary of the model."""
        return self.root / "summary.txt"

    @property
    def metrics(self) -> Path:
        """``metrics.json``: the final metrics of every split."""
        return self.root / "metrics.json"

    @property
    def model_plot(self) -> Path:
        """``model.png``: the model graph (when graphviz is installed)."""
        return self.root / "model.png"

    @property
    def cell_plot(self) -> Path:
        """``cell.png``: the cell drawing (cell networks, when graphviz is installed)."""
        return self.root / "cell.png"

    @property
    def cell_dot(self) -> Path:
        """``cell.dot``: the cell as a Graphviz program (written beside ``cell.png``)."""
        return self.root / "cell.dot"

    @property
    def checkpoint(self) -> Path:
        """``checkpoint/``: the resume checkpoint (last model, state, best weights), removed when done."""
        return self.root / "checkpoint"

    @property
    def saved(self) -> Path:
        """``saved/``: models saved every ``save_interval`` epochs."""
        return self.root / "saved"

    @property
    def tensorboard(self) -> Path:
        """``tensorboard/``: the trial's Keras TensorBoard logs."""
        return self.root / "tensorboard"

    @property
    def darts(self) -> DartsLayout:
        """``darts/``: a DARTS supernet trial's search folder (see :class:`DartsLayout`)."""
        return DartsLayout(self.root / "darts")

    @property
    def journal(self) -> Path:
        """``journal.jsonl``: what a worker process recorded, replayed by the coordinator."""
        return self.root / "journal.jsonl"

    @property
    def task(self) -> Path:
        """``task.json``: the task a local worker process or a Slurm job runs (JSON, owner only)."""
        return self.root / "task.json"

    @property
    def worker_log(self) -> Path:
        """``worker.log``: the output of the trial's worker process."""
        return self.root / "worker.log"

    def files(self) -> tuple[Path, ...]:
        """Every file of the trial folder named here."""
        return (self.model, self.normalization, self.summary, self.metrics, self.model_plot, self.cell_plot,
                self.cell_dot, self.journal, self.task, self.worker_log)

    def folders(self) -> tuple[Path, ...]:
        """Folders whose files are named by their writer (Keras, TensorBoard, the DARTS search)."""
        return (self.checkpoint, self.saved, self.tensorboard, self.darts.root)


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run folder (see the module docstring for the tree)."""

    root: Path

    # -- configuration and identity ------------------------------------------------------------
    @property
    def experiments_config(self) -> Path:
        """``configurations.toml``: the resolved experiment, ``default = [<experiment>]``."""
        return self.root / EXPERIMENTS_FILE

    @property
    def data_config(self) -> Path:
        """``data.toml``: the resolved dataset of the experiment."""
        return self.root / DATA_FILE

    @property
    def manifest(self) -> Path:
        """``manifest.json``: versions, git revision, seed, host, devices."""
        return self.root / "manifest.json"

    @property
    def store(self) -> Path:
        """``store.sqlite``: the run store."""
        return self.root / "store.sqlite"

    @property
    def store_lock(self) -> Path:
        """``store.sqlite.lock``: the writer lock of the store."""
        return self.root / "store.sqlite.lock"

    @property
    def run_log(self) -> Path:
        """``run.log``: the log of the run."""
        return self.root / "run.log"

    # -- search state and results --------------------------------------------------------------
    @property
    def strategy_state(self) -> Path:
        """``strategy.json``: the search strategy's state, read on resume."""
        return self.root / "strategy.json"

    @property
    def search_timing(self) -> Path:
        """``search_timing.json``: wall time of the search so far, read on resume."""
        return self.root / "search_timing.json"

    @property
    def search_summary(self) -> Path:
        """``search_summary.json``: what the search did and found."""
        return self.root / "search_summary.json"

    @property
    def final_metrics(self) -> Path:
        """``final_metrics.json``: metrics of every split of each completed trial."""
        return self.root / "final_metrics.json"

    @property
    def csv(self) -> Path:
        """``csv/``: the store's tables and the search's tables as CSV."""
        return self.root / "csv"

    @property
    def training_results_csv(self) -> Path:
        """``csv/training_results.csv``: one row per trial."""
        return self.csv / "training_results.csv"

    @property
    def pareto_front_csv(self) -> Path:
        """``csv/pareto_front.csv``: the trials of the Pareto front."""
        return self.csv / "pareto_front.csv"

    @property
    def search_summary_csv(self) -> Path:
        """``csv/search_summary.csv``: ``search_summary.json`` as key/value rows."""
        return self.csv / "search_summary.csv"

    @property
    def predictors(self) -> Path:
        """``predictors/``: measured vs predicted values of the search's predictors per step."""
        return self.root / "predictors"

    @property
    def plots(self) -> Path:
        """``plots/``: the search plots."""
        return self.root / "plots"

    @property
    def autobuild(self) -> AutobuildLayout:
        """``autobuild/``: the ranked units and the reduced space (``scinas autobuild``)."""
        return AutobuildLayout(self.root / "autobuild")

    @property
    def best_model(self) -> Path:
        """``best_model/``: the chosen model (its files: :class:`BestModelLayout`)."""
        return self.root / "best_model"

    # -- trials --------------------------------------------------------------------------------
    @property
    def trials(self) -> Path:
        """``trials/``: one folder per trial."""
        return self.root / "trials"

    def trial(self, name: str) -> TrialLayout:
        """The layout of trial ``name``'s folder."""
        return TrialLayout(self.trials / name)

    def slurm_logs(self, folder: str = "slurm") -> Path:
        """``slurm/`` (``[X.execution.slurm] log_folder``): submitit's files, one folder per job."""
        return self.root / folder

    # -- tracking and report -------------------------------------------------------------------
    @property
    def tensorboard(self) -> Path:
        """``tensorboard/``: run-level TensorBoard logs (the ``tensorboard`` tracker)."""
        return self.root / "tensorboard"

    @property
    def tracking_state(self) -> Path:
        """``tracking.json``: the trackers' resume state."""
        return self.root / "tracking.json"

    @property
    def report(self) -> Path:
        """``report.html``: the run report."""
        return self.root / "report.html"

    @property
    def report_figures(self) -> Path:
        """``report/``: the report's figures."""
        return self.root / "report"

    # -- what the layout names -----------------------------------------------------------------
    def files(self) -> tuple[Path, ...]:
        """Every run-level file named here."""
        return (self.experiments_config, self.data_config, self.manifest, self.store, self.store_lock,
                self.run_log, self.strategy_state, self.search_timing, self.search_summary, self.final_metrics,
                self.training_results_csv, self.pareto_front_csv, self.search_summary_csv,
                self.tracking_state, self.report, *BestModelLayout(self.best_model).files())

    def folders(self) -> tuple[Path, ...]:
        """Folders whose files are named by their writer (CSV tables, plots, TensorBoard, submitit, ...)."""
        return (self.csv, self.predictors, self.plots, self.tensorboard, self.report_figures, self.slurm_logs(),
                BestModelLayout(self.best_model).predictions)

    def names(self, path: Path) -> bool:
        """Whether ``path`` (inside the run folder) is a path this layout names.

        A path is named when it is one of :meth:`files`, or lies in one of :meth:`folders` or a
        trial's folders, or is a file of a trial folder (:meth:`TrialLayout.files`).
        """
        path = Path(path)
        if path in self.files() or any(_within(path, folder) for folder in self.folders()):
            return True
        try:
            relative = path.relative_to(self.trials)
        except ValueError:
            return False
        trial = self.trial(relative.parts[0]) if relative.parts else None
        return trial is not None and (path in trial.files() or any(_within(path, f) for f in trial.folders()))


def _within(path: Path, folder: Path) -> bool:
    return path != folder and path.is_relative_to(folder)
