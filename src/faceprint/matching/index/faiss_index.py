"""Approximate search with FAISS HNSW (inner product on unit vectors = cosine).

HNSW needs no training step, so it grows incrementally as faces are enrolled. Parameters from the
sweep in ``benchmarks/gallery_scale.py`` (``benchmarks/results/gallery_scale*.json``; 1M faces =
LFW embeddings of the default pipeline planted among distractors drawn from the fitted real
distribution, 2 cores, recall@1 of 1,000 real probes against exact search):

- SFace int8 (the default since issue 12), M=32, efConstruction=80 (the earlier defaults): efSearch
  512 / 1024 / 2048 / 4096 → recall 0.931 / 0.977 / 0.991 / 0.998 at p50 1.7 / 3.4 / 7.2 / 15.7 ms.
  SFace's embeddings spread over the sphere far more than dlib's, so the graph built for dlib was too
  sparse for it (`gallery_scale_sface.json`).
- SFace int8, **M=48, efConstruction=200**: efSearch 256 / **512** / 1024 → recall 0.973 / **0.993** /
  1.000 at p50 1.3 / **2.5** / 4.9 ms; build 1,821 faces/s (549 s for 1M; 6,238/s before), 912 B/face
  serialized (784 before) (`gallery_scale_sface_m48.json`). These are the defaults: ≥ 0.99 under the
  5 ms target.
- dlib ResNet, M=32, efConstruction=80: 0.914 / 0.965 / 0.990 / 0.996 at efSearch 64 / 128 / 256 / 512
  (`gallery_scale.json`); a denser graph only raises it.

An index file saved with a sparser graph than these defaults is ignored on load and rebuilt from the
store (it is a cache), so galleries made by earlier versions get the recall above.

FAISS's HNSW cannot remove vectors. A removed face is marked dead in a bitmap that every search
passes to FAISS as an ``IDSelectorBitmap``, so it is never returned (effective immediately);
when more than :attr:`FaissIndex.compact_fraction` of the rows are dead the graph is rebuilt from
the live vectors. A removed face's stored vector is overwritten with zeros at once (deleted
biometric data stays neither in memory nor in a saved snapshot). Cost, measured on 20k clustered
synthetic 128-d vectors with 24 % removed: recall@1 at efSearch 128 0.999 (1.000 without zeroing).

Threads: FAISS uses OpenMP; set ``OMP_NUM_THREADS`` to limit it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from faceprint.errors import ModelUnavailable
from faceprint.matching.index.base import as_queries, as_rows, empty_result

logger = logging.getLogger(__name__)

#: Defaults chosen by the sweep in benchmarks/gallery_scale.py (see the module docstring).
DEFAULT_M = 48
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_EF_SEARCH = 512


def _faiss() -> Any:
    try:
        import faiss  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - faiss-cpu is a base requirement
        raise ModelUnavailable("faiss is not installed: pip install faiss-cpu (see requirements/base.txt)") from e
    return faiss


class FaissIndex:
    """HNSW index keyed by face id. ``ef_search`` may be changed at any time."""

    kind = "hnsw"
    compact_fraction = 0.25

    def __init__(
        self,
        dim: int | None = None,
        *,
        m: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> None:
        self._dim = dim
        self.m = int(m)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        self._index: Any = None
        self._fids = np.zeros(0, np.int64)  # internal id -> face id
        self._iids = np.zeros(0, np.int64)
        self._alive = np.zeros(0, bool)
        self._bitmap: np.ndarray | None = None  # packed self._alive, None while nothing is dead
        self._pos: dict[int, int] = {}
        self._n_dead = 0
        self._lock = threading.RLock()

    def _new_index(self, dim: int) -> Any:
        faiss = _faiss()
        idx = faiss.IndexHNSWFlat(dim, self.m, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = self.ef_construction
        idx.hnsw.efSearch = self.ef_search
        return idx

    def __len__(self) -> int:
        return len(self._pos)

    @property
    def dim(self) -> int | None:
        return self._dim

    @property
    def n_dead(self) -> int:
        return self._n_dead

    def add(self, face_ids: np.ndarray, identity_ids: np.ndarray, vectors: np.ndarray) -> None:
        f, i, v = as_rows(face_ids, identity_ids, vectors, self._dim)
        if f.size == 0:
            return
        with self._lock:
            if self._dim is None:
                self._dim = int(v.shape[1])
            if self._index is None:
                self._index = self._new_index(self._dim)
            present = [int(x) for x in f if int(x) in self._pos]
            if present:
                self.remove(present)
            start = int(self._index.ntotal)
            self._index.add(v)
            self._fids = np.concatenate([self._fids, f])
            self._iids = np.concatenate([self._iids, i])
            self._alive = np.concatenate([self._alive, np.ones(f.size, bool)])
            for k, fid in enumerate(f.tolist()):
                self._pos[fid] = start + k
            if self._n_dead:
                self._bitmap = np.packbits(self._alive, bitorder="little")

    def remove(self, face_ids: Sequence[int]) -> int:
        with self._lock:
            removed = 0
            rows = []
            for fid in face_ids:
                row = self._pos.pop(int(fid), None)
                if row is None:
                    continue
                self._alive[row] = False
                rows.append(row)
                removed += 1
            if removed:
                self._scrub(rows)
                self._n_dead += removed
                if self._n_dead > self.compact_fraction * max(1, self._alive.size):
                    self.compact()
                else:
                    self._bitmap = np.packbits(self._alive, bitorder="little")
            return removed

    def _scrub(self, rows: Sequence[int]) -> None:
        """Overwrite the stored vectors of removed rows with zeros, so a removed face's embedding is
        neither in memory nor in a saved snapshot (the graph keeps the node, filtered out of every
        search; a zero vector scores 0 against every query, so searches route around it)."""
        if self._index is None or not rows or self._dim is None:
            return
        faiss = _faiss()
        storage = faiss.downcast_index(self._index.storage)
        xb = faiss.rev_swig_ptr(storage.get_xb(), int(self._index.ntotal) * self._dim)
        view = np.asarray(xb).reshape(-1, self._dim)
        view[np.asarray(rows, dtype=np.int64)] = 0.0

    def compact(self) -> None:
        """Rebuild the graph from the live rows (drops the dead ones for good)."""
        with self._lock:
            if self._index is None:
                return
            live = np.nonzero(self._alive)[0]
            fids, iids, vecs = self.rows()
            logger.info("compacting HNSW index: %d live of %d rows", live.size, self._alive.size)
            self._index = self._new_index(self._dim)  # type: ignore[arg-type]
            self._fids = np.zeros(0, np.int64)
            self._iids = np.zeros(0, np.int64)
            self._alive = np.zeros(0, bool)
            self._pos = {}
            self._n_dead = 0
            self._bitmap = None
            if live.size:
                self.add(fids, iids, vecs)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q = as_queries(queries, self._dim)
        scores, fids, iids = empty_result(q.shape[0], k)
        with self._lock:
            if self._index is None or not self._pos or k <= 0:
                return scores, fids, iids
            faiss = _faiss()
            kk = min(k, len(self._pos))
            ef = max(self.ef_search, kk)
            if self._bitmap is not None and self._n_dead:
                bitmap = self._bitmap
                sel = faiss.IDSelectorBitmap(self._alive.size, faiss.swig_ptr(bitmap))
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
            else:
                params = faiss.SearchParametersHNSW(efSearch=ef)
            if q.shape[0] <= 16:  # few queries: stay on this thread (no OpenMP team wake-up stalls)
                prev = faiss.omp_get_max_threads()
                faiss.omp_set_num_threads(1)
                try:
                    d, rows = self._index.search(q, kk, params=params)
                finally:
                    faiss.omp_set_num_threads(prev)
            else:
                d, rows = self._index.search(q, kk, params=params)
            ok = rows >= 0
            safe = np.where(ok, rows, 0)
            scores[:, :kk] = np.where(ok, d, -np.inf)
            fids[:, :kk] = np.where(ok, self._fids[safe], -1)
            iids[:, :kk] = np.where(ok, self._iids[safe], -1)
        return scores, fids, iids

    def face_ids(self) -> np.ndarray:
        with self._lock:
            return self._fids[self._alive].copy()

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(face_ids, identity_ids, vectors)`` of every live row."""
        with self._lock:
            live = np.nonzero(self._alive)[0]
            if self._index is None or not live.size:
                return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, self._dim or 0), np.float32)
            vecs = self._index.reconstruct_n(0, int(self._index.ntotal))[live]
            return self._fids[live].copy(), self._iids[live].copy(), vecs

    def get(self, face_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            rows = [self._pos[int(f)] for f in face_ids if int(f) in self._pos]
            if not rows:
                return np.zeros(0, np.int64), np.zeros((0, self._dim or 0), np.float32)
            vecs = np.stack([self._index.reconstruct(int(r)) for r in rows])
            return self._iids[np.asarray(rows)].copy(), vecs

    def state(self) -> dict[str, np.ndarray]:
        with self._lock:
            faiss = _faiss()
            blob = faiss.serialize_index(self._index) if self._index is not None else np.zeros(0, np.uint8)
            return {
                "faiss": np.asarray(blob, np.uint8),
                "face_ids": self._fids.copy(),
                "identity_ids": self._iids.copy(),
                "alive": self._alive.copy(),
                "params": np.array([self._dim or 0, self.m, self.ef_construction, self.ef_search], np.int64),
            }

    @property
    def sparser_than_defaults(self) -> bool:
        """Built with fewer links or a shallower construction search than today's defaults."""
        return self.m < DEFAULT_M or self.ef_construction < DEFAULT_EF_CONSTRUCTION

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> FaissIndex:
        dim, m, efc, efs = (int(x) for x in state["params"])
        idx = cls(dim or None, m=m, ef_construction=efc, ef_search=efs)
        if state["faiss"].size:
            faiss = _faiss()
            idx._index = faiss.deserialize_index(np.ascontiguousarray(state["faiss"]))
            idx._index.hnsw.efSearch = efs
        idx._fids = state["face_ids"].astype(np.int64)
        idx._iids = state["identity_ids"].astype(np.int64)
        idx._alive = state["alive"].astype(bool)
        if idx._index is not None and idx._index.ntotal != idx._alive.size:
            raise ValueError("index file is inconsistent (row counts differ)")
        idx._pos = {int(f): int(r) for r, f in enumerate(idx._fids.tolist()) if idx._alive[r]}
        idx._n_dead = int((~idx._alive).sum())
        idx._bitmap = np.packbits(idx._alive, bitorder="little") if idx._n_dead else None
        return idx

    def nbytes(self) -> int:
        """Approximate resident size: vectors + graph links + id maps."""
        n = int(self._alive.size)
        d = self._dim or 0
        links = n * (2 * self.m) * 4 * 1.07  # level 0 has 2M links; upper levels add ~1/M more
        return int(n * d * 4 + links + n * (8 + 8 + 1) + 100 * len(self._pos))
