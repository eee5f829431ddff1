"""Issue-13 hardening against a real ``faceprint serve`` process over real sockets: Host and origin
checks (DNS rebinding, cross-site posts), protected and bounded metrics, private files, deeply nested
JSON, and clients that declare a body and never send it."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _port(server: Any) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _raw(port: int, request: bytes, timeout: float = 20.0) -> tuple[int, bytes]:
    """Send ``request`` on a fresh socket; (status, whole bytes read until the server closes or times out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                n = next((int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")), None)
                if n is not None and len(rest) >= n:
                    break
    return int(buf.split(b" ", 2)[1]), buf


def _code(r: httpx.Response) -> str:
    doc = r.json()
    assert set(doc) == {"error"}, doc
    return str(doc["error"]["code"])


def _photo(examples: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("images", ("o.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))]


# ------------------------------------------------------------------ point 1: Host and origin


def test_forged_host_is_refused_and_ip_literals_and_localhost_are_served(live_server: Any) -> None:
    server = live_server()
    port = _port(server)
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.attacker.example", "localhost.:x", ""):
        r = httpx.get(server.url + "/v1/identities", headers={"Host": host}, timeout=10)
        assert r.status_code == 421 if host else r.status_code in (400, 421), (host, r.text)
        if r.status_code == 421:
            assert _code(r) == "misdirected_request"
            assert "FACEPRINT_ALLOWED_HOSTS" in r.json()["error"]["message"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", "10.1.2.3"):
        assert httpx.get(server.url + "/v1/identities", headers={"Host": host}, timeout=10).status_code == 200, host


def test_configured_host_name_is_served(live_server: Any) -> None:
    server = live_server(env={"FACEPRINT_ALLOWED_HOSTS": '["faces.internal"]'})
    assert httpx.get(server.url + "/v1/identities", headers={"Host": "faces.internal:8000"}, timeout=10).status_code == 200
    assert httpx.get(server.url + "/v1/identities", headers={"Host": "other.internal"}, timeout=10).status_code == 421


def test_cross_origin_writes_are_refused(live_server: Any, examples: Path) -> None:
    server = live_server(env={"FACEPRINT_CORS_ORIGINS": '["https://app.example"]'})
    port = _port(server)
    evil = {"Origin": f"http://127.0.0.1:{port + 1}"}
    for headers in (evil, {"Origin": "null"}, {"Origin": "http://attacker.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}, {"Origin": f"https://127.0.0.1:{port}"}):
        r = httpx.post(server.url + "/v1/enroll", data={"name": "x"}, files=_photo(examples), headers=headers, timeout=60)
        assert r.status_code == 403 and _code(r) == "cross_origin", (headers, r.text)
        r = httpx.delete(server.url + "/v1/identities/x", headers=headers, timeout=10)
        assert r.status_code == 403, headers
    assert httpx.get(server.url + "/v1/identities", timeout=10).json()["identities"] == []
    # reads are not blocked (the browser's CORS keeps their answers from other origins)
    assert httpx.get(server.url + "/v1/identities", headers=evil, timeout=10).status_code == 200
    # the page itself (same origin), a configured origin, and non-browser clients may write
    same = {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
    r = httpx.post(server.url + "/v1/enroll", data={"name": "a"}, files=_photo(examples), headers=same, timeout=60)
    assert r.status_code == 201, r.text
    r = httpx.post(
        server.url + "/v1/enroll",
        data={"name": "b"},
        files=_photo(examples),
        headers={"Origin": "https://app.example"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    assert httpx.post(server.url + "/v1/enroll", data={"name": "c"}, files=_photo(examples), timeout=60).status_code == 201
    assert httpx.delete(server.url + "/v1/identities/c", headers=same, timeout=10).status_code == 200


# ------------------------------------------------------------------ point 11: metrics


def test_metrics_and_readiness_need_a_key_when_auth_is_on(live_server: Any) -> None:
    key = "fpk_000000000001_" + "k" * 43
    server = live_server("--auth", "on", env={"FACEPRINT_ADMIN_KEY": key})
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    for path in ("/metrics", "/readyz"):
        r = httpx.get(server.url + path, timeout=10)
        assert r.status_code == 401 and _code(r) == "unauthorized", path
        assert httpx.get(server.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code == 200


def test_made_up_methods_do_not_grow_the_metrics(live_server: Any) -> None:
    server = live_server()
    before = len(httpx.get(server.url + "/metrics", timeout=10).text)
    with httpx.Client(timeout=10) as c:
        for i in range(500):
            c.request(f"X{i:04d}ZZ", server.url + f"/nowhere/{i}")
    text = httpx.get(server.url + "/metrics", timeout=10).text
    assert len(text) < before + 3000, len(text) - before
    assert 'method="other"' in text and "X0001ZZ" not in text and "/nowhere" not in text


# ------------------------------------------------------------------ point 3: private files


def test_home_and_key_store_are_private_whatever_the_umask(live_server: Any, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        home = tmp_path / "fresh-home"
        key = "fpk_000000000002_" + "q" * 43
        server = live_server("--auth", "on", env={"FACEPRINT_ADMIN_KEY": key}, home=home)
        r = httpx.post(server.url + "/v1/keys", json={"scope": "read"}, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert r.status_code == 201, r.text
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    keyfiles = sorted(home.glob("service-keys.sqlite*"))
    assert keyfiles, list(home.iterdir())
    for f in keyfiles:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


# ------------------------------------------------------------------ point 4: nested JSON


@pytest.mark.parametrize("depth", [40, 3_000, 100_000])
def test_deeply_nested_json_is_a_400_and_the_connection_stays_usable(live_server: Any, depth: int) -> None:
    server = live_server()
    nested = "[" * depth + "]" * depth
    with httpx.Client(timeout=30) as c:
        r = c.post(server.url + "/v1/detect", content=f'{{"image": {nested}}}', headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and _code(r) == "invalid_input", r.text[:300]
        assert "nested" in r.json()["error"]["message"]
        meta = '{"a":' * depth + "1" + "}" * depth
        body = '{"name": "x", "images": ["AAAA"], "metadata": ' + meta + "}"
        r = c.post(server.url + "/v1/enroll", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "nested" in r.json()["error"]["message"], r.text[:300]
        r = c.post(
            server.url + "/v1/enroll", data={"name": "x", "metadata": meta}, files=[("images", ("a.jpg", b"x", "image/jpeg"))]
        )
        assert r.status_code == 400 and "nested" in r.json()["error"]["message"], r.text[:300]
        assert c.get(server.url + "/healthz").status_code == 200  # same keep-alive connection
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "RecursionError" not in log


# ------------------------------------------------------------------ point 7: slow bodies


def test_a_body_that_never_comes_is_cut_at_the_body_timeout(live_server: Any) -> None:
    server = live_server(env={"FACEPRINT_BODY_TIMEOUT_S": "2"})
    port = _port(server)
    head = (f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n").encode()
    t0 = time.monotonic()
    status, raw = _raw(port, head + b'{"image": "', timeout=20)
    took = time.monotonic() - t0
    assert status == 408, raw[:300]
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
    assert 1.5 <= took < 12, took
    # a trickling client (one byte a second) is cut at the same limit, not served forever
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head)
        t0 = time.monotonic()
        got = b""
        try:
            for _ in range(30):
                s.sendall(b" ")
                s.settimeout(1.0)
                try:
                    got += s.recv(65536)
                except TimeoutError:
                    continue
                if got:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() - t0 < 12
        assert got.startswith(b"HTTP/1.1 408"), got[:200]
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
