"""Wall time of a real search split into training trials vs everything else.

Runs a shipped search experiment (default ``A``: POPNAS on digits) in a temporary results folder
and prints JSON: the search phase's wall time, the time spent inside trials (build, fit,
evaluation, cost measures, saving), the pure training time (sum of the trials' fit time), and
the overhead (predictors, expansion, bookkeeping) as a share of the wall time; plus the whole
run's time including selection and the final training.

    .venv/bin/python benchmarks/search_overhead.py            # experiment A as shipped
    .venv/bin/python benchmarks/search_overhead.py A A.search_space.blocks=2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", nargs="?", default="A")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, as for scinas run")
    parser.add_argument("--config-dir", type=Path, default=REPO / "config")
    args = parser.parse_args(argv)

    from scinas.cli import main as scinas

    with tempfile.TemporaryDirectory() as results:
        started = time.perf_counter()
        code = scinas(["run", args.experiment, *args.overrides, "--config-dir", str(args.config_dir),
                       "--results", results, "--no-progress", "-q"])
        total = time.perf_counter() - started
        runs = sorted((Path(results) / args.experiment).glob("*/search_summary.json"))
        if code != 0 or not runs:
            print(json.dumps({"error": f"the run exited with {code}"}))
            return 1
        summary = json.loads(runs[-1].read_text())
    report = {
        "experiment": args.experiment,
        "trials": summary["trials"],
        "search_wall_s": round(summary["wall_s"], 2),
        "trials_s": round(summary["trials_s"], 2),
        "fit_s": round(summary["train_s"], 2),
        "overhead_s": round(summary["overhead_s"], 2),
        "overhead_share": round(summary["overhead_share"], 4),
        "run_total_s": round(total, 2),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
