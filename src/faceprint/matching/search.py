"""Gallery search: the vector-index cache of a store, its change-log replay, identity templates.

:class:`GallerySearch` keeps an in-memory :class:`~faceprint.matching.index.VectorIndex` of the
store's faces (exact below :data:`~faceprint.matching.index.HNSW_MIN_SIZE` faces, FAISS HNSW above,
persisted beside an SQLite file as ``<file>.index.npz`` with the store stamp it reflects). Before
every search it compares the stamp (one small query) and replays the store's change log, so
enrollments and deletions made by any process take effect at once. Under ``combine="mean"`` it
also keeps one L2-normalised mean template per identity, updated incrementally.

A store with ``native_search`` (PostgreSQL) searches itself; no local index is kept.

**One model per search.** A gallery holding several models has one :class:`GallerySearch` per
model (``model=``): its index, templates, change-log replay and composition see only that model's
embeddings, so comparisons never mix models. ``model=None`` follows the store's primary model.
Snapshots are per model (``<file>.index.npz`` for the primary model, as before, and
``<file>.index.<model>.npz`` for the others).

The index snapshot never holds a deleted face's embedding for longer than the deletion call:
:meth:`GallerySearch.forget_deleted` drops the file before the store deletes and rewrites it
after; a snapshot written while another process deletes is dropped again when the log shows it.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from faceprint.errors import GalleryError, InvalidInput
from faceprint.matching.index import HNSW_MIN_SIZE, FlatIndex, VectorIndex, choose_kind, load_index, new_index, save_index
from faceprint.matching.store.base import Change, CountsTemplates, GalleryStore, SearchesIdentities

logger = logging.getLogger(__name__)

Combine = Literal["max", "mean"]
IndexKind = Literal["auto", "flat", "hnsw"]
#: One search hit: ``(identity_id, score, face_id)`` (face_id -1 under the mean rule).
Hit = tuple[int, float, int]

__all__ = ["Combine", "GallerySearch", "Hit", "IndexKind", "index_path_of", "snapshot_paths"]


def index_path_of(store: GalleryStore, model: str | None = None) -> Path | None:
    """Where the index snapshot of ``store``'s ``model`` embeddings lives (None for stores without
    a local file). ``model=None``: the single-model name used before galleries held several."""
    if store.native_search or "://" in store.location:
        return None
    loc = Path(store.location)
    if model is None:
        return loc.with_name(loc.name + ".index.npz")
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", model)
    return loc.with_name(f"{loc.name}.index.{slug}.npz")


def snapshot_paths(store: GalleryStore) -> list[Path]:
    """Every index snapshot file beside ``store`` (any model, and the single-model name)."""
    p = index_path_of(store)
    if p is None:
        return []
    return sorted(p.parent.glob(glob.escape(Path(store.location).name) + ".index*.npz"))


class GallerySearch:
    """The search side of a gallery over one store (thread-safe)."""

    def __init__(
        self,
        store: GalleryStore,
        *,
        index: IndexKind = "auto",
        combine: Combine = "mean",
        persist: bool = True,
        model: str | None = None,
    ) -> None:
        self.store = store
        #: the model whose embeddings this search sees (None: the store's primary model, looked up)
        self.model = model
        self.combine: Combine = combine
        self.persist = persist
        self._index_kind = index
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._stamp: tuple[str, int] | None = None
        self._index_model: str | None = None
        self._unsaved = 0  # changes applied to the index since it was last saved
        # mean rule: per-identity sum of unit vectors and count, and a flat index of templates
        self._tsum: dict[int, np.ndarray] = {}
        self._tcount: dict[int, int] = {}
        self._templates: FlatIndex | None = None
        # open-set threshold inputs: ((uuid, combine), seq, faces, composition)
        self._comp: tuple[tuple[str, str], int, int, dict[int, int]] | None = None
        self._native_mean = isinstance(store, SearchesIdentities)
        self._counts_templates = isinstance(store, CountsTemplates)

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def tag(self) -> str | None:
        """The model searched: ``model``, else the store's primary model (None while it has none)."""
        if self.model is not None:
            return self.model
        m = self.store.model()
        return m[0] if m else None

    @property
    def index_path(self) -> Path | None:
        """The snapshot file: ``<file>.index.npz`` for the primary model's search (the name it had
        when galleries held one model, so their snapshots stay valid), ``<file>.index.<model>.npz``
        for another model's."""
        return index_path_of(self.store, self.model)

    def reset(self) -> None:
        """Forget the in-memory index and templates (after the store's model was replaced)."""
        with self._lock:
            self._index, self._stamp, self._templates = None, None, None

    # ---------------------------------------------------------------- index

    def _want_kind(self, n: int, current: str | None) -> str:
        if self._index_kind != "auto":
            return self._index_kind
        if current == "hnsw" and n >= HNSW_MIN_SIZE // 2:
            return "hnsw"  # hysteresis: don't flip back and forth around the threshold
        return choose_kind(n)

    def sync(self) -> VectorIndex | None:
        """Bring the index up to date with the store: load it from disk, catch up from the change
        log, or rebuild it. Called before every search; costs one small query when nothing changed."""
        if self.store.native_search:
            return None
        with self._lock:
            stamp = self.store.stamp()
            if self._index is not None and self._stamp == stamp:
                return self._index
            tag = self.tag()
            path = self.index_path
            if self._index is None and self.persist and path is not None:
                loaded = load_index(path)
                if loaded is not None:
                    idx, meta = loaded
                    if meta.get("model") == tag and meta["stamp"][0] == stamp[0] and int(meta["stamp"][1]) <= stamp[1]:
                        self._index, self._stamp, self._index_model = idx, (meta["stamp"][0], int(meta["stamp"][1])), tag
                        self._templates = None
                        logger.debug("loaded index %s (%d faces, stamp %s)", path, len(idx), meta["stamp"])
            if self._index is not None and self._stamp is not None and self._stamp[0] == stamp[0] and self._index_model == tag:
                changes = self.store.changes_since(self._stamp[1], model=tag)
                if changes is not None and len(changes) <= max(10000, len(self._index)):
                    self._apply_changes(self._index, changes)
                    # changes are of this model only: the stamp moves to the store's (or past it)
                    self._stamp = (stamp[0], max(stamp[1], changes[-1].seq if changes else 0))
                    self._unsaved += len(changes)
                    self._maybe_switch_kind()
                    return self._index
            return self._rebuild(stamp, tag)

    def _rebuild(self, stamp: tuple[str, int], tag: str | None) -> VectorIndex:
        fids, iids, mat = self.store.vectors(model=tag)  # read after the stamp: replays are idempotent
        kind = self._want_kind(len(fids), None)
        idx = new_index(kind, mat.shape[1] if len(fids) else None)
        if len(fids):
            idx.add(fids, iids, mat)
        logger.info("built %s index of %d faces from %s", kind, len(fids), self.store.location)
        self._index, self._stamp, self._index_model = idx, stamp, tag
        self._templates = None
        self._unsaved = len(fids) + 1
        if len(fids) >= 10000:
            self.save()
        return idx

    def _apply_changes(self, index: VectorIndex, changes: Sequence[Change]) -> None:
        last: dict[int, str] = {}
        for ch in changes:
            last[ch.face_id] = ch.op
        dels = [f for f, op in last.items() if op == "del"]
        adds = [f for f, op in last.items() if op == "add"]
        if self._templates is not None and last:
            old_iids, old_vecs = index.get(list(last))  # rows about to be removed or replaced
            if len(old_iids):
                self._template_update(old_iids, old_vecs, sign=-1.0)
        index.remove(dels)
        if adds:
            fids, iids, mat = self.store.vectors(adds, model=self._index_model)
            if len(fids):
                index.add(fids, iids, mat)
                if self._templates is not None:
                    self._template_update(iids, mat, sign=1.0)

    def _maybe_switch_kind(self) -> None:
        index = self._index
        if index is None:
            return
        want = self._want_kind(len(index), index.kind)
        if want != index.kind and len(index):
            fids = index.face_ids()
            iids, mat = index.get(fids.tolist())
            idx = new_index(want, mat.shape[1])
            idx.add(fids, iids, mat)
            logger.info("switched gallery index from %s to %s at %d faces", index.kind, want, len(fids))
            self._index = idx
            self._unsaved = len(fids) + 1

    def save(self) -> Path | None:
        """Write the index snapshot beside the store (atomic); failures are logged, never raised
        (it is a cache). The index is caught up first, so the file never holds a face deleted
        before the write; if the store logs deletions while it is written, the file is dropped."""
        with self._lock:
            path = self.index_path
            if path is None or self._index is None or self._stamp is None or not self.persist:
                return None
            try:
                self.sync()
                index, stamp = self._index, self._stamp
                if index is None or stamp is None:
                    return None
                save_index(index, path, stamp=stamp, model=self._index_model)
                later = self.store.changes_since(stamp[1], model=self._index_model)
                if later is None or any(ch.op == "del" for ch in later):
                    self.drop_snapshot()  # deleted meanwhile by another process: not kept on disk
                    return None
                self._unsaved = 0
                return path
            except (OSError, GalleryError) as e:
                logger.warning("could not save the gallery index to %s (%s); it will be rebuilt next time", path, e)
                return None

    def drop_snapshot(self) -> None:
        """Remove the index snapshot file (it is rebuilt or re-saved later)."""
        path = self.index_path
        if path is None:
            return
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            logger.warning("could not remove the gallery index %s (%s)", path, e)

    def forget_deleted(self, had_snapshot: bool) -> None:
        """After the store deleted faces: catch the index up (dead HNSW rows are scrubbed by the
        index) and rewrite the snapshot without them when there was one."""
        if self.store.native_search:
            return
        with self._lock:
            self.sync()
            if had_snapshot and self.persist:
                self.save()

    def close(self) -> None:
        with self._lock:
            n = len(self._index) if self._index is not None else 0
            # small indexes are always saved; a large one once 1% of it changed (until then, the
            # next process replays the few changes from the store's log: cheaper than rewriting it)
            if self._unsaved and (n < HNSW_MIN_SIZE or self._unsaved >= 0.01 * n):
                self.save()

    # --------------------------------------------------------- composition

    def composition(self) -> dict[int, int]:
        """What a probe is compared with, for the open-set threshold: ``{photos per template:
        identities}`` under the mean rule, ``{1: faces}`` under the max rule.

        Cached; recounted once the store changed by more than 1 % of the gallery's faces since the
        last count (the threshold moves with log N: a 1 % change in N moves it by ~1e-5)."""
        native = self.store.native_search
        with self._lock:
            stamp = self.store.stamp()
            c = self._comp
            if c is not None and c[0] == (stamp[0], self.combine) and abs(stamp[1] - c[1]) <= 0.01 * c[2]:
                return c[3]
            hist: dict[int, int]
            current = not native and self._index is not None and self._stamp == stamp  # the in-memory index is up to date
            tag = self.tag()
            if self.combine == "max":
                n = len(self._index) if current and self._index is not None else self.store.model_counts().get(tag or "", 0)
                hist = {1: int(n)} if n else {}
            elif current and self._templates is not None:
                counts = np.fromiter(self._tcount.values(), dtype=np.int64, count=len(self._tcount))
                u, k = np.unique(counts[counts > 0], return_counts=True)
                hist = dict(zip(u.tolist(), k.tolist(), strict=True))
            elif self._counts_templates and isinstance(self.store, CountsTemplates):
                hist = dict(self.store.template_sizes(model=tag))
            else:
                _, iids, _ = self.store.vectors(model=tag)
                _, per = np.unique(iids, return_counts=True)
                u, k = np.unique(per, return_counts=True)
                hist = dict(zip(u.tolist(), k.tolist(), strict=True))
            self._comp = ((stamp[0], self.combine), stamp[1], sum(k * v for k, v in hist.items()), hist)
            return hist

    # --------------------------------------------------------- mean templates

    def _template_update(self, iids: np.ndarray, mat: np.ndarray, sign: float) -> None:
        templates = self._templates
        if templates is None:
            return
        touched = set()
        for iid, v in zip(iids.tolist(), mat, strict=True):
            s = self._tsum.get(iid)
            self._tsum[iid] = (s if s is not None else np.zeros(mat.shape[1])) + sign * v.astype(np.float64)
            self._tcount[iid] = self._tcount.get(iid, 0) + int(sign)
            touched.add(iid)
        gone = [i for i in touched if self._tcount.get(i, 0) <= 0]
        for i in gone:
            self._tsum.pop(i, None)
            self._tcount.pop(i, None)
        templates.remove(list(touched))
        keep = [i for i in touched if i in self._tsum]
        if keep:
            t = np.stack([self._tsum[i] for i in keep])
            t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
            templates.add(np.array(keep), np.array(keep), t.astype(np.float32))

    def _ensure_templates(self, index: VectorIndex) -> FlatIndex:
        if self._templates is None:
            _, iids, mat = index.rows()
            templates = FlatIndex()
            self._tsum, self._tcount = {}, {}
            if len(iids):
                order = np.argsort(iids, kind="stable")
                iids, mat = iids[order], mat[order].astype(np.float64)
                u, start, counts = np.unique(iids, return_index=True, return_counts=True)
                sums = np.add.reduceat(mat, start, axis=0)
                self._tsum = dict(zip(u.tolist(), sums, strict=True))
                self._tcount = dict(zip(u.tolist(), counts.tolist(), strict=True))
                t = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
                templates.add(u, u, t.astype(np.float32))
            self._templates = templates
        return self._templates

    # --------------------------------------------------------------- search

    def search(self, queries: np.ndarray, k: int, *, mean_exact_max: int) -> list[list[Hit]]:
        """Top-``k`` identities for each query vector, best first, under the ``combine`` rule.
        ``mean_exact_max``: up to this many identities every mean template is scored exactly."""
        if k < 1:
            raise InvalidInput(f"k must be >= 1, got {k}")
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None]
        if self.store.native_search:
            return self._search_native(q, k)
        with self._lock:
            idx = self.sync()
            if idx is None:  # pragma: no cover - only native stores have no index
                return [[] for _ in range(len(q))]
            if self.combine == "mean":
                return self._search_mean(idx, q, k, mean_exact_max)
            n = len(idx)
            out: list[list[Hit]] = [[] for _ in range(len(q))]
            todo: np.ndarray = np.arange(len(q))
            kk = min(n, max(4 * k, k + 16))
            while todo.size and n:
                s, f, ii = idx.search(q[todo], kk)
                again = []
                for row, qi in enumerate(todo):
                    res = first_per_identity(s[row], f[row], ii[row], k)
                    out[qi] = res
                    if len(res) < k and kk < n:
                        again.append(qi)
                todo = np.asarray(again, dtype=np.int64)
                kk = min(n, kk * 4)
            return out

    def _search_mean(self, idx: VectorIndex, q: np.ndarray, k: int, exact_max: int) -> list[list[Hit]]:
        """Mean rule: exact over all identity templates up to ``exact_max`` identities; above,
        the identities of the top faces (face-level ANN search) are re-scored by their template."""
        t = self._ensure_templates(idx)
        if len(t) <= exact_max:
            s, _, ii = t.search(q, k)
            return [[(int(i), float(v), -1) for v, i in zip(sr, ir, strict=True) if i >= 0] for sr, ir in zip(s, ii, strict=True)]
        kk = min(len(idx), max(8 * k, 64))
        _, _, ii = idx.search(q, kk)
        out = []
        for row in range(len(q)):
            cands = np.unique(ii[row][ii[row] >= 0])
            tid, tv = t.get(cands.tolist())
            sc = tv @ q[row]
            o = np.argsort(-sc)[:k]
            out.append([(int(tid[j]), float(sc[j]), -1) for j in o])
        return out

    def _search_native(self, q: np.ndarray, k: int) -> list[list[Hit]]:
        store = self.store
        tag = self.tag()
        if self.combine == "mean":
            if not isinstance(store, SearchesIdentities):
                raise InvalidInput("this store does not support combine='mean'")
            _, _, ii = store.search(q, max(8 * k, 64), model=tag)  # candidates: identities of the nearest faces
            among = [sorted({int(i) for i in row if i >= 0}) for row in ii]
            return store.search_identities(q, k, among, model=tag)
        kk = max(4 * k, k + 16)
        s, f, ii = store.search(q, kk, model=tag)
        return [first_per_identity(s[r], f[r], ii[r], k) for r in range(len(q))]


def first_per_identity(s: np.ndarray, f: np.ndarray, ii: np.ndarray, k: int) -> list[Hit]:
    """The first (best) hit of each identity in one row of face-level results, up to ``k``."""
    seen: set[int] = set()
    res: list[Hit] = []
    for v, fid, iid in zip(s.tolist(), f.tolist(), ii.tolist(), strict=True):
        if iid < 0 or iid in seen:
            continue
        seen.add(iid)
        res.append((iid, v, fid))
        if len(res) == k:
            break
    return res


def snapshot_exists(store: GalleryStore) -> bool:
    """Whether any index snapshot file lies beside ``store``."""
    return any(os.path.exists(p) for p in snapshot_paths(store))
