"""The dashboard's HTML pages: the runs list and a run's page (jinja2 templates).

Pages are shells: they name the run and carry what the scripts need (the API base, the CSRF
secret, the poll interval, whether control is allowed); the tables and charts are drawn by
``static/*.js`` from the JSON endpoints, so a page shows at once and fills in as data arrives.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from scinas import __version__
from scinas.serve.security import PathRefused
from scinas.serve.state import Dashboard

__all__ = ["routes"]

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _context(request: Request, **values: object) -> dict[str, object]:
    dashboard: Dashboard = request.app.state.dashboard
    settings = dashboard.settings
    return {
        "request": request,
        "csrf": dashboard.csrf,
        "read_only": settings.read_only,
        "version": __version__,
        "poll_ms": int(1000 * settings.poll_s),
        "results": str(settings.results),
        **values,
    }


async def _runs_page(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "runs.html", _context(request))


async def _run_page(request: Request) -> Response:
    dashboard: Dashboard = request.app.state.dashboard
    experiment, run = request.path_params["experiment"], request.path_params["run"]
    try:
        dashboard.reader(experiment, run)
    except PathRefused as exc:
        return TEMPLATES.TemplateResponse(request, "missing.html", _context(request, message=str(exc)), status_code=404)
    return TEMPLATES.TemplateResponse(request, "run.html", _context(request, experiment=experiment, run=run))


def routes() -> list[Route]:
    """The page routes."""
    return [Route("/", _runs_page), Route("/runs/{experiment}/{run}", _run_page)]
