"""What the SQLite and the PostgreSQL library stores share: the queries written once over their
``q`` (read) and ``write`` (one transaction) primitives, which each store implements for its
database (:mod:`faceprint.library.store`, :mod:`faceprint.library.pg_store`; the PostgreSQL one
translates these SQLite-dialect statements, :mod:`faceprint.library.pg_dialect`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Self

import numpy as np

__all__ = ["COUNTED_TABLES", "LibraryQueries"]

#: The tables :meth:`LibraryQueries.count` may count.
COUNTED_TABLES = frozenset({"photos", "paths", "faces", "clusters"})


class LibraryQueries:
    """Meta, path and photo lookups, pruning, the embeddings of a model and the context-manager
    protocol, for a library store. ``VEC_SQL`` / ``vec``: how the store reads its vector column."""

    VEC_SQL = "embedding"
    vec: Callable[[Any], np.ndarray]

    def q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:  # pragma: no cover - each store's
        raise NotImplementedError

    def write(self) -> AbstractContextManager[Any]:  # pragma: no cover - each store's
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - each store's
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self, key: str) -> str | None:
        rows = self.q("SELECT value FROM library_meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as w:
            w.execute("INSERT OR REPLACE INTO library_meta(key, value) VALUES (?, ?)", (key, value))

    def path_state(self, path: str) -> tuple[int, int, int | None, str | None] | None:
        """``(size, mtime_ns, photo_id, error_code)`` recorded for ``path``, or None."""
        rows = self.q("SELECT size, mtime_ns, photo_id, error_code FROM paths WHERE path = ?", (path,))
        return (int(rows[0][0]), int(rows[0][1]), rows[0][2], rows[0][3]) if rows else None

    def photo_of_sha(self, sha256: str) -> int | None:
        rows = self.q("SELECT id FROM photos WHERE sha256 = ?", (sha256,))
        return int(rows[0][0]) if rows else None

    def count(self, table: str) -> int:
        if table not in COUNTED_TABLES:
            raise ValueError(table)
        return int(self.q(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608 - fixed names

    def touch(self, path: str) -> None:
        """Mark an unchanged path as seen by this run."""
        with self.write() as w:
            w.execute("UPDATE paths SET seen = ? WHERE path = ?", (time.time(), path))

    def prune(self, roots: Sequence[str], since: float) -> int:
        """Forget paths under ``roots`` not seen since ``since`` that no longer exist, and photos
        left without any path (their faces go with them). Returns the paths forgotten."""
        gone: list[str] = []
        for root in roots:
            prefix = root.rstrip(os.sep) + os.sep
            rows = self.q("SELECT path FROM paths WHERE seen < ? AND (path = ? OR substr(path, 1, ?) = ?)",
                          (since, root, len(prefix), prefix))
            gone += [p for (p,) in rows if not os.path.lexists(p)]
        with self.write() as w:  # also photos whose only file changed content (its path now holds another)
            w.executemany("DELETE FROM paths WHERE path = ?", [(p,) for p in gone])
            w.execute("DELETE FROM photos WHERE id NOT IN (SELECT photo_id FROM paths WHERE photo_id IS NOT NULL)")
            w.execute("DELETE FROM clusters WHERE name IS NULL AND id NOT IN "
                      "(SELECT cluster_id FROM faces WHERE cluster_id IS NOT NULL)")
        return len(gone)

    def embeddings(self, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every face of ``model``: ``(ids, vectors (n, d), cluster ids (-1 = none), pinned)``."""
        rows = self.q(f"SELECT id, {self.VEC_SQL}, cluster_id, pinned FROM faces WHERE model = ? ORDER BY id", (model,))
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros(0, bool)
        ids = np.array([r[0] for r in rows], np.int64)
        vecs = np.stack([self.vec(r[1]) for r in rows])
        clusters = np.array([-1 if r[2] is None else r[2] for r in rows], np.int64)
        pinned = np.array([bool(r[3]) for r in rows], bool)
        return ids, vecs, clusters, pinned
