"""PostgreSQL helpers for the library's tests: the pgserver server of the gallery tests
(tests/unit/matching/gallery_fakes.py), a fresh database per test, and a dump of a library
that is equal for equal libraries whatever their backend."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "matching"))

from gallery_fakes import pgserver_url  # noqa: E402

__all__ = ["assert_same", "dump", "fresh_database", "pgserver_url"]


def fresh_database(url: str) -> str:
    """A new, empty database on the server at ``url``; returns its URL."""
    import psycopg

    name = "lib_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def dump(store: Any) -> dict[str, Any]:
    """Everything a library holds, keyed by content (photo sha256, face index), ids left out."""
    photos = {int(i): sha for i, sha in store.q("SELECT id, sha256 FROM photos")}
    meta = {r[0]: r[1] for r in store.q("SELECT key, value FROM library_meta") if r[0] != "refresh_n"}
    paths = sorted((p, photos.get(pid) if pid is not None else None, code)
                   for p, pid, code in store.q("SELECT path, photo_id, error_code FROM paths"))
    rows = store.q("SELECT id, photo_id, idx, x1, y1, x2, y2, score, model, dim, norm, face_px, blur, cluster_id, pinned "
                   "FROM faces ORDER BY id")
    vecs = store.vectors([r[0] for r in rows])
    faces = {}
    groups: dict[Any, set[tuple[str, int]]] = {}
    for r in rows:
        key = (photos[int(r[1])], int(r[2]))
        faces[key] = (tuple(float(x) for x in r[3:8]), r[8], int(r[9]), float(r[10]), float(r[11]), float(r[12]),
                      bool(r[14]), vecs[int(r[0])])
        groups.setdefault(r[13], set()).add(key)
    names = {cid: name for cid, name in store.q("SELECT id, name FROM clusters")}
    clusters = sorted(((names.get(cid) or "", tuple(sorted(keys))) for cid, keys in groups.items() if cid is not None))
    return {"meta": meta, "paths": paths, "faces": faces, "clusters": clusters,
            "unclustered": sorted(groups.get(None, set()))}


def assert_same(a: dict[str, Any], b: dict[str, Any], *, vec_tol: float = 0.0) -> None:
    assert a["meta"] == b["meta"] and a["paths"] == b["paths"]
    assert a["clusters"] == b["clusters"] and a["unclustered"] == b["unclustered"]
    assert a["faces"].keys() == b["faces"].keys()
    for k, fa in a["faces"].items():
        fb = b["faces"][k]
        assert fa[:7] == fb[:7], k
        if vec_tol == 0.0:
            assert np.array_equal(fa[7], fb[7]), k
        else:
            assert float(fa[7] @ fb[7]) >= 1 - vec_tol, k
