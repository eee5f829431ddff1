"""Logic both SQL stores share; each store supplies its dialect through a few small hooks:

* ``_write()`` — a context manager yielding a connection inside one write transaction;
* ``_meta(c, key)`` / ``_set_model(c, tag, dim)`` — the gallery's model record;
* ``_has_faces(c)`` — whether any face is stored;
* ``_upsert_identity(c, name, metadata_json, replace_metadata)`` — create the identity when new
  (and replace its metadata when asked); return its id;
* ``_insert_face(c, identity_id, face, now)`` — store one face unless the identity already has
  that content hash for that model; return the new face id, or None when it was already there;
* ``_PARAM`` — the driver's parameter marker (shared SQL is written with ``?``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from faceprint.errors import GalleryError, InvalidInput, UnknownIdentity
from faceprint.matching.store.base import AddResult, IdentityRecord, NewFace


class SqlStoreMixin:
    location: str
    _PARAM = "?"

    # hooks (see the module docstring)
    def _write(self) -> Any:
        raise NotImplementedError

    def _meta(self, c: Any, key: str) -> str | None:
        raise NotImplementedError

    def _set_model(self, c: Any, tag: str, dim: int) -> None:
        raise NotImplementedError

    def _has_faces(self, c: Any) -> bool:
        raise NotImplementedError

    def _upsert_identity(self, c: Any, name: str, metadata_json: str, replace_metadata: bool) -> int:
        raise NotImplementedError

    def _insert_face(self, c: Any, identity_id: int, face: NewFace, now: float) -> int | None:
        raise NotImplementedError

    def identity(self, name: str) -> IdentityRecord | None:
        raise NotImplementedError

    def _erase_deleted(self) -> None:
        """Called after a delete committed: make the deleted bytes unrecoverable (dialect hook)."""

    def _sql(self, text: str) -> str:
        """Shared SQL (written with ``?`` markers) in the driver's parameter style."""
        return text if self._PARAM == "?" else text.replace("?", self._PARAM)

    def _check_model(self, c: Any, faces: Sequence[NewFace]) -> None:
        """Refuse a batch mixing models, or a model other than the gallery's (unless it is empty);
        the first faces stored set the gallery's model."""
        if not faces:
            return
        tags = {(f.embedding.model, f.embedding.dim) for f in faces}
        if len(tags) != 1:
            raise GalleryError(f"cannot store embeddings of several models at once: {sorted(tags)}")
        (tag, dim), = tags
        model = self._meta(c, "model")
        if model is not None:
            gdim = int(self._meta(c, "dim") or 0)
            if (model, gdim) == (tag, dim):
                return
            if self._has_faces(c):
                raise GalleryError(
                    f"the gallery {self.location} holds embeddings of model {model} ({gdim}-d); "
                    f"refusing embeddings of {tag} ({dim}-d): models are never mixed. Use the gallery's "
                    f"model, or re-embed the gallery with `faceprint gallery reembed`"
                )
        self._set_model(c, tag, dim)

    def _identity_id(self, c: Any, name: str, metadata: dict[str, Any] | None) -> int:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"identity name must be a non-empty string, got {name!r}")
        return self._upsert_identity(c, name, json.dumps(metadata or {}, sort_keys=True), bool(metadata))

    def add_identity(self, name: str, metadata: dict[str, Any] | None = None) -> IdentityRecord:
        with self._write() as c:
            self._identity_id(c, name, metadata)
        rec = self.identity(name)
        if rec is None:  # pragma: no cover - written in the transaction above
            raise GalleryError(f"identity {name!r} vanished right after it was written to {self.location}")
        return rec

    def add_faces(self, name: str, faces: Sequence[NewFace], *, metadata: dict[str, Any] | None = None) -> list[AddResult]:
        """Store ``faces`` for ``name`` in one transaction; a face whose content hash the identity
        already has (same model) is not stored again: its existing id comes back as a duplicate."""
        out: list[AddResult] = []
        now = time.time()
        with self._write() as c:
            self._check_model(c, faces)
            iid = self._identity_id(c, name, metadata)
            for f in faces:
                fid = self._insert_face(c, iid, f, now)
                if fid is not None:
                    out.append(AddResult(fid, iid, False))
                    continue
                sql = self._sql("SELECT id FROM faces WHERE identity_id=? AND model=? AND sha256=?")
                row = c.execute(sql, (iid, f.embedding.model, f.sha256)).fetchone()
                out.append(AddResult(int(row[0]), iid, True))
        return out

    def delete_identity(self, name: str) -> int:
        with self._write() as c:
            row = c.execute(self._sql("SELECT id FROM identities WHERE name=?"), (name,)).fetchone()
            if row is None:
                raise UnknownIdentity(f"no identity named {name!r} in the gallery")
            n = c.execute(self._sql("SELECT COUNT(*) FROM faces WHERE identity_id=?"), (row[0],)).fetchone()[0]
            c.execute(self._sql("DELETE FROM identities WHERE id=?"), (row[0],))
        self._erase_deleted()
        return int(n)
