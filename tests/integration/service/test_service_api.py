"""Every route through HTTP (in-process ASGI), every error path and every scope."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from faceprint.pipeline import PipelineConfig  # noqa: E402

DEFAULT_MODEL = f"{PipelineConfig().embedder}@1"
ADMIN = "operator-admin-key-" + "x" * 20


def _files(path: Path, field: str = "image") -> dict[str, Any]:
    return {field: (path.name, path.read_bytes(), "image/jpeg")}


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _png(w: int, h: int, value: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _err(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert "Traceback" not in r.text
    return body["error"]


# ------------------------------------------------------------------ health, page, schema


def test_health_ready_metrics(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    d = r.json()
    assert d["status"] == "ready" and d["models"]["embedder"] == DEFAULT_MODEL
    assert d["models"]["expression"].startswith("faceprint_fer_cnn")
    assert d["gallery"] == {"identities": 0, "faces": 0, "model": None}
    m = client.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    assert 'faceprint_http_requests_total{method="GET",route="/readyz",status="200"} 1' in m.text
    assert "faceprint_process_resident_memory_bytes" in m.text
    assert "faceprint_http_request_duration_seconds_bucket" in m.text


def test_page_and_static_files_with_security_headers(client: Any) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'id="enroll-form"' in r.text and "/static/app.js" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and "/v1/identify" in js.text
    assert client.get("/static/style.css").status_code == 200
    for bad in ("/static/../app.py", "/static/.env", "/static/app.py", "/static/nothing.js"):
        assert client.get(bad).status_code == 404, bad


def test_openapi_documents_every_route_and_both_body_types(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in (
        "/v1/detect",
        "/v1/embed",
        "/v1/verify",
        "/v1/identify",
        "/v1/enroll",
        "/v1/analyze",
        "/v1/identities",
        "/v1/identities/{name}",
        "/v1/keys",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert p in paths, p
    content = paths["/v1/verify"]["post"]["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json"}
    assert content["multipart/form-data"]["schema"]["required"][:2] == ["image_a", "image_b"]
    assert client.get("/docs").status_code == 404  # no CDN-backed Swagger UI (offline)


def test_unknown_route_and_method_are_json(client: Any) -> None:
    _err(client.get("/v1/nothing"), 404, "not_found")
    _err(client.get("/v1/detect"), 405, "method_not_allowed")


# ------------------------------------------------------------------ face routes


def test_detect_multipart_and_base64_agree(client: Any, examples: Path) -> None:
    a = client.post("/v1/detect", files=_files(examples / "obama.jpg"))
    b = client.post("/v1/detect", json={"image": _b64(examples / "obama.jpg")})
    c = client.post("/v1/detect", json={"image": "data:image/jpeg;base64," + _b64(examples / "obama.jpg")})
    assert a.status_code == b.status_code == c.status_code == 200
    assert a.json() == b.json() == c.json()
    d = a.json()
    assert d["image"] == {"width": 910, "height": 1137}  # obama.jpg
    assert len(d["faces"]) == 1
    x1, y1, x2, y2 = d["faces"][0]["box"]
    assert 0 <= x1 < x2 <= 910 and 0 <= y1 < y2 <= 1137
    assert d["faces"][0]["landmarks"]["scheme"] in ("dlib5", "dlib68", "eyes_nose_mouth5")


def test_detect_two_people_and_no_face(client: Any, examples: Path) -> None:
    two = client.post("/v1/detect", files=_files(examples / "two_people.jpg")).json()
    assert len(two["faces"]) == 2
    blank = client.post("/v1/detect", files={"image": ("grey.png", _png(200, 150), "image/png")})
    assert blank.status_code == 200 and blank.json() == {"image": {"width": 200, "height": 150}, "faces": []}


def test_embed_returns_unit_vectors_of_the_model(client: Any, examples: Path) -> None:
    d = client.post("/v1/embed", files=_files(examples / "biden.jpg")).json()
    assert len(d["faces"]) == 1
    f = d["faces"][0]
    v = np.asarray(f["embedding"])
    assert f["model"] == DEFAULT_MODEL and v.shape == (128,)
    assert abs(np.linalg.norm(v) - 1) < 1e-5
    # the same embedding as the library API gives
    import faceprint

    ref = faceprint.embed_face(str(examples / "biden.jpg")).vector
    assert np.allclose(v, ref, atol=1e-6)


def test_verify_same_and_different_people(client: Any, examples: Path) -> None:
    same = client.post(
        "/v1/verify", files={**_files(examples / "obama.jpg", "image_a"), **_files(examples / "obama2.jpg", "image_b")}
    )
    diff = client.post("/v1/verify", json={"image_a": _b64(examples / "obama.jpg"), "image_b": _b64(examples / "biden.jpg")})
    assert same.status_code == diff.status_code == 200
    s, d = same.json(), diff.json()
    assert s["is_match"] is True and d["is_match"] is False
    assert s["score"] > s["threshold"] > d["score"]
    assert s["threshold_source"].startswith("model card default") and len(s["box_a"]) == 4
    strict = client.post(
        "/v1/verify", json={"image_a": _b64(examples / "obama.jpg"), "image_b": _b64(examples / "obama2.jpg"), "threshold": 0.999}
    )
    assert (
        strict.json()["is_match"] is False
        and strict.json()["threshold"] == 0.999
        and strict.json()["threshold_source"] == "argument"
    )


def test_verify_errors(client: Any, examples: Path) -> None:
    e = _err(client.post("/v1/verify", files=_files(examples / "obama.jpg", "image_a")), 400, "invalid_input")
    assert "image_b" in e["message"]
    e = _err(
        client.post(
            "/v1/verify", files={**_files(examples / "obama.jpg", "image_a"), "image_b": ("g.png", _png(120, 120), "image/png")}
        ),
        422,
        "no_face",
    )
    assert "image_b" in e["message"]
    _err(
        client.post(
            "/v1/verify", json={"image_a": _b64(examples / "obama.jpg"), "image_b": _b64(examples / "obama.jpg"), "threshold": 3}
        ),
        400,
        "invalid_input",
    )
    _err(
        client.post(
            "/v1/verify",
            json={"image_a": _b64(examples / "obama.jpg"), "image_b": _b64(examples / "obama.jpg"), "select": "tallest"},
        ),
        400,
        "invalid_input",
    )


def test_analyze_expression_and_identity_in_one_pass(client: Any, examples: Path) -> None:
    d = client.post("/v1/analyze", files=_files(examples / "obama.jpg")).json()
    assert len(d["faces"]) == 1
    f = d["faces"][0]
    probs = f["expression"]["probabilities"]
    assert list(probs) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert abs(sum(probs.values()) - 1) < 1e-3 and f["expression"]["label"] == max(probs, key=probs.get)
    assert f.get("identity") is None
    # the same labels as the library's analyze()
    import faceprint

    lib = faceprint.analyze(str(examples / "obama.jpg"))
    assert lib[0].expression.label == f["expression"]["label"]
    client.post(
        "/v1/enroll", data={"name": "Obama"}, files=[("images", ("o.jpg", (examples / "obama2.jpg").read_bytes(), "image/jpeg"))]
    )
    d = client.post("/v1/analyze", files=_files(examples / "obama.jpg"), data={"identify": "true"}).json()
    assert d["faces"][0]["identity"]["identity"] == "Obama" and d["faces"][0]["expression"]["label"]


def test_analyze_tasks(client: Any, examples: Path, human_models: None) -> None:
    d = client.post("/v1/analyze", files=_files(examples / "obama.jpg")).json()
    f = d["faces"][0]
    assert set(d["models"]) == {"expression", "age", "gender", "liveness", "quality"} and f["race"] is None
    assert f["gender"]["label"] == "male" and 15 <= f["age"]["years"] <= 90 and 0 <= f["quality"]["score"] <= 1
    assert f["liveness"]["threshold"] == 0.6 and isinstance(f["liveness"]["live"], bool)
    d = client.post("/v1/analyze", files=_files(examples / "obama.jpg"), data={"tasks": "age,quality"}).json()
    assert set(d["models"]) == {"age", "quality"}
    f = d["faces"][0]
    assert f["expression"] is None and f["gender"] is None and f["age"]["years"] > 0
    d = client.post("/v1/analyze", json={"image": base64.b64encode((examples / "obama.jpg").read_bytes()).decode(),
                                         "tasks": "gender", "include_race": True}).json()
    assert d["faces"][0]["race"]["purpose"] == "bias audit" and d["models"]["race"].startswith("human_gear_race")
    _err(client.post("/v1/analyze", files=_files(examples / "obama.jpg"), data={"tasks": "age,colour"}), 400, "invalid_input")


def test_analyze_off_is_503(make_client: Any, examples: Path, human_models: None) -> None:
    c = make_client()
    c.app.state.ctx._analyzer = None
    c.app.state.ctx._analyzer_error = "expression analysis is not enabled on this server"
    _err(c.post("/v1/analyze", files=_files(examples / "obama.jpg"), data={"tasks": "expression"}), 503, "model_unavailable")
    d = c.post("/v1/analyze", files=_files(examples / "obama.jpg"), data={"tasks": "gender"}).json()
    assert d["faces"][0]["gender"]["label"] == "male" and d["faces"][0]["expression"] is None


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "kwargs, status, code",
    [
        ({"files": {"image": ("x.jpg", b"this is not an image", "image/jpeg")}}, 400, "invalid_image"),
        ({"files": {"image": ("x.jpg", b"", "image/jpeg")}}, 400, "invalid_input"),
        ({"json": {"image": "***not base64***"}}, 400, "invalid_input"),
        ({"json": {"image": "https://example.com/face.jpg"}}, 400, "invalid_input"),
        ({"json": {"image": "file:///etc/passwd"}}, 400, "invalid_input"),
        ({"json": {"image": base64.b64encode(b"GIF89a-truncated").decode()}}, 400, "invalid_image"),
        ({"json": ["not", "an", "object"]}, 400, "invalid_input"),
        ({"json": {}}, 400, "invalid_input"),
        ({"json": {"image": 12}}, 400, "invalid_input"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "invalid_input"),
        ({"content": b"raw bytes", "headers": {"content-type": "image/jpeg"}}, 400, "invalid_input"),
        ({"data": {"image": "a text field, not a file"}}, 400, "invalid_input"),
    ],
)
def test_bad_image_inputs_are_clear_json_errors(client: Any, kwargs: dict[str, Any], status: int, code: str) -> None:
    _err(client.post("/v1/detect", **kwargs), status, code)


def test_urls_are_never_fetched(client: Any) -> None:
    e = _err(client.post("/v1/identify", json={"image": "http://169.254.169.254/latest/meta-data"}), 400, "invalid_input")
    assert "not fetched" in e["message"]


def test_upload_and_pixel_limits(make_client: Any, examples: Path) -> None:
    c = make_client(max_upload_mb=0.05, max_pixels=100_000)
    e = _err(c.post("/v1/detect", files=_files(examples / "obama.jpg")), 413, "payload_too_large")  # 91 KB > 51 KB
    assert "upload limit" in e["message"]
    big = _png(400, 300)  # 120,000 pixels, a small file
    e = _err(c.post("/v1/detect", files={"image": ("big.png", big, "image/png")}), 413, "image_too_large")
    assert "120,000" in e["message"]
    e = _err(c.post("/v1/enroll", data={"name": "x"}, files=[("images", ("big.png", big, "image/png"))]), 413, "image_too_large")
    assert c.get("/v1/identities").json()["identities"] == []
    assert c.post("/v1/detect", files={"image": ("ok.png", _png(300, 300), "image/png")}).status_code == 200


def test_field_validation(client: Any, examples: Path) -> None:
    for k in ("0", "101", "two", "1.5"):
        _err(client.post("/v1/identify", files=_files(examples / "obama.jpg"), data={"k": k}), 400, "invalid_input")
    _err(client.post("/v1/identify", json={"image": _b64(examples / "obama.jpg"), "k": True}), 400, "invalid_input")
    _err(client.post("/v1/identify", json={"image": _b64(examples / "obama.jpg"), "threshold": "NaN"}), 400, "invalid_input")
    _err(client.post("/v1/enroll", json={"images": [_b64(examples / "obama.jpg")], "name": ""}), 400, "invalid_input")
    _err(client.post("/v1/enroll", json={"images": [_b64(examples / "obama.jpg")], "name": "   "}), 400, "invalid_input")
    _err(
        client.post("/v1/enroll", json={"images": [_b64(examples / "obama.jpg")], "name": "a", "metadata": [1]}),
        400,
        "invalid_input",
    )
    _err(
        client.post(
            "/v1/enroll",
            data={"name": "a", "metadata": "{oops"},
            files=[("images", ("o.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))],
        ),
        400,
        "invalid_input",
    )
    _err(client.post("/v1/enroll", json={"images": [_b64(examples / "obama.jpg")] * 21, "name": "a"}), 400, "invalid_input")
    assert client.get("/v1/identities").json()["identities"] == []


# ------------------------------------------------------------------ gallery routes


def test_enroll_identify_show_delete(client: Any, examples: Path) -> None:
    r = client.post(
        "/v1/enroll",
        data={"name": "Barack Obama", "metadata": '{"team": "blue"}'},
        files=[
            ("images", ("a.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg")),
            ("images", ("b.jpg", (examples / "obama2.jpg").read_bytes(), "image/jpeg")),
        ],
    )
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["name"] == "Barack Obama" and d["enrolled"] == 2 and d["duplicates"] == 0
    assert [i["source"] for i in d["images"]] == ["images[0]", "images[1]"]
    again = client.post("/v1/enroll", json={"name": "Barack Obama", "images": [_b64(examples / "obama.jpg")]})
    assert again.status_code == 201 and again.json()["duplicates"] == 1 and again.json()["enrolled"] == 0
    assert client.post("/v1/enroll", json={"name": "Joe Biden", "images": [_b64(examples / "biden.jpg")]}).status_code == 201

    lst = client.get("/v1/identities").json()
    assert [(i["name"], i["n_faces"]) for i in lst["identities"]] == [("Barack Obama", 2), ("Joe Biden", 1)]
    assert lst["n_faces"] == 3 and lst["model"] == DEFAULT_MODEL
    assert lst["identities"][0]["metadata"] == {"team": "blue"}

    found = client.post("/v1/identify", files=_files(examples / "two_people.jpg"), data={"k": "2"}).json()
    names = sorted(f["identity"] for f in found["faces"])
    assert names == ["Barack Obama", "Joe Biden"]
    assert all(len(f["candidates"]) == 2 and f["score"] >= f["threshold"] for f in found["faces"])
    assert all(f["threshold_source"].startswith("open-set") and 0 <= f["fpir_estimate"] <= 0.01 for f in found["faces"]), found

    show = client.get("/v1/identities/Barack Obama").json()
    assert show["identity"]["name"] == "Barack Obama" and len(show["faces"]) == 2
    assert all(len(f["sha256"]) == 64 and "vector" not in f and "embedding" not in f for f in show["faces"])

    gone = client.delete("/v1/identities/Barack Obama")
    assert gone.status_code == 200 and gone.json() == {"deleted": "Barack Obama", "faces_removed": 2}
    after = client.post("/v1/identify", files=_files(examples / "obama2.jpg")).json()
    assert after["faces"][0]["identity"] is None and after["faces"][0]["unknown"] is True
    assert all(c["identity"] != "Barack Obama" for c in after["faces"][0]["candidates"])
    e = _err(client.get("/v1/identities/Barack Obama"), 404, "unknown_identity")
    assert "/" not in e["message"].replace("<gallery>", ""), e  # the server's paths are not disclosed
    _err(client.delete("/v1/identities/Barack Obama"), 404, "unknown_identity")


def test_enroll_is_all_or_nothing(client: Any, examples: Path) -> None:
    files = [
        ("images", ("a.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg")),
        ("images", ("grey.png", _png(200, 200), "image/png")),
    ]
    e = _err(client.post("/v1/enroll", data={"name": "Obama"}, files=files), 422, "no_face")
    assert e["message"].startswith("images[1]: ")
    e = _err(
        client.post(
            "/v1/enroll",
            data={"name": "Group"},
            files=[("images", ("t.jpg", (examples / "two_people.jpg").read_bytes(), "image/jpeg"))],
        ),
        422,
        "multiple_faces",
    )
    assert client.get("/v1/identities").json()["identities"] == []
    r = client.post(
        "/v1/enroll",
        data={"name": "Group", "select": "largest"},
        files=[("images", ("t.jpg", (examples / "two_people.jpg").read_bytes(), "image/jpeg"))],
    )
    assert r.status_code == 201 and r.json()["enrolled"] == 1


def test_identify_empty_gallery_and_no_face(client: Any, examples: Path) -> None:
    r = client.post("/v1/identify", files=_files(examples / "obama.jpg")).json()
    assert r["faces"][0]["identity"] is None and r["faces"][0]["candidates"] == []
    blank = client.post("/v1/identify", files={"image": ("g.png", _png(100, 100), "image/png")}).json()
    assert blank["faces"] == []


# ------------------------------------------------------------------ authentication and scopes


@pytest.fixture
def authed(make_client: Any) -> Any:
    c = make_client(auth="on", admin_key=ADMIN)
    keys = {}
    for scope in ("read", "write", "admin"):
        r = c.post("/v1/keys", json={"scope": scope, "label": f"test {scope}"}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 201, r.text
        keys[scope] = r.json()["key"]
    return c, keys


def test_every_route_needs_a_key_when_auth_is_on(authed: Any, examples: Path) -> None:
    c, keys = authed
    img = _files(examples / "obama.jpg")
    calls = [
        ("post", "/v1/detect", {"files": img}),
        ("post", "/v1/embed", {"files": img}),
        ("post", "/v1/identify", {"files": img}),
        ("post", "/v1/analyze", {"files": img}),
        (
            "post",
            "/v1/verify",
            {"files": {**_files(examples / "obama.jpg", "image_a"), **_files(examples / "obama2.jpg", "image_b")}},
        ),
        (
            "post",
            "/v1/enroll",
            {"data": {"name": "x"}, "files": [("images", ("o.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))]},
        ),
        ("get", "/v1/identities", {}),
        ("get", "/v1/identities/x", {}),
        ("delete", "/v1/identities/x", {}),
        ("get", "/v1/keys", {}),
    ]
    for method, path, kw in calls:
        r = getattr(c, method)(path, **kw)
        _err(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        _err(getattr(c, method)(path, headers={"X-API-Key": "fpk_000000000000_" + "A" * 43}, **kw), 401, "unauthorized")
        _err(getattr(c, method)(path, headers={"Authorization": "Bearer nonsense"}, **kw), 401, "unauthorized")
    # the liveness probe and the page stay open; readiness and metrics describe the deployment: read scope
    assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200
    for path in ("/readyz", "/metrics"):
        _err(c.get(path), 401, "unauthorized")
        assert c.get(path, headers={"Authorization": f"Bearer {keys['read']}"}).status_code == 200


def test_scopes(authed: Any, examples: Path) -> None:
    c, keys = authed
    h = {s: {"Authorization": f"Bearer {k}"} for s, k in keys.items()}
    def enroll(hdr: dict[str, str]) -> Any:
        return c.post(
            "/v1/enroll",
            headers=hdr,
            data={"name": "Obama"},
            files=[("images", ("o.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))],
        )

    e = _err(enroll(h["read"]), 403, "forbidden")
    assert "'read'" in e["message"] and "'write'" in e["message"]
    assert enroll(h["write"]).status_code == 201
    for s in ("read", "write", "admin"):
        assert (
            c.post("/v1/identify", headers=h[s], files=_files(examples / "obama2.jpg")).json()["faces"][0]["identity"] == "Obama"
        )
        assert c.get("/v1/identities", headers={"X-API-Key": keys[s]}).status_code == 200
    _err(c.delete("/v1/identities/Obama", headers=h["read"]), 403, "forbidden")
    _err(c.get("/v1/keys", headers=h["write"]), 403, "forbidden")
    _err(c.post("/v1/keys", headers=h["write"], json={"scope": "admin"}), 403, "forbidden")
    assert c.delete("/v1/identities/Obama", headers=h["write"]).status_code == 200


def test_key_admin_create_list_revoke(authed: Any, examples: Path) -> None:
    c, keys = authed
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    lst = c.get("/v1/keys", headers=admin).json()["keys"]
    assert [k["scope"] for k in lst] == ["read", "write", "admin"]
    assert all("key" not in k and "hash" not in k for k in lst)
    read_id = lst[0]["id"]
    hdr = {"Authorization": f"Bearer {keys['read']}"}
    assert c.get("/v1/identities", headers=hdr).status_code == 200
    r = c.delete(f"/v1/keys/{read_id}", headers=admin)
    assert r.status_code == 200 and r.json()["revoked"] is not None
    _err(c.get("/v1/identities", headers=hdr), 401, "unauthorized")
    _err(c.delete("/v1/keys/nope", headers=admin), 400, "invalid_input")
    _err(c.post("/v1/keys", headers=admin, json={"scope": "root"}), 422, "invalid_request")
    # keys are stored hashed: the secret is nowhere in the key store file
    home = c.app.state.ctx.home
    raw = b"".join(p.read_bytes() for p in home.glob("service-keys.sqlite*"))
    assert keys["write"].encode() not in raw and keys["write"].split("_")[2].encode() not in raw


def test_key_management_needs_admin_even_on_loopback(client: Any) -> None:
    _err(client.get("/v1/keys"), 401, "unauthorized")
    _err(client.post("/v1/keys", json={"scope": "admin"}), 401, "unauthorized")


def test_auth_required_beyond_loopback(tmp_path: Path, shared_models: dict[str, Any]) -> None:
    from faceprint.errors import InvalidInput
    from faceprint.service import ServiceSettings, create_app

    with pytest.raises(InvalidInput, match="requires API keys"):
        create_app(ServiceSettings(host="0.0.0.0", home=tmp_path), **shared_models)
    with pytest.raises(InvalidInput, match="cannot be turned off"):
        create_app(ServiceSettings(host="0.0.0.0", auth="off", home=tmp_path, admin_key=ADMIN), **shared_models)
    app = create_app(ServiceSettings(host="0.0.0.0", home=tmp_path, admin_key=ADMIN), **shared_models)
    assert app.state.ctx.settings.auth_required


def test_cors_off_by_default_and_on_for_listed_origins(make_client: Any) -> None:
    c = make_client()
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    r = c.options("/v1/identify", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in c.get("/healthz", headers={"Origin": "https://evil.example"}).headers
    c2 = make_client(cors_origins=["https://app.example"])
    ok = c2.options("/v1/identify", headers={**pre, "Origin": "https://app.example"})
    assert ok.headers.get("access-control-allow-origin") == "https://app.example"
    bad = c2.options("/v1/identify", headers=pre)
    assert bad.headers.get("access-control-allow-origin") != "https://evil.example"


def test_errors_never_leak_tracebacks(make_client: Any, examples: Path) -> None:
    c = make_client()

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("secret internal detail /etc/shadow")

    c.app.state.ctx.pipeline.__dict__["process"] = boom  # instance attribute shadows the method
    try:
        r = c.post("/v1/detect", files=_files(examples / "obama.jpg"))
    finally:
        del c.app.state.ctx.pipeline.__dict__["process"]
    e = _err(r, 500, "internal_error")
    assert "logged on the server" in e["message"]
    assert "secret" not in r.text and "RuntimeError" not in r.text


def test_no_biometric_data_in_logs(client: Any, examples: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    emb = client.post("/v1/embed", files=_files(examples / "obama.jpg")).json()["faces"][0]["embedding"]
    client.post(
        "/v1/enroll",
        data={"name": "Zelda Quux"},
        files=[("images", ("z.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))],
    )
    client.post("/v1/identify", files=_files(examples / "obama2.jpg"))
    client.post(
        "/v1/verify", files={"image_a": ("a.png", _png(50, 50), "image/png"), "image_b": ("b.png", _png(50, 50), "image/png")}
    )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Zelda" not in text
    assert not any(f"{v:.6f}"[:8] in text for v in emb[:16])
    assert _b64(examples / "obama.jpg")[:40] not in text


def test_the_same_app_can_start_twice(shared_models: dict[str, Any], tmp_path: Path, examples: Path) -> None:
    from fastapi.testclient import TestClient

    from faceprint.service import ServiceSettings, create_app

    app = create_app(ServiceSettings(home=tmp_path, warmup=False), **shared_models)
    for _ in range(2):
        with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as c:
            assert c.post("/v1/detect", files=_files(examples / "obama.jpg")).status_code == 200


def test_malformed_multipart_is_a_400_json_error(client: Any) -> None:
    r = client.post("/v1/detect", content=b"--xyz\r\nnot a part", headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 400 and r.json()["error"]["code"] in ("invalid_request", "invalid_input"), r.text


def test_our_expression_model_can_serve_analyze(tmp_path: Path, shared_models: dict[str, Any], examples: Path) -> None:
    from fastapi.testclient import TestClient

    from faceprint.service import ServiceSettings, create_app

    app = create_app(ServiceSettings(home=tmp_path, analyzer="faceprint_fer_cnn"), pipeline=shared_models["pipeline"])
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as c:
        assert c.get("/readyz").json()["models"]["expression"].startswith("faceprint_fer_cnn")
        f = c.post("/v1/analyze", files=_files(examples / "obama.jpg")).json()["faces"][0]
        assert f["expression"]["label"] == "happy"


def test_unknown_expression_model_fails_at_start(tmp_path: Path, shared_models: dict[str, Any]) -> None:
    from faceprint.errors import InvalidInput
    from faceprint.service import ServiceSettings, create_app

    with pytest.raises(InvalidInput, match="no_such_model"):
        create_app(ServiceSettings(home=tmp_path, analyzer="no_such_model"), pipeline=shared_models["pipeline"])
    with pytest.raises(InvalidInput, match="not an expression model"):
        create_app(ServiceSettings(home=tmp_path, analyzer="mtcnn"), pipeline=shared_models["pipeline"])


def test_concurrent_enrolments_are_all_stored(make_client: Any, examples: Path, lfw_root: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    c = make_client(workers=4)
    people = sorted(p for p in (lfw_root / "images").iterdir() if p.is_dir() and len(list(p.iterdir())) >= 2)[:8]

    def enroll(person: Path) -> int:
        photos = sorted(person.iterdir())[:2]
        r = c.post(
            "/v1/enroll",
            data={"name": person.name, "select": "largest"},
            files=[("images", (f.name, f.read_bytes(), "image/jpeg")) for f in photos],
        )
        return r.status_code

    with ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(enroll, people))
    assert codes == [201] * len(people)
    listed = {i["name"]: i["n_faces"] for i in c.get("/v1/identities").json()["identities"]}
    assert listed == {p.name: 2 for p in people}
    found = c.post("/v1/identify", files={"image": ("x.jpg", sorted(people[3].iterdir())[0].read_bytes(), "image/jpeg")}).json()
    assert found["faces"][0]["identity"] == people[3].name
