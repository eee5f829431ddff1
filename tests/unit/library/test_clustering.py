from __future__ import annotations

import numpy as np

from faceprint.cluster import cluster_scores
from faceprint.library.clustering import batch_labels, incremental_labels, update_labels


def blobs(rng: np.random.Generator, n_people: int = 40, per: int = 6, d: int = 32, noise: float = 0.35):
    centres = rng.normal(size=(n_people, d))
    y = np.repeat(np.arange(n_people), per)
    X = centres[y] + noise * rng.normal(size=(y.size, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    perm = rng.permutation(y.size)
    return X[perm].astype(np.float32), y[perm]


def test_incremental_equals_batch_at_the_end(rng: np.random.Generator) -> None:
    X, y = blobs(rng)
    thr = 0.6
    batch = batch_labels(X, thr)
    inc = incremental_labels(X, lambda n: thr, [7] * 40)
    assert cluster_scores(inc, y).pairwise_f1 == cluster_scores(batch, y).pairwise_f1
    assert cluster_scores(inc, y).pairwise_f1 > 0.95


def test_incremental_with_a_rising_threshold_is_as_good_as_batch(rng: np.random.Generator) -> None:
    X, y = blobs(rng, noise=0.45)
    batch = cluster_scores(batch_labels(X, 0.55), y).pairwise_f1
    inc = cluster_scores(incremental_labels(X, lambda n: 0.45 + 0.1 * n / X.shape[0], [5] * 60), y).pairwise_f1
    assert inc >= batch - 1e-9


def test_new_faces_join_existing_clusters_and_keep_their_ids(rng: np.random.Generator) -> None:
    X, y = blobs(rng, n_people=5, per=4)
    first = 12
    labels = np.full(X.shape[0], -1)
    out = update_labels(X[:first], labels[:first], np.zeros(first, bool), 0.6)
    ids = {b: 100 + k for k, b in enumerate(sorted(set(out.tolist())))}
    labels[:first] = [ids[b] for b in out.tolist()]
    out2 = update_labels(X, labels, np.zeros(X.shape[0], bool), 0.6)
    assert np.array_equal(out2[:first], labels[:first])  # nothing old moved
    for k in range(first, X.shape[0]):  # a new face of a seen person joins that person's cluster
        same = [j for j in range(first) if y[j] == y[k]]
        if same:
            assert out2[k] == labels[same[0]]


def test_pinned_faces_never_move_and_anchor_their_cluster(rng: np.random.Generator) -> None:
    X, _ = blobs(rng, n_people=2, per=5)
    labels = np.array([7] * X.shape[0])  # one (wrong) cluster holding two people
    pinned = np.ones(X.shape[0], bool)
    out = update_labels(X, labels, pinned, 0.6, new=np.arange(X.shape[0]))
    assert np.array_equal(out, labels)


def test_a_cluster_without_links_is_split(rng: np.random.Generator) -> None:
    X, y = blobs(rng, n_people=2, per=5)
    labels = np.array([3] * X.shape[0])
    out = update_labels(X, labels, np.zeros(X.shape[0], bool), 0.6, new=np.arange(X.shape[0]))
    assert len(set(out.tolist())) == 2
    assert cluster_scores(np.unique(out, return_inverse=True)[1], y).pairwise_f1 == 1.0  # ids <= -2 are new clusters
    assert 3 in set(out.tolist())  # one of the two keeps the id
