"""Gallery storage backends: :class:`SqliteStore` (embedded default) and :class:`PostgresStore`
(PostgreSQL + pgvector). See :mod:`faceprint.matching.store.base` for the protocol."""

from __future__ import annotations

import os
from typing import Any

from faceprint.matching.store.base import AddResult, Change, FaceRecord, GalleryStore, IdentityRecord, ModelRecord, NewFace


def open_store(location: str | os.PathLike[str], **kwargs: Any) -> GalleryStore:
    """A store from a location: a ``postgresql://`` / ``postgres://`` URL opens a
    :class:`PostgresStore`; anything else is the path of an SQLite gallery file."""
    loc = str(location)
    if loc.startswith(("postgresql://", "postgres://")):
        from faceprint.matching.store.postgres import PostgresStore

        return PostgresStore(loc, **kwargs)
    from faceprint.matching.store.sqlite import SqliteStore

    return SqliteStore(loc, **kwargs)


__all__ = ["AddResult", "Change", "FaceRecord", "GalleryStore", "IdentityRecord", "ModelRecord", "NewFace", "open_store"]
