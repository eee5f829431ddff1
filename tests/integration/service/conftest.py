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


#: face_recognition example photos the library fixture indexes (Obama x4 and in two_people.jpg,
#: Biden, Lin-Manuel Miranda, Alex Lacamoire); sub/ holds one more, to index a sub-folder
LIBRARY_PHOTOS = ("obama.jpg", "obama2.jpg", "obama_small.jpg", "biden.jpg", "two_people.jpg",
                  "lin-manuel-miranda.png", "alex-lacamoire.png")


@pytest.fixture(scope="session")
def indexed_library(examples: Path, tmp_path_factory: pytest.TempPathFactory, shared_models: dict[str, Any]) -> tuple[Path, Path]:
    """``(library file, photo folder)``: the example photos (symlinked, not copied) indexed into a
    library with the default pipeline. Copy the file before changing it (see ``make_library``)."""
    from faceprint import library

    base = tmp_path_factory.mktemp("library")
    photos = base / "photos"
    (photos / "sub").mkdir(parents=True)
    for name in LIBRARY_PHOTOS:
        (photos / name).symlink_to((examples / name).resolve())
    (photos / "sub" / "obama-240p.jpg").symlink_to((examples / "obama-240p.jpg").resolve())
    lib = base / "library.sqlite"
    report = library.index([photos], library=lib, pipeline=shared_models["pipeline"], jobs=1)
    assert report.errors == 0 and report.faces >= 8, report
    return lib, photos


@pytest.fixture
def make_library(indexed_library: tuple[Path, Path], tmp_path: Path) -> Callable[[], Path]:
    """``make_library()`` -> a fresh copy of the indexed library file (its photos stay where they are)."""
    import shutil

    made: list[Path] = []

    def make() -> Path:
        dest = tmp_path / f"library{len(made)}.sqlite"
        shutil.copyfile(indexed_library[0], dest)
        made.append(dest)
        return dest

    return make
