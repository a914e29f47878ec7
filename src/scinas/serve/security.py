"""The dashboard's guards: the access token, the host check, cross-site requests, paths.

* **Token.**  Binding to anything but loopback requires a token (:func:`new_token` makes one,
  shown once on the console).  With a token, every request must carry it: the
  ``Authorization: Bearer`` header, the ``scinas_token`` cookie, or ``?token=`` once (the
  dashboard then sets the cookie and drops it from the address).  It is compared in constant
  time (:func:`hmac.compare_digest`).
* **Host.**  On a loopback bind without a token, requests must name a loopback host, so a web
  page whose domain is re-pointed at 127.0.0.1 (DNS rebinding) cannot read the dashboard.
* **Cross-site requests.**  Control actions are ``POST`` with a JSON body and the header
  ``X-Scinas-CSRF`` holding the secret printed into each page; a browser does not let another
  site set that header, and an ``Origin`` or ``Sec-Fetch-Site`` that names another site is
  refused as well.
* **Paths.**  A run is addressed by two names (experiment, run id) that must look like the names
  scinas makes, resolve inside the results folder and hold a store; a file link must be a path
  the run layout names (:meth:`RunLayout.names`), inside the run folder, with no ``..``.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from http.cookies import SimpleCookie
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlencode

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from scinas.store.layout import RunLayout

__all__ = [
    "CSRF_HEADER",
    "TOKEN_COOKIE",
    "AccessGuard",
    "PathRefused",
    "check_control_request",
    "is_loopback",
    "new_token",
    "run_file",
    "run_folder",
    "tokens_equal",
]

TOKEN_COOKIE = "scinas_token"
CSRF_HEADER = "x-scinas-csrf"
#: The names scinas gives experiments and runs (``config.loading`` checks experiment names alike).
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


class PathRefused(Exception):
    """A run id or file path that is malformed or points outside the results folder."""


def new_token() -> str:
    """A fresh access token (32 random bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def tokens_equal(given: str | None, expected: str) -> bool:
    """Whether ``given`` is the token, compared in constant time."""
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or name) is this machine only."""
    if host.strip("[]") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_folder(results: Path, experiment: str, run_id: str) -> Path:
    """The run folder ``results/<experiment>/<run_id>``, checked; :class:`PathRefused` otherwise."""
    for part in (experiment, run_id):
        if not _NAME.fullmatch(part):
            raise PathRefused(f"not a run name: {part!r}")
    root = results.resolve()
    folder = (root / experiment / run_id).resolve()
    if not folder.is_relative_to(root) or folder.parent.parent != root:
        raise PathRefused("the run folder lies outside the results folder")
    if not RunLayout(folder).store.is_file():
        raise PathRefused(f"no run {experiment}/{run_id} in the results folder")
    return folder


def run_file(run_dir: Path, relative: str) -> Path:
    """A file of the run folder named by the run layout; :class:`PathRefused` otherwise."""
    parts = PurePosixPath(relative).parts
    if (
        not parts
        or relative.startswith("/")
        or "\\" in relative
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
    ):
        raise PathRefused(f"not a file of the run: {relative!r}")
    layout = RunLayout(run_dir)
    path = run_dir.joinpath(*parts)
    if not layout.names(path) or path in (layout.store, layout.store_lock):
        raise PathRefused(f"not a file of the run: {relative!r}")
    resolved = path.resolve()
    if not resolved.is_relative_to(run_dir.resolve()) or not resolved.is_file():
        raise PathRefused(f"no such file in the run: {relative!r}")
    return resolved


def check_control_request(headers: Headers, csrf: str) -> str | None:
    """Why a control ``POST`` is refused as cross-site (``None`` when it is acceptable)."""
    if not tokens_equal(headers.get(CSRF_HEADER), csrf):
        return "missing or wrong X-Scinas-CSRF header (reload the page)"
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "cross-site request"
    origin = headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != headers.get("host", ""):
        return "cross-site request (Origin does not match Host)"
    if not headers.get("content-type", "").startswith("application/json"):
        return "control requests send JSON"
    return None


def _hostname(host: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8765`` -> ``[::1]``, ``localhost:80`` -> ``localhost``)."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


class AccessGuard:
    """ASGI middleware: the token on every request (when set) and the loopback host check."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        if self.token is None:
            if self.loopback and not is_loopback(_hostname(headers.get("host", ""))):
                return PlainTextResponse("this dashboard answers on a loopback address only", status_code=403)
            return None
        authorization = headers.get("authorization", "")
        if authorization.startswith("Bearer ") and tokens_equal(authorization[7:], self.token):
            return None
        cookie = SimpleCookie(headers.get("cookie", ""))
        if TOKEN_COOKIE in cookie and tokens_equal(cookie[TOKEN_COOKIE].value, self.token):
            return None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if tokens_equal((query.get("token") or [None])[0], self.token):
            rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
            response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return response
        return PlainTextResponse(
            "a token is required: open the address printed by `scinas serve`, or send Authorization: Bearer <token>",
            status_code=401,
        )
