"""Logic both SQL stores share; each store supplies its dialect through a few small hooks:

* ``_write()`` — a context manager yielding a connection inside one write transaction;
* ``_meta(c, key)`` / ``_set_model(c, tag, dim)`` — the gallery's model record;
* ``_has_faces(c)`` — whether any face is stored;
* ``_upsert_identity(c, name, metadata_json, replace_metadata)`` — create the identity when new
  (and replace its metadata when asked); return its id.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from faceprint.errors import GalleryError, InvalidInput
from faceprint.matching.store.base import IdentityRecord, NewFace


class SqlStoreMixin:
    location: str

    # hooks (see the module docstring)
    def _write(self) -> Any: ...
    def _meta(self, c: Any, key: str) -> str | None: ...
    def _set_model(self, c: Any, tag: str, dim: int) -> None: ...
    def _has_faces(self, c: Any) -> bool: ...
    def _upsert_identity(self, c: Any, name: str, metadata_json: str, replace_metadata: bool) -> int: ...
    def identity(self, name: str) -> IdentityRecord | None: ...

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
