"""Logic both SQL stores share; each store supplies its dialect through a few small hooks:

* ``_write()`` — a context manager yielding a connection inside one write transaction;
* ``_meta(c, key)`` — a ``gallery_meta`` value; ``_models_in(c)`` — ``{tag: dim}`` of the models held;
* ``_add_model_row(c, tag, dim, pipeline_json)`` / ``_clear_models(c)`` — record models (the first
  one recorded becomes the primary model, ``gallery_meta`` ``model`` / ``dim``);
* ``_has_faces(c)`` — whether any face is stored;
* ``_upsert_identity(c, name, metadata_json, replace_metadata)`` — create the identity when new
  (and replace its metadata when asked); return its id;
* ``_insert_face(c, identity_id, face, now)`` — store one face (photo) unless the identity already
  has that content hash; return the new face id, or None when it was already there;
* ``_insert_embedding(c, face_id, identity_id, embedding)`` — store one model's embedding of a
  face unless it has one for that model already;
* ``_PARAM`` — the driver's parameter marker (shared SQL is written with ``?``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from faceprint.errors import GalleryError, InvalidInput, ModelRefused, UnknownIdentity
from faceprint.matching.store.base import AddResult, IdentityRecord, NewFace
from faceprint.types import Embedding


class SqlStoreMixin:
    location: str
    _PARAM = "?"

    # hooks (see the module docstring)
    def _write(self) -> Any:
        raise NotImplementedError

    def _meta(self, c: Any, key: str) -> str | None:
        raise NotImplementedError

    def _models_in(self, c: Any) -> dict[str, int]:
        raise NotImplementedError

    def _add_model_row(self, c: Any, tag: str, dim: int, pipeline_json: str | None) -> None:
        raise NotImplementedError

    def _clear_models(self, c: Any) -> None:
        raise NotImplementedError

    def _has_faces(self, c: Any) -> bool:
        raise NotImplementedError

    def _upsert_identity(self, c: Any, name: str, metadata_json: str, replace_metadata: bool) -> int:
        raise NotImplementedError

    def _insert_face(self, c: Any, identity_id: int, face: NewFace, now: float) -> int | None:
        raise NotImplementedError

    def _insert_embedding(self, c: Any, face_id: int, identity_id: int, emb: Embedding) -> None:
        raise NotImplementedError

    def identity(self, name: str) -> IdentityRecord | None:
        raise NotImplementedError

    def _erase_deleted(self) -> None:
        """Called after a delete committed: make the deleted bytes unrecoverable (dialect hook)."""

    def _sql(self, text: str) -> str:
        """Shared SQL (written with ``?`` markers) in the driver's parameter style."""
        return text if self._PARAM == "?" else text.replace("?", self._PARAM)

    # ------------------------------------------------------------------ models

    def _check_models(self, c: Any, faces: Sequence[NewFace], add_models: bool) -> None:
        """Refuse embeddings of a model the gallery does not hold (unless ``add_models``, or the
        gallery holds no face: then the models of the faces stored become the gallery's, as a
        single-model gallery always did), and any dimension other than the model's."""
        want: dict[str, int] = {}
        for f in faces:
            for e in f.embeddings:
                d = want.setdefault(e.model, e.dim)
                if d != e.dim:
                    raise GalleryError(f"embeddings of model {e.model} come in {d} and {e.dim} dimensions")
        if not want:
            return
        have = self._models_in(c)
        for tag, dim in want.items():
            if tag in have and have[tag] != dim:
                raise GalleryError(
                    f"the gallery {self.location} holds {have[tag]}-d embeddings of model {tag}; refusing {dim}-d ones"
                )
        new = [t for t in want if t not in have]
        if not new:
            return
        if have and not add_models:
            if self._has_faces(c):
                raise GalleryError(
                    f"the gallery {self.location} holds embeddings of model(s) {', '.join(sorted(have))}; "
                    f"refusing embeddings of {', '.join(new)}: models are never mixed. Use a pipeline with one of "
                    "the gallery's models, or add the model to the gallery (`faceprint gallery reembed --add-model "
                    "NAME`, or enrol with add_model=True / `faceprint enroll --add-model`)"
                )
            self._clear_models(c)  # an empty gallery follows the models of what is stored into it
            new = list(want)
        for tag in new:
            self._add_model_row(c, tag, want[tag], None)

    def add_model(self, tag: str, dim: int, pipeline: dict[str, Any] | None = None) -> None:
        """Record that the gallery holds model ``tag`` (``dim``-d; ``pipeline``: how its embeddings
        are made, as JSON). Its faces lack it until given embeddings (:meth:`set_embeddings`)."""
        with self._write() as c:
            have = self._models_in(c)
            if tag in have:
                if have[tag] != int(dim):
                    raise GalleryError(f"the gallery {self.location} holds model {tag} with {have[tag]} dimensions, not {dim}")
                if pipeline is not None:
                    self._set_pipeline(c, tag, json.dumps(pipeline, sort_keys=True))
                return
            self._add_model_row(c, tag, int(dim), None if pipeline is None else json.dumps(pipeline, sort_keys=True))

    def _set_pipeline(self, c: Any, tag: str, pipeline_json: str) -> None:
        c.execute(self._sql("UPDATE models SET pipeline=? WHERE tag=?"), (pipeline_json, tag))

    def _set_primary(self, c: Any, tag: str | None, dim: int = 0) -> None:
        raise NotImplementedError

    def _drop_model_rows(self, c: Any, tag: str) -> None:
        raise NotImplementedError

    def _upsert_vectors(self, c: Any, model: str, dim: int, vectors: dict[int, np.ndarray]) -> int:
        raise NotImplementedError

    def drop_model(self, tag: str) -> int:
        """Forget model ``tag`` and its embeddings (faces are kept; the next model becomes the
        primary when it was); refused for the only model of a gallery holding faces."""
        with self._write() as c:
            have = self._models_in(c)
            if tag not in have:
                held = ", ".join(sorted(have)) or "none"
                raise ModelRefused(f"the gallery {self.location} holds no model {tag} (it holds {held})")
            if len(have) == 1 and self._has_faces(c):
                raise ModelRefused(
                    f"{tag} is the only model of the gallery {self.location}: dropping it would leave its faces "
                    "without any embedding (add another model first, or delete the people)"
                )
            n = c.execute(self._sql("SELECT COUNT(*) FROM embeddings WHERE model=?"), (tag,)).fetchone()[0]
            self._drop_model_rows(c, tag)
            if self._meta(c, "model") == tag:
                row = c.execute("SELECT tag, dim FROM models ORDER BY added, tag LIMIT 1").fetchone()
                self._set_primary(c, row[0] if row else None, int(row[1]) if row else 0)
        self._erase_deleted()
        return int(n)

    def set_embeddings(
        self, model: str, dim: int, vectors: dict[int, np.ndarray], *, pipeline: dict[str, Any] | None = None
    ) -> int:
        """Give the faces in ``vectors`` their ``model`` embedding (added or replaced) in one
        transaction, recording the model (with ``pipeline``) when new. Returns embeddings written."""
        pj = None if pipeline is None else json.dumps(pipeline, sort_keys=True)
        with self._write() as c:
            have = self._models_in(c)
            if model not in have:
                self._add_model_row(c, model, dim, pj)
            elif have[model] != dim:
                raise GalleryError(f"the gallery {self.location} holds model {model} with {have[model]} dimensions, not {dim}")
            elif pj is not None:
                self._set_pipeline(c, model, pj)
            return self._upsert_vectors(c, model, dim, vectors)

    # --------------------------------------------------------------- identities

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

    def _store_faces(self, c: Any, iid: int, faces: Sequence[NewFace], now: float) -> list[AddResult]:
        out: list[AddResult] = []
        for f in faces:
            fid = self._insert_face(c, iid, f, now)
            dup = fid is None
            if fid is None:
                row = c.execute(self._sql("SELECT id FROM faces WHERE identity_id=? AND sha256=?"), (iid, f.sha256)).fetchone()
                fid = int(row[0])
            for e in f.embeddings:  # a face already there gains the models it lacked
                self._insert_embedding(c, fid, iid, e)
            out.append(AddResult(fid, iid, dup))
        return out

    def add_faces(
        self, name: str, faces: Sequence[NewFace], *, metadata: dict[str, Any] | None = None, add_models: bool = False
    ) -> list[AddResult]:
        """Store ``faces`` for ``name`` in one transaction; a face whose content hash the identity
        already has is not stored again (its existing id comes back as a duplicate), but gains the
        embeddings of models it lacked."""
        now = time.time()
        with self._write() as c:
            self._check_models(c, faces, add_models)
            iid = self._identity_id(c, name, metadata)
            return self._store_faces(c, iid, faces, now)

    def add_faces_bulk(self, groups: Sequence[tuple[str, Sequence[NewFace]]], *, add_models: bool = False) -> int:
        """Many identities' faces in **one** transaction (imports, benchmarks): all or nothing.
        Returns the number of faces stored (duplicates skipped)."""
        now = time.time()
        n = 0
        with self._write() as c:
            self._check_models(c, [f for _, faces in groups for f in faces], add_models)
            for name, faces in groups:
                iid = self._identity_id(c, name, None)
                n += sum(not r.duplicate for r in self._store_faces(c, iid, faces, now))
        return n

    def delete_identity(self, name: str) -> int:
        with self._write() as c:
            row = c.execute(self._sql("SELECT id FROM identities WHERE name=?"), (name,)).fetchone()
            if row is None:
                raise UnknownIdentity(f"no identity named {name!r} in the gallery")
            n = c.execute(self._sql("SELECT COUNT(*) FROM faces WHERE identity_id=?"), (row[0],)).fetchone()[0]
            c.execute(self._sql("DELETE FROM identities WHERE id=?"), (row[0],))
        self._erase_deleted()
        return int(n)
