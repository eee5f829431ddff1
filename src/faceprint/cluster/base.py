"""Shared pieces of the clusterers: input handling, the threshold, the similarity graph."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceprint.errors import InvalidInput, NotFitted
from faceprint.types import Embedding


def as_matrix(X: Any) -> tuple[np.ndarray, str | None]:
    """``(unit rows float32 (n, d), model tag or None)`` from Embeddings or an array."""
    if isinstance(X, np.ndarray):
        m = np.asarray(X, np.float32)
        if m.ndim != 2 or m.shape[0] == 0:
            raise InvalidInput(f"X must be a non-empty (n, d) array, got {m.shape}")
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        if np.any(norms == 0) or not np.all(np.isfinite(m)):
            raise InvalidInput("X must hold finite non-zero vectors")
        return (m / norms).astype(np.float32), None
    items = list(X)
    if not items:
        raise InvalidInput("nothing to cluster")
    if not all(isinstance(e, Embedding) for e in items):
        raise InvalidInput("X must be an (n, d) array or a sequence of Embedding")
    models = {e.model for e in items}
    if len(models) != 1:
        raise InvalidInput(f"embeddings of several models cannot be clustered together: {sorted(models)}")
    return np.stack([e.vector for e in items]).astype(np.float32), models.pop()


def resolve(
    threshold: float | None, model: str | None, home: Any = None, *, n_faces: int = 2, method: str = "chinese_whispers"
) -> tuple[float, str]:
    """The similarity threshold and where it came from: the argument, else the model's calibrated
    clustering threshold for ``n_faces`` faces and ``method`` (it rises with the number of faces:
    each face meets n − 1 possible impostors; see
    :func:`~faceprint.matching.thresholds.resolve_cluster_threshold`)."""
    if threshold is not None:
        t = float(threshold)
        if not -1.0 <= t <= 1.0:
            raise InvalidInput(f"threshold must be a cosine similarity in [-1, 1], got {t}")
        return t, "argument"
    if model is None:
        raise InvalidInput("pass threshold=..., model=... or Embedding objects (whose model gives the calibrated threshold)")
    from faceprint.matching.thresholds import resolve_cluster_threshold

    thr = resolve_cluster_threshold(model, n_faces, method=method, home=home)
    return thr.value, thr.source


def similarity_edges(X: np.ndarray, threshold: float, block: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` with cosine ``>= threshold``: ``(i, j, similarity)``. Blocked: memory stays
    O(block × n) however large ``n`` is."""
    n = X.shape[0]
    ii, jj, ww = [], [], []
    for s in range(0, n, block):
        sim = X[s : s + block] @ X.T  # (b, n)
        r, c = np.nonzero(sim >= threshold)
        gi = r + s
        keep = c > gi
        ii.append(gi[keep])
        jj.append(c[keep])
        ww.append(sim[r[keep], c[keep]])
    if not ii:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(ii).astype(np.int64), np.concatenate(jj).astype(np.int64), np.concatenate(ww).astype(np.float32)


def relabel_by_size(labels: np.ndarray, min_size: int = 1) -> np.ndarray:
    """Labels renumbered 0, 1, ... by decreasing cluster size (ties: first occurrence); clusters
    smaller than ``min_size`` and existing ``-1`` become ``-1`` (noise)."""
    labels = np.asarray(labels)
    out = np.full(labels.shape, -1, np.int64)
    valid = labels >= 0
    if not valid.any():
        return out
    uniq, first, counts = np.unique(labels[valid], return_index=True, return_counts=True)
    order = sorted(range(len(uniq)), key=lambda k: (-counts[k], first[k]))
    new = 0
    mapping = {}
    for k in order:
        if counts[k] >= min_size:
            mapping[uniq[k]] = new
            new += 1
    for old, nl in mapping.items():
        out[labels == old] = nl
    return out


class ClustererMixin:
    labels_: np.ndarray

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X).labels_  # type: ignore[attr-defined]

    def _check(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFitted(f"{type(self).__name__} is not fitted: call fit(X) first")

    @property
    def n_clusters_(self) -> int:
        self._check()
        return int(self.labels_.max() + 1) if self.labels_.size and self.labels_.max() >= 0 else 0

    def clusters(self) -> list[np.ndarray]:
        """Member indices of each cluster, largest first (noise excluded)."""
        self._check()
        return [np.nonzero(self.labels_ == k)[0] for k in range(self.n_clusters_)]


