"""Faults against real ``faceprint serve`` processes over real sockets: clients that vanish
mid-upload, a gallery file that refuses writes, SIGTERM during enrollments, overload and time
limits, oversize bodies and images. The server must answer JSON errors (never a traceback), keep
serving, and never lose what it reported as committed."""

from __future__ import annotations

import binascii
import io
import json
import select
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOUNDARY = "faultboundary7MA4YWxkTrZu0gW"


# ------------------------------------------------------------------ helpers


def _port(server: Any) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n" + ("Content-Type: image/jpeg\r\n" if filename else "") + "\r\n"
    return head.encode() + value + b"\r\n"


def _head(path: str, port: int, extra: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Type: multipart/form-data; boundary={BOUNDARY}"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket, timeout: float = 15.0) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (status, lower-cased headers, body) from a raw socket."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:n]


def _json_error(status: int, body: bytes | str, want_status: int, want_code: str) -> dict[str, Any]:
    text = body.decode() if isinstance(body, bytes) else body
    assert status == want_status, text
    assert "Traceback" not in text and 'File "' not in text
    doc = json.loads(text)
    assert set(doc) == {"error"} and doc["error"]["code"] == want_code, doc
    return doc["error"]


def _files(path: Path, field: str = "image") -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(field, (path.name, path.read_bytes(), "image/jpeg"))]


def _enroll(url: str, name: str, paths: list[Path], timeout: float = 60.0) -> httpx.Response:
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]
    return httpx.post(url + "/v1/enroll", files=files, data={"name": name, "select": "largest"}, timeout=timeout)


def _identify(url: str, path: Path, timeout: float = 60.0) -> httpx.Response:
    return httpx.post(url + "/v1/identify", files=_files(path), timeout=timeout)


def _names(url: str) -> dict[str, int]:
    r = httpx.get(url + "/v1/identities", timeout=30)
    assert r.status_code == 200, r.text
    return {i["name"]: i["n_faces"] for i in r.json()["identities"]}


def _metric(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} missing")


def _assert_clean_log(server: Any) -> None:
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "unexpected" not in log, log[-3000:]


def _alive_and_ready(server: Any) -> None:
    assert server.proc.poll() is None, server.log.read_text()[-3000:]
    assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200


# ------------------------------------------------------------------ (a) clients vanishing mid-upload


def test_clients_disconnecting_mid_upload_leave_nothing_behind(live_server: Any, examples: Path) -> None:
    server = live_server()
    port = _port(server)
    photo = (examples / "obama.jpg").read_bytes()
    declared = 2 * 1024 * 1024  # announced, never sent in full
    for i, path in enumerate(["/v1/enroll"] * 4 + ["/v1/identify"] * 4):
        body = (_part("name", f"ghost{i}".encode()) if path == "/v1/enroll" else b"") + _part(
            "images" if path == "/v1/enroll" else "image", photo[: 60_000 + 20_000 * i], "a.jpg"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(_head(path, port, {"Content-Length": str(declared)}) + body)
            time.sleep(0.05)
            if i % 2:  # half of them vanish with a reset instead of a FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # uploads that stall (still open, body incomplete) do not hold up other clients
    stalled = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(
            _head("/v1/enroll", port, {"Content-Length": str(declared)})
            + _part("name", b"stalled")
            + _part("images", photo[:50_000], "b.jpg")
        )
        stalled.append(s)
    try:
        _alive_and_ready(server)
        assert _names(server.url) == {}  # nothing was enrolled from a truncated upload
        r = _enroll(server.url, "obama", [examples / "obama.jpg"])
        assert r.status_code == 201, r.text
        r = _identify(server.url, examples / "obama_small.jpg")
        assert r.status_code == 200 and r.json()["faces"][0]["identity"] == "obama", r.text
    finally:
        for s in stalled:
            s.close()
    deadline = time.monotonic() + 10  # every abandoned request ended (none is stuck holding memory)
    while _metric(server.url, "faceprint_http_requests_in_flight") > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _metric(server.url, "faceprint_http_requests_in_flight") == 1  # this /metrics request
    # each one ended as "client disconnected" (400, nobody left to read it), none as a 5xx
    assert _metric(server.url, 'faceprint_http_requests_total{method="POST",route="/v1/enroll",status="400"}') == 4 + 3
    assert _metric(server.url, 'faceprint_http_requests_total{method="POST",route="/v1/identify",status="400"}') == 4
    assert 'status="5' not in httpx.get(server.url + "/metrics", timeout=10).text
    _alive_and_ready(server)
    assert _names(server.url) == {"obama": 1}
    _assert_clean_log(server)


# ------------------------------------------------------------------ (b) read-only gallery


def _immutable(paths: list[Path], on: bool) -> bool:
    r = subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], capture_output=True)
    return r.returncode == 0


def test_read_only_gallery_refuses_writes_and_keeps_serving_reads(live_server: Any, examples: Path) -> None:
    # We run as root, so chmod would not stop the server (root ignores modes, and modes are only
    # checked when a file is opened: the server's connections are already open). The immutable
    # attribute is enforced on every write, for root too, and through already-open descriptors.
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    server = live_server()
    assert _enroll(server.url, "obama", [examples / "obama.jpg"]).status_code == 201
    db = server.home / "gallery.sqlite"
    files = [p for p in (db, db.with_name(db.name + "-wal")) if p.exists()]
    if not _immutable(files, True):
        pytest.skip("this filesystem does not support the immutable attribute")
    try:
        for who, photo in (("biden", "biden.jpg"), ("obama", "obama2.jpg")):
            r = _enroll(server.url, who, [examples / photo])
            err = _json_error(r.status_code, r.text, 503, "storage_unavailable")
            assert str(server.home) not in err["message"]  # no server paths leak to the client
        # reads still work: the enrolled person is found, the list and the probe answer
        r = _identify(server.url, examples / "obama_small.jpg")
        assert r.status_code == 200 and r.json()["faces"][0]["identity"] == "obama", r.text
        assert _names(server.url) == {"obama": 1}
        _alive_and_ready(server)
    finally:
        assert _immutable(files, False)
    r = _enroll(server.url, "biden", [examples / "biden.jpg"])
    assert r.status_code == 201, r.text
    assert _names(server.url) == {"obama": 1, "biden": 1}
    r = _identify(server.url, examples / "obama_small.jpg")
    assert r.json()["faces"][0]["identity"] == "obama"
    _assert_clean_log(server)


# ------------------------------------------------------------------ (c) SIGTERM during requests

PEOPLE = [
    "Abdullah_Gul",
    "Adrien_Brody",
    "Al_Gore",
    "Al_Sharpton",
    "Alan_Greenspan",
    "Alejandro_Toledo",
    "Ali_Naimi",
    "Ahmed_Chalabi",
]


@pytest.mark.parametrize("grace", [20.0, 0.0], ids=["drain", "cut-off"])
def test_sigterm_during_enrolls_loses_nothing_committed(live_server: Any, lfw_root: Path, grace: float) -> None:
    """With a long grace every in-flight enrollment finishes and is answered; with none, those still
    running are cut off with 503 shutting_down (or no answer; their jobs may still commit). Either
    way the server exits 0 and every enrollment answered 201 is in the gallery, whole."""
    photos = {p: sorted((lfw_root / "images" / p).glob("*.jpg"))[:3] for p in PEOPLE}
    server = live_server("--grace", str(grace), "--workers", "1")  # one worker: the others queue behind it
    results: dict[str, Any] = {}
    done_at: dict[str, float] = {}
    first_done = threading.Event()
    go = threading.Barrier(len(PEOPLE) + 1)

    def client(name: str) -> None:
        go.wait()
        try:
            results[name] = _enroll(server.url, name, photos[name], timeout=grace + 30)
        except httpx.HTTPError as e:  # refused or cut off: no answer, may or may not be committed
            results[name] = e
        done_at[name] = time.monotonic()
        first_done.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in PEOPLE]
    for t in threads:
        t.start()
    go.wait()
    assert first_done.wait(60), "no enrollment finished"
    assert _metric(server.url, "faceprint_work_pending") >= 1  # requests are in flight now
    term_at = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    rc = server.proc.wait(grace + 15)
    exited_after = time.monotonic() - term_at
    for t in threads:
        t.join(30)
    assert rc == 0, server.log.read_text()[-3000:]
    assert exited_after < max(grace, 10.0), exited_after  # a cut-off still waits for running jobs

    committed, cut = {}, 0
    for name, r in results.items():
        cut += not isinstance(r, httpx.Response)
        if isinstance(r, httpx.Response):
            if r.status_code >= 500:  # cut off by the end of the grace: JSON, "may or may not have been applied"
                _json_error(r.status_code, r.text, 503, "shutting_down")
                cut += 1
            elif r.status_code == 201:
                committed[name] = r.json()["enrolled"]
    assert committed, {n: getattr(r, "status_code", repr(r)) for n, r in results.items()}
    if grace > 5:  # drained: requests in flight at SIGTERM were answered
        assert any(done_at[n] > term_at for n in committed), "no request was in flight when SIGTERM came"
    else:
        assert cut, "no request was cut off by the end of the grace"

    # re-open the gallery from disk: everything reported committed is there, whole
    from faceprint.matching.gallery import Gallery

    db = server.home / "gallery.sqlite"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = c.execute(
            "SELECT COUNT(*) FROM identities i WHERE NOT EXISTS (SELECT 1 FROM faces f WHERE f.identity_id = i.id)"
        ).fetchone()[0]
    assert orphans == 0  # all-or-nothing enrollments: no identity without its faces
    with Gallery(home=server.home) as g:
        stored = {r.name: r.n_faces for r in g.list()}
        n_ids, n_faces = g.count()
    for name, n in committed.items():
        assert stored.get(name) == n, (name, stored)
    assert set(stored) <= set(PEOPLE) and n_ids == len(stored) and n_faces == sum(stored.values())

    # a new server on the same home serves them (its index agrees with the store)
    again = live_server(home=server.home)
    assert _names(again.url) == stored
    name = next(iter(committed))
    probe = sorted((lfw_root / "images" / name).glob("*.jpg"))[3]
    r = _identify(again.url, probe)
    assert r.status_code == 200 and r.json()["faces"][0]["identity"] == name, r.text
    _assert_clean_log(server)


# ------------------------------------------------------------------ (d) busy and timeout


def test_overload_answers_503_busy_and_recovers(live_server: Any, examples: Path) -> None:
    server = live_server("--workers", "1", env={"FACEPRINT_MAX_QUEUE": "1"})
    n = 16
    photo = examples / "obama-720p.jpg"
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    go = threading.Barrier(n)

    def client() -> None:
        go.wait()
        r = _identify(server.url, photo)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=client) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    statuses = sorted(r.status_code for r in answers)
    assert len(answers) == n and set(statuses) <= {200, 503}, statuses
    busy = [r for r in answers if r.status_code == 503]
    assert busy and len(busy) < n, statuses
    for r in busy:
        _json_error(r.status_code, r.text, 503, "busy")
        assert int(r.headers["retry-after"]) >= 1
    assert _metric(server.url, "faceprint_work_rejected_total") == len(busy)
    # the queue drained: the server answers normally again
    assert _metric(server.url, "faceprint_work_pending") == 0
    assert _identify(server.url, photo).status_code == 200
    _alive_and_ready(server)
    _assert_clean_log(server)


def test_time_limit_answers_504_and_nothing_is_written_after_it(live_server: Any, examples: Path) -> None:
    server = live_server("--timeout", "0.001")
    r = _identify(server.url, examples / "obama.jpg")
    _json_error(r.status_code, r.text, 504, "timeout")
    r = _enroll(server.url, "obama", [examples / "obama.jpg"])
    _json_error(r.status_code, r.text, 504, "timeout")
    assert _metric(server.url, "faceprint_work_timeouts_total") == 2
    _alive_and_ready(server)
    # the timed-out enrolment was cancelled before its write: nothing appears, even later
    time.sleep(3)
    assert _names(server.url) == {}
    _assert_clean_log(server)


def test_a_long_enrolment_cut_at_the_limit_writes_nothing_and_frees_its_worker(
    live_server: Any, lfw_root: Path, examples: Path
) -> None:
    server = live_server("--timeout", "0.25", "--workers", "1")
    photos = sorted((lfw_root / "images").glob("A*/*.jpg"))[:20]  # 20 photos: ~0.5-1 s of work here
    assert len(photos) == 20
    r = _enroll(server.url, "bush", photos)
    _json_error(r.status_code, r.text, 504, "timeout")
    # the cancelled job stops at its next image and frees the one worker
    deadline = time.monotonic() + 15
    while _metric(server.url, "faceprint_work_pending") != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _metric(server.url, "faceprint_work_pending") == 0
    time.sleep(3)
    assert _names(server.url) == {}
    _assert_clean_log(server)


# ------------------------------------------------------------------ (e) oversize bodies and images


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of fields
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", binascii.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def test_oversize_bodies_and_images_are_refused(live_server: Any, examples: Path) -> None:
    server = live_server("--max-upload-mb", "1", env={"FACEPRINT_MAX_PIXELS": "200000"})
    port = _port(server)

    # declared too large: answered from the headers alone, before any of the body is sent
    for path in ("/v1/identify", "/v1/enroll"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            t0 = time.monotonic()
            s.sendall(_head(path, port, {"Content-Length": str(50 * 1024 * 1024)}))
            status, headers, body = _read_response(s)
            assert time.monotonic() - t0 < 10
        _json_error(status, body, 413, "payload_too_large")
        assert headers.get("connection") == "close"

    # chunked (no Content-Length): refused once the bytes received pass the limit
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(_head("/v1/identify", port, {"Transfer-Encoding": "chunked"}))
        first = _part("image", b"", "big.jpg")[:-2]
        chunk = b"\xab" * 65536
        sent, answered = 0, False
        for i in range(128):  # up to 8 MiB
            data = first + chunk if i == 0 else chunk
            try:
                s.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(data)
            if select.select([s], [], [], 0.02)[0]:
                answered = True
                break
        if not answered:
            assert select.select([s], [], [], 10)[0], "no answer to an oversize chunked body"
        status, _, body = _read_response(s)
    _json_error(status, body, 413, "payload_too_large")
    assert 1024 * 1024 < sent < 8 * 1024 * 1024  # answered once past the limit, not after reading it all

    # the same through an ordinary client: a JSON body over the limit
    r = httpx.post(server.url + "/v1/detect", json={"image": "A" * (1024 * 1024 + 10)}, timeout=30)
    _json_error(r.status_code, r.text, 413, "payload_too_large")

    # images over the pixel limit (910x1137 > 200 000 px), and a bomb's header, are refused undecoded
    r = _identify(server.url, examples / "obama.jpg")
    err = _json_error(r.status_code, r.text, 413, "image_too_large")
    assert "200000" in err["message"].replace(",", "").replace(" ", "") or "pixel" in err["message"]
    r = httpx.post(
        server.url + "/v1/identify", files=[("image", ("bomb.png", _png_claiming(30000, 30000), "image/png"))], timeout=30
    )
    _json_error(r.status_code, r.text, 413, "image_too_large")
    r = _enroll(server.url, "obama", [examples / "obama_small.jpg", examples / "obama.jpg"])
    err = _json_error(r.status_code, r.text, 413, "image_too_large")
    assert _names(server.url) == {}  # all or nothing: the small photo was not stored either

    # below the limits everything works
    r = _identify(server.url, examples / "obama-240p.jpg")  # 427x240
    assert r.status_code == 200 and len(r.json()["faces"]) == 1, r.text
    _alive_and_ready(server)
    _assert_clean_log(server)
