"""Gallery store on PostgreSQL with the pgvector extension, for galleries shared by several
processes or machines.

    >>> store = PostgresStore("postgresql://user:pw@db.example/faces")      # doctest: +SKIP
    >>> Gallery(store=store).identify("photo.jpg")                           # doctest: +SKIP

* Same schema and semantics as :class:`~faceprint.matching.store.sqlite.SqliteStore`, in a
  PostgreSQL schema of its own (``schema=``, default ``faceprint``): identities, faces (embedding as
  pgvector ``vector(d)``), gallery metadata, a change log filled by a trigger, a schema version.
* Vector search runs in the database (``native_search``): an **HNSW index** (``vector_ip_ops``:
  inner product = cosine on unit vectors) built when the gallery's model is set; ``ef_search``
  is set per session. No local index is kept.
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
from faceprint.matching.store.base import Change, FaceRecord, IdentityRecord, NewFace
from faceprint.types import Box

logger = logging.getLogger(__name__)

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
DEFAULT_EF_SEARCH = 100
_LOCK_KEY = 0x66616365  # advisory lock id ("face"), combined with the schema's hash

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE gallery_meta (key text PRIMARY KEY, value text NOT NULL)",
        """CREATE TABLE identities (
            id bigserial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            metadata jsonb NOT NULL DEFAULT '{}',
            created double precision NOT NULL)""",
        """CREATE TABLE faces (
            id bigserial PRIMARY KEY,
            identity_id bigint NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
            model text NOT NULL,
            dim integer NOT NULL,
            embedding vector NOT NULL,
            sha256 text NOT NULL,
            x1 double precision, y1 double precision, x2 double precision, y2 double precision,
            quality double precision,
            source text,
            created double precision NOT NULL,
            UNIQUE (identity_id, model, sha256))""",
        "CREATE INDEX faces_identity ON faces(identity_id)",
        "CREATE INDEX faces_sha256 ON faces(sha256)",
        """CREATE TABLE face_log (
            seq bigserial PRIMARY KEY,
            op text NOT NULL,
            face_id bigint NOT NULL,
            identity_id bigint NOT NULL)""",
        """CREATE FUNCTION faces_log() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'INSERT' THEN
                INSERT INTO face_log(op, face_id, identity_id) VALUES ('add', NEW.id, NEW.identity_id);
              ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO face_log(op, face_id, identity_id) VALUES ('del', OLD.id, OLD.identity_id);
              ELSE
                INSERT INTO face_log(op, face_id, identity_id) VALUES ('del', OLD.id, OLD.identity_id);
                INSERT INTO face_log(op, face_id, identity_id) VALUES ('add', NEW.id, NEW.identity_id);
              END IF;
              RETURN NULL;
            END $$""",
        # not "UPDATE OF embedding": a column named in a trigger cannot change type (re-embedding does)
        "CREATE TRIGGER faces_log AFTER INSERT OR DELETE OR UPDATE ON faces FOR EACH ROW EXECUTE FUNCTION faces_log()",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)


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

    def stamp(self) -> tuple[str, int]:
        with self._tx(False) as c:
            u = self._meta(c, "uuid") or ""
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) FROM face_log").fetchone()[0]
        return u, int(seq)

    def changes_since(self, seq: int) -> list[Change] | None:
        with self._tx(False) as c:
            last, first = c.execute("SELECT COALESCE(MAX(seq), 0), MIN(seq) FROM face_log").fetchone()
            if seq > last or (first is not None and seq < first - 1) or (first is None and seq < last):
                return None
            rows = c.execute("SELECT seq, op, face_id, identity_id FROM face_log WHERE seq > %s ORDER BY seq", (seq,)).fetchall()
        return [Change(int(s), str(o), int(f), int(i)) for s, o, f, i in rows]

    # --------------------------------------------------------------- writes

    def _set_model(self, c: Any, tag: str, dim: int) -> None:
        c.execute("DROP INDEX IF EXISTS faces_embedding_hnsw")
        c.execute("ALTER TABLE faces ALTER COLUMN embedding TYPE vector")
        c.execute(f"ALTER TABLE faces ALTER COLUMN embedding TYPE vector({int(dim)})")
        c.execute(
            f"CREATE INDEX faces_embedding_hnsw ON faces USING hnsw (embedding vector_ip_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )
        for k, v in (("model", tag), ("dim", str(dim))):
            c.execute(
                "INSERT INTO gallery_meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (k, v),
            )

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
            "INSERT INTO faces(identity_id, model, dim, embedding, sha256, x1, y1, x2, y2, quality, source, created) "
            "VALUES (%s, %s, %s, %s::vector, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (identity_id, model, sha256) DO NOTHING RETURNING id",
            (identity_id, f.embedding.model, f.embedding.dim, _vec_text(f.embedding.vector), f.sha256, *b,
             None if f.quality is None else float(f.quality), f.source, now),
        ).fetchone()
        return None if row is None else int(row[0])

    def delete_faces(self, face_ids: Sequence[int]) -> int:
        with self._write() as c:
            cur = c.execute("DELETE FROM faces WHERE id = ANY(%s)", ([int(i) for i in face_ids],))
            n = int(cur.rowcount)
        self._erase_deleted()
        return n

    def _erase_deleted(self) -> None:
        """With ``vacuum_on_delete``: ``VACUUM`` the faces and identities tables (outside any
        transaction: the connection is in autocommit mode). A failure is logged, not raised: the
        delete itself has committed."""
        if not self.vacuum_on_delete:
            return
        psycopg = _psycopg()
        try:
            self._conn().execute("VACUUM faces, identities")
        except psycopg.Error as e:
            logger.warning("VACUUM after a delete in %s failed: %s", self.location, e)

    def replace_model(self, model: str, dim: int, vectors: dict[int, np.ndarray]) -> None:
        with self._write() as c:
            ids = [int(i) for i in vectors]
            c.execute("DELETE FROM faces WHERE NOT (id = ANY(%s))", (ids,))
            c.execute("DROP INDEX IF EXISTS faces_embedding_hnsw")
            c.execute("ALTER TABLE faces ALTER COLUMN embedding TYPE vector")
            for fid, vec in vectors.items():
                v = np.asarray(vec, np.float32).reshape(-1)
                if v.size != dim:
                    raise GalleryError(f"re-embedding produced a {v.size}-d vector for face {fid}, expected {dim}")
                c.execute(
                    "UPDATE faces SET embedding=%s::vector, model=%s, dim=%s WHERE id=%s", (_vec_text(v), model, dim, int(fid))
                )
            self._set_model(c, model, dim)

    # ---------------------------------------------------------------- reads

    def count(self) -> tuple[int, int]:
        with self._tx(False) as c:
            ni = c.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
            nf = c.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
        return int(ni), int(nf)

    def template_sizes(self) -> dict[int, int]:
        """``{faces per identity: identities}`` over identities with at least one face."""
        with self._tx(False) as c:
            rows = c.execute(
                "SELECT n, COUNT(*) FROM (SELECT COUNT(*) AS n FROM faces GROUP BY identity_id) s GROUP BY n"
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

    _COLS = "f.id, f.identity_id, i.name, f.model, f.sha256, f.x1, f.y1, f.x2, f.y2, f.quality, f.source, f.created"

    @staticmethod
    def _face(r: Sequence[Any], vec: Any = None) -> FaceRecord:
        box = None if r[5] is None else Box(r[5], r[6], r[7], r[8])
        return FaceRecord(int(r[0]), int(r[1]), r[2], r[3], r[4], box, r[9], r[10], float(r[11]),
                          vector=None if vec is None else _parse_vec(vec))

    def find_faces_by_hash(self, model: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        shas = sorted({s for _, s in pairs})
        if not shas:
            return {}
        with self._tx(False) as c:
            rows = c.execute(
                "SELECT i.name, f.sha256, f.id FROM faces f JOIN identities i ON i.id = f.identity_id "
                "WHERE f.model = %s AND f.sha256 = ANY(%s)",
                (model, shas),
            ).fetchall()
        want = set(pairs)
        return {(n, s): int(f) for n, s, f in rows if (n, s) in want}

    def faces(self, name: str | None = None, *, with_vectors: bool = False) -> list[FaceRecord]:
        cols = self._COLS + (", f.embedding::text" if with_vectors else "")
        sql = f"SELECT {cols} FROM faces f JOIN identities i ON i.id = f.identity_id"
        params: tuple[Any, ...] = ()
        if name is not None:
            sql += " WHERE i.name = %s"
            params = (name,)
        with self._tx(False) as c:
            rows = c.execute(sql + " ORDER BY f.id", params).fetchall()
        return [self._face(r, r[12] if with_vectors else None) for r in rows]

    def iter_faces(self, *, batch: int = 10000, with_vectors: bool = True) -> Iterator[list[FaceRecord]]:
        last = -1
        cols = self._COLS + (", f.embedding::text" if with_vectors else "")
        while True:
            with self._tx(False) as c:
                rows = c.execute(
                    f"SELECT {cols} FROM faces f JOIN identities i ON i.id = f.identity_id "
                    "WHERE f.id > %s ORDER BY f.id LIMIT %s",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            yield [self._face(r, r[12] if with_vectors else None) for r in rows]
            last = int(rows[-1][0])

    def vectors(self, face_ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.model()
        dim = m[1] if m else 0
        with self._tx(False) as c:
            if face_ids is None:
                rows = c.execute("SELECT id, identity_id, embedding::text FROM faces ORDER BY id").fetchall()
            else:
                rows = c.execute(
                    "SELECT id, identity_id, embedding::text FROM faces WHERE id = ANY(%s) ORDER BY id",
                    ([int(i) for i in face_ids],),
                ).fetchall()
        n = len(rows)
        fids = np.array([r[0] for r in rows], np.int64)
        iids = np.array([r[1] for r in rows], np.int64)
        mat = np.stack([_parse_vec(r[2]) for r in rows]) if n else np.zeros((0, dim), np.float32)
        return fids, iids, mat

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-k faces per query through the HNSW index (``<#>`` = negative inner product)."""
        q = np.asarray(queries, np.float32)
        if q.ndim == 1:
            q = q[None]
        scores = np.full((len(q), k), -np.inf, np.float32)
        fids = np.full((len(q), k), -1, np.int64)
        iids = np.full((len(q), k), -1, np.int64)
        m = self.model()
        if m is None:
            return scores, fids, iids
        if q.shape[1] != m[1]:
            raise InvalidInput(f"queries are {q.shape[1]}-d but the gallery's model {m[0]} is {m[1]}-d")
        with self._tx(False) as c:
            c.execute(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, int(k))}")
            for r, v in enumerate(q):
                rows = c.execute(
                    f"SELECT id, identity_id, embedding <#> %s::vector({m[1]}) AS d FROM faces ORDER BY d LIMIT %s",
                    (_vec_text(v), int(k)),
                ).fetchall()
                for j, (fid, iid, d) in enumerate(rows):
                    scores[r, j], fids[r, j], iids[r, j] = -float(d), int(fid), int(iid)
        return scores, fids, iids

    def search_identities(
        self, queries: np.ndarray, k: int, among: Sequence[Sequence[int]] | None = None
    ) -> list[list[tuple[int, float, int]]]:
        """``combine='mean'``: cosine to each identity's normalised mean embedding — over every
        identity (a scan), or, per query, only the identities listed in ``among``."""
        q = np.asarray(queries, np.float32)
        if q.ndim == 1:
            q = q[None]
        m = self.model()
        if m is None:
            return [[] for _ in q]
        out = []
        with self._tx(False) as c:
            for r, v in enumerate(q):
                where, params = "", [_vec_text(v)]  # type: tuple[str, list[Any]]
                if among is not None:
                    where = "WHERE identity_id = ANY(%s) "
                    params.append([int(i) for i in among[r]])
                rows = c.execute(
                    f"SELECT identity_id, -((avg(embedding) <#> %s::vector({m[1]}))"
                    " / NULLIF(vector_norm(avg(embedding)), 0)) AS s "
                    f"FROM faces {where}GROUP BY identity_id ORDER BY s DESC LIMIT %s",
                    (*params, int(k)),
                ).fetchall()
                out.append([(int(i), float(s), -1) for i, s in rows])
        return out
