"""Choosing the library's store from a location: a ``postgresql://`` (or ``postgres://``) URL is
a :class:`~faceprint.library.pg_store.PgLibraryStore`; anything else is the path of an SQLite
library file (:class:`~faceprint.library.store.LibraryStore`). Both have the same interface."""

from __future__ import annotations

import os
from typing import Any

from faceprint.library.pg_store import is_url


def open_store(location: str | os.PathLike[str], *, create: bool = True, schema: str | None = None) -> Any:
    """The library at ``location``; ``schema`` is the PostgreSQL schema (default ``faceprint_library``)."""
    loc = os.fspath(location)
    if is_url(loc):
        from faceprint.library.pg_store import PgLibraryStore

        return PgLibraryStore(loc, create=create) if schema is None else PgLibraryStore(loc, schema=schema, create=create)
    from faceprint.library.store import LibraryStore

    return LibraryStore(loc, create=create)


def reopen(spec: tuple[str, str | None], *, create: bool = False) -> Any:
    """The library a store's ``spec()`` names, opened again (in another process)."""
    location, schema = spec
    return open_store(location, create=create, schema=schema)
