"""The dashboard application: :func:`create_app` builds one Starlette app over a results folder.

Example (what ``scinas serve`` does, see :mod:`scinas.serve.server`)::

    from scinas.serve import ServeSettings, create_app
    app = create_app(ServeSettings(results=Path("results")))
    uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from scinas.serve import api, control, pages
from scinas.serve.security import AccessGuard, is_loopback
from scinas.serve.state import Dashboard, ServeSettings

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


def create_app(settings: ServeSettings) -> Starlette:
    """The dashboard over ``settings.results``; refuses a non-loopback host without a token."""
    if settings.token is None and not is_loopback(settings.host):
        raise ValueError(f"serving on {settings.host} (not loopback) needs a token")
    routes = [
        *pages.routes(),
        *api.routes(),
        *control.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(AccessGuard, token=settings.token, loopback=is_loopback(settings.host))]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.dashboard = Dashboard(settings)
    return app
