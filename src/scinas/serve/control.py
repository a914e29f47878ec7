"""Run control from the dashboard: start a run, stop it, resume it; the queue of requested runs.

Every action is a ``POST`` with a JSON body, refused in ``--read-only`` mode and when it looks
cross-site (:func:`scinas.serve.security.check_control_request`).

* **start** ``{"experiment": "A", "overrides": "A.training.epochs=2\\n..."}``: the names and
  overrides are split and the configuration loaded exactly as ``scinas run`` does (the same
  functions), so a wrong name or override answers the command line's message at once; the job
  then runs the command line itself, whose full validation failing shows as the job's message.
* **stop** ``{"run": "A/<run-id>"}`` or ``{"job": id}``: a running run is interrupted with SIGINT
  (the clean interrupt that leaves it resumable) through the pid in its store's writer lock, so
  runs started in a terminal stop as well; a queued job is cancelled.
* **resume** ``{"run": "A/<run-id>"}``: queues ``scinas run --resume`` for that folder.

Jobs are files (:mod:`scinas.serve.jobs`) run by the keeper (:mod:`scinas.serve.keeper`), a
process of its own: runs go on when the browser closes or the server stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scinas.config.arguments import split_arguments
from scinas.config.loading import load_config
from scinas.errors import ConfigError
from scinas.serve.api import json_response
from scinas.serve.jobs import Job, JobBook
from scinas.serve.keeper import ensure_keeper, writer_pid
from scinas.serve.security import PathRefused, check_control_request, run_folder
from scinas.serve.state import Dashboard

__all__ = ["routes", "validate_start"]


def validate_start(config_dir: Path, experiment: str, overrides: str) -> tuple[str, list[str]]:
    """(experiment, overrides) checked as ``scinas run`` checks them; a :class:`ConfigError` otherwise."""
    items = [experiment.strip(), *(line.strip() for line in overrides.splitlines() if line.strip())]
    names, parsed = split_arguments([item for item in items if item], environ={})
    if len(names) != 1:
        raise ConfigError(
            f"name one experiment (got {len(names)})",
            file="command line",
            fix="choose an experiment; put KEY=VALUE overrides one per line",
        )
    raw = load_config(config_dir, parsed)
    raw.experiment_table(names[0])  # an unknown name: the command line's message, with a suggestion
    return names[0], parsed


def _run_dir(dashboard: Dashboard, run: object) -> Path:
    experiment, _, run_id = str(run).partition("/")
    return run_folder(dashboard.results, experiment, run_id)


def _jobs(dashboard: Dashboard) -> list[dict[str, Any]]:
    book = JobBook(dashboard.results)
    return [
        {**job.to_json(), "tail": book.tail(job.id, 1500) if job.state in ("running", "failed") else ""}
        for job in reversed(book.all()[-50:])
    ]


def _act(dashboard: Dashboard, action: str, body: dict[str, Any]) -> dict[str, Any]:
    book = JobBook(dashboard.results)
    settings = dashboard.settings
    if action == "start":
        experiment, overrides = validate_start(
            settings.config_dir, str(body.get("experiment", "")), str(body.get("overrides", ""))
        )
        job = Job(book.new_id(), "start", str(settings.config_dir), experiment=experiment, overrides=tuple(overrides))
    elif action == "resume":
        run_dir = _run_dir(dashboard, body.get("run"))
        if (
            writer_pid(run_dir) is not None
            and dashboard.reader(run_dir.parent.name, run_dir.name).summary()["status"] == "running"
        ):
            return {"error": "the run is running; stop it before resuming it"}
        relative = f"{run_dir.parent.name}/{run_dir.name}"
        if any(j.run == relative and j.kind == "resume" and j.state == "queued" for j in book.all()):
            return {"error": "the resume of this run is already queued"}
        job = Job(book.new_id(), "resume", str(settings.config_dir), experiment=run_dir.parent.name, run=relative)
    elif action == "stop":
        return _stop(dashboard, book, body)
    else:
        return {"error": f"unknown action {action!r}"}
    with book.locked():
        book.write(job)
    ensure_keeper(dashboard.results)
    return {"job": job.to_json()}


def _stop(dashboard: Dashboard, book: JobBook, body: dict[str, Any]) -> dict[str, Any]:
    if "job" in body:
        with book.locked():
            job = book.get(str(body["job"]))
            if job is None:
                return {"error": "no such job"}
            if job.state == "queued":
                return {"job": book.update(job, state="cancelled").to_json()}
            if job.state != "running":
                return {"error": f"the job is {job.state}"}
            return {"job": book.update(job, stop_requested=True).to_json()}
    run_dir = _run_dir(dashboard, body.get("run"))
    pid = writer_pid(run_dir)
    if pid is None:
        return {"error": "the run is not running"}
    os.kill(pid, signal.SIGINT)
    return {"stopped": pid}


def _endpoint(action: str) -> Any:
    async def endpoint(request: Request) -> Response:
        dashboard: Dashboard = request.app.state.dashboard
        if dashboard.settings.read_only:
            return json_response({"error": "the dashboard is read-only (--read-only)"}, status_code=403)
        refusal = check_control_request(request.headers, dashboard.csrf)
        if refusal is not None:
            return json_response({"error": refusal}, status_code=403)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return json_response({"error": "the body is not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return json_response({"error": "the body is not a JSON object"}, status_code=400)
        try:
            answer = _act(dashboard, action, body)
        except ConfigError as exc:
            return json_response({"error": f"error: {exc}", "config": True}, status_code=400)
        except PathRefused as exc:
            return json_response({"error": str(exc)}, status_code=404)
        return json_response(answer, status_code=400 if "error" in answer else 200)

    return endpoint


async def _list_jobs(request: Request) -> Response:
    dashboard: Dashboard = request.app.state.dashboard
    experiments: list[str] = []
    with contextlib.suppress(ConfigError):  # the start form then offers no names; starting says why
        experiments = load_config(dashboard.settings.config_dir).experiment_names()
    return json_response(
        {"jobs": _jobs(dashboard), "experiments": experiments, "read_only": dashboard.settings.read_only}
    )


def routes() -> list[Route]:
    """The control routes (``POST /api/control/{start,stop,resume}``) and the job list."""
    return [
        Route("/api/jobs", _list_jobs),
        *(
            Route(f"/api/control/{action}", _endpoint(action), methods=["POST"])
            for action in ("start", "stop", "resume")
        ),
    ]
