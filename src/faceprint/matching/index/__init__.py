"""Vector indexes over a gallery's face embeddings: :class:`FlatIndex` (exact) and
:class:`FaissIndex` (FAISS HNSW). :func:`choose_kind` picks one by gallery size.

Both are caches of the gallery store (see :mod:`faceprint.matching.index.base`).
"""

from __future__ import annotations

from faceprint.matching.index.base import VectorIndex, load_index, save_index
from faceprint.matching.index.flat import FlatIndex

#: At or above this many faces the gallery uses HNSW; below it, exact search. Exact search is one
#: pass over n × d float32 per query (128-d: ~0.06 ms at 10k, ~0.7–1.7 ms at 100k, 24 ms at 1M on
#: the 2-core test machine), but numpy's multithreaded BLAS stalls (~8 ms) whenever the other core
#: is busy; HNSW queries are single-threaded and stay < 0.5 ms. Below 20k faces exact search is
#: both fast and recall-perfect.
HNSW_MIN_SIZE = 20_000


def choose_kind(n_faces: int) -> str:
    """``"flat"`` below :data:`HNSW_MIN_SIZE` faces, else ``"hnsw"`` (hysteresis is the caller's)."""
    return "hnsw" if n_faces >= HNSW_MIN_SIZE else "flat"


def new_index(kind: str, dim: int | None = None) -> VectorIndex:
    if kind == "flat":
        return FlatIndex(dim)
    if kind == "hnsw":
        from faceprint.matching.index.faiss_index import FaissIndex

        return FaissIndex(dim)
    from faceprint.errors import InvalidInput

    raise InvalidInput(f"unknown index kind {kind!r}: use 'flat', 'hnsw' or 'auto'")


__all__ = ["FlatIndex", "HNSW_MIN_SIZE", "VectorIndex", "choose_kind", "load_index", "new_index", "save_index"]
