"""Deleted biometric data leaves every file, gallery files are private, read-only galleries read
(issue 13, points 2, 3 and 9, library side), through the Gallery API on the SQLite store."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import MODEL, FakePipeline, make_image, vector

from faceprint.errors import StorageError
from faceprint.matching.gallery import Gallery
from faceprint.types import Embedding

THR = 0.7
FAKES_DIR = str(Path(__file__).resolve().parent)


def files_under(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file())


def holders(home: Path, vec: np.ndarray) -> list[str]:
    """Files under ``home`` whose raw bytes contain ``vec`` as float32 (whole, or its first half)."""
    whole = np.ascontiguousarray(vec, dtype="<f4").tobytes()
    half = whole[: len(whole) // 2]
    return [str(p.relative_to(home)) for p in files_under(home) if half in p.read_bytes() or whole in p.read_bytes()]


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_deleted_embedding_leaves_every_file(tmp_path: Path, index: str) -> None:
    home = tmp_path / "home"
    g = Gallery(home=home, pipeline=FakePipeline(), threshold=THR, index=index)
    other = Gallery(home=home, pipeline=FakePipeline(), threshold=THR, index=index)  # a second view, its own index
    ada = [vector(1, v) for v in range(3)]
    g.enroll("ada", [Embedding(v, model=MODEL) for v in ada])
    for p in range(2, 40):  # 3 dead rows of 41 stay below the HNSW compaction fraction (25 %)
        g.enroll(f"p{p}", Embedding(vector(p, 0), model=MODEL))
    assert g.identify(Embedding(vector(1, 9), model=MODEL))[0].identity == "ada"
    assert other.identify(Embedding(vector(1, 9), model=MODEL))[0].identity == "ada"
    g.save_index()
    assert g.index_path is not None and g.index_path.is_file()
    assert holders(home, ada[0]), "the test must see the bytes before the delete"
    assert g.delete("ada") == 3
    for v in ada:  # right after the call: in no file (database, -wal, -shm, index snapshot)
        assert holders(home, v) == []
    assert g.index_path.is_file()  # rewritten without them, not merely dropped
    other.close()  # the other view saves its snapshot on close: caught up first
    g.close()
    for v in ada:
        assert holders(home, v) == []
    g2 = Gallery(home=home, pipeline=FakePipeline(), threshold=THR, index=index)
    res = g2.identify(Embedding(vector(1, 9), model=MODEL), k=10)[0]
    assert res.identity is None and "ada" not in [c.identity for c in res.candidates]
    assert g2.identify(Embedding(vector(4, 5), model=MODEL))[0].identity == "p4"
    g2.close()


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {fakes!r})
    from gallery_fakes import MODEL, FakePipeline, vector
    from faceprint.matching.gallery import Gallery
    from faceprint.types import Embedding

    g = Gallery(home={home!r}, pipeline=FakePipeline(), threshold=0.7)
    g.enroll("ada", Embedding(vector(1, 0), model=MODEL))
    g.enroll("bob", Embedding(vector(2, 0), model=MODEL))
    g.identify(Embedding(vector(1, 1), model=MODEL))
    g.save_index()
    print("saved", flush=True)
    g.delete("ada")
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit: as a killed server
    """
)


def test_sigkill_right_after_delete_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = CHILD.format(fakes=FAKES_DIR, home=str(home))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL and "saved" in proc.stdout, proc.stderr
    assert holders(home, vector(1, 0)) == []
    assert holders(home, vector(2, 0))  # bob is still there (the search does see stored bytes)
    g = Gallery(home=home, pipeline=FakePipeline(), threshold=THR)
    assert [r.name for r in g.list()] == ["bob"]
    assert g.identify(Embedding(vector(2, 3), model=MODEL))[0].identity == "bob"
    g.close()


# ------------------------------------------------------------------ permissions


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o000, 0o277])
def test_home_and_gallery_files_are_private(tmp_path: Path, mask: int) -> None:
    home = tmp_path / "new" / "home"
    with umask(mask):
        g = Gallery(home=home, pipeline=FakePipeline(), threshold=THR)
        g.enroll("ada", make_image(1, 0))
        g.identify(make_image(1, 1))
        g.save_index()
        names = {p.name for p in files_under(home)}
        assert {"gallery.sqlite", "gallery.sqlite-wal", "gallery.sqlite-shm", "gallery.sqlite.index.npz"} <= names
        g.export(home / "export.faceprint")
        for p in files_under(home):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        g.close()
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files_under(home))


def test_existing_world_readable_gallery_is_tightened(tmp_path: Path) -> None:
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
    g.enroll("ada", make_image(1, 0))
    g.close()
    db = tmp_path / "gallery.sqlite"
    os.chmod(db, 0o644)
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
    assert g.count() == (1, 1)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    g.close()


# ------------------------------------------------------------------ read-only gallery


@contextmanager
def immutable(paths: list[Path]) -> Iterator[None]:
    """Make ``paths`` unwritable, even for root (``chattr +i``); chmod for other users."""
    if os.geteuid() != 0:  # pragma: no cover - permissions bind non-root users
        modes = {p: stat.S_IMODE(p.stat().st_mode) for p in paths}
        for p in paths:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, m in modes.items():
                os.chmod(p, m)
        return
    chattr = shutil.which("chattr")
    done: list[Path] = []
    try:
        for p in paths:
            if chattr is None or subprocess.run([chattr, "+i", str(p)], capture_output=True).returncode != 0:
                pytest.skip("running as root and this filesystem cannot make files immutable (chattr +i)")
            done.append(p)
        yield
    finally:
        for p in done:
            subprocess.run([chattr, "-i", str(p)], check=True)


@pytest.mark.parametrize("what", ["files", "directory", "both"])
def test_read_only_gallery_reads_and_refuses_writes(tmp_path: Path, what: str) -> None:
    home = tmp_path / "home"
    g = Gallery(home=home, pipeline=FakePipeline(), threshold=THR)
    g.enroll("ada", make_image(1, 0))
    g.enroll("bob", make_image(2, 0))
    g.identify(make_image(1, 1))
    g.close()
    targets = {"files": files_under(home), "directory": [home], "both": [*files_under(home), home]}[what]
    with immutable(targets):
        ro = Gallery(home=home, pipeline=FakePipeline(), threshold=THR)
        try:
            assert [r.name for r in ro.list()] == ["ada", "bob"]
            assert ro.count() == (2, 2)
            assert ro.identify(make_image(1, 5))[0].identity == "ada"
            assert ro.show("bob")[0].n_faces == 1
            with pytest.raises(StorageError, match="read-only"):
                ro.enroll("cy", make_image(3, 0))
            with pytest.raises(StorageError, match="read-only"):
                ro.delete("ada")
            assert [r.name for r in ro.list()] == ["ada", "bob"]
        finally:
            ro.close()
    g = Gallery(home=home, pipeline=FakePipeline(), threshold=THR)
    assert g.count() == (2, 2) and g.store.integrity_check() == "ok"  # type: ignore[attr-defined]
    g.enroll("cy", make_image(3, 0))
    g.close()


def test_postgres_vacuum_on_delete(pg_url: str) -> None:
    """PostgreSQL keeps deleted tuples until VACUUM; ``vacuum_on_delete`` runs it before the call
    returns (measured by the server's own counter)."""
    import uuid

    from faceprint.matching.store.postgres import PostgresStore

    store = PostgresStore(pg_url, schema="t" + uuid.uuid4().hex[:10], vacuum_on_delete=True)
    try:
        g = Gallery(home=None, pipeline=FakePipeline(), store=store, threshold=THR, persist_index=False)
        g.enroll("ada", Embedding(vector(1, 0), model=MODEL))
        g.enroll("bob", Embedding(vector(2, 0), model=MODEL))

        def vacuums() -> int:
            c = store._conn()
            row = c.execute(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = %s AND relname = 'faces'", (store.schema,)
            ).fetchone()
            return int(row[0])

        before = vacuums()
        assert g.delete("ada") == 1
        c = store._conn()
        c.execute("SELECT pg_stat_clear_snapshot()")
        assert vacuums() == before + 1
        dead = c.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname = %s AND relname = 'faces'", (store.schema,)
        ).fetchone()[0]
        assert dead == 0
        assert [r.name for r in g.list()] == ["bob"]
    finally:
        store.drop()
        store.close()


def test_cli_remove_erases_and_read_only_cli_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI goes through the same Gallery: ``gallery remove`` leaves no byte of the removed
    person's embeddings; on a read-only gallery ``gallery list`` works and ``enroll`` exits 3."""
    from gallery_fakes import save_png

    import faceprint.api as api
    from faceprint.cli.main import main

    pipe = FakePipeline()
    api.set_default_pipeline(pipe)  # type: ignore[arg-type]
    try:
        home = tmp_path / "home"
        photos = [save_png(tmp_path / "p" / f"ada{v}.png", 1, v) for v in range(2)] + [save_png(tmp_path / "p" / "bob.png", 2, 0)]
        assert main(["enroll", "ada", str(photos[0]), str(photos[1]), "--home", str(home)]) == 0
        assert main(["enroll", "bob", str(photos[2]), "--home", str(home)]) == 0
        assert main(["identify", str(photos[0]), "--home", str(home), "--threshold", "0.7", "--json"]) == 0
        assert holders(home, vector(1, 0))
        assert main(["gallery", "remove", "ada", "--home", str(home)]) == 0
        assert holders(home, vector(1, 0)) == [] and holders(home, vector(1, 1)) == []
        capsys.readouterr()
        with immutable([*files_under(home), home]):
            assert main(["gallery", "list", "--home", str(home), "--json"]) == 0
            assert "bob" in capsys.readouterr().out
            assert main(["identify", str(photos[2]), "--home", str(home), "--threshold", "0.7", "--json"]) == 0
            assert "bob" in capsys.readouterr().out
            assert main(["enroll", "cy", str(photos[0]), "--home", str(home)]) == 3
            assert "read-only" in capsys.readouterr().err
    finally:
        api.set_default_pipeline(None)
