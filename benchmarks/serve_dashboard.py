"""How fast the dashboard shows a big run: first render, trial-finish latency, idle CPU; prints JSON.

It builds a run store of ``--trials`` trials with ``--epochs`` epochs each (25 000 epoch rows by
default), starts ``scinas serve`` on it in a process of its own, and measures with headless
Chromium (Debian's chromium and chromium-driver, driven by Selenium):

* ``first_render_ms``: from the start of navigation to the moment the run page has drawn its
  table and charts (``data-rendered``, set by ``run.js``), server JSON included; the first load
  (server cache cold) and the median of the reloads after it;
* ``latency_ms``: from a trial's completion being committed to the store to its row showing in
  the open page (the page polls every second), per trial finished;
* ``idle_cpu_percent``: the server's CPU time over ``--idle`` seconds with the page open and
  polling, as a share of one core;
* ``server_ms``: the server's own time (``Server-Timing``) for the JSON answers: the full trial
  table (cold, warm), a poll with nothing new, a poll after a change, one learning curve;
* ``first_fit_ms``: the first fitted learning curve a fresh server draws (the wall time of its
  ``/fit`` answer, module imports included) and a second one, for a trial stopped early.

    python benchmarks/serve_dashboard.py --trials 1000 --epochs 25 [--screenshot docs/images/dashboard.png]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scinas.testing.run_stores import build_run, finish_trial, stop_early


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _get(port: int, path: str) -> tuple[float, float, bytes]:
    """(server ms from Server-Timing, wall ms, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    wall = 1000 * (time.perf_counter() - started)
    timing = response.getheader("Server-Timing", "app;dur=nan")
    connection.close()
    return float(timing.split("dur=")[1]), wall, body


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1800",
        "--disable-gpu",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def _rendered_ms(driver: Any, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script("return document.body.dataset.rendered || null")
        if value:
            return float(value)
        time.sleep(0.01)
    raise TimeoutError("the run page did not render")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--finishes", type=int, default=5)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="scinas-serve-bench-"))
    results = folder / "results"
    started = time.perf_counter()
    run = build_run(
        results, trials=args.trials, epochs=args.epochs, running=2, failed=max(1, args.trials // 100), predictions=True
    )
    built_s = time.perf_counter() - started
    fitted = [1, 2]  # two trials stopped early after 6 epochs, with their fitted curves
    for trial_id in fitted:
        stop_early(run, trial_id, [0.9 - 0.5 * math.exp(-0.4 * e) for e in range(1, 7)], args.epochs)
    server = subprocess.Popen(
        [sys.executable, "-m", "scinas", "serve", "--results", str(results), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    report: dict[str, Any] = {
        "trials": args.trials,
        "epoch_rows": args.trials * args.epochs,
        "store_build_s": round(built_s, 2),
        "cores": os.cpu_count(),
    }
    driver = None
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        port = int(line.rsplit(":", 1)[1].strip().strip("/").split()[0].strip("/"))
        base = f"/api/runs/A/{run.name}"
        first_fit = [_get(port, f"{base}/trials/{trial_id}/fit")[1] for trial_id in fitted]
        report["first_fit_ms"] = {"first": round(first_fit[0], 1), "second": round(first_fit[1], 1)}
        page = f"http://127.0.0.1:{port}/runs/A/{run.name}"
        driver = _browser()
        driver.get(page)
        cold = _rendered_ms(driver)
        warm = []
        for _ in range(args.reloads):
            driver.refresh()
            warm.append(_rendered_ms(driver))
        report["first_render_ms"] = {
            "cold": round(cold, 1),
            "warm_median": round(statistics.median(warm), 1),
            "warm_all": [round(w, 1) for w in warm],
        }
        if args.screenshot is not None:
            time.sleep(2.0)  # the learning curve and the predictions load after the first render
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(args.screenshot))
        latencies = []
        for index in range(args.finishes):
            name = f"bench-{index:03d}"
            finish_trial(run, name, accuracy=0.5 + 0.01 * index)
            committed = time.perf_counter()
            deadline = committed + 30
            while time.perf_counter() < deadline:
                if driver.execute_script(f"return document.querySelector('#trials').textContent.includes('{name}')"):
                    break
                time.sleep(0.02)
            latencies.append(1000 * (time.perf_counter() - committed))
        report["latency_ms"] = {
            "median": round(statistics.median(latencies), 1),
            "max": round(max(latencies), 1),
            "all": [round(x, 1) for x in latencies],
        }
        before = _cpu_seconds(server.pid)
        time.sleep(args.idle)
        report["idle_cpu_percent"] = round(100 * (_cpu_seconds(server.pid) - before) / args.idle, 2)
        # A fresh server for cold figures would repeat the start-up; the cache is keyed by version, so
        # a new trial makes the next full read cold again.
        finish_trial(run, "bench-cold", accuracy=0.4)
        cold_ms, cold_wall, body = _get(port, f"{base}/trials")
        warm_ms, warm_wall, _ = _get(port, f"{base}/trials")
        table = json.loads(body)
        since = f"{base}/trials?since={table['cursor']}&version={table['version']}"
        idle_ms, idle_wall, _ = _get(port, since)
        finish_trial(run, "bench-since", accuracy=0.4)
        change_ms, change_wall, changed = _get(port, since)
        curve_ms, curve_wall, _ = _get(port, f"{base}/trials/{table['columns']['id'][0]}/curve")
        report["server_ms"] = {
            "trials_full_cold": round(cold_ms, 2),
            "trials_full_warm": round(warm_ms, 2),
            "poll_unchanged": round(idle_ms, 2),
            "poll_after_change": round(change_ms, 2),
            "curve_one_trial": round(curve_ms, 2),
        }
        report["wall_ms"] = {
            "trials_full_cold": round(cold_wall, 2),
            "trials_full_warm": round(warm_wall, 2),
            "poll_unchanged": round(idle_wall, 2),
            "poll_after_change": round(change_wall, 2),
            "curve_one_trial": round(curve_wall, 2),
        }
        report["bytes"] = {"trials_full": len(body), "poll_after_change": len(changed)}
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=20)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
