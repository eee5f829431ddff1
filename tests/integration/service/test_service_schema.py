"""Schemathesis against the service's own OpenAPI schema (``/openapi.json``): every operation is
fuzzed in-process (ASGI) with schema-valid and schema-invalid requests, and every response must be
no server error (no 5xx) and must conform to the schema (documented status code, content type and
body). Runs twice: on a loopback app without keys (anonymous requests) and on an app that requires
keys, sending the operator's admin key so the authenticated paths are exercised, not just 401s.

Generated images are mostly random bytes (rejected with 400), so positive cases also swap in real
photos (a face, two faces, no face) to reach the success responses and check their schemas.

``FACEPRINT_FUZZ_EXAMPLES`` (default 20) sets the Hypothesis examples per operation and mode; runs
are derandomized (the same cases every run) unless ``FACEPRINT_FUZZ_RANDOM=1``.
"""

from __future__ import annotations

import base64
import io
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.python import asgi  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN_KEY = "fuzz-operator-key-0123456789abcdef0123456789"
#: every operation of the API; the test fails when the schema gains or loses one
OPERATIONS = (
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "POST /v1/detect",
    "POST /v1/embed",
    "POST /v1/verify",
    "POST /v1/analyze",
    "POST /v1/identify",
    "POST /v1/enroll",
    "GET /v1/identities",
    "GET /v1/identities/{name}",
    "DELETE /v1/identities/{name}",
    "GET /v1/keys",
    "POST /v1/keys",
    "DELETE /v1/keys/{key_id}",
    "POST /v1/video",
    "GET /v1/video/{job}",
    "GET /v1/video/{job}/annotated.webm",
    "GET /v1/library",
    "GET /v1/library/people",
    "GET /v1/library/clusters/{cluster_id}",
    "GET /v1/library/clusters/{cluster_id}/faces",
    "GET /v1/library/clusters/{cluster_id}/photos",
    "GET /v1/library/faces/{face_id}/thumbnail",
    "GET /v1/library/photos/{photo_id}/image",
    "POST /v1/library/clusters/{cluster_id}/name",
    "POST /v1/library/split",
    "POST /v1/library/merge",
    "POST /v1/library/index",
    "GET /v1/library/index",
)
#: key administration: never succeeds without an admin key
ADMIN_ONLY = {"GET /v1/keys", "POST /v1/keys", "DELETE /v1/keys/{key_id}"}
#: operations that take no input at all: there is nothing to make invalid
NO_INPUT = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /v1/library", "GET /v1/library/index"}
#: the refusal of a schema-valid value of a typed (non-image, non-JSON-text) field
TYPED_FIELD_REFUSED = re.compile(r"^field '(k|threshold|select|identify|scope|label)'")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("FACEPRINT_FUZZ_EXAMPLES", "20"))
DERANDOMIZE = os.environ.get("FACEPRINT_FUZZ_RANDOM", "") != "1"
ENROLLED = "Barack Obama"


def _jpeg(path: Path, width: int) -> bytes:
    from PIL import Image

    img = Image.open(path).convert("RGB")
    img = img.resize((width, round(img.height * width / img.width)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _blank_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (128, 140, 150)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def photos(examples: Path) -> dict[str, bytes]:
    """Small real photos: one face (two people), two faces, no face."""
    return {
        "obama": _jpeg(examples / "obama_small.jpg", 320),
        "biden": _jpeg(examples / "biden.jpg", 240),
        "two": _jpeg(examples / "two_people.jpg", 480),
        "blank": _blank_png(),
    }


class Target:
    """An app under fuzzing: its loaded schema, the key to send (None: anonymous) and names worth
    using as path parameters."""

    def __init__(self, schema: Any, key: str | None, photos: dict[str, bytes], library: Path | None = None) -> None:
        self.schema = schema
        self.library = library
        self.key = key
        self.photos = photos
        self.names = [ENROLLED]
        self.key_ids: list[str] = []
        self.job_ids: list[str] = []
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)  # label -> status -> count

    def library_ids(self) -> dict[str, Any]:
        """The library's ids now (merges and splits change them): clusters (with their faces), faces, photos."""
        import sqlite3

        if self.library is None:
            return {"clusters": {}, "faces": [], "photos": []}
        c = sqlite3.connect(self.library)
        try:
            clusters: dict[int, list[int]] = {}
            for fid, cid in c.execute("SELECT id, cluster_id FROM faces WHERE cluster_id IS NOT NULL ORDER BY id"):
                clusters.setdefault(int(cid), []).append(int(fid))
            photos = [int(r[0]) for r in c.execute("SELECT id FROM photos ORDER BY id")]
            unnamed = {int(r[0]) for r in c.execute("SELECT id FROM clusters WHERE name IS NULL")}
        finally:
            c.close()
        return {"clusters": clusters, "faces": [f for fs in clusters.values() for f in fs], "photos": photos,
                "unnamed": sorted(unnamed & set(clusters))}


def _auth_headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-API-Key": key} if key else {}


@pytest.fixture(params=["anonymous", "admin-key"])
def target(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    shared_models: dict[str, Any],
    photos: dict[str, bytes],
    make_library: Any,
    indexed_library: tuple[Path, Path],
) -> Iterator[Target]:
    """A fresh app with one enrolled person (and, with keys, one extra key to revoke). Function
    scope: schemathesis' pytest plugin ends every ASGI lifespan it started when a test ends."""
    from faceprint.service import ServiceSettings, create_app

    authed = request.param == "admin-key"
    settings_ = ServiceSettings(
        home=tmp_path / "home",
        auth="on" if authed else "auto",
        admin_key=ADMIN_KEY if authed else None,
        warmup=False,
        allowed_hosts=["testserver"],
        library=make_library(),
        library_root=indexed_library[1],
    )
    app = create_app(settings_, **shared_models)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the app's lifespan
    t = Target(schema, ADMIN_KEY if authed else None, photos, settings_.library)
    try:
        with asgi.get_client(app) as client:
            r = client.post(
                "/v1/enroll",
                data={"name": ENROLLED},
                files={"images": ("obama.jpg", photos["obama"], "image/jpeg")},
                headers=_auth_headers(t.key),
            )
            assert r.status_code == 201, r.text
            if authed:
                r = client.post("/v1/keys", json={"scope": "read", "label": "fuzz"}, headers=_auth_headers(t.key))
                assert r.status_code == 201, r.text
                t.key_ids.append(r.json()["id"])
            t.job_ids.append(_finished_job(client, photos["obama"], _auth_headers(t.key)))
        yield t
    finally:
        asgi.shutdown_lifespans()  # the app's lifespan shutdown: work pool, gallery, key store


def _finished_job(client: Any, jpeg: bytes, headers: dict[str, str]) -> str:
    """A video job that has finished (a 12-frame clip of one photo), so the annotated clip exists."""
    import tempfile
    import time

    import cv2
    import numpy as np

    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "clip.mp4"
        out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (frame.shape[1], frame.shape[0]))
        for _ in range(12):
            out.write(frame)
        out.release()
        data = path.read_bytes()
    r = client.post("/v1/video", files={"video": ("clip.mp4", data, "video/mp4")}, headers=headers)
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    for _ in range(240):
        state = client.get(f"/v1/video/{job}", headers=headers).json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.25)
    assert state["status"] == "done", state
    return job


def _use_real_images(case: Any, target: Target, data: st.DataObject) -> None:
    """Swap the generated image fields of a request body for real photos (or keep them)."""
    body = case.body
    if not isinstance(body, dict) or case.media_type not in ("multipart/form-data", "application/json"):
        return
    for field in ("image", "image_a", "image_b", "images"):
        if field not in body:
            continue
        choice = data.draw(st.sampled_from(["generated", "obama", "biden", "two", "blank"]), label=field)
        if choice == "generated":
            continue
        raw = target.photos[choice]
        value: Any = raw if case.media_type == "multipart/form-data" else base64.b64encode(raw).decode()
        body[field] = [value] if field == "images" else value


def _use_library_ids(case: Any, target: Target, data: st.DataObject) -> None:
    """Sometimes swap generated ids (path and body) for ones the library has, and the indexed
    folder for a real one, so naming, merging, splitting and indexing reach their success paths."""
    if not data.draw(st.booleans(), label="known library ids"):
        return
    ids = target.library_ids()
    clusters = sorted(ids["clusters"])
    params = dict(case.path_parameters or {})
    for key, pool in (("cluster_id", clusters), ("face_id", ids["faces"]), ("photo_id", ids["photos"])):
        if key in params and pool:
            params[key] = data.draw(st.sampled_from(pool), label=key)
    if params:
        case.path_parameters = params
    body = case.body
    if not isinstance(body, dict):
        return
    if "target" in body and len(clusters) >= 2:  # merge: mostly into any cluster from an unnamed one (two names: 400)
        other = data.draw(st.sampled_from(ids["unnamed"] or clusters), label="merge other")
        body["target"] = data.draw(st.sampled_from([c for c in clusters if c != other]), label="merge target")
        body["others"] = [other]
    if "faces" in body and clusters:  # split
        cid = data.draw(st.sampled_from(clusters), label="split cluster")
        body["faces"] = ids["clusters"][cid][:1]
        if data.draw(st.booleans(), label="unnamed"):
            body.pop("name", None)
    elif "name" in body:  # naming: generated text is mostly refused by the name rules (400); try real names too
        body["name"] = data.draw(st.sampled_from(["Ada Lovelace", "Grace Hopper", "José Ñúñez", "李小龙"]), label="name")
    if "folder" in body:
        body["folder"] = data.draw(st.sampled_from(["", "sub"]), label="folder")


def _fuzz(target: Target, label: str, mode: Any) -> None:
    method, path = label.split(" ", 1)
    operation = target.schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case: Any, data: st.DataObject) -> None:
        headers = dict(case.headers or {})
        for h in ("Authorization", "X-API-Key"):
            headers.pop(h, None)
        # mostly the configured key (or none), sometimes what schemathesis generated (-> 401)
        if data.draw(st.sampled_from(["configured"] * 4 + ["generated"]), label="auth") == "configured":
            case.headers = headers
            extra = _auth_headers(target.key)
        else:
            extra = {}
        if mode.name == "POSITIVE":
            _use_real_images(case, target, data)
            if "/v1/library" in label:
                _use_library_ids(case, target, data)
            if case.path_parameters:
                if "name" in case.path_parameters and data.draw(st.booleans(), label="known name"):
                    case.path_parameters = {"name": data.draw(st.sampled_from(target.names))}
                if "key_id" in case.path_parameters and target.key_ids and data.draw(st.booleans(), label="known key"):
                    case.path_parameters = {"key_id": data.draw(st.sampled_from(target.key_ids))}
                if "job" in case.path_parameters and data.draw(st.booleans(), label="known job"):
                    case.path_parameters = {"job": data.draw(st.sampled_from(target.job_ids))}
        response = case.call_and_validate(headers=extra, checks=CHECKS)
        target.statuses[label][response.status_code] += 1
        if mode.name == "POSITIVE" and response.status_code == 400:
            # a schema-valid value of a typed field must be accepted (images and JSON text may be refused)
            message = response.json()["error"]["message"]
            assert not TYPED_FIELD_REFUSED.match(message), (
                f"{label}: schema-valid input refused: {message} (body {case.body!r:.300})"
            )

    run()


def test_schema_fuzz(target: Target) -> None:
    """Every operation, schema-valid then schema-invalid requests: no 5xx, responses as documented."""
    from schemathesis import GenerationMode

    labels = {result.ok().label for result in target.schema.get_all_operations()}  # ok() raises on an unusable operation
    assert labels == set(OPERATIONS), "the schema's operations changed: update OPERATIONS"
    failures = []
    for label in OPERATIONS:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode == GenerationMode.NEGATIVE and label in NO_INPUT:
                continue
            try:
                _fuzz(target, label, mode)
            except (Exception, BaseExceptionGroup) as e:  # FailureGroup is a BaseExceptionGroup; collect them all
                failures.append(f"--- {label} ({mode.name.lower()}): {type(e).__name__}: {e}")
    tally = {label: dict(sorted(target.statuses[label].items())) for label in OPERATIONS}
    print("status counts:", *(f"  {k}: {v}" for k, v in tally.items()), sep="\n")
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n".join(failures)
    # the success paths were reached (with the key: all of them; without: all but key admin)
    succeeded = {label for label, counts in tally.items() if any(200 <= s < 300 for s in counts)}
    expected = set(OPERATIONS) if target.key else set(OPERATIONS) - ADMIN_ONLY
    assert succeeded == expected, tally
