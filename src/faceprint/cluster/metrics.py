"""Clustering quality against ground-truth identities.

* **Pairwise** precision / recall / F1: over all pairs of faces, a pair is predicted positive when
  both faces are in the same cluster and truly positive when they are the same person.
* **BCubed** precision / recall / F (Bagga & Baldwin 1998; Amigó et al. 2009): per face, the
  fraction of its cluster that shares its identity (precision) and the fraction of its identity
  that shares its cluster (recall), averaged over faces.

Noise (label -1) counts as singleton clusters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from faceprint.errors import InvalidInput


@dataclass(frozen=True)
class ClusterScores:
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f: float
    n_items: int
    n_clusters: int
    n_classes: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _f(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _contingency(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pred = np.asarray(pred).reshape(-1)
    true = np.asarray(true).reshape(-1)
    if pred.shape != true.shape or pred.size == 0:
        raise InvalidInput("labels_pred and labels_true must be non-empty and of equal length")
    pred = pred.astype(np.int64).copy()
    noise = pred < 0
    if noise.any():  # each noise item is its own cluster
        pred[noise] = pred.max(initial=-1) + 1 + np.arange(int(noise.sum()))
    _, p = np.unique(pred, return_inverse=True)
    _, t = np.unique(true, return_inverse=True)
    pairs, n_ij = np.unique(np.stack([p, t]), axis=1, return_counts=True)
    a = np.bincount(p)
    b = np.bincount(t)
    return pairs, n_ij, a, b


def cluster_scores(labels_pred: np.ndarray, labels_true: np.ndarray) -> ClusterScores:
    pairs, n_ij, a, b = _contingency(labels_pred, labels_true)
    c2 = lambda x: x * (x - 1) / 2.0  # noqa: E731
    tp = float(c2(n_ij).sum())
    pred_pos = float(c2(a).sum())
    true_pos = float(c2(b).sum())
    pp = tp / pred_pos if pred_pos else 1.0
    pr = tp / true_pos if true_pos else 1.0
    n = float(a.sum())
    # BCubed: items in cell (i, j) each have precision n_ij / a_i and recall n_ij / b_j
    bp = float((n_ij * n_ij / a[pairs[0]]).sum() / n)
    br = float((n_ij * n_ij / b[pairs[1]]).sum() / n)
    return ClusterScores(pp, pr, _f(pp, pr), bp, br, _f(bp, br), int(n), int(a.size), int(b.size))
