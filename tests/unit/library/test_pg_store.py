"""The library on PostgreSQL + pgvector (pgserver): the same results as the SQLite file for the
same collection, per-photo transactions, a retried photo stored once, the CLI's ``--store URL``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from library_fakes import FakePipeline, write_photo
from pg_helpers import assert_same, dump

from faceprint.cli.main import main
from faceprint.errors import GalleryError, InvalidInput
from faceprint.library import people_ops as ppl
from faceprint.library.backends import open_store, reopen
from faceprint.library.indexer import index, process_file
from faceprint.library.pg_dialect import translate
from faceprint.library.pg_store import PgLibraryStore
from faceprint.library.store import LibraryStore
from faceprint.library.walk import walk

THR = 0.99


def test_translate_rewrites_sqlite_dialect() -> None:
    assert translate("SELECT id FROM clusters WHERE name = ? AND path LIKE '%x'") == (
        "SELECT id FROM clusters WHERE name = %s AND path LIKE '%%x'", False)
    sql, ret = translate("INSERT INTO clusters(name, created) VALUES (NULL, ?)")
    assert sql.endswith(" RETURNING id") and ret
    sql, ret = translate("INSERT OR REPLACE INTO library_meta(key, value) VALUES ('refresh_n', ?)")
    assert sql == ("INSERT INTO library_meta(key, value) VALUES ('refresh_n', %s) ON CONFLICT (key) DO UPDATE SET "
                   "value = EXCLUDED.value") and not ret
    assert "LEAST(blur, 500.0)" in translate("ORDER BY face_px * MIN(blur, 500.0) DESC")[0]
    assert translate("SELECT MIN(path) FROM paths")[0] == "SELECT MIN(path) FROM paths"
    with pytest.raises(InvalidInput):
        translate("INSERT OR REPLACE INTO faces(id) VALUES (?)")


def test_open_store_chooses_the_backend_by_location(tmp_path: Path, pg_db: str) -> None:
    with open_store(tmp_path / "lib.sqlite") as s:
        assert isinstance(s, LibraryStore) and s.spec() == (str(tmp_path / "lib.sqlite"), None)
    with open_store(pg_db) as p:
        assert isinstance(p, PgLibraryStore) and p.spec() == (pg_db, "faceprint_library")
        with reopen(p.spec()) as again:
            assert again.count("photos") == 0
    with pytest.raises(GalleryError, match="no library"):
        open_store(pg_db, schema="absent", create=False)


def test_same_library_as_sqlite_for_the_same_collection(tmp_path: Path, collection: Path, pg_db: str) -> None:
    with LibraryStore(tmp_path / "lib.sqlite") as lite, PgLibraryStore(pg_db) as pg:
        for store in (lite, pg):
            r = index([str(collection)], store, FakePipeline(), jobs=1, threshold=THR)
            assert (r.files, r.indexed, r.faces, r.clusters) == (7, 7, 7, 3)
        assert_same(dump(lite), dump(pg))
        assert [(c.faces, c.photos) for c in ppl.list_clusters(pg)] == [(c.faces, c.photos) for c in ppl.list_clusters(lite)]
        for store in (lite, pg):  # the same people operations give the same library
            cs = ppl.list_clusters(store)
            ppl.name_cluster(store, cs[0].id, "Ada")
            ppl.merge(store, "Ada", [cs[1].id])
            moved = [f.id for f in ppl.faces_of(store, "Ada")][:2]
            ppl.split(store, moved, name="Bob")
            assert [len(p.paths) for p in ppl.find(store, "Bob")] == [1, 1]
            assert ppl.face_thumbnail(store, moved[0])[:2] == b"\xff\xd8"
        assert_same(dump(lite), dump(pg))
        for store in (lite, pg):  # a second run: nothing to do; new photos cluster with their people
            write_photo(collection / "red9.png", "red", 99)
            r = index([str(collection)], store, FakePipeline(), jobs=1, threshold=THR)
            assert (r.indexed, r.unchanged) == (1, 7)
        assert_same(dump(lite), dump(pg))
        (collection / "red9.png").unlink()


def test_a_retried_photo_is_stored_once(collection: Path, pg_db: str) -> None:
    with PgLibraryStore(pg_db) as pg:
        files = list(walk([str(collection)]))
        results = [process_file(f, pg, FakePipeline()) for f in files]
        first = [pg.commit_photo(r) for r in results]
        again = [pg.commit_photo(r) for r in results]  # the same results, delivered twice
        assert all(len(a) == 1 for a in first) and all(a == [] for a in again)
        assert (pg.count("photos"), pg.count("paths"), pg.count("faces")) == (7, 7, 7)
        v = pg.vectors([first[0][0]])[first[0][0]]
        assert np.array_equal(v, results[0].faces[0].vector)  # pgvector keeps float32 exactly


def test_a_failing_photo_commit_leaves_nothing(collection: Path, pg_db: str) -> None:
    from dataclasses import replace

    with PgLibraryStore(pg_db) as pg:
        r = process_file(next(iter(walk([str(collection)]))), pg, FakePipeline())
        bad = replace(r, faces=(*r.faces, replace(r.faces[0], vector=np.full(3, np.nan, np.float32))))
        with pytest.raises(GalleryError):
            pg.commit_photo(bad)  # the second face is refused: the photo, its first face and its path go too
        assert (pg.count("photos"), pg.count("paths"), pg.count("faces")) == (0, 0, 0)
        pg.commit_photo(r)
        assert (pg.count("photos"), pg.count("paths"), pg.count("faces")) == (1, 1, 1)


def test_cli_index_people_name_find_with_a_store_url(collection: Path, pg_db: str,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import faceprint.cli.index_cmd as index_cmd

    monkeypatch.setattr(index_cmd, "pipeline_from_args", lambda args: FakePipeline())
    assert main(["index", str(collection), "--store", pg_db, "--threshold", str(THR), "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["faces"] == 7
    assert main(["people", "--store", pg_db, "--json"]) == 0
    people = json.loads(capsys.readouterr().out)
    assert [p["faces"] for p in people] == [3, 2, 2]
    assert main(["name", str(people[0]["id"]), "Ada", "--store", pg_db]) == 0
    capsys.readouterr()
    assert main(["find", "Ada", "--store", pg_db, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_process_pool_workers_reopen_the_postgres_library(tmp_path: Path, collection: Path, pg_db: str) -> None:
    with LibraryStore(tmp_path / "lib.sqlite") as lite, PgLibraryStore(pg_db) as pg:
        index([str(collection)], lite, FakePipeline(), jobs=1, threshold=THR)
        r = index([str(collection)], pg, FakePipeline(), jobs=2, threshold=THR, pool="processes")
        assert (r.indexed, r.faces) == (7, 7)
        a, b = dump(lite), dump(pg)
        assert a["paths"] == b["paths"] and a["faces"].keys() == b["faces"].keys()
        assert sorted(len(c[1]) for c in a["clusters"]) == sorted(len(c[1]) for c in b["clusters"]) == [2, 2, 3]
