"""Density-based clustering (DBSCAN) on cosine distance.

A face is a *core* face when at least ``min_samples`` faces (itself included) lie within cosine
distance ``eps`` (= similarity ≥ 1 − eps); clusters are the connected groups of core faces, plus
the non-core faces within ``eps`` of a core face (attached to the most similar one); everything
else is noise (label -1). Unlike Chinese whispers, a chain of single look-alikes does not merge
two people unless the faces along it are dense. Default ``eps`` = 1 − the model's calibrated
clustering threshold for DBSCAN and this many faces.

Why not ``sklearn.cluster.DBSCAN``: measured on the 3,443 LFW View 1 DevTrain faces (default
pipeline), scikit-learn's DBSCAN (``metric="precomputed"`` on the sparse graph of the same
similarity edges, ``eps`` covering every stored edge) gives identical labels and core samples at
thresholds 0.88 / 0.91 / 0.94, but takes 0.184 / 0.056 / 0.046 s against 0.072 / 0.037 / 0.034 s
here (2.5 s vs 0.59 s at 5.9 M edges), and attaches a border face to whichever cluster its
expansion reaches first, where this one takes the most similar core face (order-independent). The
cross-check against scikit-learn stays in the tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faceprint.cluster.base import ClustererMixin, as_matrix, relabel_by_size, resolve, similarity_edges
from faceprint.errors import InvalidInput


def connected_components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Component label (its smallest member) of each of ``n`` nodes joined by edges ``(i, j)``:
    min-label propagation with pointer jumping, O(edges) per round, few rounds."""
    lab = np.arange(n)
    if i.size == 0:
        return lab
    while True:
        m = np.minimum(lab[i], lab[j])
        new = lab.copy()
        np.minimum.at(new, i, m)
        np.minimum.at(new, j, m)
        np.minimum.at(new, lab, new)  # pull each root down to its members' best label
        while True:  # pointer jumping to the roots
            nxt = new[new]
            if np.array_equal(nxt, new):
                break
            new = nxt
        if np.array_equal(new, lab):
            return lab
        lab = new


class CosineDBSCAN(ClustererMixin):
    """Args:
        eps: cosine *distance* radius; default ``1 − threshold``.
        threshold: cosine similarity (alternative to ``eps``); default: the calibrated clustering
            threshold for DBSCAN and the number of faces.
        min_samples: faces (itself included) within ``eps`` for a face to be core (default 2).
        model: model tag for the calibrated threshold when ``X`` is a plain array.

    Attributes: ``labels_`` (-1 = noise), ``core_sample_indices_``, ``eps_``, ``threshold_source_``.
    """

    def __init__(
        self,
        eps: float | None = None,
        *,
        threshold: float | None = None,
        min_samples: int = 2,
        model: str | None = None,
        home: Any = None,
    ) -> None:
        self.eps = eps
        self.threshold = threshold
        self.min_samples = min_samples
        self.model = model
        self.home = home

    def fit(self, X: Any, y: Any = None) -> CosineDBSCAN:
        if self.min_samples < 1:
            raise InvalidInput("min_samples must be >= 1")
        mat, model = as_matrix(X)
        if self.eps is not None:
            if not 0.0 <= self.eps <= 2.0:
                raise InvalidInput(f"eps is a cosine distance in [0, 2], got {self.eps}")
            thr, src = 1.0 - float(self.eps), "eps argument"
        else:
            thr, src = resolve(self.threshold, self.model or model, self.home, n_faces=mat.shape[0], method="dbscan")
        self.eps_, self.threshold_source_ = 1.0 - thr, src
        n = mat.shape[0]
        i, j, w = similarity_edges(mat, thr)
        deg = np.bincount(np.concatenate([i, j]), minlength=n) + 1  # + itself
        core = deg >= self.min_samples
        self.core_sample_indices_ = np.nonzero(core)[0]
        labels = np.full(n, -1, np.int64)
        cc = core[i] & core[j]
        if core.any():
            comp = connected_components(n, i[cc], j[cc])
            labels[core] = comp[core]
        # border faces: the most similar core neighbour's cluster
        best = np.full(n, -np.inf)
        for a, b in ((i, j), (j, i)):
            m = (~core[a]) & core[b]
            for x, y, s in zip(a[m].tolist(), b[m].tolist(), w[m].tolist(), strict=True):
                if s > best[x]:
                    best[x] = s
                    labels[x] = labels[y]
        self.labels_ = relabel_by_size(labels)
        return self
