"""PostgreSQL store under faults, on a real PostgreSQL 16 + pgvector server (pgserver wheel):
kill -9 of a client mid-enrollment, read-only connections and roles, a full tablespace, and two
processes enrolling the same photos at once. Mirrors test_sqlite_faults.py."""

from __future__ import annotations

import multiprocessing as mp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gallery_fakes import MODEL, FakePipeline, enroll_many_worker, kill_child_mid_enrolment, make_image, pgserver_url, vector

from faceprint.errors import GalleryError, StorageError
from faceprint.matching.gallery import Gallery
from faceprint.matching.store.base import NewFace
from faceprint.types import Embedding

FAKES_DIR = str(Path(__file__).resolve().parents[1])

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {fakes!r})
    from gallery_fakes import FakePipeline, make_image
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.store.postgres import PostgresStore

    store = PostgresStore({url!r}, schema={schema!r})
    g = Gallery(home={home!r}, pipeline=FakePipeline(), store=store, threshold=0.7)
    items = [(f"person{{i % 50}}", make_image(i % 50, i // 50)) for i in range(5000)]
    for o in g.enroll_many(items, batch=8):
        print(o.status, o.name, o.face_id, flush=True)
    """
)


def _schema() -> str:
    return "f" + uuid.uuid4().hex[:12]


def _conninfo(url: str, **kw: Any) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, **kw)


def _admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _gallery(store: Any, tmp_path: Path) -> Gallery:
    return Gallery(home=tmp_path / "home", pipeline=FakePipeline(), store=store, threshold=0.7, persist_index=False)


def _index_top1(store: Any, face_ids: list[int]) -> dict[int, int]:
    """For each face, the top-1 face id that the HNSW index itself returns for its own vector
    (sequential scans disabled, so the answer comes from the index, not the table)."""
    from faceprint.matching.store.postgres import _vec_text
    from faceprint.matching.store.postgres_schema import model_index_name, quote_literal

    fids, _, mat = store.vectors(face_ids)
    d = mat.shape[1]
    sql = (f"SELECT face_id FROM embeddings WHERE model = {quote_literal(MODEL)} "
           f"ORDER BY embedding::vector({d}) <#> %s::vector({d}) LIMIT 1")
    out = {}
    with store._tx(False) as c:
        c.execute("SET LOCAL enable_seqscan = off")
        c.execute("SET LOCAL enable_bitmapscan = off")
        for fid, v in zip(fids.tolist(), mat, strict=True):
            plan = c.execute("EXPLAIN " + sql, (_vec_text(v),)).fetchall()
            assert model_index_name(MODEL) in "\n".join(r[0] for r in plan)
            row = c.execute(sql, (_vec_text(v),)).fetchone()
            out[fid] = int(row[0])
    return out


# ------------------------------------------------------------------ kill -9


def test_kill_9_during_bulk_enrollment_loses_nothing_reported(pg_url: str, tmp_path: Path) -> None:
    from faceprint.matching.store.postgres import PostgresStore
    from faceprint.matching.store.postgres_schema import model_index_name

    schema = _schema()
    script = CHILD.format(fakes=FAKES_DIR, url=pg_url, schema=schema, home=str(tmp_path / "home"))
    reported = kill_child_mid_enrolment(script, timeout_s=90)

    store = PostgresStore(pg_url, schema=schema)  # a new process's view: reopen
    try:
        faces = {f.id: f.identity for f in store.faces()}
        for name, fid in reported:
            assert faces.get(fid) == name  # every face reported enrolled is there, under its name
        assert len(reported) <= len(faces) < 5000
        ni, nf = store.count()
        assert nf == len(faces) and ni == len({n for n in faces.values()})
        # the change log and the table agree (what an index catches up from)
        log = store.changes_since(0)
        assert log is not None and {c.face_id for c in log if c.op == "add"} == set(faces)
        assert [c.seq for c in log] == sorted(c.seq for c in log)
        # the vector index: valid, and it holds every stored face (each one is its own nearest)
        with store._tx(False) as c:
            valid = c.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = %s AND n.nspname = %s",
                (model_index_name(MODEL), schema),
            ).fetchone()
        assert valid == (True,)
        top1 = _index_top1(store, sorted(faces))
        assert top1 == {fid: fid for fid in faces}
        # the abandoned connection's transaction and advisory lock are gone: writing works, and
        # identification through a Gallery finds the enrolled people
        g = _gallery(store, tmp_path)
        r = g.enroll("person7", make_image(7, 200))
        assert r.n_enrolled == 1
        for p in (3, 7, 42):
            best = g.identify(make_image(p, 150))[0]
            assert best.identity == f"person{p}", best
    finally:
        store.drop()
        store.close()


# ------------------------------------------------------------------ read-only


@pytest.fixture()
def enrolled_schema(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A gallery with two people (written through a normal connection), dropped afterwards."""
    from faceprint.matching.store.postgres import PostgresStore

    schema = _schema()
    store = PostgresStore(pg_url, schema=schema)
    g = _gallery(store, tmp_path)
    g.enroll("ada", [make_image(1, 0), make_image(1, 1)])
    g.enroll("bob", make_image(2, 0))
    try:
        yield schema, store
    finally:
        store.drop()
        store.close()


def _assert_refuses_writes(ro: Any, tmp_path: Path, match: str) -> None:
    g = _gallery(ro, tmp_path)
    assert ro.count() == (2, 3)  # reading works
    best = g.identify(make_image(1, 7))[0]
    assert best.identity == "ada"  # identifying works
    with pytest.raises(GalleryError, match=match) as ei:
        g.enroll("cy", make_image(3, 0))
    assert isinstance(ei.value, StorageError)
    assert "psycopg" not in str(ei.value) and ro.schema in str(ei.value)
    with pytest.raises(GalleryError, match=match):  # bulk enrollment stops at the first refusal
        list(g.enroll_many([("cy", make_image(3, 1)), ("dee", make_image(4, 0))]))
    with pytest.raises(GalleryError, match=match):
        g.delete("ada")


def test_read_only_connection_gives_clear_error_and_loses_nothing(pg_url: str, enrolled_schema, tmp_path: Path) -> None:
    from faceprint.matching.store.postgres import PostgresStore

    schema, rw = enrolled_schema
    ro = PostgresStore(_conninfo(pg_url, options="-c default_transaction_read_only=on"), schema=schema)
    try:
        _assert_refuses_writes(ro, tmp_path, "read-only")
    finally:
        ro.close()
    assert rw.count() == (2, 3)
    assert sorted(f.identity for f in rw.faces()) == ["ada", "ada", "bob"]


def test_select_only_role_gives_clear_error_and_loses_nothing(pg_url: str, enrolled_schema, tmp_path: Path) -> None:
    from faceprint.matching.store.postgres import PostgresStore

    schema, rw = enrolled_schema
    role = "ro_" + uuid.uuid4().hex[:8]
    with _admin(pg_url) as c:
        c.execute(f"CREATE ROLE {role} LOGIN")
        c.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        c.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
    try:
        ro = PostgresStore(_conninfo(pg_url, user=role), schema=schema)
        try:
            _assert_refuses_writes(ro, tmp_path, "read-only")
            with pytest.raises(GalleryError, match="permission denied"):
                ro.add_faces("cy", [NewFace(Embedding(vector(3, 0), model=MODEL), "x")])
        finally:
            ro.close()
        assert rw.count() == (2, 3)
        # a role that may not even read the gallery is told so when opening it
        with _admin(pg_url) as c:
            c.execute(f"REVOKE SELECT ON ALL TABLES IN SCHEMA {schema} FROM {role}")
        with pytest.raises(GalleryError, match="permission denied"):
            PostgresStore(_conninfo(pg_url, user=role), schema=schema).count()
    finally:
        with _admin(pg_url) as c:
            c.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {role}")
            c.execute(f"DROP ROLE {role}")


def test_unreachable_server_gives_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    from faceprint.matching.store.postgres import PostgresStore

    with pytest.raises(StorageError, match="cannot reach the PostgreSQL gallery") as ei:
        PostgresStore(f"postgresql://someone:secret@/nodb?host={tmp_path}", connect_timeout=2)
    assert "secret" not in str(ei.value)


# ------------------------------------------------------------------ full disk


@contextmanager
def tiny_tablespace(pg_url: str, size: str = "1m") -> Iterator[tuple[str, Path]]:
    """A tablespace on a tmpfs of ``size`` (needs root to mount; the server's files on it are
    owned by the server's system user). The mount point is outside pytest's base temp dir, which
    a concurrent pytest run may make private (0700) to other users, the server's included."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs for a tablespace needs root")
    try:
        owner = pwd.getpwnam("pgserver")  # pgserver runs the server as this user when started by root
    except KeyError:
        pytest.skip("the pgserver server does not run as the 'pgserver' system user here")
    base = Path(tempfile.mkdtemp(prefix="faceprint-tiny-"))
    base.chmod(0o755)  # the server's user must reach the mount point
    mnt = base / "tiny"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if r.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    name = "tiny_" + uuid.uuid4().hex[:8]
    try:
        os.chown(mnt, owner.pw_uid, owner.pw_gid)
        with _admin(pg_url) as c:
            c.execute(f"CREATE TABLESPACE {name} LOCATION '{mnt}'")
        try:
            yield name, mnt
        finally:
            with _admin(pg_url) as c:
                c.execute(f"DROP TABLESPACE IF EXISTS {name}")
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:  # pragma: no cover
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_full_tablespace_gives_clear_error_and_keeps_nothing_partial(pg_url: str, tmp_path: Path) -> None:
    from faceprint.matching.store.postgres import PostgresStore

    with tiny_tablespace(pg_url) as (space, mnt):
        schema = _schema()
        store = PostgresStore(_conninfo(pg_url, options=f"-c default_tablespace={space}"), schema=schema)
        try:
            with store._tx(False) as c:
                where = dict(c.execute("SELECT tablename, tablespace FROM pg_tables WHERE schemaname = %s", (schema,)).fetchall())
            assert where["faces"] == space and where["identities"] == space  # the gallery lives on the tiny disk
            g = _gallery(store, tmp_path)
            rng = np.random.default_rng(0)
            letters = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
            reported: dict[int, str] = {}
            with pytest.raises(GalleryError, match="disk is full") as ei:
                for i in range(100_000):
                    src = "".join(rng.choice(letters, 1500))  # incompressible, kept inline: fills pages fast
                    e = Embedding(vector(i % 40, i), model=MODEL)
                    face = NewFace(e, f"sha-{i}", source=f"/{src}/{i}.jpg")
                    r = store.add_faces(f"p{i % 40}", [face])[0]
                    reported[r.face_id] = f"p{i % 40}"
            assert isinstance(ei.value, StorageError) and schema in str(ei.value)
            assert len(reported) > 10, "the tablespace filled before anything could be stored"
            # nothing partial: exactly the faces reported stored are there, and the index agrees
            assert {f.id: f.identity for f in store.faces()} == reported
            assert store.count()[1] == len(reported)
            log = store.changes_since(0)
            assert log is not None and {c.face_id for c in log if c.op == "add"} == set(reported)
            best = g.identify_embeddings([Embedding(vector(5, 10_000), model=MODEL)])[0]
            assert best.identity == "p5"  # still readable and searchable while full
            # make room: enrollment resumes where it stopped
            subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
            r = store.add_faces("p5", [NewFace(Embedding(vector(5, 99_999), model=MODEL), "after")])[0]
            assert not r.duplicate and store.count()[1] == len(reported) + 1
            store.drop()
        finally:
            store.close()


# ---------------------------------------------------------- two writers


def test_two_processes_enrolling_the_same_photos_at_once(pg_url: str) -> None:
    """Two processes bulk-enroll the same 120 photos (in opposite orders) plus 40 of their own into
    one gallery: every shared photo is stored exactly once (one process reports it enrolled,
    the other a duplicate with the same face id), nothing is lost, the index holds every face."""
    from faceprint.matching.store.postgres import PostgresStore

    schema = _schema()
    PostgresStore(pg_url, schema=schema).close()
    spec = ("postgres", pg_url, schema)
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.starmap(enroll_many_worker, [(spec, 1, 120, 40), (spec, 2, 120, 40)])
    store = PostgresStore(pg_url, schema=schema)
    try:
        by_item: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for r in results:
            for name, variant, status, fid in r:
                assert status in ("enrolled", "duplicate")
                by_item.setdefault((name, variant), []).append((status, fid))
        shared = {k: v for k, v in by_item.items() if not k[0].startswith("own")}
        assert len(shared) == 120
        for k, outcomes in shared.items():
            assert len(outcomes) == 2
            assert sorted(s for s, _ in outcomes) == ["duplicate", "enrolled"], (k, outcomes)
            assert outcomes[0][1] == outcomes[1][1]  # both were told the same face id
        faces = {f.id: f.identity for f in store.faces()}
        assert len(faces) == 120 + 2 * 40
        for (name, _), outcomes in by_item.items():
            assert faces[outcomes[0][1]] == name
        log = store.changes_since(0)
        assert log is not None and [c.seq for c in log] == sorted({c.seq for c in log}) and len(log) == len(faces)
        assert _index_top1(store, sorted(faces)) == {f: f for f in faces}
    finally:
        store.drop()
        store.close()


# --------------------------------------------- server-side crash, schema versions


@pytest.fixture()
def own_pg_server() -> Iterator[str]:
    """A PostgreSQL server of this test's own (it gets crashed: the session's server is spared)."""
    yield from pgserver_url("faceprint-pgcrash-")


CHILD_UNTIL_ERROR = CHILD.replace(
    "for o in g.enroll_many(items, batch=8):\n    print(o.status, o.name, o.face_id, flush=True)",
    "from faceprint.errors import GalleryError\n"
    "try:\n"
    "    for o in g.enroll_many(items, batch=8):\n"
    "        print(o.status, o.name, o.face_id, flush=True)\n"
    "except GalleryError as e:\n"
    "    print('STOPPED', type(e).__name__, str(e).replace(chr(10), ' '), flush=True)\n"
    "    sys.exit(3)",
)


def test_database_backend_killed_mid_enrollment_loses_nothing_reported(own_pg_server: str, tmp_path: Path) -> None:
    """SIGKILL of the server process serving the enrolling client (the server crashes and
    recovers from its WAL): the client stops with a clear StorageError, and every face it had
    reported enrolled is there after recovery."""
    import psycopg

    from faceprint.matching.store.postgres import PostgresStore

    assert "STOPPED" in CHILD_UNTIL_ERROR
    url = own_pg_server
    schema = _schema()
    PostgresStore(url, schema=schema).close()
    script = CHILD_UNTIL_ERROR.format(fakes=FAKES_DIR, url=url, schema=schema, home=str(tmp_path / "home"))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reported: list[tuple[str, int]] = []
    stopped = ""
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while len(reported) < 200 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            status, name, fid = line.split()
            reported.append((name, int(fid)))
        with _admin(url) as c:
            pids = [r[0] for r in c.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchall()]
        assert pids, "no client backend to kill"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        for line in proc.stdout:  # what the client printed until it noticed
            if line.startswith("STOPPED"):
                stopped = line
                break
            status, name, fid = line.split()
            reported.append((name, int(fid)))
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover
            proc.kill()
    assert proc.returncode == 3, (proc.returncode, proc.stderr.read() if proc.stderr else "")
    assert stopped.startswith("STOPPED StorageError") and schema in stopped, stopped
    deadline = time.monotonic() + 60  # crash recovery
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    store = PostgresStore(url, schema=schema)
    try:
        faces = {f.id: f.identity for f in store.faces()}
        for name, fid in reported:
            assert faces.get(fid) == name
        assert len(reported) <= len(faces) <= len(reported) + 1  # at most the one commit in flight
        log = store.changes_since(0)
        assert log is not None and {c.face_id for c in log if c.op == "add"} == set(faces)
        assert _index_top1(store, sorted(faces)) == {f: f for f in faces}
    finally:
        store.close()


def test_newer_schema_version_refused(pg_url: str) -> None:
    from faceprint.matching.store.postgres import SCHEMA_VERSION, PostgresStore

    schema = _schema()
    s = PostgresStore(pg_url, schema=schema)
    try:
        assert s.schema_version() == SCHEMA_VERSION
        with s._tx() as c:
            c.execute("UPDATE schema_version SET version = 99")
        with pytest.raises(GalleryError, match="newer than this faceprint"):
            PostgresStore(pg_url, schema=schema)
    finally:
        s.drop()
        s.close()
