"""The library's SQLite file: connections, transactions, schema, and the writes indexing makes.

* WAL journal (readers never block the writer), ``foreign_keys=ON``, busy timeout 30 s.
* ``synchronous=NORMAL``: a committed photo survives the process being killed (``kill -9``); after
  a power cut the last few commits may be lost, never the file's consistency, and the next
  ``index`` run simply indexes those photos again.
* Every write is one ``BEGIN IMMEDIATE`` transaction: one photo (its path row, photo row and every
  face) is committed whole or not at all, so a run killed at any point resumes with no duplicate
  and no gap.
* The file and SQLite's ``-wal`` / ``-shm`` are owner-only (:mod:`faceprint.fsperm`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import GalleryError, StorageError
from faceprint.fsperm import create_private_file, make_private, private_dir
from faceprint.library.records import PhotoResult
from faceprint.library.schema import INDEXES, MIGRATIONS, SCHEMA_VERSION
from faceprint.library.store_queries import LibraryQueries

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0
LIBRARY_FILE = "library.sqlite"


def default_library_path(home: str | os.PathLike[str] | None = None) -> Path:
    """``library.sqlite`` in the faceprint home (``home``, else ``$FACEPRINT_HOME``, else the user data dir)."""
    from faceprint.config import home_dir

    return home_dir(home) / LIBRARY_FILE


def storage_error(e: BaseException, location: str, action: str) -> StorageError:
    """A sqlite3 failure as a StorageError saying what to do."""
    low = str(e).lower()
    if "readonly" in low or "read-only" in low:
        hint = "the file or its folder is read-only (choose another --library / --home)"
    elif "full" in low:
        hint = "the disk is full (free some space; nothing partial was kept)"
    elif "locked" in low or "busy" in low:
        hint = f"another process held the library for more than {BUSY_TIMEOUT_S:.0f} s; try again"
    elif "not a database" in low or "malformed" in low:
        hint = "it is not a faceprint library or it is corrupted (move it away to start a new one)"
    else:
        hint = str(e)
    err = StorageError(f"cannot {action} the library {location}: {hint}")
    err.__cause__ = e
    return err


def vec_blob(v: np.ndarray) -> bytes:
    return np.asarray(v, "<f4").tobytes()


def blob_vec(b: bytes) -> np.ndarray:
    return np.frombuffer(b, "<f4").astype(np.float32)


class LibraryStore(LibraryQueries):
    """One library file (created with its folder when missing). Safe to share between threads
    (one connection per thread) and processes (WAL + ``BEGIN IMMEDIATE``)."""

    #: how a query reads the ``embedding`` column, and how one value of it becomes a vector
    VEC_SQL = "embedding"
    vec = staticmethod(blob_vec)

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        if not self.path.exists():
            if not create:
                raise GalleryError(f"no library at {self.path}: run `faceprint index DIR` first")
            try:
                private_dir(self.path.parent)
                create_private_file(self.path)
            except OSError as e:
                raise StorageError(f"cannot create the library {self.path}: {e}") from e
        make_private(self.path, self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm"))
        self._init_schema()

    # ------------------------------------------------------------ connections

    def conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked: never reuse the parent's connections
            self._local, self._pid, self._conns = threading.local(), os.getpid(), []
        c = getattr(self._local, "conn", None)
        if c is None:
            try:
                c = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
                c.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                c.execute("PRAGMA foreign_keys = ON")
                c.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as e:
                raise storage_error(e, self.location, "open") from e
            self._local.conn = c
            with self._lock:
                self._conns.append(c)
        return c

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        c = self.conn()
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise storage_error(e, self.location, "write") from e
        try:
            yield c
            c.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise storage_error(e, self.location, "write") from e
            raise

    def q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise storage_error(e, self.location, "read") from e

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(sqlite3.Error):
                c.close()
        self._local = threading.local()

    def spec(self) -> tuple[str, str | None]:
        """``(location, schema)`` another process opens this library with (:func:`faceprint.library.backends.reopen`)."""
        return str(self.path), None

    # ---------------------------------------------------------------- schema

    def _version(self, c: sqlite3.Connection) -> int:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" not in tables:
            if tables - {"sqlite_sequence"}:
                raise GalleryError(f"{self.location} is an SQLite database but not a faceprint library")
            return 0
        row = c.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _init_schema(self) -> None:
        c = self.conn()
        try:
            version = self._version(c)
            if version > SCHEMA_VERSION:
                raise GalleryError(
                    f"the library {self.location} has schema {version}, newer than this faceprint ({SCHEMA_VERSION})"
                )
            if version == SCHEMA_VERSION:
                self._ensure_indexes(c)
                return
            c.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as e:
            raise storage_error(e, self.location, "open") from e
        with self.write() as w:
            version = self._version(w)  # another process may have migrated meanwhile
            for v in range(version, SCHEMA_VERSION):
                for stmt in MIGRATIONS[v]:
                    w.execute(stmt)
            w.execute("DELETE FROM schema_version")
            w.execute("INSERT INTO schema_version(version) VALUES (?)", (SCHEMA_VERSION,))
            for _, stmt in INDEXES:
                w.execute(stmt)

    def _ensure_indexes(self, c: sqlite3.Connection) -> None:
        """Create the speed-only :data:`~faceprint.library.schema.INDEXES` a library lacks (one made
        by an earlier version). A read-only file keeps working without them."""
        have = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        missing = [stmt for name, stmt in INDEXES if name not in have]
        if not missing:
            return
        try:
            with self.write() as w:
                for stmt in missing:
                    w.execute(stmt)
        except StorageError as e:
            logger.info("library %s: speed-only indexes not created (%s)", self.location, e)

    # ------------------------------------------------------------------ meta

    # ---------------------------------------------------------------- lookups

    # ----------------------------------------------------------------- writes

    def commit_photo(self, r: PhotoResult) -> list[int]:
        """Store one file's result in one transaction; returns the ids of the faces added (none
        when its content was already in the library)."""
        now = time.time()
        added: list[int] = []
        with self.write() as w:
            if r.status == "error":
                w.execute(
                    "INSERT OR REPLACE INTO paths(path, photo_id, size, mtime_ns, error_code, error, seen) "
                    "VALUES (?, NULL, ?, ?, ?, ?, ?)",
                    (r.path, r.size, r.mtime_ns, r.error_code, r.error, now),
                )
                return added
            row = w.execute("SELECT id FROM photos WHERE sha256 = ?", (r.sha256,)).fetchone()
            if row is not None:
                photo_id = int(row[0])
            elif r.status == "known":  # its photo vanished meanwhile: index it again next run
                return added
            else:
                cur = w.execute(
                    "INSERT INTO photos(sha256, width, height, n_faces, indexed) VALUES (?, ?, ?, ?, ?)",
                    (r.sha256, r.width, r.height, len(r.faces), now),
                )
                photo_id = int(cur.lastrowid or 0)
                for k, f in enumerate(r.faces):
                    lm = f.landmarks
                    cur = w.execute(
                        "INSERT INTO faces(photo_id, idx, x1, y1, x2, y2, score, scheme, landmarks, model, dim, "
                        "embedding, norm, face_px, blur, thumb) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (photo_id, k, *f.box.as_tuple(), f.score, lm.scheme if lm else None,
                         vec_blob(lm.points) if lm else None, f.model, int(f.vector.shape[0]), vec_blob(f.vector),
                         f.norm, f.face_px, f.blur, f.thumb),
                    )
                    added.append(int(cur.lastrowid or 0))
            w.execute(
                "INSERT OR REPLACE INTO paths(path, photo_id, size, mtime_ns, error_code, error, seen) "
                "VALUES (?, ?, ?, ?, NULL, NULL, ?)",
                (r.path, photo_id, r.size, r.mtime_ns, now),
            )
        return added

    # ------------------------------------------------------------ embeddings

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The embeddings of faces ``ids``, by id."""
        out: dict[int, np.ndarray] = {}
        ids = [int(i) for i in ids]
        for s in range(0, len(ids), 900):
            chunk = ids[s:s + 900]
            rows = self.q(f"SELECT id, embedding FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            out.update({int(r[0]): blob_vec(r[1]) for r in rows})
        return out
