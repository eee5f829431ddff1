"""Grouping faces by person, scikit-learn style (``fit(X)`` returns self; ``labels_``).

* :class:`ChineseWhispers` — graph method: edges between faces at or above the calibrated
  clustering threshold (it rises with the number of faces), label propagation.
* :class:`CosineDBSCAN` — density method: DBSCAN on cosine distance, ``eps = 1 − threshold``.
* :func:`cluster_scores` — pairwise and BCubed precision/recall/F against true identities.
"""

from __future__ import annotations

from faceprint.cluster.chinese_whispers import ChineseWhispers
from faceprint.cluster.density import CosineDBSCAN
from faceprint.cluster.metrics import ClusterScores, cluster_scores

METHODS = {"chinese_whispers": ChineseWhispers, "cw": ChineseWhispers, "dbscan": CosineDBSCAN}

__all__ = ["ChineseWhispers", "ClusterScores", "CosineDBSCAN", "METHODS", "cluster_scores"]
