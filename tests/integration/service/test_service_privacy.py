"""Issue 13, points 2 and 9, through a real ``faceprint serve`` process: a person deleted over HTTP
leaves no embedding byte in any file under the home when DELETE answers; and a service whose home is
read-only (files made immutable before it starts) starts, serves reads and refuses writes clearly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _files(path: Path, field: str = "image") -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(field, (path.name, path.read_bytes(), "image/jpeg"))]


def _holders(home: Path, needle: bytes) -> list[str]:
    return [str(p) for p in sorted(home.rglob("*")) if p.is_file() and needle in p.read_bytes()]


def test_deleting_over_http_leaves_no_embedding_on_disk(live_server: Any, examples: Path) -> None:
    server = live_server()
    r = httpx.post(server.url + "/v1/embed", files=_files(examples / "obama.jpg"), timeout=60)
    vec = np.asarray(r.json()["faces"][0]["embedding"], dtype=np.float32)
    needle = vec[:16].tobytes()  # 64 bytes of this face's embedding
    enrol = [("images", ("o.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))]
    assert httpx.post(server.url + "/v1/enroll", data={"name": "obama"}, files=enrol, timeout=60).status_code == 201
    keep = [("images", ("b.jpg", (examples / "biden.jpg").read_bytes(), "image/jpeg"))]
    assert httpx.post(server.url + "/v1/enroll", data={"name": "biden"}, files=keep, timeout=60).status_code == 201
    assert httpx.post(server.url + "/v1/identify", files=_files(examples / "obama2.jpg"), timeout=60).status_code == 200
    assert _holders(server.home, needle), "the stored embedding should be on disk before the delete"
    assert httpx.delete(server.url + "/v1/identities/obama", timeout=30).status_code == 200
    assert _holders(server.home, needle) == []  # right after the answer: not in the db, WAL or snapshot
    r = httpx.post(server.url + "/v1/identify", files=_files(examples / "obama2.jpg"), timeout=60)
    assert r.json()["faces"][0]["identity"] != "obama"
    assert _holders(server.home, needle) == []


def _chattr(paths: list[Path], on: bool) -> bool:
    r = subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], capture_output=True)
    return r.returncode == 0


def test_service_starts_on_a_read_only_home_and_serves_reads(live_server: Any, tmp_path: Path, examples: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    home = tmp_path / "ro-home"
    first = live_server(home=home)
    enrol = [("images", ("o.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))]
    assert httpx.post(first.url + "/v1/enroll", data={"name": "obama"}, files=enrol, timeout=60).status_code == 201
    first.stop()
    paths = [home, *sorted(p for p in home.iterdir() if p.is_file())]
    if not _chattr(paths, True):
        pytest.skip("this filesystem does not support the immutable attribute")
    try:
        server = live_server(home=home)  # starts: wait_ready saw /readyz answer 200
        r = httpx.post(server.url + "/v1/identify", files=_files(examples / "obama2.jpg"), timeout=60)
        assert r.status_code == 200 and r.json()["faces"][0]["identity"] == "obama", r.text
        assert [i["name"] for i in httpx.get(server.url + "/v1/identities", timeout=30).json()["identities"]] == ["obama"]
        r = httpx.post(server.url + "/v1/enroll", data={"name": "biden"}, files=enrol, timeout=60)
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable", r.text
        assert "read-only" in r.json()["error"]["message"]
        server.stop()
    finally:
        assert _chattr(paths, False)
