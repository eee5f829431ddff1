"""The gallery store protocol and the records it exchanges.

A store is the durable source of truth of a gallery: identities, their enrolled faces (source
content hash, box, quality, source name, time), each face's embeddings — **one per model the
gallery holds** — and the models themselves (tag, dimension, the pipeline that makes them). The
first model recorded is the gallery's *primary* model: what every method that takes ``model=None``
uses, so single-model callers are unchanged. Embeddings of different models are never compared:
every search, template and count is of one model. Vector indexes (:mod:`faceprint.matching.index`)
are caches rebuilt from it, one per model.

Every store keeps a **change log**: each embedding added or removed (with its model) gets a
strictly increasing sequence number. ``stamp()`` returns ``(gallery uuid, last sequence)``; an index records the stamp it was
built at and catches up with :meth:`GalleryStore.changes_since` instead of being rebuilt, so a
deletion made by another process is seen by the next search.

Implementations: :class:`~faceprint.matching.store.sqlite.SqliteStore` (embedded default) and
:class:`~faceprint.matching.store.postgres.PostgresStore` (PostgreSQL + pgvector).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from faceprint.types import Box, Embedding


@dataclass(frozen=True)
class IdentityRecord:
    id: int
    name: str
    metadata: dict[str, Any]
    created: float  # unix time
    n_faces: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "metadata": self.metadata, "created": self.created, "n_faces": self.n_faces}


@dataclass(frozen=True)
class ModelRecord:
    """A model the gallery holds: its tag, dimension, how its embeddings are made (a
    :class:`~faceprint.pipeline.PipelineConfig` as JSON, None when unknown) and when it was added."""

    tag: str
    dim: int
    pipeline: dict[str, Any] | None
    added: float
    primary: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "dim": self.dim, "pipeline": self.pipeline, "added": self.added, "primary": self.primary}


@dataclass(frozen=True)
class NewFace:
    """A face to store: its embedding (and other models' embeddings of the same face, ``extra``)
    and where it came from."""

    embedding: Embedding
    sha256: str  # of the source's bytes (file content, or the decoded array's bytes)
    box: Box | None = None
    quality: float | None = None  # detector score or a quality estimate
    source: str | None = None  # file name/path as given, for re-embedding and display
    extra: tuple[Embedding, ...] = ()  # the same face embedded by the gallery's other models

    @property
    def embeddings(self) -> tuple[Embedding, ...]:
        return (self.embedding, *self.extra)


@dataclass(frozen=True)
class FaceRecord:
    id: int
    identity_id: int
    identity: str
    model: str  # the model of ``vector`` (the one asked for, else the primary); "" when the face lacks it
    sha256: str
    box: Box | None
    quality: float | None
    source: str | None
    created: float
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    models: tuple[str, ...] = ()  # every model this face has an embedding of

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identity": self.identity,
            "model": self.model,
            "models": list(self.models),
            "sha256": self.sha256,
            "box": None if self.box is None else [round(v, 2) for v in self.box.as_tuple()],
            "quality": self.quality,
            "source": self.source,
            "created": self.created,
        }


@dataclass(frozen=True)
class AddResult:
    """Outcome of storing one :class:`NewFace`: its face id, and whether it was already there
    (same identity, model and content hash: the existing face's id is returned)."""

    face_id: int
    identity_id: int
    duplicate: bool


@dataclass(frozen=True)
class Change:
    seq: int
    op: str  # "add" or "del"
    face_id: int
    identity_id: int
    model: str | None = None  # the embedding's model (None: logged before galleries held several)


@runtime_checkable
class GalleryStore(Protocol):
    """What :class:`~faceprint.matching.gallery.Gallery` needs from a storage backend.

    Every method that writes runs in one transaction: it either happens entirely or not at all.
    Storage failures raise :class:`~faceprint.errors.GalleryError`.
    """

    #: Where the store lives (a file path or a connection URL without password), for messages.
    location: str
    #: True when :meth:`search` is a real (indexed) vector search and no local index is needed.
    native_search: bool

    def model(self) -> tuple[str, int] | None:
        """The gallery's primary model tag and dimension, or None while it holds no model."""

    def models(self) -> list[ModelRecord]:
        """Every model the gallery holds, primary first, then in the order they were added."""

    def add_model(self, tag: str, dim: int, pipeline: dict[str, Any] | None = None) -> None:
        """Record model ``tag`` (its faces lack it until :meth:`set_embeddings` gives them one)."""

    def drop_model(self, tag: str) -> int:
        """Forget model ``tag`` and all its embeddings (faces are kept); returns embeddings removed.
        Refused for the last model of a gallery that holds faces."""

    def model_counts(self) -> dict[str, int]:
        """``{model: faces with an embedding of it}`` for every model held."""

    def faces_lacking(self, model: str) -> list[FaceRecord]:
        """Faces without an embedding of ``model``."""

    def stamp(self) -> tuple[str, int]:
        """``(gallery uuid, last change-log sequence)``."""

    def changes_since(self, seq: int, *, model: str | None = None) -> list[Change] | None:
        """Embedding additions/removals after ``seq`` (of ``model`` only, when given), in order;
        None when the log no longer reaches back that far (the caller must rebuild)."""

    def add_faces(
        self, name: str, faces: Sequence[NewFace], *, metadata: dict[str, Any] | None = None, add_models: bool = False
    ) -> list[AddResult]:
        """Store ``faces`` for identity ``name`` (created when new) in one transaction.

        Refuses (GalleryError) embeddings of a model the gallery does not hold, unless
        ``add_models`` or the gallery holds no face (the models of the faces stored then become
        the gallery's). A face already there (same identity and content hash) is a duplicate and
        gains the embeddings of models it lacked.
        """

    def set_embeddings(
        self, model: str, dim: int, vectors: dict[int, np.ndarray], *, pipeline: dict[str, Any] | None = None
    ) -> int:
        """Give the faces in ``vectors`` their ``model`` embedding (added or replaced) in one
        transaction, recording the model when new; other faces and models are untouched."""

    def delete_identity(self, name: str) -> int:
        """Delete an identity and all its faces; returns the number of faces removed (KeyError
        when unknown)."""

    def delete_faces(self, face_ids: Sequence[int]) -> int: ...

    def identities(self) -> list[IdentityRecord]: ...

    def identity(self, name: str) -> IdentityRecord | None: ...

    def identity_names(self, ids: Sequence[int]) -> dict[int, str]: ...

    def faces(self, name: str | None = None, *, with_vectors: bool = False, model: str | None = None) -> list[FaceRecord]: ...

    def iter_faces(
        self, *, batch: int = 10000, with_vectors: bool = True, model: str | None = None
    ) -> Iterator[list[FaceRecord]]: ...

    def count(self) -> tuple[int, int]:
        """(number of identities, number of faces)."""

    def vectors(
        self, face_ids: Sequence[int] | None = None, *, model: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(face_ids int64, identity_ids int64, vectors float32 (n, d))`` of the given faces'
        ``model`` embeddings (all faces having one when None), in face-id order."""

    def replace_model(self, model: str, dim: int, vectors: dict[int, np.ndarray]) -> None:
        """Re-embedding: in one transaction, give every face in ``vectors`` its new embedding,
        delete the faces not in it, and make ``model`` the gallery's only model."""

    def search(self, queries: np.ndarray, k: int, *, model: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(scores, face_ids, identity_ids)`` each (n, k), best first, padded with -inf / -1."""

    def close(self) -> None: ...


# ------------------------------------------------------------- optional capabilities
#
# What a store may offer beyond :class:`GalleryStore`. The gallery checks these with
# ``isinstance`` once, when it is composed, and falls back to the protocol's methods otherwise.


@runtime_checkable
class FindsFacesByHash(Protocol):
    """Bulk enrolment skips images already enrolled without re-embedding them."""

    def find_faces_by_hash(self, model: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Which ``(identity name, sha256)`` pairs are already enrolled with ``model``: their face ids."""


@runtime_checkable
class CountsTemplates(Protocol):
    """The open-set threshold's composition without listing every identity."""

    def template_sizes(self, *, model: str | None = None) -> dict[int, int]:
        """``{faces per identity: identities}`` over identities with at least one face with a
        ``model`` embedding (primary when None)."""


@runtime_checkable
class SearchesIdentities(Protocol):
    """Native mean-template search (``combine="mean"`` on a store with ``native_search``)."""

    def search_identities(
        self, queries: np.ndarray, k: int, among: Sequence[Sequence[int]] | None = None, *, model: str | None = None
    ) -> list[list[tuple[int, float, int]]]:
        """Top-``k`` ``(identity_id, score, -1)`` per query by identity template, among the given
        identity ids per query (all when None)."""


@runtime_checkable
class WritesInBulk(Protocol):
    """Many identities' faces in one transaction (imports)."""

    def add_faces_bulk(self, groups: Sequence[tuple[str, Sequence[NewFace]]], *, add_models: bool = False) -> int:
        """Store every group; returns the number of faces stored (duplicates skipped)."""


@runtime_checkable
class WritesIdentities(Protocol):
    """Identities (with metadata) created or updated without faces (imports)."""

    def add_identity(self, name: str, metadata: dict[str, Any] | None = None) -> IdentityRecord: ...


@runtime_checkable
class BacksUp(Protocol):
    """A consistent copy of the whole store into a new SQLite gallery file (export)."""

    def backup_to(self, dest: Any) -> Any: ...
