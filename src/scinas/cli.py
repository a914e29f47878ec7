"""The ``scinas`` command line: ``run``, ``list``, ``predict``, ``report``, ``export``, ``autobuild``, ``serve``,
``xfel preview``.

Output: ``run`` shows one progress display per search and one line per finished trial (whole
lines when the output is not a terminal or with ``--no-progress``); its full log is ``run.log`` in
the run folder.  ``-v`` adds the log, Keras' own per-epoch lines and TensorFlow's C++ start-up
lines (kept off the console otherwise); ``-q`` shows only warnings, errors and the results.

Exit codes: 0 success; 1 a run failed (a trial failed, data could not be made); 2 a
configuration or usage error (one message, no traceback); 130 interrupted (the run folder
stays resumable).

Examples::

    scinas run E A                       # run experiments E and A of config/configurations.toml
    scinas run CONFIGS='E A'             # the seed project's form (also: CONFIGS from the environment)
    scinas run E E.training.epochs=2     # override any key
    scinas run --resume results/E/20261122-083012-3fa2
    scinas list
    scinas predict --model results/E/<run>/best_model --data dtest   # a dataset's test split
    scinas predict --model model.onnx --data new_samples.npz --out predictions/
    scinas xfel preview --out xfel.png --seed 3                      # diffraction patterns, 3 intensities
    scinas report results/A/<run>                  # report.html + figures (also written after every run)
    scinas export results/A/<run> --format parquet # the store's tables as Parquet (or CSV) files
    scinas autobuild results/A/<run> --top-k 3     # rank the blocks, write a reduced space to search next
    scinas serve --results results                 # the live dashboard on http://127.0.0.1:8765
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scinas import __version__
from scinas.config.arguments import split_arguments
from scinas.errors import ConfigError, ScinasError

if TYPE_CHECKING:
    from scinas.experiment.run import ExperimentRun

__all__ = ["main", "split_arguments"]

logger = logging.getLogger("scinas.cli")
_COMMANDS = ("run", "list", "predict", "xfel", "report", "export", "autobuild", "serve")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (exit 2 with one message) instead of exiting itself."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message, file="command line", fix=f"see `{self.prog} --help`")


def _parser() -> _Parser:
    parser = _Parser(prog="scinas", description="Neural architecture search and TOML-driven experiments.")
    parser.add_argument("--version", action="version", version=f"scinas {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = commands.add_parser("run", help="run experiments of configurations.toml",
                              description="Run the named experiments in order (default: the file's "
                                          "`default = [...]`). Arguments: experiment names, "
                                          "CONFIGS='E A', and KEY=VALUE overrides such as "
                                          "E.training.epochs=2.")
    run.add_argument("items", nargs="*", metavar="NAME|KEY=VALUE")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue an interrupted run from its folder results/<experiment>/<run-id>")
    _common(run)
    run.add_argument("--results", type=Path, default=Path(os.environ.get("SCINAS_RESULTS", "results")),
                     help="results root (default: results, or $SCINAS_RESULTS)")
    run.add_argument("--cache-dir", type=Path, default=None,
                     help="dataset cache (default: <results>/.cache, or $SCINAS_CACHE_DIR)")
    run.add_argument("--no-progress", action="store_true",
                     help="whole lines instead of progress bars (the default when the output is not a terminal)")
    listing = commands.add_parser("list", help="list experiments and datasets")
    _common(listing)
    _predict_parser(commands)
    _xfel_parser(commands)
    _report_parsers(commands)
    _autobuild_parser(commands)
    _serve_parser(commands)
    return parser


def _autobuild_parser(commands: Any) -> None:
    autobuild = commands.add_parser(
        "autobuild", help="rank the blocks of a finished search and write a reduced space to search next",
        description="Fit the interpretable ranking predictor on the completed search trials of a run, rank every "
                    "operator pair (block) they used by its importance, and write <RUN_DIR>/autobuild/: units.csv, "
                    "operators.csv, autobuild.json and reduced_space.toml, an experiment that searches only the "
                    "--top-k best pairs ([X.search_space] operator_pairs). See docs/autobuild.md.")
    autobuild.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder results/<experiment>/<run-id>")
    autobuild.add_argument("--top-k", type=int, default=3, metavar="K", help="operator pairs kept (default: 3)")
    autobuild.add_argument("--target", default=None, metavar="FORMULA",
                           help="rank by a formula over the trials' metrics and costs, e.g. 'accuracy / params' "
                                "(default: the run's own score or target)")
    autobuild.add_argument("--direction", default=None, metavar="max|min",
                           help="whether larger or smaller --target values are better (default: max)")
    autobuild.add_argument("--rank-by", default="predicted", metavar="predicted|importance",
                           help="keep the units whose cells the predictor expects to score best (default), or the "
                                "units of largest node importance")
    autobuild.add_argument("--min-trials", type=int, default=10, metavar="N",
                           help="the fewest usable trials accepted (default: 10, at least 4)")
    autobuild.add_argument("--epochs", type=int, default=120, metavar="N", help="ranking predictor epochs (120)")
    autobuild.add_argument("--ensemble", type=int, default=3, metavar="N", help="ranking predictor ensemble (3)")
    autobuild.add_argument("--samples", type=int, default=2000, metavar="N",
                           help="random cells of the space predicted to score the units (2000)")
    autobuild.add_argument("--seed", type=int, default=None, metavar="N", help="seed (default: the run's)")
    autobuild.add_argument("--name", default=None, metavar="NAME",
                           help="the reduced space's experiment (default: <experiment>_reduced)")
    autobuild.add_argument("--out", type=Path, default=None, metavar="DIR",
                           help="output folder (default: <RUN_DIR>/autobuild)")
    _verbosity(autobuild)


def _serve_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help="a live web dashboard over a results folder (starts, stops and resumes runs)",
        description="Serve a dashboard of the runs under --results: trials, Pareto fronts, hypervolume, "
                    "predicted vs measured, learning curves, updated live; and a queue to start, stop and resume "
                    "runs. Loopback only unless --token or a token is generated for another --host. Needs the "
                    "serve extra. See docs/dashboard.md.")
    serve.add_argument("--results", type=Path, default=Path(os.environ.get("SCINAS_RESULTS", "results")),
                       help="results root (default: results, or $SCINAS_RESULTS)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    serve.add_argument("--read-only", action="store_true", help="no control actions (start, stop, resume)")
    serve.add_argument("--token", default=os.environ.get("SCINAS_SERVE_TOKEN"),
                       help="access token (default: $SCINAS_SERVE_TOKEN; generated and shown once when --host is "
                            "not loopback)")
    _common(serve)


def _report_parsers(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="write the HTML report of a run",
        description="Write report.html (self-contained: figures embedded, no network resources) and its PNG "
                    "figures under report/ for a run folder. Every run writes it at its end; this rewrites it, "
                    "e.g. for a run that is still going or was interrupted.")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder results/<experiment>/<run-id>")
    report.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where report.html and report/ go (default: the run folder)")
    _verbosity(report)
    export = commands.add_parser(
        "export", help="export the run store's tables (CSV or Parquet)",
        description="Write the run store's tables trials, epochs and metrics (one file each) for pandas, R or a "
                    "spreadsheet. Parquet needs the parquet extra (pyarrow).")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder results/<experiment>/<run-id>")
    export.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default: csv)")
    export.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output folder (default: <RUN_DIR>/csv or <RUN_DIR>/parquet)")
    _verbosity(export)


def _xfel_parser(commands: Any) -> None:
    xfel = commands.add_parser("xfel", help="XFEL diffraction data tools",
                               description="Tools for the XFEL diffraction datasets (generator = \"xfel\").")
    actions = xfel.add_subparsers(dest="action", parser_class=_Parser)
    preview = actions.add_parser(
        "preview", help="draw patterns of each conformation at several beam intensities",
        description="Write a PNG grid of simulated diffraction patterns (log scale): one row per conformation "
                    "and orientation, one column per beam intensity. The set-up is the xfel generator's "
                    "defaults, or that of a dataset of data.toml (--dataset).")
    preview.add_argument("--out", type=Path, default=Path("xfel_preview.png"), metavar="FILE.png",
                         help="the PNG to write (default: xfel_preview.png)")
    preview.add_argument("--seed", type=int, default=0, metavar="N", help="orientations and photon noise (0)")
    preview.add_argument("--per-class", type=int, default=2, metavar="N", help="orientations per conformation (2)")
    preview.add_argument("--intensities", type=float, nargs="+", default=None, metavar="I",
                         help="beam intensities in photons/µm² (default: 1e14 1e15 1e16)")
    preview.add_argument("--dataset", default=None, metavar="NAME",
                         help="take the molecules and geometry from this xfel dataset of data.toml")
    _common(preview)


def _predict_parser(commands: Any) -> None:
    predict = commands.add_parser(
        "predict", help="predict new data with a saved model",
        description="Predict with a saved model (.keras or .onnx, or a folder holding model.keras/model.onnx "
                    "such as best_model/ or a trial folder) on a dataset of data.toml (its test split) or on a "
                    ".npz (x, optional y), .npy or .csv file. Writes predictions.csv, analysis.json and "
                    "analysis.txt.")
    predict.add_argument("--model", type=Path, required=True, metavar="M", help="model file or folder")
    predict.add_argument("--data", required=True, metavar="D", help="dataset name or .npz/.npy/.csv file")
    predict.add_argument("--out", type=Path, default=None, metavar="O",
                         help="output folder (default: <model folder>/predictions/<data name>)")
    predict.add_argument("--batch-size", type=int, default=256, metavar="N", help="samples per batch (256)")
    predict.add_argument("--target-column", default=None, metavar="NAME", help="label column of a .csv file")
    predict.add_argument("--task", choices=("classification", "regression", "segmentation"), default=None,
                         help="override the task (default: from the dataset, the model's summary.json or its "
                              "output layer)")
    predict.add_argument("--cache-dir", type=Path, default=None,
                         help="dataset cache (default: $SCINAS_CACHE_DIR, or results/.cache)")
    _common(predict)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-dir", type=Path, default=Path(os.environ.get("SCINAS_CONFIG_DIR", "config")),
                        help="folder with configurations.toml and data.toml (default: config)")
    _verbosity(parser)


def _verbosity(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="only warnings, errors and the results")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="also the full log, Keras' per-epoch lines and TensorFlow's start-up lines")


def _command_list(args: argparse.Namespace) -> int:
    from scinas.config.loading import load_config
    from scinas.data import spec
    from scinas.experiment.listing import describe_experiment

    raw = load_config(args.config_dir)
    print(f"Experiments ({raw.experiments_file}):")
    for name in raw.experiment_names():
        marker = "*" if raw.default and name in raw.default else " "
        print(f" {marker} {name:<16} {describe_experiment(raw, name)}")
    print(f"\nDatasets ({raw.data_file}):")
    for name, table in raw.datasets.items():
        generator = table.get("generator", spec.DEFAULT_GENERATOR)
        print(f"   {name:<16} [{generator}] {spec.dataset_description(raw, name)}")
    if raw.default:
        print("\n* = run by default (`default = [...]`)")
    return EXIT_OK


def _start_tensorflow(args: argparse.Namespace) -> None:
    """Load TensorFlow before anything imports it: its start-up lines only with ``-v``."""
    from scinas.console import start_tensorflow

    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's later info and warnings
    start_tensorflow(show=args.verbose)


def _command_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from scinas.config.loading import load_config

    names, overrides = split_arguments(args.items)
    cache_env = os.environ.get("SCINAS_CACHE_DIR")
    cache_root = args.cache_dir or (Path(cache_env) if cache_env else None)
    if args.resume is not None and (names or overrides):
        raise ConfigError("--resume takes no experiment names or overrides: a run resumes with the "
                          "configuration saved in its folder", file="command line",
                          fix="drop the names, or start a new run without --resume")
    raw = load_config(args.config_dir, overrides) if args.resume is None else None  # TOML errors: no TensorFlow
    _start_tensorflow(args)
    from scinas.experiment.plan import plan_experiments
    from scinas.experiment.run import ExperimentRun, RunResult

    progress = not args.no_progress
    # Keras' own per-epoch lines only with -v (then Keras picks bars on a terminal, else one line per epoch).
    verbose = None if args.verbose else 0
    results: list[RunResult] = []
    if raw is None:
        run = ExperimentRun.resume(args.resume, cache_root=cache_root, progress=progress, verbose=verbose)
        try:
            with _console(args, run):
                results.append(run.execute())
        finally:
            run.close()
    else:
        plans = plan_experiments(raw, names)  # everything is validated before anything runs
        for plan in plans:
            run = ExperimentRun.start(plan, args.results, cache_root=cache_root, argv=["scinas", *argv],
                                      progress=progress, verbose=verbose)
            logger.info("experiment %s: %s", plan.name, run.run_dir)
            try:
                with _console(args, run):
                    results.append(run.execute())
            finally:
                run.close()
    for result in results:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.test_metrics.items()))
        print(f"{result.experiment}: {result.status} - {result.run_dir}" + (f" - test {metrics}" if metrics else ""))
        for failure in result.failures:
            print(f"  failed: {failure}")
    return EXIT_OK if all(r.status == "completed" for r in results) else EXIT_FAILED


@contextlib.contextmanager
def _console(args: argparse.Namespace, run: ExperimentRun) -> Iterator[None]:
    """Show ``run``'s progress (see :mod:`scinas.console.progress`): nothing with ``-q``; whole lines
    with ``-v``, ``--no-progress`` or when standard output is not a terminal; else live bars."""
    if args.quiet:
        yield
        return
    from scinas.console import LiveView, PlainView, RunConsole, RunOutline
    from scinas.console.progress import logs_above_bars

    live = not (args.verbose or args.no_progress) and sys.stdout.isatty()
    view = LiveView(sys.stdout) if live else PlainView(sys.stdout)
    console = RunConsole(RunOutline.of(run.plan.config, run.run_dir), view)
    with contextlib.ExitStack() as stack:
        if live:  # log records are printed above the bars instead of through them
            stack.enter_context(logs_above_bars())
        stack.enter_context(console.attached(run.store))
        yield


def _command_predict(args: argparse.Namespace) -> int:
    _start_tensorflow(args)
    from scinas.export.predict import run_prediction

    cache_env = os.environ.get("SCINAS_CACHE_DIR")
    results = Path(os.environ.get("SCINAS_RESULTS", "results"))
    cache_root = args.cache_dir or (Path(cache_env) if cache_env else results / ".cache")
    report = run_prediction(args.model, args.data, out=args.out, config_dir=args.config_dir, cache_dir=cache_root,
                            batch_size=args.batch_size, target_column=args.target_column, task=args.task)
    metrics = report.metrics
    if "accuracy" in metrics:
        summary = f"accuracy {metrics['accuracy']:.4f}"
    elif "r2" in metrics:
        summary = f"MAE {metrics['mae']:.4g}, RMSE {metrics['rmse']:.4g}, R² {metrics['r2']:.4f}"
    else:
        summary = "no labels"
    print(f"{report.n} samples ({report.task}, {report.model_format}): {summary}; "
          f"{report.timings['latency_ms_per_sample']:.3g} ms/sample - {report.out_dir}")
    return EXIT_OK


def _command_xfel(args: argparse.Namespace) -> int:
    from scinas.analysis.xfel_preview import DEFAULT_INTENSITIES, write_preview

    if args.action != "preview":
        raise ConfigError("scinas xfel needs an action", file="command line", fix="use `scinas xfel preview`")
    parameters = None
    if args.dataset is not None:
        from scinas.config.loading import load_config
        from scinas.data.spec import build_generator
        from scinas.data.xfel import XfelGenerator

        generator = build_generator(load_config(args.config_dir), args.dataset)
        if not isinstance(generator, XfelGenerator):
            raise ConfigError(f"dataset {args.dataset!r} is made by the {generator.name} generator, not xfel",
                              file="command line", fix="name a dataset with generator = \"xfel\"")
        parameters = generator.parameters
    result = write_preview(args.out, parameters, seed=args.seed, per_class=args.per_class,
                           intensities=tuple(args.intensities or DEFAULT_INTENSITIES))
    lit = ", ".join(f"{intensity:.0e}: {100 * fraction:.2g}%" for intensity, fraction in result.lit_fractions.items())
    print(f"{result.path}: {result.grid[0]} x {result.grid[1]} patterns (pixels lit: {lit})")
    return EXIT_OK


def _command_report(args: argparse.Namespace) -> int:
    from scinas.analysis.report import write_report

    result = write_report(args.run_dir, args.out)
    print(f"{result.html} ({len(result.figures)} figures)")
    return EXIT_OK


def _command_export(args: argparse.Namespace) -> int:
    from scinas.store import RunStore, StoreError
    from scinas.store.layout import RunLayout
    from scinas.store.tables import export_tables

    store_path = RunLayout(args.run_dir).store
    if not store_path.is_file():
        raise ConfigError(f"{args.run_dir} is not a scinas run folder (no store.sqlite)", file="command line",
                          fix="pass a folder printed when a run started: results/<experiment>/<run-id>")
    try:
        store = RunStore.open(store_path, readonly=True)
    except StoreError as exc:
        raise ConfigError(str(exc), file="command line", fix="pass a scinas run folder") from exc
    with store:
        paths = export_tables(store, args.out or args.run_dir / args.format, args.format)
    print("\n".join(str(path) for path in paths))
    return EXIT_OK


def _command_autobuild(args: argparse.Namespace) -> int:
    if not args.run_dir.is_dir():  # before TensorFlow starts
        raise ConfigError(f"{args.run_dir} is not a folder", file="command line",
                          fix="pass a run folder printed when a run started: results/<experiment>/<run-id>")
    _start_tensorflow(args)
    from scinas.experiment.autobuild import AutobuildSettings, autobuild

    settings = AutobuildSettings(top_k=args.top_k, target=args.target, direction=args.direction,
                                 min_trials=args.min_trials, epochs=args.epochs, ensemble=args.ensemble,
                                 seed=args.seed, rank_by=args.rank_by, samples=args.samples, name=args.name,
                                 out=args.out)
    result = autobuild(args.run_dir, settings)
    kept = set(result.reduced.operator_pairs or ())
    print(f"{result.experiment}: {result.trials} trials ranked by {result.target} "
          f"(ranking predictor, training Kendall tau {result.fit_kendall:.2f}); "
          f"{len(result.dropped)} left out" + (f" (e.g. {result.dropped[0][0]}: {result.dropped[0][1]})"
                                               if result.dropped else ""))
    print(f"{'rank':>4}  {'unit (operator pair)':<36} {'importance':>10} {'predicted':>10} {'cells':>5} "
          f"{'mean target':>11}  kept")
    for index, unit in enumerate(result.ranking.units, start=1):
        print(f"{index:>4}  {unit.label:<36} {unit.importance:>10.3f} {unit.predicted:>10.4g} {unit.cells:>5} "
              f"{unit.mean_target:>11.4g}  {'yes' if unit.operators in kept else ''}")
    print("operators by importance: " + ", ".join(f"{op.operator} {op.importance:.3f}"
                                                  for op in result.ranking.operators))
    if result.ranking.sub_cells:
        print("two-block units (a block, then a block reading it; reported, not kept):")
        for index, sub in enumerate(result.ranking.sub_cells[:5], start=1):
            print(f"{index:>4}  {sub.label:<60} importance {sub.importance:.3f}, predicted {sub.predicted:.4g}, "
                  f"{sub.cells} cells")
    for note in result.notes:
        print(f"note: {note}")
    print(f"reduced space ({result.reduced.describe()}): {result.layout.reduced_space}")
    print(f"run it: paste it into configurations.toml, then `scinas run {result.reduced_experiment}`")
    return EXIT_OK


def _command_serve(args: argparse.Namespace) -> int:
    from scinas.serve import server

    server.check_installed()
    settings, generated = server.settings_for(args.results, args.config_dir, args.host, args.port,
                                              read_only=args.read_only, token=args.token)
    sock = server.bind(args.host, args.port)
    from scinas.serve.app import create_app

    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    app = create_app(settings)
    if not settings.results.is_dir():
        print(f"note: {settings.results} does not exist yet; the dashboard shows it empty", file=sys.stderr)
    shown = " (the generated token is shown only now)" if generated else ""
    print(f"scinas dashboard: {server.address(settings)}{shown}", flush=True)
    server.run(app, sock, log_level="info" if args.verbose else "warning")
    return EXIT_OK


def _configure_logging(args: argparse.Namespace) -> None:
    """Log to standard error: warnings and errors with ``-q``; for ``run`` also without ``-v``, since
    its progress display says what the info records said (they all go to the run's ``run.log``)."""
    console = logging.StreamHandler()
    quiet = getattr(args, "quiet", False) or (args.command == "run" and not getattr(args, "verbose", False))
    console.setLevel(logging.WARNING if quiet else logging.INFO)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", handlers=[console])


def main(argv: Sequence[str] | None = None, *, default_command: str | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if default_command and (not argv or (argv[0] not in _COMMANDS and argv[0] not in
                                         ("-h", "--help", "--version"))):
        argv = [default_command, *argv]
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            _parser().print_help()
            return EXIT_CONFIG
        _configure_logging(args)
        if args.command == "list":
            return _command_list(args)
        if args.command == "predict":
            return _command_predict(args)
        if args.command == "xfel":
            return _command_xfel(args)
        if args.command == "report":
            return _command_report(args)
        if args.command == "export":
            return _command_export(args)
        if args.command == "autobuild":
            return _command_autobuild(args)
        if args.command == "serve":
            return _command_serve(args)
        return _command_run(args, argv)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ScinasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # e.g. a results folder that cannot be written
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
