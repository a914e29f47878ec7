"""Running the dashboard: the socket, the settings, uvicorn.

The socket is bound here, before uvicorn starts, so a port in use is a clear configuration error
(exit code 2) rather than a server log line; uvicorn then serves on that very socket.

Example::

    socket = bind("127.0.0.1", 8765)
    settings = ServeSettings(results=Path("results"), port=socket.getsockname()[1])
    run(create_app(settings), socket)
"""

from __future__ import annotations

import errno
import importlib.util
import socket as sockets
from pathlib import Path

from scinas.errors import ConfigError
from scinas.serve import SERVE_HINT
from scinas.serve.security import is_loopback, new_token
from scinas.serve.state import ServeSettings

__all__ = ["address", "bind", "check_installed", "run", "settings_for"]


def check_installed() -> None:
    """Refuse to start without the serve extra (a :class:`ConfigError` naming what to install)."""
    missing = [name for name in ("starlette", "uvicorn", "jinja2") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not installed", file="command line", fix=SERVE_HINT)


def bind(host: str, port: int) -> sockets.socket:
    """A listening TCP socket on ``host:port``; a port in use or a bad address is a :class:`ConfigError`."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: expected 0..65535", file="command line", fix="choose a port such as 8765")
    try:
        family = sockets.getaddrinfo(host, port, type=sockets.SOCK_STREAM)[0][0]
    except sockets.gaierror as exc:
        raise ConfigError(
            f"--host {host}: not an address of this machine ({exc.strerror})",
            file="command line",
            fix="use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
        ) from exc
    sock = sockets.socket(family, sockets.SOCK_STREAM)
    sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use",
                file="command line",
                fix="choose another --port, or stop the program that uses it",
            ) from exc
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror})",
            file="command line",
            fix="choose another --host or --port",
        ) from exc
    return sock


def settings_for(
    results: Path, config_dir: Path, host: str, port: int, *, read_only: bool, token: str | None
) -> tuple[ServeSettings, bool]:
    """The settings, and whether the token was generated (to be shown once): a host other than
    loopback always gets a token."""
    generated = token is None and not is_loopback(host)
    if token is not None and len(token) < 16:
        raise ConfigError(
            "--token is shorter than 16 characters",
            file="command line",
            fix="use a long random token, or leave --token out to have one generated",
        )
    settings = ServeSettings(
        results=results.resolve(),
        config_dir=config_dir.resolve(),
        host=host,
        port=port,
        read_only=read_only,
        token=new_token() if generated else token,
    )
    return settings, generated


def address(settings: ServeSettings) -> str:
    """The address to open in a browser (``?token=`` included when there is a token)."""
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = sockets.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{settings.port}/"
    return url + (f"?token={settings.token}" if settings.token else "")


def run(app: object, sock: sockets.socket, *, log_level: str = "warning") -> None:
    """Serve ``app`` on ``sock`` with uvicorn until interrupted."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")  # type: ignore[arg-type]
    uvicorn.Server(config).run(sockets=[sock])
