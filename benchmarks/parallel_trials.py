"""Trial throughput of the executors: 1 vs 2 local CPU workers, GPU variants, and Slurm's overhead.

Run::

    .venv/bin/python benchmarks/parallel_trials.py                    # CPU: 1 and 2 local workers
    .venv/bin/python benchmarks/parallel_trials.py --trials 8 --epochs 2
    .venv/bin/python benchmarks/parallel_trials.py --gpu              # + GPU variants (skipped without a GPU)
    .venv/bin/python benchmarks/parallel_trials.py --slurm            # + the same trials as Slurm jobs

A fixed batch of ``--trials`` (16) small trials (a dense network on ``--samples`` of the shipped Michaelis–Menten
spectra ``dtest``, ``--epochs`` epochs) is trained through the ``local`` executor with 1 and with 2 worker
processes, each worker limited to one TensorFlow thread so the comparison is fair; every trial is
a fresh process, so its start-up (Python, TensorFlow, reading the cached dataset) is part of the
measured cost.  Throughput is trials per hour of wall time; ``scaling_efficiency`` is the
throughput with 2 workers over twice the throughput with 1 (1.0 is linear scaling).

``--gpu`` adds, when TensorFlow sees a GPU: one trial per GPU with 1 GPU vs all GPUs (local
executor pinning ``CUDA_VISIBLE_DEVICES``), one trial at a time on all GPUs under
MirroredStrategy (inline), and mixed precision / XLA on and off (inline, one GPU); without a GPU
it reports ``"skipped"``.  ``--slurm`` runs the same batch through the Slurm executor on the
cluster ``sbatch`` talks to (2 jobs at a time, 1 CPU each) and compares it with 2 local workers:
``overhead_per_trial_s`` is the extra wall time per trial and slot.  The machine may be shared:
its load is reported with the numbers.  Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import machine_facts

REPO = Path(__file__).resolve().parent.parent
#: The shipped spectra (config/data.toml's ``dtest``), made smaller for the benchmark.
DATA_OVERRIDES = ("dtest.shape.n_samples={samples}", "dtest.shape.n_shards=4", "dtest.shape.batch_size=32")

EXPERIMENT = """
default = ["B"]
[B]
seed = 3
[B.dataset]
training = "dtest"
[B.structure]
layers = [
  {{ type = "Flatten" }},
  {{ type = "Dense", units = 64, activation = "relu" }},
  {{ type = "Dense", units = 64, activation = "relu" }},
  {{ type = "Dense", units = 12 }},
]
[B.compile]
optimizer = {{ name = "adam", learning_rate = 1e-3 }}
loss = "mse"
metrics = ["R_squared"]
[B.training]
epochs = {epochs}
tensorboard = false
[B.costs]
latency = false
"""


@dataclasses.dataclass
class Bench:
    """A started run of the benchmark experiment with its dataset cached (one per measurement)."""

    folder: Path
    trials: int
    overrides: tuple[str, ...] = ()

    def measure(self, label: str, **execution: Any) -> dict[str, Any]:
        """Train the batch with ``execution`` settings (``[X.execution]`` keys); wall time and throughput."""
        from scinas.config.loading import load_config
        from scinas.data.pipeline import PreparedDataset
        from scinas.execution.registry import ExecutionContext, create_executor
        from scinas.experiment.plan import plan_experiments
        from scinas.experiment.run import ExperimentRun
        from scinas.search.base import TrialRequest
        from scinas.store import TrialStatus

        plan = plan_experiments(load_config(self.folder, list(self.overrides)), ["B"])[0]
        config = dataclasses.replace(plan.config, execution=dataclasses.replace(plan.config.execution, **execution))
        plan = dataclasses.replace(plan, config=config)
        run = ExperimentRun.start(plan, self.folder / "results", progress=False, verbose=0)
        try:
            dataset = PreparedDataset.prepare(plan.generator, run.cache_root, progress=False)
            executor = create_executor(ExecutionContext(config, run.store, run.run_dir, run.cache_root, dataset, 0))
            requests = [TrialRequest(f"b{i:02d}", plan.architecture) for i in range(self.trials)]
            for request in requests:
                run.store.add_trial(request.name, architecture=request.architecture.to_text())
            started = time.perf_counter()
            executor.run(requests)
            wall = time.perf_counter() - started
            trials = run.store.trials()
            completed = sum(t.status == TrialStatus.COMPLETED for t in trials)
            fit = sum(t.train_time_s or 0.0 for t in trials)
            failures = sorted({t.failure_reason or "" for t in trials if t.status != TrialStatus.COMPLETED})
        finally:
            run.close()
        result = {"label": label, "trials": self.trials, "completed": completed, "wall_s": round(wall, 2),
                  "trials_per_hour": round(3600 * self.trials / wall, 1), "mean_fit_s": round(fit / self.trials, 2),
                  "execution": {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type)
                                else v for k, v in execution.items()}}
        if failures:
            result["failures"] = failures[:3]
        print(json.dumps(result), file=sys.stderr)  # progress while the next variant runs
        return result


def _efficiency(one: dict[str, Any], many: dict[str, Any], workers: int) -> float:
    return round(float(many["trials_per_hour"]) / (workers * float(one["trials_per_hour"])), 3)


def cpu_variants(bench: Bench) -> dict[str, Any]:
    one = bench.measure("local, 1 worker x 1 thread", executor="local", distribution="cpu", parallel_trials=1,
                        threads_per_worker=1)
    two = bench.measure("local, 2 workers x 1 thread", executor="local", distribution="cpu", parallel_trials=2,
                        threads_per_worker=1, oversubscribe=True)
    return {"local_1_worker": one, "local_2_workers": two, "scaling_efficiency": _efficiency(one, two, 2)}


def gpu_variants(bench: Bench) -> dict[str, Any]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return {"skipped": "no GPU visible to TensorFlow"}
    results: dict[str, Any] = {"gpus": len(gpus)}
    # one worker is pinned to GPU 0; n workers to one GPU each
    results["one_gpu_local"] = bench.measure("local, 1 worker on GPU 0", executor="local", distribution="gpu",
                                             parallel_trials=1)
    results["all_gpus_local"] = bench.measure(f"local, one trial per GPU ({len(gpus)})", executor="local",
                                              distribution="gpu", parallel_trials=len(gpus))
    results["scaling_efficiency"] = _efficiency(results["one_gpu_local"], results["all_gpus_local"], len(gpus))
    if len(gpus) > 1:
        results["mirrored_inline"] = bench.measure("inline, MirroredStrategy over all GPUs", strategy="multi-gpu")
    for mixed in (False, True):
        for xla in (False, True):
            key = f"inline_gpu_mixed_{'on' if mixed else 'off'}_xla_{'on' if xla else 'off'}"
            results[key] = bench.measure(key, distribution="gpu", mixed_precision=mixed, xla=xla)
    return results


def slurm_variant(bench: Bench) -> dict[str, Any]:
    if shutil.which("sbatch") is None:
        return {"skipped": "no sbatch on the PATH"}
    # measured back to back, so both see the same load of a shared machine
    slurm = bench.measure("slurm, 2 jobs x 1 CPU", executor="slurm", distribution="cpu", parallel_trials=2,
                          slurm=_slurm_config(cpus=1))
    local_two = bench.measure("local, 2 workers x 1 thread", executor="local", distribution="cpu",
                              parallel_trials=2, threads_per_worker=1, oversubscribe=True)
    overhead = (slurm["wall_s"] - local_two["wall_s"]) * 2 / bench.trials
    return {"slurm_2_jobs": slurm, "local_2_workers": local_two, "overhead_per_trial_s": round(overhead, 2)}


def _slurm_config(cpus: int) -> Any:
    from scinas.config.execution import SlurmConfig

    return SlurmConfig(cpus_per_trial=cpus, time_minutes=30, poll_seconds=0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1200)
    parser.add_argument("--gpu", action="store_true", help="add the GPU variants (skipped without a GPU)")
    parser.add_argument("--slurm", action="store_true", help="add the Slurm executor (needs a running cluster)")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU variants")
    args = parser.parse_args(argv)

    import tensorflow as tf

    report: dict[str, Any] = {"benchmark": "parallel_trials", "trials": args.trials, "epochs": args.epochs,
                              "samples": args.samples,
                              "machine": machine_facts(tensorflow=tf.__version__)}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        shutil.copy(REPO / "config" / "data.toml", folder / "data.toml")
        (folder / "configurations.toml").write_text(EXPERIMENT.format(epochs=args.epochs))
        bench = Bench(folder, args.trials, tuple(o.format(samples=args.samples) for o in DATA_OVERRIDES))
        if not args.no_cpu:
            report["cpu"] = cpu_variants(bench)
            report["scaling_efficiency"] = report["cpu"]["scaling_efficiency"]
        if args.gpu:
            report["gpu"] = gpu_variants(bench)
        if args.slurm:
            report["slurm"] = slurm_variant(bench)
    report["load_average_1min_after"] = machine_facts()["load_average_1min"]
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
