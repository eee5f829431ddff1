"""Chinese whispers and cosine DBSCAN on constructed data with known answers; clustering metrics
against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.cluster import ChineseWhispers, CosineDBSCAN, cluster_scores
from faceprint.cluster.base import relabel_by_size, similarity_edges
from faceprint.errors import InvalidInput, NotFitted
from faceprint.types import Embedding


def angle_vectors(angles_deg: list[float]) -> np.ndarray:
    """Unit vectors in the plane at the given angles (cosine between a and b = cos(a − b))."""
    a = np.radians(angles_deg)
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


def groups(
    rng: np.random.Generator, n_people: int = 8, per: int = 6, d: int = 64, noise: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    c = rng.standard_normal((n_people, d))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_people), per)
    x = c[y] + noise * rng.standard_normal((y.size, d)) / np.sqrt(d)
    return x / np.linalg.norm(x, axis=1, keepdims=True), y


@pytest.mark.parametrize("est", [ChineseWhispers(threshold=0.8), CosineDBSCAN(threshold=0.8)])
def test_recovers_well_separated_people(est, rng: np.random.Generator) -> None:
    x, y = groups(rng)
    perm = rng.permutation(len(y))
    labels = est.fit(x[perm]).labels_
    s = cluster_scores(labels, y[perm])
    assert s.pairwise_f1 == 1.0 and s.bcubed_f == 1.0
    assert est.n_clusters_ == 8 and len(est.clusters()) == 8


def test_chain_merges_in_whispers_not_in_dbscan_with_density() -> None:
    # points 0°, 20°, 40°, 60°: neighbours are at cos 20° ≈ 0.94, next-but-one at cos 40° ≈ 0.77
    x = angle_vectors([0, 20, 40, 60, 180])
    cw = ChineseWhispers(threshold=0.9).fit(x)
    assert len(set(cw.labels_[:4].tolist())) <= 2 and cw.labels_[4] not in cw.labels_[:4]
    db = CosineDBSCAN(threshold=0.9, min_samples=3).fit(x)  # each chain point has ≤ 2 neighbours + itself
    assert db.labels_.tolist() == [0, 0, 0, 0, -1]
    assert CosineDBSCAN(threshold=0.9, min_samples=4).fit(x).labels_.tolist() == [-1] * 5
    assert db.eps_ == pytest.approx(0.1)


def test_dbscan_border_point_joins_nearest_core() -> None:
    # a dense pair at 0°/5° plus 10°, and a border point at 34° (cos 0.9 = 25.8°: within reach of 10° only)
    x = angle_vectors([0, 5, 10, 34, 120, 125])
    db = CosineDBSCAN(threshold=0.9, min_samples=3).fit(x)
    assert db.labels_.tolist() == [0, 0, 0, 0, -1, -1]
    assert sorted(db.core_sample_indices_.tolist()) == [0, 1, 2]


def test_singletons_and_min_cluster_size() -> None:
    x = angle_vectors([0, 3, 90, 180])
    cw = ChineseWhispers(threshold=0.9).fit(x)
    assert cw.labels_.tolist() == [0, 0, 1, 2]  # largest first, singletons kept
    cw = ChineseWhispers(threshold=0.9, min_cluster_size=2).fit(x)
    assert cw.labels_.tolist() == [0, 0, -1, -1] and cw.n_clusters_ == 1


def test_threshold_from_embeddings_model_and_errors() -> None:
    embs = [Embedding(v, model="fake@1") for v in angle_vectors([0, 2])]
    with pytest.raises(InvalidInput):
        ChineseWhispers().fit(angle_vectors([0, 1]))  # no threshold and no model
    with pytest.raises(InvalidInput):
        ChineseWhispers(threshold=0.5).fit([embs[0], Embedding(embs[1].vector, model="other@1")])
    with pytest.raises(InvalidInput):
        CosineDBSCAN(eps=3.0).fit(angle_vectors([0, 1]))
    assert ChineseWhispers(threshold=0.5).fit(embs).labels_.tolist() == [0, 0]
    with pytest.raises(NotFitted):
        ChineseWhispers().clusters()


def test_threshold_defaults_to_calibrated(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.matching import thresholds
    from faceprint.matching.calibration import Threshold

    monkeypatch.setattr(thresholds, "resolve_threshold", lambda model, **kw: Threshold(0.95, f"card of {model}"))
    x = angle_vectors([0, 10, 15])  # cos 10° = 0.985, cos 15° = 0.966, cos 5° = 0.996
    est = ChineseWhispers(model="m@1").fit(x)
    # no open-set (clustering) calibration for this model: the verification threshold, said so
    assert est.threshold_ == 0.95
    assert est.threshold_source_ == "verification threshold (no open-set calibration for m@1): card of m@1"
    assert est.labels_.tolist() == [0, 0, 0]
    assert CosineDBSCAN(model="m@1").fit(x).eps_ == pytest.approx(0.05)


def test_similarity_edges_blocked_equals_dense(rng: np.random.Generator) -> None:
    x, _ = groups(rng, 5, 7)
    a = similarity_edges(x, 0.5, block=4)
    b = similarity_edges(x, 0.5, block=10_000)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    s = x @ x.T
    iu = np.triu_indices(len(x), 1)
    assert a[0].size == int((s[iu] >= 0.5).sum())


def test_relabel_by_size() -> None:
    assert relabel_by_size(np.array([5, 7, 7, -1, 5, 7, 9])).tolist() == [1, 0, 0, -1, 1, 0, 2]
    assert relabel_by_size(np.array([5, 7, 7, 9]), min_size=2).tolist() == [-1, 0, 0, -1]


def test_cluster_scores_closed_form() -> None:
    # truth: A A A B B ; prediction: {0,1} {2,3} {4}
    s = cluster_scores(np.array([0, 0, 1, 1, 2]), np.array(["A", "A", "A", "B", "B"]))
    # true pairs: C(3,2)+C(2,2)=4; predicted pairs: 1+1=2; correct predicted pairs: (0,1) only = 1
    assert s.pairwise_precision == pytest.approx(1 / 2) and s.pairwise_recall == pytest.approx(1 / 4)
    assert s.pairwise_f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    # BCubed precision per item: 1, 1, 1/2, 1/2, 1 -> 0.8; recall: 2/3, 2/3, 1/3, 1/2, 1/2 -> 8/15
    assert s.bcubed_precision == pytest.approx(0.8) and s.bcubed_recall == pytest.approx(8 / 15)
    assert s.n_clusters == 3 and s.n_classes == 2 and s.n_items == 5
    # noise items are singletons
    n = cluster_scores(np.array([-1, -1, 0, 0]), np.array([1, 1, 2, 2]))
    assert n.pairwise_recall == pytest.approx(0.5) and n.pairwise_precision == 1.0 and n.n_clusters == 3
    perfect = cluster_scores(np.array([3, 3, 1]), np.array([0, 0, 1]))
    assert perfect.pairwise_f1 == perfect.bcubed_f == 1.0


def test_connected_components_matches_union_find(rng: np.random.Generator) -> None:
    from faceprint.cluster.density import connected_components

    n = 300
    i = rng.integers(0, n, 250)
    j = rng.integers(0, n, 250)
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    want = np.array([min(k for k in range(n) if find(k) == find(x)) for x in range(n)])
    np.testing.assert_array_equal(connected_components(n, i, j), want)
    # a long chain needs many hops
    chain = np.arange(999)
    assert (connected_components(1000, chain[::-1], chain[::-1] + 1) == 0).all()


def test_dbscan_matches_sklearn_dbscan(rng: np.random.Generator) -> None:
    """Cross-check: scikit-learn's DBSCAN on the same cosine neighbourhoods finds the same clusters
    and core samples (no border face is shared between clusters here)."""
    from sklearn.cluster import DBSCAN

    x, _ = groups(rng, 6, 8, noise=0.6)
    x = np.concatenate([x, angle_vectors([0, 90]) @ np.eye(2, x.shape[1])]).astype(np.float32)
    ours = CosineDBSCAN(threshold=0.75, min_samples=3).fit(x)
    sk = DBSCAN(eps=0.25, min_samples=3, metric="cosine", algorithm="brute").fit(x.astype(np.float64))
    np.testing.assert_array_equal(relabel_by_size(sk.labels_), ours.labels_)
    np.testing.assert_array_equal(np.sort(sk.core_sample_indices_), ours.core_sample_indices_)
    assert (ours.labels_ == -1).any() and ours.n_clusters_ >= 2
