"""Fixtures for the service tests: an in-process app over a fresh gallery (TestClient), and a
real server process (uvicorn on a free loopback port) for tests that need real sockets, signals
or a browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service extra is not installed")


@pytest.fixture(scope="session")
def examples(fr_examples: Path) -> Path:
    """face_recognition's example photos (obama.jpg, biden.jpg, two_people.jpg, ...)."""
    return fr_examples / "examples"


@pytest.fixture(scope="session")
def shared_models() -> dict[str, Any]:
    """One default pipeline and expression analyzer for every in-process app of the session."""
    from faceprint import config
    from faceprint.models import registry
    from faceprint.pipeline import Pipeline, PipelineConfig

    return {"pipeline": Pipeline.from_config(PipelineConfig()), "analyzer": registry.create(config.DEFAULT_EXPRESSION_MODEL)}


@pytest.fixture
def make_client(tmp_path: Path, shared_models: dict[str, Any]) -> Iterator[Callable[..., Any]]:
    """``make_client(**settings)`` -> a started TestClient on a fresh home (closed at teardown)."""
    from fastapi.testclient import TestClient

    from faceprint.service import ServiceSettings, create_app

    clients: list[Any] = []

    def make(**settings: Any) -> Any:
        settings.setdefault("home", tmp_path / f"home{len(clients)}")
        app = create_app(ServiceSettings(**settings), **shared_models)
        c = TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1")
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    """A TestClient on loopback settings (no API key needed) with a fresh, empty gallery."""
    return make_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``faceprint serve`` in a child process."""

    def __init__(self, home: Path, args: list[str], env: dict[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "faceprint.cli.main",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--home",
            str(home),
            *args,
        ]
        self.log = home.parent / f"server-{self.port}.log"
        home.mkdir(parents=True, exist_ok=True)
        self._logf = open(self.log, "wb")  # noqa: SIM115 - the server writes to it until stop() closes it
        self.env = {**os.environ, **env}
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT, env=self.env)

    def wait_ready(self, timeout: float = 90.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                key = self.env.get("FACEPRINT_ADMIN_KEY")
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                if httpx.get(self.url + "/readyz", headers=headers, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()
        return int(self.proc.returncode)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``live_server(*extra_args, env={})`` -> a ready server process (stopped at teardown)."""
    servers: list[LiveServer] = []

    def start(*args: str, env: dict[str, str] | None = None, home: Path | None = None) -> LiveServer:
        s = LiveServer(home or tmp_path / f"server-home{len(servers)}", list(args), env or {})
        servers.append(s)
        s.wait_ready()
        return s

    yield start
    for s in servers:
        s.stop()
