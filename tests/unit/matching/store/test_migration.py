"""Schema 1 (one model per gallery) → 2 (several models per face) loses nothing, on both stores,
and a process killed mid-migration leaves the gallery as it was.

``data/gallery_v1.sqlite`` was written by faceprint's store before schema 2 (commit 669fb4c):
identities ada (2 faces, metadata), bob (3), cyd (its one face deleted: the change log holds the
deletion), dee (2), eve (no face, metadata); 7 faces of model ``fake@1`` whose vectors are
``gallery_fakes.vector(person, variant)``, sha256 ``f"{person:02d}{variant:02d}"`` zero-padded,
box (1.5, 2, 30, 40), quality 0.9; face ids 1–5, 7, 8 (6 deleted)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gallery_fakes import MODEL, FakePipeline, make_image, save_png, vector

from faceprint.errors import GalleryError
from faceprint.matching.gallery import Gallery
from faceprint.matching.store.base import NewFace
from faceprint.types import Box, Embedding

FIXTURE = Path(__file__).parent / "data" / "gallery_v1.sqlite"
FAKES_DIR = str(Path(__file__).resolve().parents[1])
PEOPLE = {"ada": (1, [0, 1]), "bob": (2, [0, 1, 2]), "dee": (4, [0, 1])}


def _sha(person: int, var: int) -> str:
    return f"{person:02d}{var:02d}".ljust(64, "0")


def _check_v1_content(store: Any) -> None:
    """Everything the version-1 fixture held is there, under schema 2."""
    assert store.count() == (5, 7)
    assert store.model() == (MODEL, 32) and [m.tag for m in store.models()] == [MODEL]
    assert store.identity("ada").metadata == {"team": "x"} and store.identity("eve").metadata == {"note": "no faces"}
    assert store.identity("cyd").n_faces == 0
    for name, (person, variants) in PEOPLE.items():
        faces = store.faces(name, with_vectors=True)
        assert [f.sha256 for f in faces] == [_sha(person, v) for v in variants]
        for f, v in zip(faces, variants, strict=True):
            assert f.model == MODEL and f.models == (MODEL,)
            assert f.box == Box(1.5, 2.0, 30.0, 40.0) and f.quality == pytest.approx(0.9)
            np.testing.assert_array_equal(f.vector, vector(person, v))
    assert [f.id for f in store.faces()] == [1, 2, 3, 4, 5, 7, 8]
    assert store.faces("ada")[0].source == "/nonexistent/ada0.png"
    log = store.changes_since(0)
    assert log is not None and len(log) == 9 and log[-1].op == "del" and log[-1].face_id == 6
    assert {c.model for c in log} == {MODEL}


def test_sqlite_gallery_made_by_the_old_code_migrates(tmp_path: Path) -> None:
    from faceprint.matching.store.sqlite import SCHEMA_VERSION, SqliteStore

    path = tmp_path / "gallery.sqlite"
    shutil.copy(FIXTURE, path)
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT version FROM schema_version").fetchone() == (1,)
        uid = c.execute("SELECT value FROM gallery_meta WHERE key='uuid'").fetchone()[0]
    s = SqliteStore(path)
    assert s.schema_version() == SCHEMA_VERSION == 2 and s.integrity_check() == "ok"
    _check_v1_content(s)
    assert s.stamp() == (uid, 9)  # same gallery, same log: an index snapshot of it stays valid
    # no id is reused: the next face gets 9, not 6 or 8
    r = s.add_faces("cyd", [NewFace(Embedding(vector(3, 5), model=MODEL), _sha(3, 5))])
    assert r[0].face_id == 9
    s.close()
    # a Gallery on it identifies, enrols and adds a model
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=0.7)
    assert g.identify(make_image(2, 7))[0].identity == "bob"
    with pytest.raises(GalleryError, match="no face of the gallery could be embedded"):
        g.add_model(FakePipeline("other@1", 16))  # the fixture's photos never existed
    g.enroll("eve", str(save_png(tmp_path / "eve.png", 5, 0)))
    rep = g.add_model(FakePipeline("other@1", 16))
    assert rep.n_missing == 8 and rep.n_reembedded == 1  # photos gone (7 old faces + cyd's 9): kept, reported
    assert g.store.count() == (5, 9) and g.store.model_counts() == {MODEL: 9, "other@1": 1}
    g.close()


KILL_CHILD = """
import os, sys
sys.path.insert(0, {fakes!r})
import faceprint.matching.store.sqlite as sq
steps = list(sq.MIGRATIONS[1])
steps.insert(steps.index("DROP TABLE faces") + 1, "SELECT die()")  # the old table is gone, the new not renamed
sq.MIGRATIONS = (sq.MIGRATIONS[0], tuple(steps))
real = sq.SqliteStore._connect
def connect(self, uri):
    c = real(self, uri)
    c.create_function("die", 0, lambda: os._exit(9))
    return c
sq.SqliteStore._connect = connect
sq.SqliteStore({path!r})
print("survived")
"""


def test_sqlite_migration_killed_midway_loses_nothing(tmp_path: Path) -> None:
    from faceprint.matching.store.sqlite import SqliteStore

    path = tmp_path / "gallery.sqlite"
    shutil.copy(FIXTURE, path)
    before = path.read_bytes()
    proc = subprocess.run([sys.executable, "-c", KILL_CHILD.format(fakes=FAKES_DIR, path=str(path))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9 and "survived" not in proc.stdout, proc.stderr
    # the killed transaction left the file at version 1, its content intact
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT version FROM schema_version").fetchone() == (1,)
        assert c.execute("SELECT COUNT(*) FROM faces").fetchone() == (7,)
        assert "embeddings" not in {r[0] for r in c.execute("SELECT name FROM sqlite_master")}
    assert len(path.read_bytes()) == len(before)
    s = SqliteStore(path)  # the next open migrates it
    assert s.schema_version() == 2 and s.integrity_check() == "ok"
    _check_v1_content(s)
    s.close()


# ------------------------------------------------------------------------------ PostgreSQL


def _make_pg_v1(url: str, schema: str) -> None:
    """A version-1 PostgreSQL gallery with the fixture's content, as the old store wrote it."""
    import psycopg

    from faceprint.matching.store.postgres import _vec_text
    from faceprint.matching.store.postgres_schema import MIGRATIONS

    with psycopg.connect(url, autocommit=True) as c, c.transaction():
        c.execute(f"CREATE SCHEMA {schema}")
        c.execute(f"SET LOCAL search_path TO {schema}, public")
        c.execute("CREATE TABLE schema_version (version integer NOT NULL)")
        for stmt in MIGRATIONS[0]:
            c.execute(stmt)
        c.execute("INSERT INTO schema_version VALUES (1)")
        for k, v in (("uuid", "feedc0de" * 4), ("created", "1.0"), ("model", MODEL), ("dim", "32")):
            c.execute("INSERT INTO gallery_meta VALUES (%s, %s)", (k, v))
        c.execute("ALTER TABLE faces ALTER COLUMN embedding TYPE vector(32)")
        c.execute("CREATE INDEX faces_embedding_hnsw ON faces USING hnsw (embedding vector_ip_ops) WITH (m = 16)")
        ids = {}
        for name in ("ada", "bob", "cyd", "dee", "eve"):
            ids[name] = c.execute(
                "INSERT INTO identities(name, metadata, created) VALUES (%s, %s::jsonb, 1.0) RETURNING id",
                (name, {"ada": '{"team": "x"}', "eve": '{"note": "no faces"}'}.get(name, "{}")),
            ).fetchone()[0]
        for name, person, var in [("ada", 1, 0), ("ada", 1, 1), ("bob", 2, 0), ("bob", 2, 1), ("bob", 2, 2),
                                  ("cyd", 3, 0), ("dee", 4, 0), ("dee", 4, 1)]:
            src = f"/nonexistent/{name}{var}.png" if (name == "ada" or (name, var) == ("bob", 0)) else None
            c.execute(
                "INSERT INTO faces(identity_id, model, dim, embedding, sha256, x1, y1, x2, y2, quality, source, created) "
                "VALUES (%s, %s, 32, %s::vector, %s, 1.5, 2.0, 30.0, 40.0, 0.9, %s, 1.0)",
                (ids[name], MODEL, _vec_text(vector(person, var)), _sha(person, var), src),
            )
        c.execute("DELETE FROM faces WHERE identity_id = %s", (ids["cyd"],))


def test_postgres_gallery_made_by_the_old_schema_migrates(pg_url: str, tmp_path: Path) -> None:
    from faceprint.matching.store.postgres import PostgresStore
    from faceprint.matching.store.postgres_schema import model_index_name

    schema = "m" + uuid.uuid4().hex[:12]
    _make_pg_v1(pg_url, schema)
    s = PostgresStore(pg_url, schema=schema)
    try:
        assert s.schema_version() == 2
        _check_v1_content(s)
        assert s.stamp() == ("feedc0de" * 4, 9)
        with s._tx(False) as c:
            idx = c.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)).fetchall()
        names = {r[0] for r in idx}
        assert model_index_name(MODEL) in names and "faces_embedding_hnsw" not in names
        scores, fids, _ = s.search(vector(2, 1)[None], 1)
        assert fids[0, 0] == 4 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
        g = Gallery(home=tmp_path, pipeline=FakePipeline(), store=s, threshold=0.7)
        assert g.identify(make_image(4, 9))[0].identity == "dee"
        assert g.enroll("cyd", make_image(3, 4)).face_ids == [9]  # no id reused
    finally:
        s.drop()
        s.close()


def test_postgres_migration_failing_midway_loses_nothing(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration that dies after the old columns were dropped rolls back as a whole (PostgreSQL
    DDL is transactional; a killed client's open transaction is rolled back the same way)."""
    import faceprint.matching.store.postgres as pg

    schema = "k" + uuid.uuid4().hex[:12]
    _make_pg_v1(pg_url, schema)
    steps = list(pg._MIGRATIONS[1])
    at = next(i for i, st in enumerate(steps) if st.startswith("ALTER TABLE faces DROP COLUMN"))
    steps.insert(at + 1, "SELECT 1 / 0")
    monkeypatch.setattr(pg, "_MIGRATIONS", (pg._MIGRATIONS[0], tuple(steps)))
    with pytest.raises(GalleryError):
        pg.PostgresStore(pg_url, schema=schema)
    monkeypatch.undo()
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as c:
        assert c.execute(f"SELECT version FROM {schema}.schema_version").fetchone() == (1,)
        assert c.execute(f"SELECT COUNT(embedding) FROM {schema}.faces").fetchone() == (7,)
    s = pg.PostgresStore(pg_url, schema=schema)
    try:
        _check_v1_content(s)
    finally:
        s.drop()
        s.close()
