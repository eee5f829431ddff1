"""Incremental clustering of the library's faces, as photos arrive.

The library keeps one labelling of all its faces (``faces.cluster_id``). Each step
(:func:`update_labels`) takes the faces that arrived since the last step and re-runs Chinese
whispers (:mod:`faceprint.cluster.chinese_whispers`: edges between faces whose cosine similarity
reaches the threshold, weighted by it; each face takes the label of largest neighbour weight)
**warm-started from the current labels**, over the *active* faces only: the new faces and every
member of a cluster one of them links to. Faces elsewhere keep their labels but still vote, so an
active face can join any neighbouring cluster. Then every touched cluster is split into its
connected components at the threshold (the largest, or the one holding the user's pinned faces,
keeps the id), so a cluster never holds faces with no chain of links between them.

The threshold is the embedding model's calibrated clustering threshold for the number of faces
in the library (:func:`faceprint.matching.thresholds.resolve_cluster_threshold`; it rises as the
library grows). Because early steps ran at the lower threshold of a smaller library, a **full
step** (every face active) runs whenever the library has grown by :data:`REFRESH_GROWTH` since the
last one, and at the end of every ``index`` run: the result then is Chinese whispers at the
library's current threshold, warm-started, which measures as batch clustering does
(``tests/unit/library/test_clustering.py``, ``benchmarks/index_library.py``).

Pinned faces (named, merged or split by the user) never change label: they anchor their cluster,
and new faces like them join it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.cluster.base import similarity_edges

logger = logging.getLogger(__name__)

#: A full step runs when the number of faces has grown by this factor since the last one.
REFRESH_GROWTH = 1.25
MAX_ITER = 30
_BLOCK = 2048
#: Steps computed outside the write lock before one runs wholly inside it (see ``IncrementalClusterer.step``).
OPTIMISTIC_TRIES = 3


@dataclass(frozen=True)
class _Snapshot:
    rows: list[tuple[Any, ...]]
    ids: np.ndarray
    labels: np.ndarray
    pinned: np.ndarray
    full: bool


def _neighbours(X: np.ndarray, rows: np.ndarray, threshold: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each face in ``rows``: the faces (indices into X, itself excluded) at or above
    ``threshold``, and their similarities. Blocked: memory O(block × n)."""
    nbrs: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    for s in range(0, rows.size, _BLOCK):
        blk = rows[s:s + _BLOCK]
        sim = X[blk] @ X.T
        sim[np.arange(blk.size), blk] = -np.inf
        for k in range(blk.size):
            idx = np.nonzero(sim[k] >= threshold)[0]
            nbrs.append(idx)
            wts.append(sim[k, idx].astype(np.float64))
    return nbrs, wts


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    from faceprint.cluster.density import connected_components

    return connected_components(n, i, j)


def update_labels(
    X: np.ndarray,
    labels: np.ndarray,
    pinned: np.ndarray,
    threshold: float,
    *,
    new: np.ndarray | None = None,
    max_iter: int = MAX_ITER,
    random_state: int | None = 0,
) -> np.ndarray:
    """One clustering step. ``X`` (n, d) unit rows; ``labels`` (n,) cluster ids (``>= 0``) or -1
    for faces not clustered yet; ``pinned`` (n,) bool; ``new``: the faces that arrived (default:
    every unlabelled face); a full step when ``new`` is every face.

    Returns the new labels: existing ids where kept, and ids ``<= -2`` for clusters to create
    (one per distinct value). Pinned faces keep theirs.
    """
    n = X.shape[0]
    lab = np.asarray(labels, np.int64).copy()
    pinned = np.asarray(pinned, bool)
    if n == 0:
        return lab
    if new is None:
        new = np.nonzero(lab < 0)[0]
    new = np.asarray(new, np.int64)
    unl = np.nonzero(lab < 0)[0]
    lab[unl] = -2 - np.arange(unl.size)  # each unclustered face starts alone
    tmp_next = -2 - unl.size
    full = new.size == n
    if full:  # from scratch, as batch clustering: only the user's pinned faces keep their labels
        active = np.arange(n)
        loose = np.nonzero(~pinned)[0]
        lab[loose] = tmp_next - np.arange(loose.size)
        tmp_next -= loose.size
    else:
        if new.size == 0:
            return lab
        nb_new, _ = _neighbours(X, new, threshold)
        touched = {int(lab[j]) for idx in nb_new for j in idx.tolist()} | {int(lab[k]) for k in new.tolist()}
        active = np.nonzero(np.isin(lab, np.fromiter(touched, np.int64)))[0]
    nbrs, wts = _neighbours(X, active, threshold)
    movable = [k for k in range(active.size) if not pinned[active[k]] and nbrs[k].size]
    rng = np.random.default_rng(random_state)
    for _ in range(max_iter):
        changed = 0
        for k in rng.permutation(np.asarray(movable, np.int64)).tolist():
            node = int(active[k])
            score: dict[int, float] = {}
            for nb, w in zip(lab[nbrs[k]].tolist(), wts[k].tolist(), strict=True):
                score[nb] = score.get(nb, 0.0) + w
            cur = int(lab[node])
            best_w = max(score.values())
            if score.get(cur, -1.0) >= best_w:
                continue  # ties keep the current label (stable ids)
            best = max((lb for lb, w in score.items() if w == best_w), key=lambda lb: (lb >= 0, -abs(lb)))
            lab[node] = best
            changed += 1
        if changed == 0:
            break
    # split every touched cluster into its connected components at the threshold
    touched_labels = set(lab[active].tolist()) | set(np.asarray(labels)[active][np.asarray(labels)[active] >= 0].tolist())
    groups: dict[int, list[int]] = {}
    for idx, lb in enumerate(lab.tolist()):
        if lb in touched_labels:
            groups.setdefault(lb, []).append(idx)
    for members in groups.values():
        if len(members) < 2:
            continue
        m = np.asarray(members, np.int64)
        i, j, _ = similarity_edges(X[m], threshold)
        pins = np.nonzero(pinned[m])[0]
        if pins.size > 1:  # the user's faces of one cluster belong together whatever their links
            i = np.concatenate([i, np.full(pins.size - 1, pins[0])])
            j = np.concatenate([j, pins[1:]])
        comp = _components(m.size, i, j)
        if np.unique(comp).size == 1:
            continue
        counts = Counter(comp.tolist())
        keep = int(comp[pins[0]]) if pins.size else max(counts, key=lambda c: (counts[c], -c))
        for c in counts:
            if c == keep:
                continue
            lab[m[comp == c]] = tmp_next
            tmp_next -= 1
    lab[pinned] = np.asarray(labels, np.int64)[pinned]
    return _keep_ids(np.asarray(labels, np.int64), lab)


def _keep_ids(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Give each new cluster (temporary id ``<= -2``) the old id most of its faces had, when no
    other cluster kept or took that id (greedy, largest overlaps first): after a full step the
    clusters the user has seen keep their ids."""
    out = new.copy()
    taken = set(new[new >= 0].tolist())
    overlap = Counter((b, a) for a, b in zip(old.tolist(), new.tolist(), strict=True) if b <= -2 and a >= 0)
    done: set[int] = set()
    for (b, a), _ in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0][1], -kv[0][0])):
        if b in done or a in taken:
            continue
        out[new == b] = a
        done.add(b)
        taken.add(a)
    return out


_FACES = "SELECT id, cluster_id, pinned FROM faces WHERE model = ?"
Reader = Callable[[str, Sequence[Any]], Sequence[Sequence[Any]]]


def _in_transaction(w: Any) -> Reader:
    """A reader over write transaction ``w`` (the store's own reader is its ``q``)."""
    return lambda sql, params: w.execute(sql, params).fetchall()


class IncrementalClusterer:
    """Keeps the library's labelling up to date as faces are committed (see the module docstring).

    ``step()`` clusters the faces committed since the last step; ``step(full=True)`` re-clusters
    everything at the current threshold. Each step writes back only the faces whose cluster
    changed, and only when none of them changed meanwhile (see :meth:`step`), so a ``name`` or
    ``merge`` made by another process is never overwritten."""

    def __init__(self, store: Any, model: str, *, home: Any = None, threshold: float | None = None) -> None:
        self.store = store
        self.model = model
        self.home = home
        self.fixed_threshold = threshold
        self._ids = np.zeros(0, np.int64)
        self._X: np.ndarray = np.zeros((0, 0), np.float32)
        self.last_threshold: float | None = None
        self.last_source: str | None = None

    def threshold(self, n_faces: int) -> tuple[float, str]:
        from faceprint.matching.thresholds import resolve_cluster_threshold

        if self.fixed_threshold is not None:
            return float(self.fixed_threshold), "argument"
        t = resolve_cluster_threshold(self.model, max(n_faces, 2), method="chinese_whispers", home=self.home)
        return t.value, t.source

    def _vectors(self, ids: np.ndarray) -> np.ndarray:
        if self._ids.size != ids.size or not np.array_equal(self._ids, ids):
            known = dict(zip(self._ids.tolist(), range(self._ids.size), strict=True))
            extra = self.store.vectors([int(i) for i in ids.tolist() if i not in known])
            rows = [self._X[known[i]] if i in known else extra[i] for i in ids.tolist()]
            self._X = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
            self._ids = ids.copy()
        return self._X

    def step(self, *, full: bool = False) -> int:
        """One clustering step; returns the number of faces whose cluster changed.

        The labels are computed from a snapshot read outside any write transaction (a full step
        over 10,000 faces takes seconds; holding the write lock that long would stall the photos
        being committed meanwhile), then written in one transaction that first checks that none of
        the snapshot's faces changed cluster, pin or existence meanwhile. When one did (a ``name``,
        ``merge``, ``split`` or delete by another process), the step is computed again; after
        :data:`OPTIMISTIC_TRIES` such races it runs wholly inside the write transaction."""
        t0 = time.perf_counter()
        for _ in range(OPTIMISTIC_TRIES):
            snap = self._snapshot(self.store.q, full)
            if snap is None:
                return 0
            out, thr = self._compute(snap)
            with self.store.write() as w:
                if self._rows(_in_transaction(w), upto=int(snap.ids[-1])) != snap.rows:
                    logger.info("clustering step: faces changed meanwhile; computing it again")
                    continue
                changed = self._apply(w, snap, out)
            break
        else:
            with self.store.write() as w:
                snap = self._snapshot(_in_transaction(w), full)
                if snap is None:
                    return 0
                out, thr = self._compute(snap)
                changed = self._apply(w, snap, out)
        logger.info("clustering step (%s): %d faces, threshold %.4f, %d changed in %.2f s",
                    "full" if snap.full else "incremental", snap.ids.size, thr, changed, time.perf_counter() - t0)
        return changed

    def _rows(self, read: Reader, upto: int | None = None) -> list[tuple[Any, ...]]:
        """The (id, cluster, pinned) rows of this model's faces (with ids ``<= upto``), by id."""
        if upto is None:
            return [tuple(r) for r in read(_FACES + " ORDER BY id", (self.model,))]
        return [tuple(r) for r in read(_FACES + " AND id <= ? ORDER BY id", (self.model, upto))]

    def _snapshot(self, read: Reader, full: bool) -> _Snapshot | None:
        """What a step starts from, read with ``read``; None when there is nothing to do."""
        rows = self._rows(read)
        if not rows:
            return None
        ids = np.array([r[0] for r in rows], np.int64)
        labels = np.array([-1 if r[1] is None else r[1] for r in rows], np.int64)
        pinned = np.array([bool(r[2]) for r in rows], bool)
        meta = read("SELECT value FROM library_meta WHERE key = 'refresh_n'", ())
        last = int(meta[0][0]) if meta else 0
        if ids.size >= REFRESH_GROWTH * max(last, 1) and ids.size > last:
            full = True
        if not full and not (labels < 0).any():
            return None
        return _Snapshot(rows, ids, labels, pinned, full)

    def _compute(self, snap: _Snapshot) -> tuple[np.ndarray, float]:
        n = snap.ids.size
        thr, src = self.threshold(n)
        self.last_threshold, self.last_source = thr, src
        X = self._vectors(snap.ids)
        new = np.arange(n) if snap.full else np.nonzero(snap.labels < 0)[0]
        return update_labels(X, snap.labels, snap.pinned, thr, new=new), thr

    def _apply(self, w: Any, snap: _Snapshot, out: np.ndarray) -> int:
        changed = self._write_labels(w, snap.ids, snap.labels, out)
        if snap.full:
            w.execute("INSERT OR REPLACE INTO library_meta(key, value) VALUES ('refresh_n', ?)", (str(snap.ids.size),))
        w.execute("DELETE FROM clusters WHERE name IS NULL AND id NOT IN "
                  "(SELECT cluster_id FROM faces WHERE cluster_id IS NOT NULL)")
        return changed

    @staticmethod
    def _write_labels(w: Any, ids: np.ndarray, old: np.ndarray, new: np.ndarray) -> int:
        now = time.time()
        fresh: dict[int, int] = {}
        updates: list[tuple[int, int]] = []
        for fid, a, b in zip(ids.tolist(), old.tolist(), new.tolist(), strict=True):
            if b <= -2:
                if b not in fresh:
                    fresh[b] = int(w.execute("INSERT INTO clusters(name, created) VALUES (NULL, ?)", (now,)).lastrowid)
                b = fresh[b]
            if a != b:
                updates.append((b, fid))
        w.executemany("UPDATE faces SET cluster_id = ? WHERE id = ?", updates)
        return len(updates)


def batch_labels(X: np.ndarray, threshold: float) -> np.ndarray:
    """Batch Chinese whispers over ``X`` at ``threshold`` (the reference the incremental steps are measured against)."""
    from faceprint.cluster import ChineseWhispers

    return ChineseWhispers(threshold=threshold).fit(X).labels_


def incremental_labels(X: np.ndarray, threshold_for: Any, batches: Sequence[int]) -> np.ndarray:
    """Simulate a library that receives ``X``'s rows in batches of the given sizes, stepping as
    :class:`IncrementalClusterer` does (full steps on :data:`REFRESH_GROWTH` and at the end);
    ``threshold_for(n)`` gives the threshold for n faces. For tests and benchmarks."""
    n_total = X.shape[0]
    labels = np.full(n_total, -1, np.int64)
    pinned = np.zeros(n_total, bool)
    next_id = 0
    last_full = 0
    n = 0
    for size in [*batches, 0]:
        end = n_total if size == 0 else min(n_total, n + size)
        n_prev, n = n, end
        full = size == 0 or n >= REFRESH_GROWTH * max(last_full, 1)
        if not full and n == n_prev:
            continue
        new = np.arange(n) if full else np.arange(n_prev, n)
        out = update_labels(X[:n], labels[:n], pinned[:n], threshold_for(n), new=new)
        mapping: dict[int, int] = {}
        for k, b in enumerate(out.tolist()):
            if b <= -2:
                if b not in mapping:
                    mapping[b] = next_id
                    next_id += 1
                out[k] = mapping[b]
        labels[:n] = out
        if full:
            last_full = n
        if size == 0:
            break
    return labels
