"""Exact search: one contiguous float32 matrix, scanned exhaustively (FAISS's exact kernel).

Used for galleries below :data:`faceprint.matching.index.HNSW_MIN_SIZE` faces, and as the ground
truth for the approximate index. Removal swaps the last row into the hole (O(1) per face), so a
deleted face can never be returned again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faceprint.matching.index.base import as_queries, as_rows, empty_result

#: Below this many queries per call the scan runs on the calling thread only (see :func:`_knn`).
SINGLE_THREAD_MAX_QUERIES = 16


def _knn(q: np.ndarray, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of ``q`` (nq, d) against ``x`` (n, d), best first.

    A few queries are scanned by FAISS's SIMD kernel on the calling thread: numpy's multithreaded
    BLAS matrix-vector product was measured to stall for a scheduler tick (~8 ms instead of
    0.06 ms at 10k × 128) whenever the other core of a 2-core machine is busy. Large batches use
    the threaded BLAS path. Falls back to numpy when FAISS is missing.
    """
    try:
        import faiss  # noqa: PLC0415
    except ImportError:  # pragma: no cover - faiss-cpu is a base requirement
        sims = q @ x.T
        if k < x.shape[0]:
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(x.shape[0]), (q.shape[0], x.shape[0]))
        top = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1), np.take_along_axis(part, order, axis=1)
    if q.shape[0] <= SINGLE_THREAD_MAX_QUERIES:
        prev = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # an OpenMP ICV of the calling thread only
        try:
            d, i = faiss.knn(q, x, k, metric=faiss.METRIC_INNER_PRODUCT)
        finally:
            faiss.omp_set_num_threads(prev)
    else:
        d, i = faiss.knn(q, x, k, metric=faiss.METRIC_INNER_PRODUCT)
    return d.astype(np.float32), i.astype(np.int64)


class FlatIndex:
    kind = "flat"

    def __init__(self, dim: int | None = None) -> None:
        self._dim = dim
        self._vecs = np.zeros((0, dim or 0), np.float32)
        self._fids = np.zeros(0, np.int64)
        self._iids = np.zeros(0, np.int64)
        self._n = 0
        self._pos: dict[int, int] = {}

    def __len__(self) -> int:
        return self._n

    @property
    def dim(self) -> int | None:
        return self._dim

    def _reserve(self, n: int, dim: int) -> None:
        cap = self._vecs.shape[0]
        if n <= cap and self._vecs.shape[1] == dim:
            return
        new_cap = max(n, int(cap * 1.5) + 1024)
        vecs = np.zeros((new_cap, dim), np.float32)
        if self._n:
            vecs[: self._n] = self._vecs[: self._n]
        fids = np.full(new_cap, -1, np.int64)
        fids[: self._n] = self._fids[: self._n]
        iids = np.full(new_cap, -1, np.int64)
        iids[: self._n] = self._iids[: self._n]
        self._vecs, self._fids, self._iids = vecs, fids, iids

    def add(self, face_ids: np.ndarray, identity_ids: np.ndarray, vectors: np.ndarray) -> None:
        f, i, v = as_rows(face_ids, identity_ids, vectors, self._dim)
        if f.size == 0:
            return
        if self._dim is None:
            self._dim = int(v.shape[1])
        present = [int(x) for x in f if int(x) in self._pos]
        if present:
            self.remove(present)
        self._reserve(self._n + f.size, self._dim)
        s = slice(self._n, self._n + f.size)
        self._vecs[s] = v
        self._fids[s] = f
        self._iids[s] = i
        for k, fid in enumerate(f.tolist()):
            self._pos[fid] = self._n + k
        self._n += f.size

    def remove(self, face_ids: Sequence[int]) -> int:
        removed = 0
        for fid in face_ids:
            row = self._pos.pop(int(fid), None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:
                self._vecs[row] = self._vecs[last]
                self._fids[row] = self._fids[last]
                self._iids[row] = self._iids[last]
                self._pos[int(self._fids[row])] = row
            self._vecs[last] = 0.0  # a removed face's vector is not kept, even in spare capacity
            self._fids[last] = -1
            self._iids[last] = -1
            self._n -= 1
            removed += 1
        return removed

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q = as_queries(queries, self._dim)
        nq = q.shape[0]
        scores, fids, iids = empty_result(nq, k)
        n = self._n
        if n == 0 or k <= 0:
            return scores, fids, iids
        kk = min(k, n)
        top, rows = _knn(q, self._vecs[:n], kk)
        scores[:, :kk] = top
        fids[:, :kk] = self._fids[rows]
        iids[:, :kk] = self._iids[rows]
        return scores, fids, iids

    def face_ids(self) -> np.ndarray:
        return self._fids[: self._n].copy()

    def identity_ids(self) -> np.ndarray:
        return self._iids[: self._n].copy()

    def vectors(self) -> np.ndarray:
        return self._vecs[: self._n]

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(face_ids, identity_ids, vectors)`` of every row (copies)."""
        n = self._n
        return self._fids[:n].copy(), self._iids[:n].copy(), self._vecs[:n].copy()

    def get(self, face_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        rows = np.array([self._pos[int(f)] for f in face_ids if int(f) in self._pos], dtype=np.int64)
        return self._iids[rows].copy(), self._vecs[rows].copy()

    def state(self) -> dict[str, np.ndarray]:
        return {"face_ids": self.face_ids(), "identity_ids": self.identity_ids(), "vectors": self._vecs[: self._n].copy()}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> FlatIndex:
        v = state["vectors"]
        idx = cls(int(v.shape[1]) if v.ndim == 2 and v.shape[0] else None)
        if v.shape[0]:
            idx.add(state["face_ids"], state["identity_ids"], v)
        return idx

    def nbytes(self) -> int:
        return int(self._vecs.nbytes + self._fids.nbytes + self._iids.nbytes) + 100 * len(self._pos)
