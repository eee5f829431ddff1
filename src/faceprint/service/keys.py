"""API keys, hashed at rest.

A key looks like ``fpk_<id>_<secret>``: ``id`` (12 hex digits) names the key in lists and logs,
``secret`` is 32 random bytes (URL-safe base64). Only SHA-256 of the whole key is stored (a random
256-bit secret needs no slow hash: there is nothing to brute-force), and it is compared in constant
time. The plain key is shown once, when it is created.

Scopes are ordered: ``read`` (detect, embed, verify, identify, analyze, list identities) <
``write`` (enroll, delete identities) < ``admin`` (create, list and revoke keys). A key grants its
scope and every lower one.

The keys live in ``<home>/service-keys.sqlite`` (WAL), separate from the gallery so a read-only or
remote gallery does not lock the operator out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from faceprint.errors import InvalidInput, StorageError

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
KEYS_FILE = "service-keys.sqlite"
_KEY_RE = re.compile(r"^fpk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    label TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    revoked REAL
);
"""


def scope_allows(granted: str, needed: str) -> bool:
    """True when a key of scope ``granted`` may do what needs ``needed``."""
    return SCOPES.index(granted) >= SCOPES.index(needed)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never its secret)."""

    id: str
    scope: Scope
    label: str
    created: float
    revoked: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "scope": self.scope, "label": self.label, "created": self.created, "revoked": self.revoked}


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``key`` is the only copy of the secret."""

    key: str
    info: ApiKey

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.info.to_dict()}


def _make_private(path: Path) -> None:
    """The key store's directory 0700 and its file 0600 whatever the umask (SQLite gives its -wal
    and -shm files the main file's mode, so they follow). Existing files are tightened too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            os.chmod(p, 0o600)


class ApiKeyStore:
    """Create, check, list and revoke API keys (thread-safe; one SQLite connection per thread)."""

    def __init__(self, home: str | Path) -> None:
        self.path = Path(home) / KEYS_FILE
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._ready = False

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                _make_private(self.path)
                conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
                conn.execute("PRAGMA busy_timeout=10000")
                with self._init_lock:
                    if not self._ready:
                        conn.execute("PRAGMA journal_mode=WAL")
                        conn.executescript(_SCHEMA)
                        self._ready = True
            except (sqlite3.Error, OSError) as e:
                raise StorageError(f"cannot open the API key store {self.path}: {e}") from e
            self._local.conn = conn
        return conn

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise StorageError(f"the API key store {self.path} failed: {e}") from e

    def create(self, scope: str, label: str = "") -> NewKey:
        """A new key of ``scope``; the returned :class:`NewKey` holds the only copy of its secret."""
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if len(label) > 200:
            raise InvalidInput("label is limited to 200 characters")
        key_id = secrets.token_hex(6)
        key = f"fpk_{key_id}_{secrets.token_urlsafe(32)}"
        created = time.time()
        self._run(
            "INSERT INTO api_keys (id, hash, scope, label, created) VALUES (?, ?, ?, ?, ?)",
            (key_id, _hash(key), scope, label, created),
        )
        return NewKey(key, ApiKey(key_id, scope, label, created))

    def check(self, key: str) -> ApiKey | None:
        """The active key matching ``key``, or None (unknown, malformed or revoked)."""
        m = _KEY_RE.match(key or "")
        if not m:
            return None
        rows = self._run("SELECT id, hash, scope, label, created, revoked FROM api_keys WHERE id = ?", (m.group(1),))
        if not rows:
            hmac.compare_digest(_hash(key), _hash(key))  # same work either way
            return None
        kid, h, scope, label, created, revoked = rows[0]
        if not hmac.compare_digest(h, _hash(key)) or revoked is not None:
            return None
        return ApiKey(kid, scope, label, created, revoked)

    def list(self) -> list[ApiKey]:
        rows = self._run("SELECT id, scope, label, created, revoked FROM api_keys ORDER BY created")
        return [ApiKey(*r) for r in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by id (idempotent); raises InvalidInput when there is no such key."""
        rows = self._run("SELECT id FROM api_keys WHERE id = ?", (key_id,))
        if not rows:
            raise InvalidInput(f"no API key with id {key_id!r}")
        self._run("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), key_id))
        return next(k for k in self.list() if k.id == key_id)

    def count_active(self) -> int:
        return int(self._run("SELECT COUNT(*) FROM api_keys WHERE revoked IS NULL")[0][0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def operator_key(admin_key: str | None) -> tuple[str, ApiKey] | None:
    """The operator's admin key from the settings (kept only as its hash in memory)."""
    if not admin_key:
        return None
    if len(admin_key) < 24:
        raise InvalidInput("the admin key must be at least 24 characters (use `faceprint keys create --scope admin`)")
    return _hash(admin_key), ApiKey("operator", "admin", "FACEPRINT_ADMIN_KEY", 0.0)


def matches_operator(key: str, operator: tuple[str, ApiKey] | None) -> ApiKey | None:
    if operator is None or not key:
        return None
    return operator[1] if hmac.compare_digest(operator[0], _hash(key)) else None
