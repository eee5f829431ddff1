"""The ``/v1/library`` routes on a library indexed from real photos (face_recognition's examples):
listing with thumbnails, faces and photos (paged, no server path), naming, merging, splitting,
hostile ids, names and page sizes, scopes, and indexing the configured root (never a path outside
it). Skipped when ../shared/data is absent."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ADMIN = "library-operator-key-0123456789abcdef0123"


def _err(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


@pytest.fixture
def lib_client(make_client: Any, make_library: Any, indexed_library: tuple[Path, Path]) -> Any:
    return make_client(library=make_library(), library_root=indexed_library[1], warmup=False)


def _obama(c: Any) -> dict[str, Any]:
    """The cluster holding obama.jpg's face."""
    for item in c.get("/v1/library/people").json()["items"]:
        photos = c.get(f"/v1/library/clusters/{item['id']}/photos").json()["photos"]
        if any("obama.jpg" in p["paths"] for p in photos):
            return dict(item)
    raise AssertionError("no cluster holds obama.jpg")


def test_library_off_says_so(client: Any) -> None:
    assert client.get("/v1/library").json()["enabled"] is False
    for method, path, body in (
        ("get", "/v1/library/people", None),
        ("get", "/v1/library/clusters/1/photos", None),
        ("get", "/v1/library/faces/1/thumbnail", None),
        ("post", "/v1/library/clusters/1/name", {"name": "Ada"}),
        ("post", "/v1/library/merge", {"target": 1, "others": [2]}),
        ("post", "/v1/library/index", {"folder": ""}),
    ):
        r = getattr(client, method)(path, **({"json": body} if body is not None else {}))
        assert "faceprint serve --library" in _err(r, 409, "library_off")["error"]["message"]


def test_list_thumbnails_faces_photos(lib_client: Any, indexed_library: tuple[Path, Path]) -> None:
    c = lib_client
    s = c.get("/v1/library").json()
    assert s["enabled"] and s["photos"] == 8 and s["faces"] >= 8 and s["people"] == 0 and s["can_index"], s
    page = c.get("/v1/library/people").json()
    assert page["total"] == len(page["items"]) >= 3 and all(i["name"] is None for i in page["items"])
    assert [i["faces"] for i in page["items"]] == sorted((i["faces"] for i in page["items"]), reverse=True)
    obama = _obama(c)
    assert obama["faces"] >= 4, obama  # obama, obama2, obama_small, two_people (and sub/obama-240p)
    thumb = c.get(obama["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg" and thumb.content[:2] == b"\xff\xd8"
    faces = c.get(f"/v1/library/clusters/{obama['id']}/faces").json()
    assert faces["total"] == obama["faces"] and {f["photo"] for f in faces["faces"]} >= {"obama.jpg", "sub/obama-240p.jpg"}
    photos = c.get(f"/v1/library/clusters/{obama['id']}/photos").json()
    assert photos["total"] == obama["photos"]
    shown = {p for ph in photos["photos"] for p in ph["paths"]}
    assert {"obama.jpg", "obama2.jpg", "two_people.jpg", "sub/obama-240p.jpg"} <= shown
    two = next(p for p in photos["photos"] if p["paths"] == ["two_people.jpg"])
    assert len(two["face_ids"]) == 1 and (two["width"], two["height"]) == (1126, 661)
    prev = c.get(two["image"], params={"size": 200})
    assert prev.status_code == 200 and prev.content[:2] == b"\xff\xd8"
    import io

    from PIL import Image

    assert max(Image.open(io.BytesIO(prev.content)).size) == 200
    assert max(Image.open(io.BytesIO(c.get(two["image"], params={"size": 10**30}).content)).size) == 1024  # clamped
    # paging: huge limits are clamped, offsets past the end are empty
    big = c.get("/v1/library/people", params={"limit": 10**40}).json()
    assert big["limit"] == 500 and big["total"] == page["total"]
    one = c.get(f"/v1/library/clusters/{obama['id']}/photos", params={"limit": 1, "offset": 1}).json()
    assert len(one["photos"]) == 1 and one["photos"][0] == photos["photos"][1]
    assert c.get("/v1/library/people", params={"offset": 10**40}).json()["items"] == []
    # no server path in any answer
    root = str(indexed_library[1])
    for text in (c.get("/v1/library/people").text, c.get(f"/v1/library/clusters/{obama['id']}/faces").text,
                 c.get(f"/v1/library/clusters/{obama['id']}/photos").text, c.get("/v1/library").text):
        assert root not in text and "/tmp" not in text and "shared" not in text


def test_name_merge_split(lib_client: Any) -> None:
    c = lib_client
    obama = _obama(c)
    r = c.post(f"/v1/library/clusters/{obama['id']}/name", json={"name": "  Barack   Obama "})
    assert r.status_code == 200 and r.json()["name"] == "Barack Obama" and r.json()["id"] == obama["id"]
    people = c.get("/v1/library/people", params={"kind": "people"}).json()["items"]
    assert [p["name"] for p in people] == ["Barack Obama"]
    clusters = c.get("/v1/library/people", params={"kind": "clusters"}).json()["items"]
    assert obama["id"] not in {x["id"] for x in clusters} and len(clusters) >= 2
    # names follow the gallery's rules
    for bad, status in (("12", 400), ("a\u202eb", 400), ("x/y", 400), ("", 422), ("n" * 201, 422)):
        _err(c.post(f"/v1/library/clusters/{obama['id']}/name", json={"name": bad}), status)
    _err(c.post(f"/v1/library/clusters/{obama['id']}/name", json={"name": 5}), 422)
    # split: faces out of the person into a new cluster (named or not)
    faces = c.get(f"/v1/library/clusters/{obama['id']}/faces").json()["faces"]
    small = next(f["id"] for f in faces if f["photo"] == "sub/obama-240p.jpg")
    r = c.post("/v1/library/split", json={"faces": [small], "name": "Small Obama"})
    assert r.status_code == 201 and r.json()["name"] == "Small Obama" and r.json()["faces"] == 1, r.text
    new = r.json()["id"]
    assert c.get(f"/v1/library/clusters/{obama['id']}").json()["faces"] == obama["faces"] - 1
    _err(c.post("/v1/library/split", json={"faces": [small, faces[0]["id"]]}), 400)  # two clusters now
    _err(c.post("/v1/library/split", json={"faces": [small], "name": "Barack Obama"}), 400)  # a name taken
    _err(c.post("/v1/library/split", json={"faces": [99999]}), 404, "not_found")
    _err(c.post("/v1/library/split", json={"faces": []}), 422)
    _err(c.post("/v1/library/split", json={"faces": list(range(1, 1002))}), 422)
    # merge two named people: refused; unname by merging into the person works when one has no name
    _err(c.post("/v1/library/merge", json={"target": obama["id"], "others": [new]}), 400)
    other = next(x["id"] for x in clusters)
    r = c.post("/v1/library/merge", json={"target": new, "others": [other]})
    assert r.status_code == 200 and r.json()["name"] == "Small Obama", r.text
    _err(c.get(f"/v1/library/clusters/{other}"), 404, "not_found")
    _err(c.post("/v1/library/merge", json={"target": new, "others": [new]}), 400)
    _err(c.post("/v1/library/merge", json={"target": new, "others": [987654]}), 404)
    # naming with a name already taken merges into that person
    r = c.post(f"/v1/library/clusters/{new}/name", json={"name": "Barack Obama"})
    assert r.status_code == 200 and r.json()["id"] == obama["id"] and r.json()["faces"] > obama["faces"], r.text


@pytest.mark.parametrize("path", [
    "/v1/library/clusters/0", "/v1/library/clusters/-1", "/v1/library/clusters/abc", "/v1/library/clusters/1.5",
    f"/v1/library/clusters/{10**30}", "/v1/library/faces/0/thumbnail", f"/v1/library/photos/{2**63}/image",
    "/v1/library/people?limit=0", "/v1/library/people?offset=-1", "/v1/library/people?kind=everyone",
])
def test_bad_ids_and_params_are_422(lib_client: Any, path: str) -> None:
    _err(lib_client.get(path), 422, "invalid_request")


def test_unknown_ids_are_404(lib_client: Any) -> None:
    for path in ("/v1/library/clusters/4242", "/v1/library/clusters/4242/photos", "/v1/library/clusters/4242/faces",
                 "/v1/library/faces/4242/thumbnail", "/v1/library/photos/4242/image"):
        _err(lib_client.get(path), 404, "not_found")
    _err(lib_client.post("/v1/library/clusters/4242/name", json={"name": "Ada"}), 404, "not_found")
    _err(lib_client.post("/v1/library/merge", json={"target": 4242, "others": [1]}), 404, "not_found")
    _err(lib_client.post("/v1/library/merge", json={"target": 1, "others": [2**62 + 1]}), 422)


def test_index_only_under_the_library_root(lib_client: Any, indexed_library: tuple[Path, Path], tmp_path: Path) -> None:
    c = lib_client
    root = indexed_library[1]
    outside = tmp_path / "outside"
    outside.mkdir()
    escape = root / "escape"
    if not escape.exists():
        escape.symlink_to(outside)  # a symlink under the root that leads out of it
    try:
        for folder in ("..", "../photos", "/etc", str(root), "sub/../..", "escape", "nope", "a\x00b", "sub\\..\\..",
                       "obama.jpg"):
            body = _err(c.post("/v1/library/index", json={"folder": folder}), 400, "invalid_input")
            assert str(root) not in body["error"]["message"]
    finally:
        escape.unlink()
    _err(c.post("/v1/library/index", json={"folder": "x" * 5000}), 422)
    assert c.get("/v1/library/index").json()["status"] == "idle"
    r = c.post("/v1/library/index", json={"folder": "sub"})
    assert r.status_code == 202 and r.json()["folder"] == "sub", r.text
    for _ in range(200):
        state = c.get("/v1/library/index").json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert state["status"] == "done" and state["report"]["unchanged"] == 1 and state["report"]["errors"] == 0, state
    r = c.post("/v1/library/index", json={})  # the whole root: nothing new
    assert r.status_code == 202
    for _ in range(200):
        state = c.get("/v1/library/index").json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert state["status"] == "done" and state["report"]["files"] == 8 and state["report"]["indexed"] == 0, state


def test_index_needs_a_root(make_client: Any, make_library: Any) -> None:
    c = make_client(library=make_library(), warmup=False)
    assert c.get("/v1/library").json()["can_index"] is False
    _err(c.post("/v1/library/index", json={"folder": ""}), 409, "indexing_off")
    assert c.get("/v1/library/people").status_code == 200


def test_settings_and_serve_flags(tmp_path: Path) -> None:
    import argparse

    from faceprint.cli import serve_cmd
    from faceprint.errors import InvalidInput

    parser = argparse.ArgumentParser()
    serve_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["serve", "--library", str(tmp_path / "l.sqlite"), "--library-root", str(tmp_path)])
    s = serve_cmd.settings_from_args(args)
    assert s.library == tmp_path / "l.sqlite" and s.library_root == tmp_path
    with pytest.raises(InvalidInput, match="library_root"):
        serve_cmd.settings_from_args(parser.parse_args(["serve", "--library-root", str(tmp_path)]))


def test_missing_library_file_stops_start_up(make_client: Any, tmp_path: Path) -> None:
    from faceprint.errors import GalleryError

    with pytest.raises(GalleryError, match="no library"):
        make_client(library=tmp_path / "nothing.sqlite", warmup=False)


def test_scopes(make_client: Any, make_library: Any, indexed_library: tuple[Path, Path]) -> None:
    c = make_client(auth="on", admin_key=ADMIN, library=make_library(), library_root=indexed_library[1], warmup=False)
    r = c.post("/v1/keys", json={"scope": "read", "label": "reader"}, headers={"Authorization": f"Bearer {ADMIN}"})
    read = {"Authorization": f"Bearer {r.json()['key']}"}
    _err(c.get("/v1/library/people"), 401, "unauthorized")
    _err(c.get("/v1/library"), 401, "unauthorized")
    people = c.get("/v1/library/people", headers=read).json()["items"]
    assert c.get(people[0]["thumbnail"], headers=read).status_code == 200
    cid = people[0]["id"]
    _err(c.post(f"/v1/library/clusters/{cid}/name", json={"name": "Ada"}, headers=read), 403, "forbidden")
    _err(c.post("/v1/library/merge", json={"target": cid, "others": [people[1]["id"]]}, headers=read), 403)
    _err(c.post("/v1/library/split", json={"faces": [1]}, headers=read), 403)
    _err(c.post("/v1/library/index", json={}, headers=read), 403)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert c.post(f"/v1/library/clusters/{cid}/name", json={"name": "Ada"}, headers=admin).status_code == 200
