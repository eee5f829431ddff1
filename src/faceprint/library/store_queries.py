"""What the SQLite and the PostgreSQL library stores share: the queries written once over their
``q`` (read) and ``write`` (one transaction) primitives, which each store implements for its
database (:mod:`faceprint.library.store`, :mod:`faceprint.library.pg_store`; the PostgreSQL one
translates these SQLite-dialect statements, :mod:`faceprint.library.pg_dialect`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Self

__all__ = ["COUNTED_TABLES", "LibraryQueries"]

#: The tables :meth:`LibraryQueries.count` may count.
COUNTED_TABLES = frozenset({"photos", "paths", "faces", "clusters"})


class LibraryQueries:
    """Meta, path and photo lookups, and the context-manager protocol, for a library store."""

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
