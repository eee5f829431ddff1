"""The library on PostgreSQL + pgvector (a pgserver server) on real photos: face_recognition's
examples indexed into PostgreSQL and into SQLite give the same library (skipped when
../shared/data or pgserver is absent)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "library"))

from pg_helpers import assert_same, dump, fresh_database, pgserver_url  # noqa: E402

from faceprint.library import people_ops as ppl  # noqa: E402
from faceprint.library.indexer import index  # noqa: E402
from faceprint.library.pg_store import PgLibraryStore  # noqa: E402
from faceprint.library.store import LibraryStore  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    yield from pgserver_url("faceprint-libpg-")


def test_examples_on_postgres_equal_sqlite(fr_examples: Path, tmp_path: Path, pg_server: str) -> None:
    from faceprint.defaults import default_pipeline

    coll = tmp_path / "photos"
    coll.mkdir()
    (coll / "examples").symlink_to((fr_examples / "examples").resolve())
    (coll / "broken.jpg").write_bytes((fr_examples / "examples" / "obama.jpg").read_bytes()[:2000])
    pipe = default_pipeline()
    with LibraryStore(tmp_path / "lib.sqlite") as lite, PgLibraryStore(fresh_database(pg_server)) as pg:
        reports = [index([str(coll)], store, pipe, jobs=1) for store in (lite, pg)]
        a, b = (r.to_dict() for r in reports)
        a.pop("elapsed_s"), b.pop("elapsed_s")
        assert a == b and a["faces"] >= 20 and a["errors"] == 1
        assert_same(dump(lite), dump(pg), vec_tol=1e-6)
        obama = [s.q("SELECT f.cluster_id FROM faces f JOIN paths p ON p.photo_id = f.photo_id "
                     "WHERE p.path LIKE ?", ("%examples/obama.jpg",))[0][0] for s in (lite, pg)]
        found = []
        for store, cid in zip((lite, pg), obama, strict=True):
            ppl.name_cluster(store, cid, "Barack Obama")
            found.append([p.paths for p in ppl.find(store, "Barack Obama")])
        assert found[0] == found[1] and len(found[0]) >= 5
