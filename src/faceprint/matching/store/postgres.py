"""Gallery store on PostgreSQL with the pgvector extension, for galleries shared by several
processes or machines.

    >>> store = PostgresStore("postgresql://user:pw@db.example/faces")      # doctest: +SKIP
    >>> Gallery(store=store).identify("photo.jpg")                           # doctest: +SKIP

* Same schema and semantics as :class:`~faceprint.matching.store.sqlite.SqliteStore`, in a
  PostgreSQL schema of its own (``schema=``, default ``faceprint``): identities, faces, their
  embeddings (one per model, pgvector ``vector``), the models, gallery metadata, a change log
  filled by a trigger, a schema version (:mod:`~faceprint.matching.store.postgres_schema`).
* Vector search runs in the database (``native_search``): one **HNSW index per model** (a
  partial expression index, ``vector_ip_ops``: inner product = cosine on unit vectors) built when
  the model is added; ``ef_search`` is set per session. No local index is kept.
* Writers are serialised by a transaction-scoped advisory lock, so change-log order is commit
  order and the model check cannot race.
* Needs the ``vector`` extension (pgvector ≥ 0.5 for HNSW) available on the server; it is created
  when missing (which needs the privilege to do so). Driver: psycopg 3 (``pip install
  "psycopg[binary]"``, see requirements/postgres.txt).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from faceprint.errors import GalleryError, InvalidInput, ModelUnavailable, StorageError
from faceprint.matching.store._shared import SqlStoreMixin
from faceprint.matching.store.base import Change, FaceRecord, IdentityRecord, ModelRecord, NewFace
from faceprint.matching.store.postgres_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    model_index_name,
    model_index_sql,
    quote_literal,
)
from faceprint.types import Box

logger = logging.getLogger(__name__)

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
DEFAULT_EF_SEARCH = 100
_LOCK_KEY = 0x66616365  # advisory lock id ("face"), combined with the schema's hash

_MIGRATIONS = MIGRATIONS


def _psycopg() -> Any:
    try:
        import psycopg  # noqa: PLC0415
    except ImportError as e:
        raise ModelUnavailable(
            'the PostgreSQL store needs psycopg 3: pip install "psycopg[binary]" (see requirements/postgres.txt)'
        ) from e
    return psycopg


def redact(url: str) -> str:
    """The URL (or ``key=value`` connection string) without its password, for messages."""
    if "://" not in url:  # libpq key=value form
        return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", url)
    try:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        pass
    return url


def _vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in np.asarray(v, np.float32).reshape(-1)) + "]"


def _parse_vec(s: Any) -> np.ndarray:
    if isinstance(s, str):
        return np.array(s[1:-1].split(","), dtype=np.float32)
    return np.asarray(s, dtype=np.float32)


class PostgresStore(SqlStoreMixin):
    """A gallery in a PostgreSQL schema. Thread-safe (one connection per thread)."""

    native_search = True
    _PARAM = "%s"

    def __init__(
        self,
        url: str,
        *,
        schema: str = "faceprint",
        ef_search: int = DEFAULT_EF_SEARCH,
        connect_timeout: int = 10,
        vacuum_on_delete: bool = False,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise InvalidInput(f"schema must be a plain SQL identifier, got {schema!r}")
        self.url = url
        self.schema = schema
        self.location = f"{redact(url)} (schema {schema})"
        self.ef_search = int(ef_search)
        self.connect_timeout = connect_timeout
        #: run ``VACUUM`` on the gallery's tables after every delete, so dead tuples holding deleted
        #: embeddings are reclaimed before the call returns (off by default: on a large gallery it
        #: scans the whole HNSW index; see docs/gallery.md for what PostgreSQL keeps otherwise).
        self.vacuum_on_delete = bool(vacuum_on_delete)
        self._local = threading.local()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._all: list[Any] = []
        # deterministic across processes (str hash() is salted per process)
        self._lock_key = _LOCK_KEY * 1000003 + sum(ord(c) * 31**i for i, c in enumerate(schema)) % 1000003
        self._init_schema()

    # ------------------------------------------------------------ plumbing

    def _error(self, e: BaseException, action: str) -> GalleryError:
        psycopg = _psycopg()
        errors = psycopg.errors
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, errors.DiskFull):
            text = (
                f"cannot {action} the gallery {self.location}: the database server's disk is full ({msg}); "
                "nothing of this operation was stored — free space on the server and retry"
            )
        elif isinstance(e, errors.ReadOnlySqlTransaction):
            text = (
                f"cannot {action} the gallery {self.location}: the database is read-only for this connection "
                f"(default_transaction_read_only, or a standby server): {msg}"
            )
        elif isinstance(e, errors.InsufficientPrivilege):
            what = "read-only for this user" if action != "read" else "not readable by this user"
            text = f"cannot {action} the gallery {self.location}: the database is {what} ({msg})"
        elif isinstance(e, errors.QueryCanceled):
            text = f"cannot {action} the gallery {self.location}: the statement was cancelled or timed out ({msg})"
        elif isinstance(e, psycopg.OperationalError):
            text = f"cannot reach the PostgreSQL gallery {self.location}: {msg}"
        else:
            text = f"cannot {action} the gallery {self.location}: {msg}"
        err = StorageError(text)
        err.__cause__ = e
        return err

    def _conn(self) -> Any:
        if os.getpid() != self._pid:
            self._local = threading.local()
            self._pid = os.getpid()
            self._all = []
        c = getattr(self._local, "conn", None)
        if c is None or c.closed:
            psycopg = _psycopg()
            try:
                c = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout)
                c.execute(f"SET search_path TO {self.schema}, public")
                c.execute(f"SET hnsw.ef_search = {self.ef_search}")
            except psycopg.errors.UndefinedObject:
                pass  # hnsw.ef_search unknown before the extension exists
            except psycopg.Error as e:
                raise self._error(e, "open") from e
            self._local.conn = c
            with self._lock:
                self._all.append(c)
        return c

    def _write(self) -> Any:
        """One write transaction (the shared code's hook)."""
        return self._tx()

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Any]:
        psycopg = _psycopg()
        c = self._conn()
        try:
            with c.transaction():
                if write:
                    c.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                yield c
        except psycopg.Error as e:
            raise self._error(e, "write" if write else "read") from e

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            with contextlib.suppress(Exception):
                c.close()
        self._local = threading.local()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _schema_ready(self, c: Any) -> bool:
        """True when the gallery schema exists at this version (read-only check: a read-only
        connection or role can then open the gallery without any DDL)."""
        if not c.execute("SELECT 1 FROM pg_extension WHERE extname='vector'").fetchone():
            return False
        ver, meta = c.execute(
            "SELECT to_regclass(%s), to_regclass(%s)", (f"{self.schema}.schema_version", f"{self.schema}.gallery_meta")
        ).fetchone()
        if ver is None or meta is None:
            return False
        row = c.execute(f"SELECT max(version) FROM {self.schema}.schema_version").fetchone()
        version = int(row[0]) if row and row[0] is not None else 0
        if version > SCHEMA_VERSION:
            raise GalleryError(
                f"the gallery {self.location} has schema version {version}, newer than this faceprint "
                f"supports ({SCHEMA_VERSION}); upgrade faceprint"
            )
        have_uuid = c.execute(f"SELECT 1 FROM {self.schema}.gallery_meta WHERE key = 'uuid'").fetchone()
        return version == SCHEMA_VERSION and have_uuid is not None

    def _init_schema(self) -> None:
        psycopg = _psycopg()
        c = self._conn()
        try:
            with c.transaction():
                ready = self._schema_ready(c)
            if ready:
                c.execute(f"SET hnsw.ef_search = {self.ef_search}")
                return
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                have = c.execute("SELECT 1 FROM pg_extension WHERE extname='vector'").fetchone()
                if not have:
                    try:
                        with c.transaction():
                            c.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    except psycopg.Error as e:
                        raise GalleryError(
                            f"the PostgreSQL server at {self.location} lacks the pgvector extension and it could not "
                            f"be created ({str(e).strip().splitlines()[0]}); install pgvector on the server or ask "
                            "its administrator to run CREATE EXTENSION vector"
                        ) from e
                c.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                c.execute(f"CREATE TABLE IF NOT EXISTS {self.schema}.schema_version (version integer NOT NULL)")
                row = c.execute(f"SELECT version FROM {self.schema}.schema_version").fetchone()
                version = int(row[0]) if row else 0
                if version > SCHEMA_VERSION:
                    raise GalleryError(
                        f"the gallery {self.location} has schema version {version}, newer than this faceprint "
                        f"supports ({SCHEMA_VERSION}); upgrade faceprint"
                    )
                for v in range(version, SCHEMA_VERSION):
                    for stmt in _MIGRATIONS[v]:
                        c.execute(stmt)
                    logger.info("gallery %s migrated to schema version %d", self.location, v + 1)
                if version < SCHEMA_VERSION:
                    for tag, dim in c.execute("SELECT tag, dim FROM models").fetchall():
                        c.execute(model_index_sql(tag, int(dim), HNSW_M, HNSW_EF_CONSTRUCTION))
                if version != SCHEMA_VERSION:
                    c.execute("DELETE FROM schema_version")
                    c.execute("INSERT INTO schema_version(version) VALUES (%s)", (SCHEMA_VERSION,))
                c.execute("INSERT INTO gallery_meta(key, value) VALUES ('uuid', %s) ON CONFLICT DO NOTHING", (uuid.uuid4().hex,))
                c.execute(
                    "INSERT INTO gallery_meta(key, value) VALUES ('created', %s) ON CONFLICT DO NOTHING", (repr(time.time()),)
                )
            c.execute(f"SET hnsw.ef_search = {self.ef_search}")
        except GalleryError:
            raise
        except psycopg.Error as e:
            raise self._error(e, "open") from e

    def drop(self) -> None:
        """Delete the whole gallery schema (irreversible)."""
        with self._write() as c:
            c.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def schema_version(self) -> int:
        with self._tx(False) as c:
            return int(c.execute("SELECT version FROM schema_version").fetchone()[0])

    # ---------------------------------------------------------------- meta

    @staticmethod
    def _meta(c: Any, key: str) -> str | None:
        row = c.execute("SELECT value FROM gallery_meta WHERE key=%s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def model(self) -> tuple[str, int] | None:
        with self._tx(False) as c:
            m, d = self._meta(c, "model"), self._meta(c, "dim")
        return None if m is None else (m, int(d or 0))

    def models(self) -> list[ModelRecord]:
        with self._tx(False) as c:
            prim = self._meta(c, "model")
            rows = c.execute("SELECT tag, dim, pipeline, added FROM models ORDER BY added, tag").fetchall()
        recs = [ModelRecord(r[0], int(r[1]), dict(r[2]) if r[2] else None, float(r[3]), r[0] == prim) for r in rows]
        return sorted(recs, key=lambda r: not r.primary)

    def _models_in(self, c: Any) -> dict[str, int]:
        return {str(t): int(d) for t, d in c.execute("SELECT tag, dim FROM models").fetchall()}

    def _tag_dim(self, model: str | None) -> tuple[str, int] | None:
        """``(tag, dim)`` of ``model`` (the primary when None); None when the gallery lacks it."""
        with self._tx(False) as c:
            tag = model if model is not None else self._meta(c, "model")
            if tag is None:
                return None
            row = c.execute("SELECT dim FROM models WHERE tag=%s", (tag,)).fetchone()
        return None if row is None else (tag, int(row[0]))

    def stamp(self) -> tuple[str, int]:
        with self._tx(False) as c:
            u = self._meta(c, "uuid") or ""
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) FROM face_log").fetchone()[0]
        return u, int(seq)

    def changes_since(self, seq: int, *, model: str | None = None) -> list[Change] | None:
        with self._tx(False) as c:
            last, first = c.execute("SELECT COALESCE(MAX(seq), 0), MIN(seq) FROM face_log").fetchone()
            if seq > last or (first is not None and seq < first - 1) or (first is None and seq < last):
                return None
            sql = "SELECT seq, op, face_id, identity_id, model FROM face_log WHERE seq > %s"
            params: tuple[Any, ...] = (seq,)
            if model is not None:
                sql += " AND model = %s"
                params = (seq, model)
            rows = c.execute(sql + " ORDER BY seq", params).fetchall()
        return [Change(int(s), str(o), int(f), int(i), m) for s, o, f, i, m in rows]

    # --------------------------------------------------------------- writes

    def _add_model_row(self, c: Any, tag: str, dim: int, pipeline_json: str | None) -> None:
        c.execute(
            "INSERT INTO models(tag, dim, pipeline, added) VALUES (%s, %s, %s::jsonb, %s)",
            (tag, int(dim), pipeline_json, time.time()),
        )
        c.execute(model_index_sql(tag, dim, HNSW_M, HNSW_EF_CONSTRUCTION))
        if self._meta(c, "model") is None:
            self._set_primary(c, tag, dim)

    def _set_pipeline(self, c: Any, tag: str, pipeline_json: str) -> None:
        c.execute("UPDATE models SET pipeline=%s::jsonb WHERE tag=%s", (pipeline_json, tag))

    @staticmethod
    def _set_primary(c: Any, tag: str | None, dim: int = 0) -> None:
        if tag is None:
            c.execute("DELETE FROM gallery_meta WHERE key IN ('model', 'dim')")
            return
        for k, v in (("model", tag), ("dim", str(dim))):
            c.execute(
                "INSERT INTO gallery_meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (k, v),
            )

    def _drop_model_rows(self, c: Any, tag: str) -> None:
        c.execute(f"DROP INDEX IF EXISTS {model_index_name(tag)}")
        c.execute("DELETE FROM models WHERE tag=%s", (tag,))  # cascades to its embeddings

    def _clear_models(self, c: Any) -> None:
        for tag in self._models_in(c):
            self._drop_model_rows(c, tag)
        self._set_primary(c, None)

    @staticmethod
    def _has_faces(c: Any) -> bool:
        return bool(c.execute("SELECT EXISTS (SELECT 1 FROM faces)").fetchone()[0])

    @staticmethod
    def _upsert_identity(c: Any, name: str, metadata_json: str, replace_metadata: bool) -> int:
        c.execute(
            "INSERT INTO identities(name, metadata, created) VALUES (%s, %s::jsonb, %s) ON CONFLICT (name) DO NOTHING",
            (name, metadata_json, time.time()),
        )
        if replace_metadata:
            c.execute("UPDATE identities SET metadata = %s::jsonb WHERE name = %s", (metadata_json, name))
        return int(c.execute("SELECT id FROM identities WHERE name = %s", (name,)).fetchone()[0])

    @staticmethod
    def _insert_face(c: Any, identity_id: int, f: NewFace, now: float) -> int | None:
        b = f.box.as_tuple() if f.box is not None else (None, None, None, None)
        row = c.execute(
            "INSERT INTO faces(identity_id, sha256, x1, y1, x2, y2, quality, source, created) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (identity_id, sha256) DO NOTHING RETURNING id",
            (identity_id, f.sha256, *b, None if f.quality is None else float(f.quality), f.source, now),
        ).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _insert_embedding(c: Any, face_id: int, identity_id: int, emb: Any) -> None:
        c.execute(
            "INSERT INTO embeddings(face_id, identity_id, model, dim, embedding) VALUES (%s, %s, %s, %s, %s::vector) "
            "ON CONFLICT (face_id, model) DO NOTHING",
            (face_id, identity_id, emb.model, emb.dim, _vec_text(emb.vector)),
        )

    def delete_faces(self, face_ids: Sequence[int]) -> int:
        with self._write() as c:
            cur = c.execute("DELETE FROM faces WHERE id = ANY(%s)", ([int(i) for i in face_ids],))
            n = int(cur.rowcount)
        self._erase_deleted()
        return n

    def _erase_deleted(self) -> None:
        """With ``vacuum_on_delete``: ``VACUUM`` the gallery's tables (outside any transaction:
        the connection is in autocommit mode). A failure is logged, not raised: the delete itself
        has committed."""
        if not self.vacuum_on_delete:
            return
        psycopg = _psycopg()
        try:
            self._conn().execute("VACUUM faces, embeddings, identities")
        except psycopg.Error as e:
            logger.warning("VACUUM after a delete in %s failed: %s", self.location, e)

    @staticmethod
    def _upsert_vectors(c: Any, model: str, dim: int, vectors: dict[int, np.ndarray]) -> int:
        n = 0
        for fid, vec in vectors.items():
            v = np.asarray(vec, np.float32).reshape(-1)
            if v.size != dim:
                raise GalleryError(f"re-embedding produced a {v.size}-d vector for face {fid}, expected {dim}")
            cur = c.execute(
                "INSERT INTO embeddings(face_id, identity_id, model, dim, embedding) "
                "SELECT id, identity_id, %s, %s, %s::vector FROM faces WHERE id = %s "
                "ON CONFLICT (face_id, model) DO UPDATE SET embedding = EXCLUDED.embedding, dim = EXCLUDED.dim",
                (model, dim, _vec_text(v), int(fid)),
            )
            n += int(cur.rowcount)
        return n

    def replace_model(self, model: str, dim: int, vectors: dict[int, np.ndarray]) -> None:
        with self._write() as c:
            ids = [int(i) for i in vectors]
            c.execute("DELETE FROM faces WHERE NOT (id = ANY(%s))", (ids,))
            have = self._models_in(c)
            for tag, d in have.items():
                if tag != model or d != dim:
                    self._drop_model_rows(c, tag)
            self._set_primary(c, None)
            if have.get(model) != dim:
                self._add_model_row(c, model, dim, None)
            self._set_primary(c, model, dim)
            self._upsert_vectors(c, model, dim, vectors)

    # ---------------------------------------------------------------- reads

    def count(self) -> tuple[int, int]:
        with self._tx(False) as c:
            ni = c.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
            nf = c.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
        return int(ni), int(nf)

    def model_counts(self) -> dict[str, int]:
        with self._tx(False) as c:
            rows = c.execute(
                "SELECT m.tag, COUNT(e.face_id) FROM models m LEFT JOIN embeddings e ON e.model = m.tag GROUP BY m.tag"
            ).fetchall()
        return {str(t): int(n) for t, n in rows}

    def template_sizes(self, *, model: str | None = None) -> dict[int, int]:
        """``{faces per identity: identities}`` over identities with at least one ``model`` face."""
        td = self._tag_dim(model)
        if td is None:
            return {}
        with self._tx(False) as c:
            rows = c.execute(
                "SELECT n, COUNT(*) FROM (SELECT COUNT(*) AS n FROM embeddings WHERE model = %s GROUP BY identity_id) s "
                "GROUP BY n",
                (td[0],),
            ).fetchall()
        return {int(n): int(k) for n, k in rows}

    def identities(self) -> list[IdentityRecord]:
        with self._tx(False) as c:
            rows = c.execute(
                "SELECT i.id, i.name, i.metadata, i.created, COUNT(f.id) FROM identities i "
                "LEFT JOIN faces f ON f.identity_id = i.id GROUP BY i.id ORDER BY i.name"
            ).fetchall()
        return [IdentityRecord(int(r[0]), r[1], dict(r[2] or {}), float(r[3]), int(r[4])) for r in rows]

    def identity(self, name: str) -> IdentityRecord | None:
        with self._tx(False) as c:
            r = c.execute(
                "SELECT i.id, i.name, i.metadata, i.created, (SELECT COUNT(*) FROM faces f WHERE f.identity_id = i.id) "
                "FROM identities i WHERE i.name = %s",
                (name,),
            ).fetchone()
        return None if r is None else IdentityRecord(int(r[0]), r[1], dict(r[2] or {}), float(r[3]), int(r[4]))

    def identity_names(self, ids: Sequence[int]) -> dict[int, str]:
        uniq = sorted({int(i) for i in ids if int(i) >= 0})
        if not uniq:
            return {}
        with self._tx(False) as c:
            rows = c.execute("SELECT id, name FROM identities WHERE id = ANY(%s)", (uniq,)).fetchall()
        return {int(i): n for i, n in rows}

    _COLS = (
        "f.id, f.identity_id, i.name, e.model, f.sha256, f.x1, f.y1, f.x2, f.y2, f.quality, f.source, f.created, "
        "ARRAY(SELECT x.model FROM embeddings x WHERE x.face_id = f.id ORDER BY x.model)"
    )

    @staticmethod
    def _face(r: Sequence[Any], vec: Any = None) -> FaceRecord:
        box = None if r[5] is None else Box(r[5], r[6], r[7], r[8])
        return FaceRecord(int(r[0]), int(r[1]), r[2], r[3] or "", r[4], box, r[9], r[10], float(r[11]),
                          vector=None if vec is None else _parse_vec(vec), models=tuple(r[12] or ()))

    def find_faces_by_hash(self, model: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        shas = sorted({s for _, s in pairs})
        if not shas:
            return {}
        with self._tx(False) as c:
            rows = c.execute(
                "SELECT i.name, f.sha256, f.id FROM faces f JOIN identities i ON i.id = f.identity_id "
                "JOIN embeddings e ON e.face_id = f.id AND e.model = %s WHERE f.sha256 = ANY(%s)",
                (model, shas),
            ).fetchall()
        want = set(pairs)
        return {(n, s): int(f) for n, s, f in rows if (n, s) in want}

    def _face_query(self, with_vectors: bool, model: str | None) -> tuple[str, list[Any]]:
        cols = self._COLS + (", e.embedding::text" if with_vectors else "")
        join = "JOIN" if with_vectors else "LEFT JOIN"
        td = self._tag_dim(model)
        sql = (f"SELECT {cols} FROM faces f JOIN identities i ON i.id = f.identity_id "
               f"{join} embeddings e ON e.face_id = f.id AND e.model = %s")
        return sql, [td[0] if td else (model or "")]

    def faces(self, name: str | None = None, *, with_vectors: bool = False, model: str | None = None) -> list[FaceRecord]:
        sql, params = self._face_query(with_vectors, model)
        if name is not None:
            sql += " WHERE i.name = %s"
            params.append(name)
        with self._tx(False) as c:
            rows = c.execute(sql + " ORDER BY f.id", params).fetchall()
        return [self._face(r, r[13] if with_vectors else None) for r in rows]

    def faces_lacking(self, model: str) -> list[FaceRecord]:
        sql, params = self._face_query(False, model)
        with self._tx(False) as c:
            rows = c.execute(sql + " WHERE e.face_id IS NULL ORDER BY f.id", params).fetchall()
        return [self._face(r, None) for r in rows]

    def iter_faces(
        self, *, batch: int = 10000, with_vectors: bool = True, model: str | None = None
    ) -> Iterator[list[FaceRecord]]:
        last = -1
        base, params = self._face_query(with_vectors, model)
        while True:
            with self._tx(False) as c:
                rows = c.execute(base + " WHERE f.id > %s ORDER BY f.id LIMIT %s", (*params, last, batch)).fetchall()
            if not rows:
                return
            yield [self._face(r, r[13] if with_vectors else None) for r in rows]
            last = int(rows[-1][0])

    def vectors(
        self, face_ids: Sequence[int] | None = None, *, model: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        td = self._tag_dim(model)
        tag, dim = td if td else (model or "", 0)
        with self._tx(False) as c:
            if face_ids is None:
                rows = c.execute(
                    "SELECT face_id, identity_id, embedding::text FROM embeddings WHERE model = %s ORDER BY face_id", (tag,)
                ).fetchall()
            else:
                rows = c.execute(
                    "SELECT face_id, identity_id, embedding::text FROM embeddings WHERE model = %s AND face_id = ANY(%s) "
                    "ORDER BY face_id",
                    (tag, [int(i) for i in face_ids]),
                ).fetchall()
        n = len(rows)
        fids = np.array([r[0] for r in rows], np.int64)
        iids = np.array([r[1] for r in rows], np.int64)
        mat = np.stack([_parse_vec(r[2]) for r in rows]) if n else np.zeros((0, dim), np.float32)
        return fids, iids, mat

    def search(self, queries: np.ndarray, k: int, *, model: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-k faces per query through the model's HNSW index (``<#>`` = negative inner product)."""
        q = np.asarray(queries, np.float32)
        if q.ndim == 1:
            q = q[None]
        scores = np.full((len(q), k), -np.inf, np.float32)
        fids = np.full((len(q), k), -1, np.int64)
        iids = np.full((len(q), k), -1, np.int64)
        td = self._tag_dim(model)
        if td is None:
            return scores, fids, iids
        tag, dim = td
        if q.shape[1] != dim:
            raise InvalidInput(f"queries are {q.shape[1]}-d but the gallery's model {tag} is {dim}-d")
        # the model as a literal, so the planner matches the model's partial index
        sql = (f"SELECT face_id, identity_id, embedding::vector({dim}) <#> %s::vector({dim}) AS d FROM embeddings "
               f"WHERE model = {quote_literal(tag)} ORDER BY d LIMIT %s")
        with self._tx(False) as c:
            c.execute(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, int(k))}")
            for r, v in enumerate(q):
                rows = c.execute(sql, (_vec_text(v), int(k))).fetchall()
                for j, (fid, iid, d) in enumerate(rows):
                    scores[r, j], fids[r, j], iids[r, j] = -float(d), int(fid), int(iid)
        return scores, fids, iids

    def search_identities(
        self, queries: np.ndarray, k: int, among: Sequence[Sequence[int]] | None = None, *, model: str | None = None
    ) -> list[list[tuple[int, float, int]]]:
        """``combine='mean'``: cosine to each identity's normalised mean ``model`` embedding — over
        every identity (a scan), or, per query, only the identities listed in ``among``."""
        q = np.asarray(queries, np.float32)
        if q.ndim == 1:
            q = q[None]
        td = self._tag_dim(model)
        if td is None:
            return [[] for _ in q]
        tag, dim = td
        out = []
        with self._tx(False) as c:
            for r, v in enumerate(q):
                where, params = "", [_vec_text(v), tag]  # type: tuple[str, list[Any]]
                if among is not None:
                    where = "AND identity_id = ANY(%s) "
                    params.append([int(i) for i in among[r]])
                rows = c.execute(
                    f"SELECT identity_id, -((avg(embedding::vector({dim})) <#> %s::vector({dim}))"
                    f" / NULLIF(vector_norm(avg(embedding::vector({dim}))), 0)) AS s "
                    f"FROM embeddings WHERE model = %s {where}GROUP BY identity_id ORDER BY s DESC LIMIT %s",
                    (*params, int(k)),
                ).fetchall()
                out.append([(int(i), float(s), -1) for i, s in rows])
        return out
