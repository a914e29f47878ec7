"""The dashboard's JSON endpoints (read side): runs, one run, its trials, one trial's epochs.

Every answer is compact JSON.  ``GET /api/runs/{experiment}/{run}/trials`` is the hot path: with
``?version=`` equal to the run's current version it answers ``{"changed": false}`` after one
``stat`` pair; with ``?since=<cursor>`` only the trials changed since (see
:mod:`scinas.serve.runs`).  The server's time for each answer is in the ``Server-Timing``
header.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from scinas.serve.files import predictions, run_files
from scinas.serve.runs import Cursor, UnreadableRun, read_curve, store_version
from scinas.serve.security import PathRefused, run_file
from scinas.serve.state import Dashboard

__all__ = ["json_response", "routes"]

Handler = Callable[[Request], Awaitable[Response]]


def json_response(value: Any, *, status_code: int = 200, started: float | None = None) -> Response:
    """Compact JSON (no spaces, NaN refused) with the server's time in ``Server-Timing``."""
    body = json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
    headers = {"Cache-Control": "no-store"}
    if started is not None:
        headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.2f}"
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def _dashboard(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def _guarded(handler: Callable[[Request, Dashboard], Any]) -> Handler:
    """Run ``handler`` in a worker thread; refused paths are 404, unreadable stores 409."""

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        try:
            value = await run_in_threadpool(handler, request, _dashboard(request))
        except PathRefused as exc:
            return json_response({"error": str(exc)}, status_code=404)
        except UnreadableRun as exc:
            return json_response({"error": str(exc), "unreadable": True}, status_code=409)
        if isinstance(value, Response):
            return value
        return json_response(value, started=started)

    return endpoint


def _runs(request: Request, dashboard: Dashboard) -> Any:
    return {"results": str(dashboard.results), "exists": dashboard.results.is_dir(), "runs": dashboard.runs()}


def _run(request: Request, dashboard: Dashboard) -> Any:
    reader = dashboard.reader(request.path_params["experiment"], request.path_params["run"])
    return {**reader.meta(), "files": run_files(reader.run_dir)}


def _trials(request: Request, dashboard: Dashboard) -> Any:
    reader = dashboard.reader(request.path_params["experiment"], request.path_params["run"])
    version = request.query_params.get("version")
    if version is not None and version == store_version(reader.run_dir):
        return {"changed": False, "version": version}
    since = request.query_params.get("since")
    try:
        cursor = Cursor.parse(since) if since else None
    except ValueError as exc:
        return json_response({"error": str(exc)}, status_code=400)
    answer = reader.trials(cursor)
    return {**answer, "predictions_version": predictions(reader.run_dir)["version"]}


def _curve(request: Request, dashboard: Dashboard) -> Any:
    reader = dashboard.reader(request.path_params["experiment"], request.path_params["run"])
    try:
        return read_curve(reader.run_dir, int(request.path_params["trial"]))
    except KeyError:
        return json_response({"error": "no such trial"}, status_code=404)


def _fit(request: Request, dashboard: Dashboard) -> Any:
    from scinas.serve.fits import fitted_curve

    reader = dashboard.reader(request.path_params["experiment"], request.path_params["run"])
    try:
        return fitted_curve(reader, int(request.path_params["trial"]))
    except KeyError:
        return json_response({"error": "no such trial"}, status_code=404)


def _predictions(request: Request, dashboard: Dashboard) -> Any:
    reader = dashboard.reader(request.path_params["experiment"], request.path_params["run"])
    return predictions(reader.run_dir)


def _file(request: Request, dashboard: Dashboard) -> Any:
    reader = dashboard.reader(request.path_params["experiment"], request.path_params["run"])
    path = run_file(reader.run_dir, request.path_params["path"])
    inline = path.suffix in (".html", ".png", ".svg", ".txt", ".log", ".csv", ".json", ".toml")
    media = {".log": "text/plain", ".toml": "text/plain", ".csv": "text/plain"}.get(path.suffix)
    return FileResponse(
        path,
        media_type=media,
        content_disposition_type="inline" if inline else "attachment",
        filename=None if inline else path.name,
    )


def routes() -> list[Route]:
    """The read-side routes (JSON under ``/api``, run files under ``/runs/.../files``)."""
    run = "/api/runs/{experiment}/{run}"
    return [
        Route("/api/runs", _guarded(_runs)),
        Route(run, _guarded(_run)),
        Route(f"{run}/trials", _guarded(_trials)),
        Route(f"{run}/trials/{{trial:int}}/curve", _guarded(_curve)),
        Route(f"{run}/trials/{{trial:int}}/fit", _guarded(_fit)),
        Route(f"{run}/predictions", _guarded(_predictions)),
        Route("/runs/{experiment}/{run}/files/{path:path}", _guarded(_file)),
    ]
