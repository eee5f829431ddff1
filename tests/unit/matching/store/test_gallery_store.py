"""The store protocol, run against both backends (SQLite file; real PostgreSQL + pgvector)."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest
from gallery_fakes import MODEL, enroll_worker, vector

from faceprint.errors import GalleryError, UnknownIdentity
from faceprint.matching.store.base import GalleryStore, NewFace
from faceprint.types import Box, Embedding


def face(person: int, variant: int, sha: str | None = None, model: str = MODEL, dim: int = 32) -> NewFace:
    return NewFace(
        Embedding(vector(person, variant, dim=dim), model=model),
        sha or f"sha-{person}-{variant}",
        box=Box(1, 2, 30, 40),
        quality=0.75,
        source=f"/photos/{person}_{variant}.jpg",
    )


def test_protocol_and_roundtrip(make_store) -> None:
    s = make_store()
    assert isinstance(s, GalleryStore)
    assert s.model() is None and s.count() == (0, 0)
    res = s.add_faces("ada", [face(1, 0), face(1, 1)], metadata={"team": "x"})
    assert [r.duplicate for r in res] == [False, False]
    assert res[0].identity_id == res[1].identity_id
    assert s.model() == (MODEL, 32)
    recs = s.faces("ada", with_vectors=True)
    assert [r.id for r in recs] == [r.face_id for r in res]
    r0 = recs[0]
    assert r0.identity == "ada" and r0.model == MODEL and r0.sha256 == "sha-1-0"
    assert r0.box == Box(1, 2, 30, 40) and r0.quality == pytest.approx(0.75) and r0.source == "/photos/1_0.jpg"
    np.testing.assert_array_equal(r0.vector, vector(1, 0))  # float32 round trip is exact
    fids, iids, mat = s.vectors()
    assert fids.tolist() == [r.face_id for r in res] and set(iids.tolist()) == {res[0].identity_id}
    np.testing.assert_array_equal(mat[1], vector(1, 1))
    ident = s.identity("ada")
    assert ident is not None and ident.n_faces == 2 and ident.metadata == {"team": "x"}
    assert s.identity("nobody") is None
    assert s.identity_names([res[0].identity_id, 999]) == {res[0].identity_id: "ada"}


def test_duplicate_content_not_stored_twice(make_store) -> None:
    s = make_store()
    first = s.add_faces("ada", [face(1, 0)])[0]
    again = s.add_faces("ada", [face(1, 5, sha="sha-1-0")])[0]  # same content hash, same person
    assert again.duplicate and again.face_id == first.face_id
    assert s.count() == (1, 1)
    other = s.add_faces("bob", [face(1, 0)])[0]  # same photo enrolled for someone else: allowed
    assert not other.duplicate and s.count() == (2, 2)
    found = s.find_faces_by_hash(MODEL, [("ada", "sha-1-0"), ("bob", "sha-1-0"), ("ada", "nope")])  # type: ignore[attr-defined]
    assert found == {("ada", "sha-1-0"): first.face_id, ("bob", "sha-1-0"): other.face_id}


def test_model_mismatch_refused(make_store) -> None:
    s = make_store()
    s.add_faces("ada", [face(1, 0)])
    with pytest.raises(GalleryError, match="never mixed"):
        s.add_faces("bob", [face(2, 0, model="other@2")])
    with pytest.raises(GalleryError, match="refusing 16-d"):
        s.add_faces("bob", [face(2, 0, dim=16)])
    with pytest.raises(GalleryError, match="never mixed"):
        s.add_faces("bob", [face(2, 0), face(2, 1, model="other@2")])
    assert s.count() == (1, 1)  # nothing partial: "bob" was not created either
    # once empty, the gallery may take another model
    s.delete_identity("ada")
    s.add_faces("bob", [face(2, 0, model="other@2", dim=16)])
    assert s.model() == ("other@2", 16)


def test_delete_cascades_and_logs(make_store) -> None:
    s = make_store()
    a = s.add_faces("ada", [face(1, 0), face(1, 1)])
    b = s.add_faces("bob", [face(2, 0)])
    uid, seq0 = s.stamp()
    assert seq0 == 3
    assert s.delete_identity("ada") == 2
    assert s.count() == (1, 1)
    assert s.faces("ada") == []
    fids, _, _ = s.vectors()
    assert fids.tolist() == [b[0].face_id]
    ch = s.changes_since(seq0)
    assert [(c.op, c.face_id) for c in ch] == [("del", a[0].face_id), ("del", a[1].face_id)]
    assert s.stamp() == (uid, seq0 + 2)
    assert s.changes_since(seq0 + 2) == []
    assert s.changes_since(seq0 + 100) is None  # a stamp from the future: rebuild
    with pytest.raises(UnknownIdentity):
        s.delete_identity("ada")
    assert s.delete_faces([b[0].face_id]) == 1 and s.count() == (1, 0)


def test_persistence_across_instances(make_store) -> None:
    s1 = make_store("p")
    s1.add_faces("ada", [face(1, 0)], metadata={"k": 1})
    s1.close()
    s2 = make_store("p")
    assert s2.count() == (1, 1) and s2.identity("ada").metadata == {"k": 1}
    assert s2.model() == (MODEL, 32)
    assert s2.schema_version() == 2  # type: ignore[attr-defined]


def test_iter_faces_and_replace_model(make_store) -> None:
    s = make_store()
    ids = [r.face_id for r in s.add_faces("ada", [face(1, v) for v in range(5)])]
    batches = list(s.iter_faces(batch=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [f.id for b in batches for f in b] == ids
    new = {fid: vector(7, fid, dim=8) for fid in ids[:4]}  # re-embedded with an 8-d model; last dropped
    _, seq = s.stamp()
    s.replace_model("new@1", 8, new)
    assert s.model() == ("new@1", 8)
    fids, _, mat = s.vectors()
    assert fids.tolist() == ids[:4]
    np.testing.assert_array_equal(mat[0], new[ids[0]])
    assert {f.model for f in s.faces()} == {"new@1"}
    assert s.changes_since(seq)  # the index sees the change


def test_search_returns_nearest(make_store) -> None:
    s = make_store()
    for p in range(6):
        s.add_faces(f"p{p}", [face(p, v) for v in range(3)])
    q = np.stack([vector(3, 50), vector(5, 51)])
    scores, fids, iids = s.search(q, 4)
    names = s.identity_names(iids[:, 0].tolist())
    assert names[int(iids[0, 0])] == "p3" and names[int(iids[1, 0])] == "p5"
    assert np.all(np.diff(scores, axis=1) <= 1e-6) and scores[0, 0] > 0.8


def _spec(make_store, store) -> tuple[str, str, str | None]:
    if make_store.backend == "sqlite":
        return ("sqlite", str(store.path), None)
    return ("postgres", store.url, store.schema)


def test_two_processes_enrolling_at_once(make_store) -> None:
    s = make_store("conc")
    spec = _spec(make_store, s)
    ctx = mp.get_context("spawn")
    n = 25
    with ctx.Pool(2) as pool:
        results = pool.starmap(enroll_worker, [(spec, 1, n), (spec, 2, n)])
    reported = [fid for r in results for fid in r]
    assert len(reported) == 2 * n and len(set(reported)) == 2 * n
    ni, nf = s.count()
    assert (ni, nf) == (3, 2 * n)  # "shared", "worker1", "worker2"
    fids, _, _ = s.vectors()
    assert sorted(fids.tolist()) == sorted(reported)
    assert {r.name: r.n_faces for r in s.identities()} == {"shared": 26, "worker1": 12, "worker2": 12}
    log = s.changes_since(0)
    assert [c.seq for c in log] == sorted(c.seq for c in log) and len(log) == 2 * n
    if make_store.backend == "sqlite":
        assert s.integrity_check() == "ok"


def test_sqlite_bulk_add_is_one_transaction(tmp_path) -> None:
    from faceprint.matching.store.sqlite import SqliteStore

    s = SqliteStore(tmp_path / "g.sqlite")
    n = s.add_faces_bulk([("ada", [face(1, 0), face(1, 1)]), ("bob", [face(2, 0)]), ("ada", [face(1, 0)])])
    assert n == 3 and s.count() == (2, 3) and s.stamp()[1] == 3
    with pytest.raises(GalleryError, match="never mixed"):
        s.add_faces_bulk([("cy", [face(3, 0)]), ("dee", [face(4, 0, model="other@1")])])
    assert s.count() == (2, 3)  # all or nothing: "cy" was rolled back too
    s.close()


def test_postgres_search_uses_the_hnsw_index(pg_url) -> None:
    """Each model has its own partial HNSW index, and the search's own query uses it."""
    import uuid

    from faceprint.matching.store.postgres import PostgresStore, _vec_text
    from faceprint.matching.store.postgres_schema import model_index_name, quote_literal

    s = PostgresStore(pg_url, schema="t" + uuid.uuid4().hex[:12])
    try:
        s.add_faces("ada", [face(1, v) for v in range(200)])
        fids, _, _ = s.vectors()
        s.set_embeddings("other@2", 16, {int(f): vector(1, int(f), dim=16) for f in fids})
        for tag, dim in ((MODEL, 32), ("other@2", 16)):
            with s._tx(False) as c:
                # tiny table: make the planner show the vector index it can use
                c.execute("SET LOCAL enable_seqscan = off")
                c.execute("SET LOCAL enable_bitmapscan = off")
                plan = "\n".join(r[0] for r in c.execute(
                    f"EXPLAIN SELECT face_id, identity_id, embedding::vector({dim}) <#> %s::vector({dim}) AS d "
                    f"FROM embeddings WHERE model = {quote_literal(tag)} ORDER BY d LIMIT %s",
                    (_vec_text(vector(1, 0, dim=dim)), 5),
                ).fetchall())
                defn = c.execute(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = %s AND schemaname = %s", (model_index_name(tag), s.schema)
                ).fetchone()
            assert model_index_name(tag) in plan, plan
            assert defn is not None and "hnsw" in defn[0] and "vector_ip_ops" in defn[0]
        scores, got, _ = s.search(vector(1, int(fids[3]), dim=16)[None], 3, model="other@2")
        assert got[0, 0] == fids[3] and scores[0, 0] > 0.999
    finally:
        s.drop()
        s.close()
