"""POST /v1/video: an upload becomes a job; its status, progress and timeline; the annotated clip."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_video_job_on_the_clip(client, shared_data: Path, fr_examples: Path) -> None:
    clip = shared_data / "video" / "short_hamilton_clip.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} is absent")
    photo = fr_examples / "examples" / "lin-manuel-miranda.png"
    r = client.post("/v1/enroll", data={"name": "lin"}, files={"images": (photo.name, photo.read_bytes(), "image/png")})
    assert r.status_code == 201, r.text
    r = client.post("/v1/video", files={"video": (clip.name, clip.read_bytes(), "video/mp4")})
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    state = {}
    for _ in range(240):
        state = client.get(f"/v1/video/{job}").json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    assert state["status"] == "done", state
    res = state["result"]
    assert res["frames"] == 275 and state["progress"]["frames"] == 275
    named = [t for t in res["tracks"] if t["identity"]]
    assert named and all(t["identity"] == "lin" for t in named)
    assert str(clip.parent) not in str(state)  # no server path leaks
    v = client.get(f"/v1/video/{job}/annotated.webm")
    assert v.status_code == 200 and v.headers["content-type"] == "video/webm" and len(v.content) > 10_000


def test_video_bad_uploads(client) -> None:
    r = client.post("/v1/video", files={"video": ("x.mp4", b"not a video at all" * 100, "video/mp4")})
    assert r.status_code == 202
    job = r.json()["job"]
    for _ in range(40):
        state = client.get(f"/v1/video/{job}").json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.25)
    assert state["status"] == "failed" and state["error"]["code"] == "invalid_video"
    assert client.post("/v1/video", data={"x": "1"}).status_code == 400
    assert client.get("/v1/video/0123abcd").status_code == 404
    assert client.get("/v1/video/nope").status_code == 422  # not a job id
    assert client.get("/v1/video/0123abcd/annotated.webm").status_code == 404


def test_video_uploads_have_their_own_size_limit(make_client) -> None:
    # images are capped at max_upload_mb; a video may be larger, up to max_video_mb (413 beyond)
    client = make_client(max_upload_mb=0.5, max_video_mb=2.0)
    blob = b"\x00" * 1_000_000  # 1 MB: over the image limit, under the video limit
    assert client.post("/v1/detect", files={"image": ("x.jpg", blob, "image/jpeg")}).status_code == 413
    r = client.post("/v1/video", files={"video": ("x.mp4", blob, "video/mp4")})
    assert r.status_code == 202, r.text
    r = client.post("/v1/video", files={"video": ("x.mp4", blob * 3, "video/mp4")})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
