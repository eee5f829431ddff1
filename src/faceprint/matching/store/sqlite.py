"""The embedded default gallery store: one SQLite file.

* WAL journal (readers never block the writer), ``foreign_keys=ON``, ``busy_timeout`` 30 s,
  ``synchronous=FULL`` (a committed enrollment survives a power cut, not only a killed process).
* Every write is one ``BEGIN IMMEDIATE`` transaction, so two processes enrolling at once serialise
  instead of failing or interleaving.
* A ``schema_version`` table and an ordered list of migrations: opening a gallery made by an older
  faceprint upgrades it in one transaction; one made by a newer faceprint is refused.
* SQLite failures become :class:`~faceprint.errors.GalleryError` with a message saying what to do
  (read-only file, full disk, locked, not a gallery / corrupted).

Schema (version 2, :mod:`~faceprint.matching.store.sqlite_schema`): ``identities`` (id, unique
name, JSON metadata, created), ``faces`` (id, identity FK ``ON DELETE CASCADE``, sha256 of the
source bytes, box x1..y2, quality, source name, created; unique per identity+sha256),
``embeddings`` (face FK, identity, model FK, dim, float32 little-endian BLOB; one per face and
model), ``models`` (tag, dim, pipeline JSON, added), ``gallery_meta`` (uuid, primary model, dim,
created), ``face_log`` (change log filled by triggers, read by indexes to catch up). A version-1
gallery (one model) is migrated when opened, in one transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import GalleryError, StorageError
from faceprint.fsperm import create_private_file, make_private, private_dir
from faceprint.matching.store._shared import SqlStoreMixin
from faceprint.matching.store.base import Change, FaceRecord, IdentityRecord, ModelRecord, NewFace
from faceprint.matching.store.sqlite_schema import MIGRATIONS, SCHEMA_VERSION
from faceprint.types import Box

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0
_CHUNK = 900  # stays below SQLite's bound-parameter limit



def gallery_error(e: BaseException, location: str, action: str = "use") -> GalleryError:
    """Translate a sqlite3 exception into a GalleryError that says what happened and what to do."""
    name = str(getattr(e, "sqlite_errorname", "") or "")
    msg = str(e)
    low = msg.lower()
    if "READONLY" in name or "readonly" in low or "read-only" in low:
        text = (
            f"cannot write the gallery {location}: the database file or its directory is read-only "
            "(check permissions, or point --home / FACEPRINT_HOME at a writable directory)"
        )
    elif "FULL" in name or "disk is full" in low or "database or disk is full" in low:
        text = f"cannot write the gallery {location}: the disk is full (free some space; nothing partial was kept)"
    elif "BUSY" in name or "LOCKED" in name or "locked" in low:
        text = (
            f"the gallery {location} is locked by another process for longer than {BUSY_TIMEOUT_S:.0f} s; "
            "try again when the other enrollment has finished"
        )
    elif "NOTADB" in name or "CORRUPT" in name or "not a database" in low or "malformed" in low:
        text = (
            f"{location} is not a faceprint gallery or is corrupted ({msg}); "
            "restore it from an export (`faceprint gallery import`) or move it away to start a new one"
        )
    elif "CANTOPEN" in name or "unable to open" in low:
        text = f"cannot open the gallery {location} ({msg}): check that the directory exists and is accessible"
    elif "IOERR" in name or "disk i/o" in low:
        text = f"disk I/O error on the gallery {location} ({msg}); the disk may be full or failing"
    else:
        text = f"cannot {action} the gallery {location}: {msg}"
    err = StorageError(text)
    err.__cause__ = e
    return err


def _immutable_dir(path: Path) -> bool:
    """Whether ``path`` refuses new files even to root (``chattr +i``), where access() says yes."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".faceprint-probe-")
    except OSError:
        return True
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return False


def _box_of(row: Sequence[Any]) -> Box | None:
    if row[0] is None:
        return None
    return Box(row[0], row[1], row[2], row[3])


class SqliteStore(SqlStoreMixin):
    """A gallery in one SQLite file (created with its directory when missing).

    Safe to share between threads (one connection per thread) and between processes (WAL +
    ``BEGIN IMMEDIATE`` + busy timeout). After ``os.fork`` the child opens its own connections.
    """

    native_search = False

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._local = threading.local()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._all_conns: list[sqlite3.Connection] = []
        self._uri: str | None = None  # set when the gallery could only be opened read-only
        #: True when the gallery's directory is not writable and it was opened read-only.
        self.read_only = False
        if not self.path.exists():
            if not create:
                raise GalleryError(f"no gallery at {self.path}")
            try:
                private_dir(self.path.parent)
                create_private_file(self.path)  # SQLite gives -wal and -shm the file's permissions
            except OSError as e:
                raise GalleryError(f"cannot create the gallery {self.path} in {self.path.parent}: {e}") from e
        make_private(*self.files())  # galleries made before files were private
        self._init_schema()

    def files(self) -> list[Path]:
        """The gallery's files on disk: the database and SQLite's ``-wal`` / ``-shm`` beside it."""
        return [self.path, self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")]

    # ------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked: never reuse the parent's connections
            self._local = threading.local()
            self._pid = os.getpid()
            self._all_conns = []
        c = getattr(self._local, "conn", None)
        if c is None:
            try:
                c = self._connect(self._uri)
            except sqlite3.Error as e:
                c = self._read_only_fallback(e)
            self._local.conn = c
            with self._lock:
                self._all_conns.append(c)
        return c

    def _connect(self, uri: str | None) -> sqlite3.Connection:
        target = uri if uri is not None else str(self.path)
        c = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False, uri=uri is not None)
        try:
            c.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            c.execute("PRAGMA foreign_keys = ON")
            c.execute("PRAGMA synchronous = FULL")
            c.execute("PRAGMA secure_delete = ON")  # deleted rows' bytes are overwritten, not just unlinked
            c.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # opens the file (and the WAL) now
        except BaseException:
            c.close()
            raise
        return c

    def _read_only_fallback(self, e: sqlite3.Error) -> sqlite3.Connection:
        """A gallery in a directory this process may not write cannot get SQLite's ``-shm`` file:
        open it read-only (``mode=ro``; ``immutable=1`` when there is no WAL left to read, as
        after a clean close). Reads work; writes fail with a read-only StorageError."""
        writable_dir = os.access(self.path.parent, os.W_OK) and not _immutable_dir(self.path.parent)
        if self._uri is not None or not self.path.is_file() or writable_dir:
            raise gallery_error(e, self.location, "open") from e
        base = "file:" + urllib.parse.quote(str(self.path.resolve()))
        wal = self.path.with_name(self.path.name + "-wal")
        last: sqlite3.Error = e
        for uri in (f"{base}?mode=ro", f"{base}?mode=ro&immutable=1") if wal.exists() else (f"{base}?mode=ro&immutable=1",):
            try:
                c = self._connect(uri)
            except sqlite3.Error as e2:
                last = e2
                continue
            self._uri = uri
            self.read_only = True
            logger.info("gallery %s opened read-only (its directory is not writable)", self.location)
            return c
        raise gallery_error(last, self.location, "open") from last

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): commit on success, roll back on error."""
        c = self._conn()
        if self.read_only:
            raise StorageError(
                f"cannot write the gallery {self.location}: the database file or its directory is read-only "
                "(check permissions, or point --home / FACEPRINT_HOME at a writable directory)"
            )
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise gallery_error(e, self.location, "write") from e
        try:
            yield c
            c.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise gallery_error(e, self.location, "write") from e
            raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads."""
        c = self._conn()
        try:
            c.execute("BEGIN")
        except sqlite3.Error as e:
            raise gallery_error(e, self.location, "read") from e
        try:
            yield c
        except sqlite3.Error as e:
            raise gallery_error(e, self.location, "read") from e
        finally:
            with contextlib.suppress(sqlite3.Error):
                c.execute("COMMIT")

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise gallery_error(e, self.location, "read") from e

    def close(self) -> None:
        with self._lock:
            conns, self._all_conns = self._all_conns, []
        for c in conns:
            with contextlib.suppress(sqlite3.Error):
                c.close()
        self._local = threading.local()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- schema

    def _version(self, c: sqlite3.Connection) -> int:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" not in tables:
            if tables - {"sqlite_sequence"}:
                raise GalleryError(
                    f"{self.location} is an SQLite database but not a faceprint gallery "
                    f"(it has tables {sorted(tables)[:5]}); choose another --home or file"
                )
            return 0
        row = c.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _init_schema(self) -> None:
        c = self._conn()
        try:
            version = self._version(c)
            if version > SCHEMA_VERSION:
                raise GalleryError(
                    f"the gallery {self.location} has schema version {version}, newer than this faceprint "
                    f"supports ({SCHEMA_VERSION}); upgrade faceprint"
                )
            if version == SCHEMA_VERSION:
                return
            if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                c.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as e:
            raise gallery_error(e, self.location, "open") from e
        with self._write() as w:
            version = self._version(w)  # another process may have migrated meanwhile
            for v in range(version, SCHEMA_VERSION):
                for stmt in MIGRATIONS[v]:
                    w.execute(stmt)
                logger.info("gallery %s migrated to schema version %d", self.location, v + 1)
            w.execute("DELETE FROM schema_version")
            w.execute("INSERT INTO schema_version(version) VALUES (?)", (SCHEMA_VERSION,))
            w.execute("INSERT OR IGNORE INTO gallery_meta(key, value) VALUES ('uuid', ?)", (uuid.uuid4().hex,))
            w.execute("INSERT OR IGNORE INTO gallery_meta(key, value) VALUES ('created', ?)", (repr(time.time()),))

    def schema_version(self) -> int:
        return self._version(self._conn())

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``"ok"`` when sound) plus a foreign-key check."""
        rows = self._q("PRAGMA integrity_check")
        res = "; ".join(str(r[0]) for r in rows)
        fk = self._q("PRAGMA foreign_key_check")
        if fk:
            res += f"; {len(fk)} foreign-key violation(s)"
        return res

    # ------------------------------------------------------------------ meta

    def _meta(self, c: sqlite3.Connection, key: str) -> str | None:
        row = c.execute("SELECT value FROM gallery_meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _primary(self, model: str | None) -> str | None:
        if model is not None:
            return model
        m = self.model()
        return m[0] if m else None

    def model(self) -> tuple[str, int] | None:
        rows = dict(self._q("SELECT key, value FROM gallery_meta WHERE key IN ('model', 'dim')"))
        if "model" not in rows:
            return None
        return rows["model"], int(rows["dim"])

    def models(self) -> list[ModelRecord]:
        prim = self.model()
        rows = self._q("SELECT tag, dim, pipeline, added FROM models ORDER BY added, tag")
        recs = [ModelRecord(r[0], int(r[1]), json.loads(r[2]) if r[2] else None, float(r[3]),
                            prim is not None and r[0] == prim[0]) for r in rows]
        return sorted(recs, key=lambda r: not r.primary)

    def _models_in(self, c: sqlite3.Connection) -> dict[str, int]:
        return {str(t): int(d) for t, d in c.execute("SELECT tag, dim FROM models")}

    def stamp(self) -> tuple[str, int]:
        with self._read() as c:
            u = self._meta(c, "uuid") or ""
            row = c.execute("SELECT seq FROM sqlite_sequence WHERE name='face_log'").fetchone()
        return u, int(row[0]) if row else 0

    def changes_since(self, seq: int, *, model: str | None = None) -> list[Change] | None:
        with self._read() as c:
            row = c.execute("SELECT seq FROM sqlite_sequence WHERE name='face_log'").fetchone()
            last = int(row[0]) if row else 0
            if seq > last:
                return None
            first = c.execute("SELECT MIN(seq) FROM face_log").fetchone()[0]
            if first is not None and seq < int(first) - 1:
                return None  # pruned: cannot catch up
            if first is None and seq < last:
                return None
            sql = "SELECT seq, op, face_id, identity_id, model FROM face_log WHERE seq > ?"
            params: tuple[Any, ...] = (seq,)
            if model is not None:
                sql += " AND model = ?"
                params = (seq, model)
            rows = c.execute(sql + " ORDER BY seq", params).fetchall()
        return [Change(int(s), str(o), int(f), int(i), m) for s, o, f, i, m in rows]

    def prune_log(self) -> int:
        """Forget the change log (indexes built before will be rebuilt). Returns rows removed."""
        with self._write() as c:
            return c.execute("DELETE FROM face_log").rowcount

    # ---------------------------------------------------------------- writes

    def _add_model_row(self, c: sqlite3.Connection, tag: str, dim: int, pipeline_json: str | None) -> None:
        c.execute(
            "INSERT INTO models(tag, dim, pipeline, added) VALUES (?, ?, ?, ?)", (tag, int(dim), pipeline_json, time.time())
        )
        if self._meta(c, "model") is None:
            self._set_primary(c, tag, dim)

    @staticmethod
    def _set_primary(c: sqlite3.Connection, tag: str | None, dim: int = 0) -> None:
        if tag is None:
            c.execute("DELETE FROM gallery_meta WHERE key IN ('model', 'dim')")
            return
        c.execute("INSERT OR REPLACE INTO gallery_meta(key, value) VALUES ('model', ?)", (tag,))
        c.execute("INSERT OR REPLACE INTO gallery_meta(key, value) VALUES ('dim', ?)", (str(dim),))

    @staticmethod
    def _drop_model_rows(c: sqlite3.Connection, tag: str) -> None:
        c.execute("DELETE FROM models WHERE tag=?", (tag,))  # cascades to its embeddings

    def _clear_models(self, c: sqlite3.Connection) -> None:
        c.execute("DELETE FROM models")  # cascades to embeddings (none: the gallery holds no face)
        self._set_primary(c, None)

    @staticmethod
    def _has_faces(c: sqlite3.Connection) -> bool:
        return c.execute("SELECT EXISTS (SELECT 1 FROM faces)").fetchone()[0] == 1

    @staticmethod
    def _upsert_identity(c: sqlite3.Connection, name: str, metadata_json: str, replace_metadata: bool) -> int:
        sql = "INSERT OR IGNORE INTO identities(name, metadata, created) VALUES (?, ?, ?)"
        c.execute(sql, (name, metadata_json, time.time()))
        if replace_metadata:
            c.execute("UPDATE identities SET metadata=? WHERE name=?", (metadata_json, name))
        return int(c.execute("SELECT id FROM identities WHERE name=?", (name,)).fetchone()[0])

    @staticmethod
    def _insert_face(c: sqlite3.Connection, identity_id: int, f: NewFace, now: float) -> int | None:
        b = f.box.as_tuple() if f.box is not None else (None, None, None, None)
        cur = c.execute(
            "INSERT OR IGNORE INTO faces(identity_id, sha256, x1, y1, x2, y2, quality, source, created)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (identity_id, f.sha256, *b, None if f.quality is None else float(f.quality), f.source, now),
        )
        return int(cur.lastrowid) if cur.rowcount == 1 else None  # type: ignore[arg-type]

    @staticmethod
    def _insert_embedding(c: sqlite3.Connection, face_id: int, identity_id: int, emb: Any) -> None:
        c.execute(
            "INSERT OR IGNORE INTO embeddings(face_id, identity_id, model, dim, vector) VALUES (?,?,?,?,?)",
            (face_id, identity_id, emb.model, emb.dim, np.ascontiguousarray(emb.vector, dtype="<f4").tobytes()),
        )

    def delete_faces(self, face_ids: Sequence[int]) -> int:
        n = 0
        ids = [int(i) for i in face_ids]
        with self._write() as c:
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                n += c.execute(f"DELETE FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk).rowcount
        self._erase_deleted()
        return n

    def _erase_deleted(self) -> None:
        """After a delete: the rows' bytes were overwritten in their pages (``secure_delete``);
        copy those pages into the database file and empty the WAL (``wal_checkpoint(TRUNCATE)``,
        which waits up to the busy timeout for readers), so the old bytes are in no file."""
        try:
            busy, _, _ = self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as e:
            raise gallery_error(e, self.location, "erase deleted data from") from e
        if busy:
            raise StorageError(
                f"deleted from the gallery {self.location}, but another process kept the write-ahead log busy "
                f"for over {BUSY_TIMEOUT_S:.0f} s, so the deleted bytes may remain in {self.path.name}-wal "
                "until it finishes; run the delete again to finish erasing"
            )

    @staticmethod
    def _upsert_vectors(c: sqlite3.Connection, model: str, dim: int, vectors: dict[int, np.ndarray]) -> int:
        rows = []
        for fid, vec in vectors.items():
            v = np.ascontiguousarray(vec, dtype="<f4").reshape(-1)
            if v.size != dim:
                raise GalleryError(f"re-embedding produced a {v.size}-d vector for face {fid}, expected {dim}")
            rows.append((v.tobytes(), int(fid)))
        n = 0
        for blob, fid in rows:
            cur = c.execute("UPDATE embeddings SET vector=?, dim=? WHERE face_id=? AND model=?", (blob, dim, fid, model))
            if cur.rowcount == 0:
                cur = c.execute(
                    "INSERT INTO embeddings(face_id, identity_id, model, dim, vector) "
                    "SELECT id, identity_id, ?, ?, ? FROM faces WHERE id=?",
                    (model, dim, blob, fid),
                )
            n += cur.rowcount
        return n

    def replace_model(self, model: str, dim: int, vectors: dict[int, np.ndarray]) -> None:
        with self._write() as c:
            existing = [r[0] for r in c.execute("SELECT id FROM faces")]
            gone = [i for i in existing if i not in vectors]
            for i in range(0, len(gone), _CHUNK):
                chunk = gone[i : i + _CHUNK]
                c.execute(f"DELETE FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            have = self._models_in(c)
            for tag, d in have.items():
                if tag != model or d != dim:
                    c.execute("DELETE FROM models WHERE tag=?", (tag,))
            if have.get(model) != dim:
                c.execute("INSERT INTO models(tag, dim, pipeline, added) VALUES (?, ?, NULL, ?)", (model, dim, time.time()))
            self._set_primary(c, model, dim)
            self._upsert_vectors(c, model, dim, vectors)
        self._erase_deleted()

    # ----------------------------------------------------------------- reads

    def count(self) -> tuple[int, int]:
        with self._read() as c:
            ni = c.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
            nf = c.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
        return int(ni), int(nf)

    def model_counts(self) -> dict[str, int]:
        rows = self._q("SELECT m.tag, COUNT(e.face_id) FROM models m LEFT JOIN embeddings e ON e.model = m.tag GROUP BY m.tag")
        return {str(t): int(n) for t, n in rows}

    def template_sizes(self, *, model: str | None = None) -> dict[int, int]:
        """``{faces per identity: identities}`` over identities with at least one ``model`` face."""
        rows = self._q(
            "SELECT n, COUNT(*) FROM (SELECT COUNT(*) AS n FROM embeddings WHERE model = ? GROUP BY identity_id) GROUP BY n",
            (self._primary(model),),
        )
        return {int(n): int(c) for n, c in rows}

    def identities(self) -> list[IdentityRecord]:
        rows = self._q(
            "SELECT i.id, i.name, i.metadata, i.created, COUNT(f.id) FROM identities i "
            "LEFT JOIN faces f ON f.identity_id = i.id GROUP BY i.id ORDER BY i.name"
        )
        return [IdentityRecord(int(r[0]), r[1], json.loads(r[2]), float(r[3]), int(r[4])) for r in rows]

    def identity(self, name: str) -> IdentityRecord | None:
        rows = self._q(
            "SELECT i.id, i.name, i.metadata, i.created, (SELECT COUNT(*) FROM faces f WHERE f.identity_id = i.id) "
            "FROM identities i WHERE i.name = ?",
            (name,),
        )
        if not rows:
            return None
        r = rows[0]
        return IdentityRecord(int(r[0]), r[1], json.loads(r[2]), float(r[3]), int(r[4]))

    def identity_names(self, ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        uniq = sorted({int(i) for i in ids if int(i) >= 0})
        for i in range(0, len(uniq), _CHUNK):
            chunk = uniq[i : i + _CHUNK]
            for iid, name in self._q(f"SELECT id, name FROM identities WHERE id IN ({','.join('?' * len(chunk))})", chunk):
                out[int(iid)] = name
        return out

    def find_faces_by_hash(self, model: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Which ``(identity name, sha256)`` pairs are already enrolled with ``model``: their face ids."""
        out: dict[tuple[str, str], int] = {}
        shas = sorted({s for _, s in pairs})
        want = set(pairs)
        for i in range(0, len(shas), _CHUNK):
            chunk = shas[i : i + _CHUNK]
            rows = self._q(
                f"SELECT i.name, f.sha256, f.id FROM faces f JOIN identities i ON i.id = f.identity_id "
                f"JOIN embeddings e ON e.face_id = f.id AND e.model = ? "
                f"WHERE f.sha256 IN ({','.join('?' * len(chunk))})",
                (model, *chunk),
            )
            for name, sha, fid in rows:
                if (name, sha) in want:
                    out[(name, sha)] = int(fid)
        return out

    _FACE_COLS = (
        "f.id, f.identity_id, i.name, e.model, f.sha256, f.x1, f.y1, f.x2, f.y2, f.quality, f.source, f.created, "
        "(SELECT group_concat(x.model, char(10)) FROM embeddings x WHERE x.face_id = f.id)"
    )

    def _face(self, r: Sequence[Any], blob: bytes | None) -> FaceRecord:
        vec = None
        if blob is not None:
            vec = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return FaceRecord(
            id=int(r[0]), identity_id=int(r[1]), identity=r[2], model=r[3] or "", sha256=r[4], box=_box_of(r[5:9]),
            quality=r[9], source=r[10], created=float(r[11]), vector=vec,
            models=tuple(sorted(r[12].split("\n"))) if r[12] else (),
        )

    def _face_query(self, with_vectors: bool, model: str | None) -> tuple[str, list[Any]]:
        """Faces with their ``model`` embedding: only faces having one when ``with_vectors``."""
        cols = self._FACE_COLS + (", e.vector" if with_vectors else "")
        join = "JOIN" if with_vectors else "LEFT JOIN"
        sql = (f"SELECT {cols} FROM faces f JOIN identities i ON i.id = f.identity_id "
               f"{join} embeddings e ON e.face_id = f.id AND e.model = ?")
        return sql, [self._primary(model) or ""]

    def faces(self, name: str | None = None, *, with_vectors: bool = False, model: str | None = None) -> list[FaceRecord]:
        sql, params = self._face_query(with_vectors, model)
        if name is not None:
            sql += " WHERE i.name = ?"
            params.append(name)
        rows = self._q(sql + " ORDER BY f.id", params)
        return [self._face(r, r[13] if with_vectors else None) for r in rows]

    def faces_lacking(self, model: str) -> list[FaceRecord]:
        sql, params = self._face_query(False, model)
        rows = self._q(sql + " WHERE e.face_id IS NULL ORDER BY f.id", params)
        return [self._face(r, None) for r in rows]

    def iter_faces(
        self, *, batch: int = 10000, with_vectors: bool = True, model: str | None = None
    ) -> Iterator[list[FaceRecord]]:
        last = -1
        base, params = self._face_query(with_vectors, model)
        while True:
            rows = self._q(base + " WHERE f.id > ? ORDER BY f.id LIMIT ?", (*params, last, batch))
            if not rows:
                return
            yield [self._face(r, r[13] if with_vectors else None) for r in rows]
            last = int(rows[-1][0])

    def vectors(
        self, face_ids: Sequence[int] | None = None, *, model: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tag = self._primary(model)
        dims = {m.tag: m.dim for m in self.models()}
        dim = dims.get(tag or "", 0)
        with self._read() as c:
            if face_ids is None:
                rows = c.execute(
                    "SELECT face_id, identity_id, vector FROM embeddings WHERE model = ? ORDER BY face_id", (tag,)
                ).fetchall()
            else:
                ids = sorted({int(i) for i in face_ids})
                rows = []
                for i in range(0, len(ids), _CHUNK):
                    chunk = ids[i : i + _CHUNK]
                    rows += c.execute(
                        f"SELECT face_id, identity_id, vector FROM embeddings WHERE model = ? AND "
                        f"face_id IN ({','.join('?' * len(chunk))}) ORDER BY face_id",
                        (tag, *chunk),
                    ).fetchall()
        n = len(rows)
        fids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        iids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
        if n == 0:
            return fids, iids, np.zeros((0, dim), np.float32)
        mat = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").astype(np.float32).reshape(n, -1)
        return fids, iids, mat

    def search(self, queries: np.ndarray, k: int, *, model: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact search straight from the file (slow: for checks; the gallery uses an index)."""
        from faceprint.matching.index.flat import FlatIndex

        idx = FlatIndex()
        fids, iids, mat = self.vectors(model=model)
        if len(fids):
            idx.add(fids, iids, mat)
        return idx.search(queries, k)

    # ------------------------------------------------------------ utilities

    def backup_to(self, dest: str | os.PathLike[str]) -> Path:
        """A consistent copy of the whole gallery into a new SQLite file (online backup API),
        readable by its owner only."""
        d = Path(dest)
        create_private_file(d)
        try:
            target = sqlite3.connect(d)
            try:
                self._conn().backup(target)
            finally:
                target.close()
        except sqlite3.Error as e:
            raise gallery_error(e, str(d), "export") from e
        return d
