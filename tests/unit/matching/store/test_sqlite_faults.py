"""SQLite store under faults: kill -9 mid-enrollment, read-only file, full disk, corrupted or
foreign files, schema versions."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import MODEL, kill_child_mid_enrolment, vector

from faceprint.errors import GalleryError
from faceprint.matching.store.base import NewFace
from faceprint.matching.store.sqlite import SCHEMA_VERSION, SqliteStore
from faceprint.types import Embedding

FAKES_DIR = str(Path(__file__).resolve().parents[1])

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {fakes!r})
    from gallery_fakes import FakePipeline, make_image
    from faceprint.matching.gallery import Gallery

    g = Gallery(home={home!r}, pipeline=FakePipeline(), threshold=0.7)
    items = [(f"person{{i % 50}}", make_image(i % 50, i // 50)) for i in range(5000)]
    for o in g.enroll_many(items, batch=8):
        print(o.status, o.name, o.face_id, flush=True)
    """
)


def _face(p: int, v: int) -> NewFace:
    return NewFace(Embedding(vector(p, v), model=MODEL), f"sha-{p}-{v}")


def test_kill_9_during_bulk_enrollment_loses_nothing_reported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = CHILD.format(fakes=FAKES_DIR, home=str(home))
    reported = kill_child_mid_enrolment(script, timeout_s=60)
    store = SqliteStore(home / "gallery.sqlite")
    try:
        assert store.integrity_check() == "ok"
        faces = {f.id: f.identity for f in store.faces()}
        for name, fid in reported:
            assert faces.get(fid) == name  # every face reported enrolled is there, under its name
        assert len(faces) >= len(reported) and len(faces) < 5000
        # the change log and the tables agree: an index caught up from the log equals the table
        log = store.changes_since(0)
        assert log is not None and {c.face_id for c in log if c.op == "add"} == set(faces)
    finally:
        store.close()


@contextmanager
def read_only_file(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable even for root (``chattr +i``; plain chmod for other users)."""
    if os.geteuid() != 0:  # pragma: no cover - permissions bind non-root users
        os.chmod(path, 0o444)
        try:
            yield
        finally:
            os.chmod(path, 0o644)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root and this filesystem cannot make a file immutable (chattr +i)")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_read_only_database_file_gives_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "gallery.sqlite"
    s = SqliteStore(db)
    s.add_faces("ada", [_face(1, 0)])
    s.close()
    with read_only_file(db):
        ro = SqliteStore(db)
        try:
            assert ro.count() == (1, 1)  # reading a read-only gallery works
            with pytest.raises(GalleryError, match="read-only") as ei:
                ro.add_faces("bob", [_face(2, 0)])
            assert str(db) in str(ei.value)
            with pytest.raises(GalleryError, match="read-only"):
                ro.delete_identity("ada")
        finally:
            ro.close()
    s = SqliteStore(db)
    assert s.count() == (1, 1) and s.integrity_check() == "ok"
    s.close()


def test_full_disk_gives_clear_error_and_keeps_nothing_partial(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "g.sqlite")
    s.add_faces("ada", [_face(1, 0)])
    conn = s._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: as good as a full disk
    big = [NewFace(Embedding(vector(2, v), model=MODEL), f"s{v}", source="x" * 5000) for v in range(50)]
    with pytest.raises(GalleryError, match="disk is full"):
        s.add_faces("bob", big)
    assert s.count() == (1, 1)
    assert s.integrity_check() == "ok"
    conn.execute("PRAGMA max_page_count = 1073741823")
    s.add_faces("bob", big[:2])
    assert s.count() == (2, 3)
    s.close()


def test_corrupted_file_is_refused_clearly(tmp_path: Path) -> None:
    p = tmp_path / "gallery.sqlite"
    p.write_bytes(os.urandom(8192))
    with pytest.raises(GalleryError, match="not a faceprint gallery or is corrupted"):
        SqliteStore(p)


def test_corrupted_pages_are_detected(tmp_path: Path) -> None:
    p = tmp_path / "gallery.sqlite"
    s = SqliteStore(p)
    for i in range(40):
        s.add_faces(f"p{i}", [NewFace(Embedding(vector(i, 0), model=MODEL), f"h{i}", source="y" * 3000)])
    s.close()
    data = bytearray(p.read_bytes())
    page = 4096
    for off in range(2 * page, len(data) - page, page):  # scribble over every page past the schema
        data[off + 8 : off + 200] = os.urandom(192)
    p.write_bytes(bytes(data))
    with pytest.raises(GalleryError, match="corrupted"):
        s2 = SqliteStore(p)
        list(s2.iter_faces())
        if s2.integrity_check() != "ok":
            raise GalleryError("corrupted (integrity_check)")


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "other.sqlite"
    c = sqlite3.connect(p)
    c.execute("CREATE TABLE songs (id INTEGER)")
    c.commit()
    c.close()
    with pytest.raises(GalleryError, match="not a faceprint gallery"):
        SqliteStore(p)


def test_schema_version_and_newer_gallery_refused(tmp_path: Path) -> None:
    p = tmp_path / "g.sqlite"
    s = SqliteStore(p)
    assert s.schema_version() == SCHEMA_VERSION
    c = s._conn()
    modes = c.execute("PRAGMA journal_mode").fetchone()[0]
    assert modes == "wal"
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    c.execute("UPDATE schema_version SET version = 99")
    s.close()
    with pytest.raises(GalleryError, match="newer than this faceprint"):
        SqliteStore(p)


def test_reopening_an_up_to_date_gallery_does_not_migrate(tmp_path: Path) -> None:
    p = tmp_path / "g.sqlite"
    SqliteStore(p).close()
    c = sqlite3.connect(p)
    tables = sorted(r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    c.close()
    assert {"schema_version", "gallery_meta", "identities", "faces", "face_log"} <= set(tables)
    s = SqliteStore(p)
    assert s.schema_version() == SCHEMA_VERSION and s.count() == (0, 0)
    s.close()


def test_fork_safety_child_uses_its_own_connection(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "g.sqlite")
    s.add_faces("ada", [_face(1, 0)])
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            s.add_faces("bob", [_face(2, 0)])
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s.count() == (2, 2)
    fids, _, mat = s.vectors()
    np.testing.assert_array_equal(mat[1], vector(2, 0))
    s.close()
