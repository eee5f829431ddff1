"""Issue 13, points 5 and 9, against a real ``faceprint serve`` process: identity names outside the
allowed set are refused (400, and exit 2 on the CLI), user text cannot forge log lines, and inputs
that used to answer 500 (a lone surrogate, a NUL in a static path) answer JSON 4xx on a connection
that stays usable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FORGED = 'INFO:     127.0.0.1:1 - "DELETE /v1/identities/obama HTTP/1.1" 200'


def _photo(examples: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("images", ("o.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))]


def test_bad_names_are_400_and_nothing_is_enrolled(live_server: Any, examples: Path) -> None:
    server = live_server()
    with httpx.Client(timeout=60) as c:
        for name in ("a\x00b", "x\n" + FORGED, "evil\u202egnp", "a/b", "zero\u200bwidth"):
            r = c.post(server.url + "/v1/enroll", data={"name": name}, files=_photo(examples))
            assert r.status_code == 400, (name, r.text)
            assert r.json()["error"]["code"] == "invalid_input"
        # a lone surrogate can only arrive escaped in JSON
        body = '{"name": "lone\\ud800", "images": ["AAAA"]}'
        r = c.post(server.url + "/v1/enroll", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "surrogate" in r.json()["error"]["message"], r.text
        assert c.get(server.url + "/v1/identities").json()["identities"] == []
        # NFC: one person however the name was typed
        assert c.post(server.url + "/v1/enroll", data={"name": "Jose\u0301"}, files=_photo(examples)).status_code == 201
        assert [i["name"] for i in c.get(server.url + "/v1/identities").json()["identities"]] == ["José"]
        assert c.get(server.url + "/v1/identities/Jos%C3%A9").status_code == 200


def test_odd_paths_are_404_json_not_500(live_server: Any) -> None:
    server = live_server()
    with httpx.Client(timeout=30) as c:
        for path in ("/static/app.js%00.js", "/static/%00", "/static/..%2fapp.js", "/static/app.js%0a.js",
                     "/v1/identities/%ED%A0%80", "/v1/identities/%00"):
            r = c.get(server.url + path)
            assert r.status_code in (400, 404), (path, r.status_code, r.text)
            assert "error" in r.json()
        assert c.get(server.url + "/static/app.js").status_code == 200  # same connection, still served
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "unexpected" not in log, log[-2000:]


def test_user_text_cannot_forge_a_log_line(live_server: Any, examples: Path) -> None:
    server = live_server()  # LiveServer runs `faceprint serve`; -v (access log) is a global flag
    server.stop()
    s2 = _verbose_server(server, examples)
    try:
        quoted = "x%0A" + FORGED.replace(" ", "%20").replace('"', "%22")
        httpx.delete(s2["url"] + "/v1/identities/" + quoted, timeout=30)
        httpx.post(s2["url"] + "/v1/enroll", data={"name": "y\n" + FORGED}, files=_photo(examples), timeout=60)
        httpx.get(s2["url"] + "/healthz", timeout=10)
    finally:
        s2["proc"].terminate()
        s2["proc"].wait(30)
    log = Path(s2["log"]).read_text(errors="replace")
    assert "/healthz" in log, log[-2000:]  # the access log was on
    assert not any(line.startswith("INFO:     127.0.0.1:1") for line in log.splitlines()), log[-2000:]


def _verbose_server(base: Any, examples: Path) -> dict[str, Any]:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = base.home.parent / f"verbose-{port}.log"
    cmd = [sys.executable, "-m", "faceprint.cli.main", "-v", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--home", str(base.home)]
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    return {"proc": proc, "url": url, "log": str(log)}


def test_cli_refuses_bad_names_with_exit_2(tmp_path: Path, examples: Path) -> None:
    env = {**os.environ, "FACEPRINT_HOME": str(tmp_path / "home")}
    for name in ("a\nb", "a/b", "\u202eevil"):
        r = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "enroll", name, str(examples / "obama.jpg"), "--json"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 2, (name, r.returncode, r.stdout, r.stderr)
        assert "identity name" in r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "gallery", "list", "--json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(r.stdout or "{}").get("identities", []) == [], r.stdout
