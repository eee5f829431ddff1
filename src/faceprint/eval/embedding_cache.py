"""A persistent cache of one embedding per image, keyed by image content and pipeline.

The key is ``(sha256 of the file's bytes, pipeline signature, face selection)``, so a changed
image, model, detector option or selection rule never returns a stale vector. Stored in SQLite
(WAL) under the cache directory; safe for concurrent readers and writers.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceprint.config import cache_dir


@dataclass(frozen=True)
class CachedEmbedding:
    vector: np.ndarray  # unit norm float32
    norm: float
    status: str  # "detected" or "fallback"
    n_faces: int  # faces the detector found


class EmbeddingCache:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else cache_dir() / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS emb (sha TEXT NOT NULL, sig TEXT NOT NULL, sel TEXT NOT NULL,"
                " vec BLOB NOT NULL, norm REAL NOT NULL, status TEXT NOT NULL, n_faces INTEGER NOT NULL,"
                " PRIMARY KEY (sha, sig, sel))"
            )

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = c
        return c

    def get_many(self, shas: list[str], sig: str, sel: str) -> dict[str, CachedEmbedding]:
        out: dict[str, CachedEmbedding] = {}
        c = self._conn()
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            q = f"SELECT sha, vec, norm, status, n_faces FROM emb WHERE sig=? AND sel=? AND sha IN ({','.join('?' * len(chunk))})"
            for sha, vec, norm, status, n in c.execute(q, [sig, sel, *chunk]):
                out[sha] = CachedEmbedding(np.frombuffer(vec, dtype=np.float32).copy(), norm, status, n)
        return out

    def put(self, sha: str, sig: str, sel: str, item: CachedEmbedding) -> None:
        with self._conn() as c:
            c.execute(
                "INSERT OR REPLACE INTO emb VALUES (?,?,?,?,?,?,?)",
                (sha, sig, sel, np.asarray(item.vector, np.float32).tobytes(), float(item.norm), item.status, int(item.n_faces)),
            )
