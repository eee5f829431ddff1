"""Unit tests of the service's parts that need no models: settings, API keys, body parsing,
the work pool and the metrics text."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service extra is not installed")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.service.errors import ServiceError  # noqa: E402
from faceprint.service.inputs import Body, Param, _b64, _convert  # noqa: E402
from faceprint.service.keys import ApiKeyStore, matches_operator, operator_key, scope_allows  # noqa: E402
from faceprint.service.metrics import Metrics  # noqa: E402
from faceprint.service.settings import ServiceSettings, is_loopback  # noqa: E402
from faceprint.service.work import WorkPool  # noqa: E402

# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    "host, loop",
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.2", False),
        ("myhost", False),
    ],
)
def test_is_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_auth_required_follows_the_bind_address() -> None:
    assert not ServiceSettings().auth_required
    assert ServiceSettings(host="0.0.0.0").auth_required
    assert ServiceSettings(auth="on").auth_required
    assert not ServiceSettings(auth="off").auth_required


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEPRINT_PORT", "9123")
    monkeypatch.setenv("FACEPRINT_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("FACEPRINT_CORS_ORIGINS", '["https://a.example"]')
    s = ServiceSettings()
    assert s.port == 9123 and s.max_upload_bytes == 2 * 1024 * 1024 and s.cors_origins == ["https://a.example"]
    assert ServiceSettings(port=80).port == 80  # arguments win


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        ServiceSettings(cors_origins=["*"])
    with pytest.raises(ValueError):
        ServiceSettings(max_upload_mb=0)
    with pytest.raises(ValueError):
        ServiceSettings(port=70000)
    with pytest.raises(ValueError):
        ServiceSettings(auth="maybe")


# ------------------------------------------------------------------ keys


def test_key_lifecycle_and_hashing(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path)
    new = store.create("write", "ci")
    assert new.key.startswith(f"fpk_{new.info.id}_") and len(new.key) == 4 + 12 + 1 + 43
    assert store.check(new.key) == new.info
    assert store.check(new.key[:-1] + ("A" if new.key[-1] != "A" else "B")) is None
    assert store.check("") is None and store.check("fpk_nothing") is None
    assert store.check(f"fpk_{'0' * 12}_{'A' * 43}") is None
    assert store.count_active() == 1
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("service-keys.sqlite*"))
    assert new.key.encode() not in raw and new.key.split("_", 2)[2].encode() not in raw
    revoked = store.revoke(new.info.id)
    assert revoked.revoked is not None and store.check(new.key) is None and store.count_active() == 0
    assert store.revoke(new.info.id).revoked == revoked.revoked  # idempotent
    with pytest.raises(InvalidInput):
        store.revoke("nope")
    with pytest.raises(InvalidInput):
        store.create("root")
    store.close()
    assert ApiKeyStore(tmp_path).list()[0].id == new.info.id  # persisted


def test_keys_are_unique_and_checked_from_threads(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path)
    keys = [store.create("read") for _ in range(20)]
    assert len({k.key for k in keys}) == 20 and len({k.info.id for k in keys}) == 20
    bad: list[str] = []

    def check(k: Any) -> None:
        if store.check(k.key) != k.info:
            bad.append(k.info.id)

    threads = [threading.Thread(target=check, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


def test_scope_order() -> None:
    assert scope_allows("admin", "write") and scope_allows("write", "read") and scope_allows("read", "read")
    assert not scope_allows("read", "write") and not scope_allows("write", "admin")


def test_operator_key() -> None:
    assert operator_key(None) is None
    with pytest.raises(InvalidInput):
        operator_key("short")
    op = operator_key("k" * 30)
    assert matches_operator("k" * 30, op).scope == "admin"  # type: ignore[union-attr]
    assert matches_operator("k" * 29, op) is None and matches_operator("", op) is None


# ------------------------------------------------------------------ body parsing


def test_base64_forms() -> None:
    data = bytes(range(256)) * 3
    std = base64.b64encode(data).decode()
    assert _b64(std, "x") == data
    assert _b64(base64.urlsafe_b64encode(data).decode().rstrip("="), "x") == data
    assert _b64("data:image/png;base64," + std, "x") == data
    for bad in ("", "%%%", "data:image/png,rawtext", "http://a/b.jpg", "HTTPS://a", "//host/x", 5, None):
        with pytest.raises(InvalidInput):
            _b64(bad, "x")


@pytest.mark.parametrize(
    "kind, value, from_text, expected",
    [
        ("int", "5", True, 5),
        ("int", 5, False, 5),
        ("float", "0.5", True, 0.5),
        ("float", 1, False, 1.0),
        ("bool", "true", True, True),
        ("bool", "0", True, False),
        ("bool", False, False, False),
        ("json", '{"a": 1}', True, {"a": 1}),
        ("json", {"a": 1}, False, {"a": 1}),
        ("str", "largest", True, "largest"),
    ],
)
def test_param_conversion(kind: str, value: Any, from_text: bool, expected: Any) -> None:
    p = Param(
        "p",
        kind,
        "",
        enum=("largest",) if kind == "str" else None,
        minimum=0 if kind in ("int", "float") else None,
        maximum=10 if kind in ("int", "float") else None,
    )
    assert _convert(p, value, from_text) == expected


@pytest.mark.parametrize(
    "kind, value, from_text",
    [
        ("int", "5", False),
        ("int", True, False),
        ("int", 2.5, False),
        ("int", "x", True),
        ("int", "11", True),
        ("float", "inf", True),
        ("float", "nan", True),
        ("bool", "maybe", True),
        ("bool", 1, False),
        ("json", "[1]", True),
        ("json", "{", True),
        ("str", 3, False),
        ("str", "smallest", True),
    ],
)
def test_param_conversion_refuses(kind: str, value: Any, from_text: bool) -> None:
    p = Param("p", kind, "", enum=("largest",) if kind == "str" else None, minimum=0, maximum=10)
    with pytest.raises(InvalidInput):
        _convert(p, value, from_text)


def test_openapi_body_lists_both_content_types() -> None:
    spec = Body(images=("images",), many=("images",), params=(Param("name", "str", "n", required=True, max_length=5),)).openapi()
    content = spec["requestBody"]["content"]
    mp, js = content["multipart/form-data"]["schema"], content["application/json"]["schema"]
    assert mp["required"] == js["required"] == ["images", "name"]
    assert mp["properties"]["images"]["items"]["format"] == "binary"
    assert js["properties"]["name"]["maxLength"] == 5


# ------------------------------------------------------------------ work pool


def test_pool_runs_rejects_when_full_and_times_out() -> None:
    async def main() -> None:
        pool = WorkPool(workers=1, max_queue=1, timeout_s=5)
        assert await pool.run(lambda a, b: a + b, 2, 3) == 5
        gate = threading.Event()
        t1 = asyncio.ensure_future(pool.run(gate.wait, 5))
        t2 = asyncio.ensure_future(pool.run(gate.wait, 5))
        await asyncio.sleep(0.05)
        with pytest.raises(ServiceError) as e:
            await pool.run(lambda: 1)
        assert e.value.status == 503 and e.value.code == "busy" and e.value.headers["Retry-After"] == "1"
        gate.set()
        assert await t1 and await t2
        await asyncio.sleep(0.05)
        assert pool.pending == 0 and pool.rejected == 1
        pool.timeout_s = 0.05
        with pytest.raises(ServiceError) as e:
            await pool.run(time.sleep, 0.3)
        assert e.value.status == 504 and e.value.code == "timeout"
        await asyncio.sleep(0.4)
        assert pool.pending == 0 and pool.timeouts == 1  # the slot came back when the job ended
        with pytest.raises(ZeroDivisionError):
            pool.timeout_s = 5
            await pool.run(lambda: 1 / 0)
        pool.shutdown()

    asyncio.run(main())


# ------------------------------------------------------------------ metrics


def test_metrics_text_format() -> None:
    m = Metrics()
    for status, secs in ((200, 0.003), (200, 0.2), (404, 40.0)):
        m.begin()
        m.end("GET", "/v1/x", status, secs)
    m.gauge("faceprint_test_gauge", lambda: 7)
    m.gauge("faceprint_broken_gauge", lambda: 1 / 0)
    text = m.render()
    assert 'faceprint_http_requests_total{method="GET",route="/v1/x",status="200"} 2' in text
    assert 'faceprint_http_request_duration_seconds_bucket{method="GET",route="/v1/x",le="0.005"} 1' in text
    assert 'faceprint_http_request_duration_seconds_bucket{method="GET",route="/v1/x",le="0.25"} 2' in text
    assert 'faceprint_http_request_duration_seconds_bucket{method="GET",route="/v1/x",le="30.0"} 2' in text
    assert 'faceprint_http_request_duration_seconds_bucket{method="GET",route="/v1/x",le="+Inf"} 3' in text
    assert 'faceprint_http_request_duration_seconds_count{method="GET",route="/v1/x"} 3' in text
    assert "faceprint_http_requests_in_flight 0" in text and "faceprint_test_gauge 7" in text
    assert "faceprint_broken_gauge" not in text and text.endswith("\n")
