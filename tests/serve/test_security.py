"""The dashboard's guards: token, loopback host, cross-site control requests, path traversal."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.serve.app import create_app
from scinas.serve.security import PathRefused, run_file, run_folder
from scinas.serve.state import ServeSettings
from scinas.testing.run_stores import build_run
from tests.conftest import REPO
from tests.serve.conftest import Client, Serve

RUN = "A/20261201-120000-0001"
TOKEN = "a-long-test-token-of-enough-length"


def test_a_non_loopback_host_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a token"):
        create_app(ServeSettings(results=tmp_path, host="0.0.0.0"))


def test_every_request_needs_the_token_when_one_is_set(serve: Serve, tmp_path: Path) -> None:
    build_run(tmp_path / "results", trials=2)
    client = serve(tmp_path / "results", token=TOKEN, host="0.0.0.0")
    for path in ("/", "/api/runs", f"/api/runs/{RUN}/trials", "/static/common.js"):
        assert client.get(path).status == 401, path
    assert client.get("/api/runs", {"Authorization": "Bearer wrong-token-of-enough-length"}).status == 401
    assert client.get("/api/runs", {"Authorization": f"Bearer {TOKEN}"}).status == 200
    assert client.get("/api/runs", {"Cookie": f"scinas_token={TOKEN}"}).status == 200
    first = client.get(f"/?token={TOKEN}")
    assert first.status == 303 and first.headers["location"] == "/"
    assert TOKEN in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]


def test_a_loopback_dashboard_answers_only_to_loopback_host_names(serve: Serve, tmp_path: Path) -> None:
    client = serve(tmp_path / "results")
    assert client.get("/api/runs", {"Host": "localhost:1234"}).status == 200
    assert client.get("/api/runs", {"Host": "127.0.0.1"}).status == 200
    assert client.get("/api/runs", {"Host": "evil.example:80"}).status == 403


@pytest.mark.parametrize("run", ["../../etc/passwd", "A/..", "..%2F..%2Fetc/passwd", "A/.hidden", "A/x%00y"])
def test_path_traversal_run_ids_are_refused(serve: Serve, tmp_path: Path, run: str) -> None:
    build_run(tmp_path / "results", trials=1)
    client = serve(tmp_path / "results")
    assert client.get(f"/api/runs/{run}/trials").status == 404
    assert client.get(f"/runs/{run}").status == 404


def test_run_names_and_files_are_checked(tmp_path: Path) -> None:
    run = build_run(tmp_path / "results", trials=1)
    (tmp_path / "secret.txt").write_text("secret")
    (run / "csv").mkdir()
    (run / "csv" / "link.csv").symlink_to(tmp_path / "secret.txt")
    assert run_folder(tmp_path / "results", "A", run.name) == run.resolve()
    for experiment, run_id in (("..", run.name), ("A", ".."), ("A", "missing"), ("A/B", "x")):
        with pytest.raises(PathRefused):
            run_folder(tmp_path / "results", experiment, run_id)
    for relative in ("../secret.txt", "/etc/passwd", "store.sqlite", "csv/link.csv", "unnamed.txt", "csv/../x"):
        with pytest.raises(PathRefused):
            run_file(run, relative)
    assert run_file(run, "configurations.toml").name == "configurations.toml"


def test_file_links_cannot_leave_the_run(serve: Serve, tmp_path: Path) -> None:
    build_run(tmp_path / "results", trials=1)
    client = serve(tmp_path / "results")
    assert client.get(f"/runs/{RUN}/files/configurations.toml").status == 200
    for path in ("..%2F..%2F..%2Fetc%2Fpasswd", "store.sqlite", "../configurations.toml"):
        assert client.get(f"/runs/{RUN}/files/{path}").status == 404, path


def test_cross_site_control_posts_are_refused(serve: Serve, tmp_path: Path) -> None:
    build_run(tmp_path / "results", trials=1)
    client = serve(tmp_path / "results")
    body = {"run": RUN}
    without = client.request("POST", "/api/control/resume", body, {"Content-Type": "application/json"})
    assert without.status == 403 and "X-Scinas-CSRF" in without.json()["error"]
    form = client.request(
        "POST",
        "/api/control/resume",
        b"run=A",
        {"Content-Type": "application/x-www-form-urlencoded", "X-Scinas-CSRF": client.csrf},
    )
    assert form.status == 403
    assert client.control("resume", body, Origin="http://evil.example").status == 403
    assert client.control("resume", body, **{"Sec-Fetch-Site": "cross-site"}).status == 403
    assert client.request("GET", "/api/control/resume").status == 405


def test_read_only_mode_refuses_control(serve: Serve, tmp_path: Path) -> None:
    build_run(tmp_path / "results", trials=1)
    client = serve(tmp_path / "results", read_only=True)
    answer = client.control("resume", {"run": RUN})
    assert answer.status == 403 and "read-only" in answer.json()["error"]
    assert "start-form" not in client.get("/").text


def test_serve_exits_2_when_the_port_is_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        code = main(["serve", "--results", str(tmp_path), "--port", str(taken.getsockname()[1])])
    finally:
        taken.close()
    assert code == 2
    assert "already in use" in capsys.readouterr().err


def test_serve_refuses_a_short_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--results", str(tmp_path), "--token", "short"]) == 2
    assert "--token" in capsys.readouterr().err


def test_a_generated_token_is_printed_once_and_required_on_every_request(tmp_path: Path) -> None:
    """``scinas serve --host 0.0.0.0`` as a user starts it: the token is made up, shown once in the
    address it prints, and asked of every request; Ctrl-C stops the server."""
    build_run(tmp_path / "results", trials=2)
    environment = {k: v for k, v in os.environ.items() if k != "SCINAS_SERVE_TOKEN"}
    environment["PYTHONPATH"] = str(REPO / "src")
    server = subprocess.Popen(
        [sys.executable, "-m", "scinas", "serve", "--results", str(tmp_path / "results"), "--host", "0.0.0.0",
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        shown = r"^scinas dashboard: http://\S+:(\d+)/\?token=(\S+) \(the generated token is shown only now\)$"
        found = re.search(shown, line.strip())
        assert found, line
        port, token = int(found.group(1)), found.group(2)
        assert len(token) >= 32
        client = Client(port)
        for path in ("/", "/api/runs", f"/api/runs/{RUN}/trials", "/static/common.js"):
            assert client.get(path).status == 401, path
            assert client.get(path, {"Authorization": f"Bearer {token}"}).status == 200, path
        assert client.get("/api/runs", {"Authorization": f"Bearer {token[:-1]}x"}).status == 401
        assert client.get(f"/?token={token}").status == 303
    finally:
        server.send_signal(signal.SIGINT)
        stdout, stderr = server.communicate(timeout=60)
    assert server.returncode in (0, 130), stderr[-2000:]  # 130: Ctrl-C, as uvicorn passes it on
    assert (line + stdout + stderr).count(token) == 1  # shown once, never logged
