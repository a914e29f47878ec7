"""A dashboard served by uvicorn in a thread, and an HTTP client for it (standard library only)."""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

import uvicorn

from scinas.serve.app import create_app
from scinas.serve.server import bind
from scinas.serve.state import ServeSettings


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Client:
    """Requests to one served dashboard."""

    port: int
    host: str = "127.0.0.1"
    csrf: str = ""

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            connection.request(method, path, body=data, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def control(self, action: str, body: Any, **headers: str) -> Answer:
        sent = {"Content-Type": "application/json", "X-Scinas-CSRF": self.csrf, **headers}
        return self.request("POST", f"/api/control/{action}", body, sent)


Serve = Callable[..., Client]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(results=..., **settings)`` starts a dashboard on a free loopback port."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(results: Path | None = None, **options: Any) -> Client:
        sock = bind(options.pop("bind_host", "127.0.0.1"), 0)
        settings = ServeSettings(
            results=(results or tmp_path / "results").resolve(),
            port=sock.getsockname()[1],
            config_dir=options.pop("config_dir", tmp_path / "config"),
            **options,
        )
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        servers.append((server, thread))
        return Client(settings.port, csrf=app.state.dashboard.csrf)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def replace_settings(settings: ServeSettings, **changes: Any) -> ServeSettings:
    return dataclasses.replace(settings, **changes)
