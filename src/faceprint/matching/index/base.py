"""The vector-index protocol and the on-disk format shared by the index implementations.

An index holds ``(face id, identity id, unit vector)`` rows and answers top-k inner-product
(= cosine) queries. It is a cache of the gallery store: :func:`save_index` writes it with the
store stamp it reflects (gallery uuid, change-log sequence) and the model tag, and the gallery
catches it up from the store's change log, or rebuilds it, when that stamp is stale or the file is
missing or unreadable.

File format: an uncompressed ``.npz`` with ``meta`` (JSON: format, kind, stamp, model, dim) and the
implementation's arrays; written atomically (temp file + rename, owner-only ``0600``), so a crash
mid-write leaves the previous file.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from faceprint.errors import InvalidInput

logger = logging.getLogger(__name__)

FORMAT = "faceprint.index/1"


@runtime_checkable
class VectorIndex(Protocol):
    kind: str

    def __len__(self) -> int: ...

    @property
    def dim(self) -> int | None: ...

    def add(self, face_ids: np.ndarray, identity_ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add rows; a face id already present is replaced."""

    def remove(self, face_ids: Sequence[int]) -> int:
        """Remove rows (unknown ids are ignored); effective for the next search. Returns how many."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(scores float32, face_ids int64, identity_ids int64)``, each ``(n, k)``, best first,
        padded with ``-inf`` / ``-1`` when the index holds fewer than ``k`` rows."""

    def face_ids(self) -> np.ndarray: ...

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(face_ids, identity_ids, vectors)`` of every live row."""

    def get(self, face_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(identity_ids, vectors)`` of the given (present) faces."""

    def state(self) -> dict[str, np.ndarray]: ...


def as_queries(queries: np.ndarray, dim: int | None) -> np.ndarray:
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or (dim is not None and q.shape[1] != dim):
        raise InvalidInput(f"queries must be (n, {dim}) float32, got {q.shape}")
    return np.ascontiguousarray(q)


def as_rows(face_ids: Any, identity_ids: Any, vectors: Any, dim: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = np.asarray(face_ids, dtype=np.int64).reshape(-1)
    i = np.asarray(identity_ids, dtype=np.int64).reshape(-1)
    v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if v.ndim != 2 or v.shape[0] != f.size or i.size != f.size:
        raise InvalidInput(f"add() needs n ids, n identity ids and (n, d) vectors; got {f.size}, {i.size}, {v.shape}")
    if dim is not None and f.size and v.shape[1] != dim:
        raise InvalidInput(f"vectors must be {dim}-d, got {v.shape[1]}-d")
    if f.size != np.unique(f).size:
        raise InvalidInput("face ids given to add() must be unique")
    return f, i, v


def empty_result(n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.full((n, k), -np.inf, np.float32),
        np.full((n, k), -1, np.int64),
        np.full((n, k), -1, np.int64),
    )


def save_index(index: VectorIndex, path: str | os.PathLike[str], *, stamp: tuple[str, int], model: str | None) -> Path:
    """Write ``index`` with the store ``stamp`` it reflects, atomically."""
    from faceprint.fsperm import write_private_atomic

    p = Path(path)
    meta = {
        "format": FORMAT,
        "kind": index.kind,
        "stamp": [stamp[0], int(stamp[1])],
        "model": model,
        "dim": index.dim,
        "n": len(index),
    }
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **index.state())  # type: ignore[arg-type]
    write_private_atomic(p, buf.getvalue())
    return p


def load_index(path: str | os.PathLike[str]) -> tuple[VectorIndex, dict[str, Any]] | None:
    """The index saved at ``path`` and its meta, or None when missing or unreadable (logged)."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            state = {k: z[k] for k in z.files if k != "meta"}
        kind = meta["kind"]
        if kind == "flat":
            from faceprint.matching.index.flat import FlatIndex

            return FlatIndex.from_state(state), meta
        if kind == "hnsw":
            from faceprint.matching.index.faiss_index import FaissIndex

            idx = FaissIndex.from_state(state)
            if idx.sparser_than_defaults:
                logger.info("index file %s was built with M=%d, efConstruction=%d, sparser than today's defaults: "
                            "it will be rebuilt", p, idx.m, idx.ef_construction)
                return None
            return idx, meta
        raise ValueError(f"unknown index kind {kind!r}")
    except Exception as e:  # a cache: any problem means rebuild
        logger.warning("ignoring unreadable index file %s (%s); it will be rebuilt", p, e)
        return None
