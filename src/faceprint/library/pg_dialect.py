"""The library's SQL, written for SQLite, run on PostgreSQL.

The library's modules (:mod:`~faceprint.library.people_ops`, :mod:`~faceprint.library.clustering`,
the indexer) speak to their store through ``store.q(sql, params)`` and ``with store.write() as w:
w.execute(sql, params)`` in SQLite's dialect. :class:`PgConnection` gives a psycopg connection that
interface, rewriting each statement once (:func:`translate`, cached):

* ``?`` placeholders become ``%s`` (a literal ``%`` becomes ``%%``);
* ``INSERT OR REPLACE INTO library_meta`` becomes an upsert on its key;
* ``INSERT`` into a table with an id gets ``RETURNING id``, so ``cursor.lastrowid`` works;
* SQLite's two-argument scalar ``MIN(a, b)`` / ``MAX(a, b)`` become ``LEAST`` / ``GREATEST``.

Anything else must already be portable SQL (standard joins, window functions, ``COUNT(DISTINCT)``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from faceprint.errors import InvalidInput

_ID_TABLES = ("clusters", "photos", "faces")
_UPSERT_KEYS = {"library_meta": "key"}
_SCALAR_MINMAX = re.compile(r"\b(MIN|MAX)\(\s*([^(),]+?)\s*,\s*([^(),]+?)\s*\)", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s+(OR\s+REPLACE\s+)?INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> tuple[str, bool]:
    """``(postgres_sql, returns_id)`` for one SQLite-dialect statement."""
    out = sql.replace("%", "%%").replace("?", "%s")
    out = _SCALAR_MINMAX.sub(lambda m: f"{'LEAST' if m[1].upper() == 'MIN' else 'GREATEST'}({m[2]}, {m[3]})", out)
    m = _INSERT.match(out)
    returns_id = False
    if m is not None:
        table = m[2].lower()
        if m[1]:
            key = _UPSERT_KEYS.get(table)
            if key is None:
                raise InvalidInput(f"INSERT OR REPLACE INTO {table} has no PostgreSQL translation")
            cols = [c.strip() for c in m[3].split(",") if c.strip() and c.strip() != key]
            out = _INSERT.sub(lambda mm: f"INSERT INTO {mm[2]}({mm[3]})", out, count=1)
            out += f" ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
        elif table in _ID_TABLES and "RETURNING" not in out.upper():
            out += " RETURNING id"
            returns_id = True
    return out, returns_id


class PgCursor:
    """The rows of one statement, with ``fetchone`` / ``fetchall`` / ``lastrowid`` as sqlite3's cursor."""

    def __init__(self, rows: list[tuple[Any, ...]], lastrowid: int | None = None) -> None:
        self._rows = rows
        self._pos = 0
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rest, self._pos = self._rows[self._pos:], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection (inside a transaction) with sqlite3's ``execute`` / ``executemany``."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        text, returns_id = translate(sql)
        cur = self.raw.execute(text, tuple(params))
        rows = [tuple(r) for r in cur.fetchall()] if cur.description is not None else []
        if returns_id:
            return PgCursor([], int(rows[0][0]) if rows else None)
        return PgCursor(rows)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        text, _ = translate(sql)
        params = [tuple(p) for p in seq]
        if params:
            with self.raw.cursor() as cur:
                cur.executemany(text, params)
