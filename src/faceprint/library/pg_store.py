"""The library on PostgreSQL + pgvector: the same interface and semantics as the SQLite file
(:class:`~faceprint.library.store.LibraryStore`), for libraries indexed by several machines (the
Ray engine) or read by several services.

    faceprint index ~/Pictures --store postgresql://user:pw@db.example/photos

* Tables in a PostgreSQL schema of their own (``schema=``, default ``faceprint_library``;
  :mod:`~faceprint.library.pg_schema`), embeddings as pgvector ``vector`` values. The ``vector``
  extension is created when missing (which needs the privilege to do so).
* Every write is one transaction holding a transaction-scoped advisory lock, so writers are
  serialised as SQLite's ``BEGIN IMMEDIATE`` serialises them: one photo (its path row, photo row
  and every face) is committed whole or not at all, and a clustering step never interleaves with
  a ``name`` or ``merge``. Photo and face inserts are ``ON CONFLICT DO NOTHING`` on the unique
  constraints, so a photo whose result arrives twice (a retried task) is stored once.
* The library's SQLite-dialect statements run through :mod:`~faceprint.library.pg_dialect`.
* Driver: psycopg 3 (``pip install "psycopg[binary]"``, requirements/postgres.txt).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from faceprint.errors import GalleryError, InvalidInput, ModelUnavailable, StorageError
from faceprint.library.pg_dialect import PgConnection
from faceprint.library.pg_schema import DEFAULT_SCHEMA, SCHEMA_VERSION, migrations
from faceprint.library.records import PhotoResult
from faceprint.library.store_queries import LibraryQueries

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x6C696272  # "libr", combined with the schema name


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as e:
        raise ModelUnavailable(
            'the PostgreSQL library store needs psycopg 3: pip install "psycopg[binary]" (see requirements/postgres.txt)'
        ) from e
    return psycopg


def vec_text(v: np.ndarray) -> str:
    """pgvector's text form of a float32 vector (exact: float32 → shortest float64 repr → float4)."""
    return "[" + ",".join(map(repr, np.asarray(v, np.float32).astype(np.float64).reshape(-1).tolist())) + "]"


def text_vec(s: Any) -> np.ndarray:
    if isinstance(s, str):
        return np.array(s[1:-1].split(","), dtype=np.float32)
    return np.asarray(s, dtype=np.float32)


def is_url(location: str) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


class PgLibraryStore(LibraryQueries):
    """One library in a PostgreSQL schema (created when missing unless ``create=False``).
    Thread-safe (one connection per thread); a forked or spawned process opens its own."""

    #: how a query reads the ``embedding`` column, and how one value of it becomes a vector
    VEC_SQL = "embedding::text"
    vec = staticmethod(text_vec)

    def __init__(self, url: str, *, schema: str = DEFAULT_SCHEMA, create: bool = True, connect_timeout: int = 10) -> None:
        from faceprint.matching.store.postgres import redact

        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise InvalidInput(f"schema must be a plain SQL identifier, got {schema!r}")
        self.url = url
        self.schema = schema
        self.location = f"{redact(url)} (schema {schema})"
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[Any] = []
        self._pid = os.getpid()
        self._lock_key = _LOCK_KEY * 1000003 + sum(ord(c) * 31**i for i, c in enumerate(schema)) % 1000003
        self._init_schema(create)

    # ------------------------------------------------------------ plumbing

    def _error(self, e: BaseException, action: str) -> StorageError:
        psycopg = _psycopg()
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, psycopg.OperationalError):
            text = f"cannot reach the PostgreSQL library {self.location}: {msg}"
        elif isinstance(e, psycopg.errors.DiskFull):
            text = f"cannot {action} the library {self.location}: the server's disk is full ({msg}); nothing partial was kept"
        elif isinstance(e, psycopg.errors.InsufficientPrivilege | psycopg.errors.ReadOnlySqlTransaction):
            text = f"cannot {action} the library {self.location}: not allowed for this connection ({msg})"
        else:
            text = f"cannot {action} the library {self.location}: {msg}"
        err = StorageError(text)
        err.__cause__ = e
        return err

    def conn(self) -> Any:
        """This thread's psycopg connection (autocommit; transactions are explicit)."""
        if os.getpid() != self._pid:
            self._local, self._pid, self._conns = threading.local(), os.getpid(), []
        c = getattr(self._local, "conn", None)
        if c is None or c.closed:
            psycopg = _psycopg()
            try:
                c = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout)
                c.execute(f"SET search_path TO {self.schema}, public")
            except psycopg.Error as e:
                raise self._error(e, "open") from e
            self._local.conn = c
            with self._lock:
                self._conns.append(c)
        return c

    @contextmanager
    def write(self) -> Iterator[PgConnection]:
        """One write transaction (serialised with every other writer): committed on success,
        rolled back on any error."""
        psycopg = _psycopg()
        c = self.conn()
        try:
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                yield PgConnection(c)
        except psycopg.Error as e:
            raise self._error(e, "write") from e

    def q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        psycopg = _psycopg()
        try:
            return PgConnection(self.conn()).execute(sql, params).fetchall()
        except psycopg.Error as e:
            raise self._error(e, "read") from e

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(Exception):
                c.close()
        self._local = threading.local()

    def spec(self) -> tuple[str, str | None]:
        """``(location, schema)`` another process opens this library with (:func:`faceprint.library.backends.open_store`)."""
        return self.url, self.schema

    # ---------------------------------------------------------------- schema

    def _version(self, c: Any) -> int | None:
        if c.execute("SELECT to_regclass(%s)", (f"{self.schema}.schema_version",)).fetchone()[0] is None:
            return None
        row = c.execute(f"SELECT max(version) FROM {self.schema}.schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _init_schema(self, create: bool) -> None:
        psycopg = _psycopg()
        c = self.conn()
        try:
            version = self._version(c)
            if version is None and not create:
                raise GalleryError(f"no library at {self.location}: run `faceprint index DIR --store URL` first")
            if version is not None and version > SCHEMA_VERSION:
                raise GalleryError(
                    f"the library {self.location} has schema {version}, newer than this faceprint ({SCHEMA_VERSION})"
                )
            if version == SCHEMA_VERSION:
                return
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                if not c.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
                    try:
                        with c.transaction():
                            c.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    except psycopg.Error as e:
                        raise GalleryError(
                            f"the PostgreSQL server at {self.location} lacks the pgvector extension and it could not be "
                            f"created ({str(e).strip().splitlines()[0]}); install pgvector or ask the administrator to "
                            "run CREATE EXTENSION vector"
                        ) from e
                c.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                version = self._version(c) or 0  # another process may have created it meanwhile
                for v in range(version, SCHEMA_VERSION):
                    for stmt in migrations(self.schema)[v]:
                        c.execute(stmt)
                c.execute(f"DELETE FROM {self.schema}.schema_version")
                c.execute(f"INSERT INTO {self.schema}.schema_version(version) VALUES (%s)", (SCHEMA_VERSION,))
            logger.info("library %s created at schema version %d", self.location, SCHEMA_VERSION)
        except psycopg.Error as e:
            raise self._error(e, "open") from e

    def drop(self) -> None:
        """Delete the whole library schema (irreversible)."""
        with self.write() as w:
            w.raw.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    # ------------------------------------------------------------------ meta

    # ---------------------------------------------------------------- lookups

    # ----------------------------------------------------------------- writes

    def commit_photo(self, r: PhotoResult) -> list[int]:
        """Store one file's result in one transaction; returns the ids of the faces added (none
        when its content was already in the library, or the same result was stored before)."""
        now = time.time()
        added: list[int] = []
        upsert_path = (
            "INSERT INTO paths(path, photo_id, size, mtime_ns, error_code, error, seen) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (path) DO UPDATE SET photo_id = EXCLUDED.photo_id, size = EXCLUDED.size, "
            "mtime_ns = EXCLUDED.mtime_ns, error_code = EXCLUDED.error_code, error = EXCLUDED.error, seen = EXCLUDED.seen"
        )
        with self.write() as w:
            c = w.raw
            if r.status == "error":
                c.execute(upsert_path, (r.path, None, r.size, r.mtime_ns, r.error_code, r.error, now))
                return added
            row = c.execute("SELECT id FROM photos WHERE sha256 = %s", (r.sha256,)).fetchone()
            if row is not None:
                photo_id = int(row[0])
            elif r.status == "known":  # its photo vanished meanwhile: index it again next run
                return added
            else:
                photo_id = int(c.execute(
                    "INSERT INTO photos(sha256, width, height, n_faces, indexed) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256 RETURNING id",
                    (r.sha256, r.width, r.height, len(r.faces), now),
                ).fetchone()[0])
                for k, f in enumerate(r.faces):
                    lm = f.landmarks
                    got = c.execute(
                        "INSERT INTO faces(photo_id, idx, x1, y1, x2, y2, score, scheme, landmarks, model, dim, embedding, "
                        "norm, face_px, blur, thumb) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::vector,%s,%s,%s,%s) "
                        "ON CONFLICT (photo_id, idx) DO NOTHING RETURNING id",
                        (photo_id, k, *f.box.as_tuple(), f.score, lm.scheme if lm else None,
                         np.asarray(lm.points, "<f4").tobytes() if lm else None, f.model, int(f.vector.shape[0]),
                         vec_text(f.vector), f.norm, f.face_px, f.blur, f.thumb),
                    ).fetchone()
                    if got is not None:
                        added.append(int(got[0]))
            c.execute(upsert_path, (r.path, photo_id, r.size, r.mtime_ns, None, None, now))
        return added

    # ------------------------------------------------------------ embeddings

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The embeddings of faces ``ids``, by id."""
        out: dict[int, np.ndarray] = {}
        ids = [int(i) for i in ids]
        for s in range(0, len(ids), 5000):
            rows = self.q("SELECT id, embedding::text FROM faces WHERE id = ANY(?)", (ids[s:s + 5000],))
            out.update({int(r[0]): text_vec(r[1]) for r in rows})
        return out
