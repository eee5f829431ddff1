"""A persistent gallery of enrolled people: enroll, identify, delete, list, export/import, re-embed.

    >>> g = Gallery()                                   # $FACEPRINT_HOME/gallery.sqlite  # doctest: +SKIP
    >>> g.enroll("ada", ["ada1.jpg", "ada2.jpg"])        # doctest: +SKIP
    >>> [f.identity for f in g.identify("group.jpg")]   # "ada" / None (unknown) per face  # doctest: +SKIP

A :class:`Gallery` composes a **store** (durable truth: SQLite by default, or PostgreSQL), a
**vector index** (a cache of the store's embeddings: exact below
:data:`~faceprint.matching.index.HNSW_MIN_SIZE` faces, FAISS HNSW above, persisted beside the
SQLite file and caught up from the store's change log before every search, so enrollments and
deletions made by any process are seen at once) and a **pipeline** (detect → align → embed).

Identity-level templates
    A person may have several enrolled faces. ``combine="mean"`` (the default) scores a person by
    the cosine between the probe and the L2-normalised mean of their enrolled embeddings, which
    averages out per-photo noise (pose, light, expression). ``combine="max"`` scores a person by their
    best-matching enrolled face (nearest-neighbour rule). Chosen by measurement on LFW
    (``benchmarks/gallery_lfw.py`` → ``benchmarks/results/gallery_lfw.json``; dlib ResNet; people not
    used for calibration, 3 splits of 140 people enrolled with 3 photos each among 1,034
    single-photo people, 4,354 non-mated searches): mean gave rank-1 0.993 vs 0.984 for max, and
    DIR at the open-set threshold for FPIR 1e-2 0.915 vs 0.820 (observed FPIR 0.0078 / 0.0062).
    With one photo per person the two rules are identical. Caveat, also measured: the mean rule favours people
    enrolled with more photos — among 100k synthetic distractor faces (3 per synthetic person) real
    single-photo people were found at rank 1 less often with mean (0.810) than with max (0.840).
    Up to :data:`MEAN_EXACT_MAX` people every template is scored exactly; above, the people owning
    the nearest enrolled faces (from the face index) are re-scored by their template.

Open set
    A face whose best identity scores below the decision threshold is reported unknown
    (``identity is None``); its candidates are still listed. Unless a ``threshold=`` is given, the
    threshold depends on the gallery: with N people enrolled, a person who is not enrolled meets N
    impostor comparisons, so the threshold is solved for a target false-positive identification
    rate (``target_fpir``, default 1e-2) from the calibrated per-comparison impostor tail:
    ``FPIR(t) = 1 − Π_k (1 − FAR_k(t))^{n_k}`` over the ``n_k`` identities whose template
    averages ``k`` photos (``combine="max"``: every enrolled face is a comparison). See
    :mod:`faceprint.matching.open_set` and
    :func:`~faceprint.matching.thresholds.resolve_identification_threshold` (precedence). Each
    result reports the threshold, its source, the per-comparison FAR (``far_estimate``) and the
    predicted FPIR (``fpir_estimate``) at its best score. Measured on LFW identities never used for
    calibration: ``benchmarks/gallery_lfw.py``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from faceprint.config import home_dir
from faceprint.errors import (
    GalleryError,
    InvalidImage,
    InvalidInput,
    MultipleFaces,
    NoFaceFound,
)
from faceprint.matching.index import HNSW_MIN_SIZE, FlatIndex, VectorIndex, choose_kind, load_index, new_index, save_index
from faceprint.matching.store.base import FaceRecord, GalleryStore, IdentityRecord, NewFace
from faceprint.pipeline import Selection, select_face
from faceprint.types import Box, Embedding, Face

logger = logging.getLogger(__name__)

Combine = Literal["max", "mean"]
GALLERY_FILE = "gallery.sqlite"
#: combine="mean": up to this many identities every template is scored exactly; above, only the
#: identities of the nearest faces (ANN) are re-scored by their template.
MEAN_EXACT_MAX = 10_000


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class Candidate:
    identity: str
    score: float  # cosine similarity to the identity's template (see `combine`)
    face_id: int  # the enrolled face that matched best (max rule); -1 under the mean rule

    def to_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "score": round(self.score, 6), "face_id": self.face_id}


@dataclass(frozen=True)
class IdentifiedFace:
    """One face of a probe image: its top-k identities and the open-set decision."""

    box: Box | None
    candidates: tuple[Candidate, ...]
    identity: str | None  # the best candidate when its score reaches the threshold, else None
    score: float | None  # the best candidate's score (None when the gallery is empty)
    threshold: float
    threshold_source: str
    far_estimate: float | None = None  # per-comparison false-accept rate at the best score
    detection_score: float | None = None
    fpir_estimate: float | None = None  # predicted FPIR of this gallery at the best score (open-set model)

    @property
    def is_unknown(self) -> bool:
        return self.identity is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": None if self.box is None else [round(v, 2) for v in self.box.as_tuple()],
            "detection_score": None if self.detection_score is None else round(self.detection_score, 4),
            "identity": self.identity,
            "unknown": self.identity is None,
            "score": None if self.score is None else round(self.score, 6),
            "threshold": round(self.threshold, 6),
            "threshold_source": self.threshold_source,
            "far_estimate": self.far_estimate,
            "fpir_estimate": self.fpir_estimate,
            "candidates": [c.to_dict() for c in self.candidates],
        }


EnrollStatus = Literal["enrolled", "duplicate", "error"]


@dataclass(frozen=True)
class EnrollOutcome:
    """What happened to one image. ``enrolled``/``duplicate`` outcomes are durable when reported."""

    name: str
    source: str
    status: EnrollStatus
    face_id: int | None = None
    box: Box | None = None
    error: str | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "error"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "source": self.source, "status": self.status, "face_id": self.face_id}
        if self.box is not None:
            d["box"] = [round(v, 2) for v in self.box.as_tuple()]
        if self.error:
            d["error"] = self.error
            d["error_code"] = self.error_code
        return d


@dataclass(frozen=True)
class EnrollResult:
    name: str
    outcomes: tuple[EnrollOutcome, ...]

    @property
    def n_enrolled(self) -> int:
        return sum(o.status == "enrolled" for o in self.outcomes)

    @property
    def n_duplicates(self) -> int:
        return sum(o.status == "duplicate" for o in self.outcomes)

    @property
    def face_ids(self) -> list[int]:
        return [o.face_id for o in self.outcomes if o.face_id is not None]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "enrolled": self.n_enrolled, "duplicates": self.n_duplicates, "images": [o.to_dict() for o in self.outcomes]}


@dataclass(frozen=True)
class ReembedReport:
    model_from: str | None
    model_to: str
    n_reembedded: int
    n_dropped: int
    dropped: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"model_from": self.model_from, "model_to": self.model_to, "reembedded": self.n_reembedded, "dropped": self.n_dropped, "dropped_sources": list(self.dropped[:50])}


# ------------------------------------------------------------------ helpers


@dataclass
class _Source:
    """An enrollment/identification input read once: its bytes' hash and its decoded pixels."""

    name: str
    sha256: str
    image: np.ndarray | None = None
    embedding: Embedding | None = None


def _describe(item: Any, i: int = 0) -> str:
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    if isinstance(item, Embedding):
        return f"<embedding {i}>"
    if isinstance(item, np.ndarray):
        return f"<array {i}>"
    return f"<bytes {i}>"


def _read_source(item: Any, i: int = 0) -> _Source:
    """Hash and decode one input (path, bytes, file object, RGB array or Embedding)."""
    from faceprint.io import load_image

    if isinstance(item, Embedding):
        h = hashlib.sha256(item.model.encode() + b"\0" + item.vector.tobytes()).hexdigest()
        return _Source(f"<embedding {i}>", h, embedding=item)
    if isinstance(item, np.ndarray):
        if not (item.ndim == 3 and item.shape[2] == 3 and item.dtype == np.uint8):
            raise InvalidImage(f"arrays must be (H, W, 3) uint8 RGB, got {item.shape} {item.dtype}")
        h = hashlib.sha256(repr(item.shape).encode() + np.ascontiguousarray(item).tobytes()).hexdigest()
        return _Source(f"<array {i}>", h, image=item)
    if isinstance(item, (str, os.PathLike)):
        p = Path(item)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise InvalidImage("file not found", source=str(item)) from None
        except OSError as e:
            raise InvalidImage(f"cannot read file: {e}", source=str(item)) from None
        name = str(p.resolve())
    elif isinstance(item, (bytes, bytearray, memoryview)):
        data, name = bytes(item), f"<bytes {i}>"
    elif hasattr(item, "read"):
        data, name = item.read(), getattr(item, "name", f"<file {i}>")
        if not isinstance(data, bytes):
            raise InvalidInput("file objects must be opened in binary mode")
    else:
        raise InvalidInput(f"unsupported image input of type {type(item).__name__}")
    h = hashlib.sha256(data).hexdigest()
    return _Source(name, h, image=load_image(data, name=name))


def _as_list(images: Any) -> list[Any]:
    if isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview, Embedding)) or hasattr(images, "read"):
        return [images]
    if isinstance(images, np.ndarray) and images.ndim == 3:
        return [images]
    return list(images)


def _error_outcome(name: str, source: str, e: BaseException) -> EnrollOutcome:
    code = getattr(e, "code", type(e).__name__)
    msg = str(e)
    if getattr(e, "source", None) and msg.startswith(f"{e.source}: "):  # type: ignore[attr-defined]
        msg = msg[len(e.source) + 2 :]  # type: ignore[attr-defined]
    return EnrollOutcome(name=name, source=source, status="error", error=msg, error_code=code)


# ------------------------------------------------------------------- gallery


class Gallery:
    """A persistent gallery.

    Args:
        home: data directory (default: ``--home`` / ``$FACEPRINT_HOME`` / the user data dir, see
            :func:`faceprint.config.home_dir`); the SQLite store is ``<home>/gallery.sqlite``.
        pipeline: the :class:`~faceprint.pipeline.Pipeline` used to embed images (default: the
            process-wide default pipeline, built on first use).
        store: a :class:`~faceprint.matching.store.base.GalleryStore` (e.g. a
            :class:`~faceprint.matching.store.postgres.PostgresStore`), or a location string for
            :func:`~faceprint.matching.store.open_store`; overrides ``home`` for storage.
        index: ``"auto"`` (exact below HNSW_MIN_SIZE faces, HNSW above), ``"flat"`` or ``"hnsw"``.
            Ignored for stores with native vector search (PostgreSQL).
        threshold: fixed decision threshold (cosine); default: solved for ``target_fpir`` and the
            gallery's size (see the module docstring).
        target_fpir: accepted false-positive identification rate (default: the calibration's, 1e-2).
        combine: identity template rule, ``"mean"`` (default) or ``"max"`` (see the module docstring).
        persist_index: save the index beside the SQLite file (on :meth:`close` and after rebuilds).
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        pipeline: Any = None,
        store: GalleryStore | str | os.PathLike[str] | None = None,
        *,
        index: str = "auto",
        threshold: float | None = None,
        target_fpir: float | None = None,
        combine: Combine = "mean",
        persist_index: bool = True,
    ) -> None:
        if target_fpir is not None and not 0.0 < float(target_fpir) < 1.0:
            raise InvalidInput(f"target_fpir must be in (0, 1), got {target_fpir}")
        if combine not in ("max", "mean"):
            raise InvalidInput(f"combine must be 'max' or 'mean', got {combine!r}")
        if index not in ("auto", "flat", "hnsw"):
            raise InvalidInput(f"index must be 'auto', 'flat' or 'hnsw', got {index!r}")
        self.home = home_dir(home)
        self._owns_store = not hasattr(store, "add_faces")
        if store is None:
            from faceprint.matching.store.sqlite import SqliteStore

            self.store: GalleryStore = SqliteStore(self.home / GALLERY_FILE)
        elif isinstance(store, (str, os.PathLike)):
            from faceprint.matching.store import open_store

            self.store = open_store(store)
        else:
            self.store = store
        self._pipeline = pipeline
        self._index_kind = index
        self._threshold = threshold
        self.target_fpir = None if target_fpir is None else float(target_fpir)
        self.combine: Combine = combine
        self.persist_index = persist_index
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._stamp: tuple[str, int] | None = None
        self._index_model: str | None = None
        self._unsaved = 0  # changes applied to the index since it was last saved
        # mean rule: per-identity sum of unit vectors and count, and a flat index of templates
        self._tsum: dict[int, np.ndarray] = {}
        self._tcount: dict[int, int] = {}
        self._templates: FlatIndex | None = None
        # open-set threshold inputs: ((uuid, combine), seq, faces, composition), last resolution
        self._comp: tuple[tuple[str, str], int, int, dict[int, int]] | None = None
        self._thr_cache: tuple[Any, Any] | None = None

    # ------------------------------------------------------------- plumbing

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None:
            from faceprint.api import default_pipeline

            self._pipeline = default_pipeline()
        return self._pipeline

    @property
    def index_path(self) -> Path | None:
        loc = Path(self.store.location) if not self.store.native_search else None
        if loc is None or "://" in self.store.location:
            return None
        return loc.with_name(loc.name + ".index.npz")

    @property
    def model(self) -> str | None:
        """The gallery's embedding model tag (None while empty)."""
        m = self.store.model()
        return m[0] if m else None

    def threshold(self, model: str | None = None, *, threshold: float | None = None, target_fpir: float | None = None) -> Any:
        """The identification :class:`~faceprint.matching.calibration.Threshold` in force for this
        gallery as it is now (its value, source, target FPIR and the composition it was solved for)."""
        from faceprint.matching.thresholds import resolve_identification_threshold, user_open_set_path

        tag = model or self.model or self.pipeline.model_tag
        thr = threshold if threshold is not None else self._threshold
        fpir = target_fpir if target_fpir is not None else self.target_fpir
        if thr is not None:
            return resolve_identification_threshold(tag, {}, threshold=thr)
        comp = self.composition()
        try:  # a user calibration dropped in (or changed) while this gallery is open is picked up
            user_mtime = user_open_set_path(tag.split("@", 1)[0], self.home).stat().st_mtime_ns
        except OSError:
            user_mtime = None
        key = (tag, tuple(sorted(comp.items())), fpir, str(self.home), self.combine, user_mtime)
        cached = self._thr_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        unit = "faces" if self.combine == "max" else "identities"
        out = resolve_identification_threshold(tag, comp, target_fpir=fpir, unit=unit, home=self.home)
        self._thr_cache = (key, out)
        return out

    def composition(self) -> dict[int, int]:
        """What a probe is compared with, for the open-set threshold: ``{photos per template:
        identities}`` under the mean rule, ``{1: faces}`` under the max rule.

        Cached; recounted once the store changed by more than 1 % of the gallery's faces since the
        last count (the threshold moves with log N: a 1 % change in N moves it by ~1e-5), so it
        costs nothing per search."""
        native = self.store.native_search
        with self._lock:
            stamp = self.store.stamp()
            c = self._comp
            if c is not None and c[0] == (stamp[0], self.combine) and abs(stamp[1] - c[1]) <= 0.01 * c[2]:
                return c[3]
            hist: dict[int, int]
            current = not native and self._index is not None and self._stamp == stamp  # the in-memory index is up to date
            if self.combine == "max":
                n = len(self._index) if current and self._index is not None else self.store.count()[1]
                hist = {1: int(n)} if n else {}
            elif current and self._templates is not None:
                counts = np.fromiter(self._tcount.values(), dtype=np.int64, count=len(self._tcount))
                u, k = np.unique(counts[counts > 0], return_counts=True)
                hist = dict(zip(u.tolist(), k.tolist()))
            else:
                sizes = getattr(self.store, "template_sizes", None)
                if sizes is not None:
                    hist = dict(sizes())
                else:
                    hist = {}
                    for r in self.store.identities():
                        if r.n_faces:
                            hist[r.n_faces] = hist.get(r.n_faces, 0) + 1
            self._comp = ((stamp[0], self.combine), stamp[1], sum(k * v for k, v in hist.items()), hist)
            return hist

    def close(self) -> None:
        with self._lock:
            n = len(self._index) if self._index is not None else 0
            # small indexes are always saved; a large one once 1% of it changed (until then, the
            # next process replays the few changes from the store's log: cheaper than rewriting it)
            if self._unsaved and (n < HNSW_MIN_SIZE or self._unsaved >= 0.01 * n):
                self.save_index()
            if self._owns_store:
                self.store.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.store.count()[1]

    def count(self) -> tuple[int, int]:
        """(identities, faces)."""
        return self.store.count()

    # ---------------------------------------------------------------- index

    def _want_kind(self, n: int, current: str | None) -> str:
        if self._index_kind != "auto":
            return self._index_kind
        if current == "hnsw" and n >= HNSW_MIN_SIZE // 2:
            return "hnsw"  # hysteresis: don't flip back and forth around the threshold
        return choose_kind(n)

    def sync_index(self) -> VectorIndex | None:
        """Bring the index up to date with the store: load it from disk, catch up from the change
        log, or rebuild it. Called before every search; costs one small query when nothing changed."""
        if self.store.native_search:
            return None
        with self._lock:
            stamp = self.store.stamp()
            if self._index is not None and self._stamp == stamp:
                return self._index
            model = self.store.model()
            tag = model[0] if model else None
            if self._index is None and self.persist_index and self.index_path is not None:
                loaded = load_index(self.index_path)
                if loaded is not None:
                    idx, meta = loaded
                    if meta.get("model") == tag and meta["stamp"][0] == stamp[0] and int(meta["stamp"][1]) <= stamp[1]:
                        self._index, self._stamp, self._index_model = idx, (meta["stamp"][0], int(meta["stamp"][1])), tag
                        self._templates = None
                        logger.debug("loaded index %s (%d faces, stamp %s)", self.index_path, len(idx), meta["stamp"])
            if self._index is not None and self._stamp is not None and self._stamp[0] == stamp[0] and self._index_model == tag:
                changes = self.store.changes_since(self._stamp[1])
                if changes is not None and len(changes) <= max(10000, len(self._index)):
                    self._apply_changes(changes)
                    self._stamp = (stamp[0], changes[-1].seq if changes else self._stamp[1])
                    self._unsaved += len(changes)
                    self._maybe_switch_kind()
                    return self._index
            self._rebuild(stamp, tag)
            return self._index

    def _rebuild(self, stamp: tuple[str, int], tag: str | None) -> None:
        fids, iids, mat = self.store.vectors()  # read after the stamp: replays are idempotent
        kind = self._want_kind(len(fids), None)
        idx = new_index(kind, mat.shape[1] if len(fids) else None)
        if len(fids):
            idx.add(fids, iids, mat)
        logger.info("built %s index of %d faces from %s", kind, len(fids), self.store.location)
        self._index, self._stamp, self._index_model = idx, stamp, tag
        self._templates = None
        self._unsaved = len(fids) + 1
        if len(fids) >= 10000:
            self.save_index()

    def _apply_changes(self, changes: Sequence[Any]) -> None:
        assert self._index is not None
        last: dict[int, str] = {}
        for ch in changes:
            last[ch.face_id] = ch.op
        dels = [f for f, op in last.items() if op == "del"]
        adds = [f for f, op in last.items() if op == "add"]
        if self._templates is not None and last:
            old_iids, old_vecs = self._index.get(list(last))  # rows about to be removed or replaced
            if len(old_iids):
                self._template_update(old_iids, old_vecs, sign=-1.0)
        self._index.remove(dels)
        if adds:
            fids, iids, mat = self.store.vectors(adds)
            if len(fids):
                self._index.add(fids, iids, mat)
                if self._templates is not None:
                    self._template_update(iids, mat, sign=1.0)

    def _maybe_switch_kind(self) -> None:
        assert self._index is not None
        want = self._want_kind(len(self._index), self._index.kind)
        if want != self._index.kind and len(self._index):
            fids = self._index.face_ids()
            iids, mat = self._index.get(fids)
            idx = new_index(want, mat.shape[1])
            idx.add(fids, iids, mat)
            logger.info("switched gallery index from %s to %s at %d faces", self._index.kind, want, len(fids))
            self._index = idx
            self._unsaved = len(fids) + 1

    def save_index(self) -> Path | None:
        """Write the index beside the store (atomic); failures are logged, never raised (it is a cache)."""
        with self._lock:
            path = self.index_path
            if path is None or self._index is None or self._stamp is None or not self.persist_index:
                return None
            try:
                save_index(self._index, path, stamp=self._stamp, model=self._index_model)
                self._unsaved = 0
                return path
            except OSError as e:
                logger.warning("could not save the gallery index to %s (%s); it will be rebuilt next time", path, e)
                return None

    # --------------------------------------------------------- mean templates

    def _template_update(self, iids: np.ndarray, mat: np.ndarray, sign: float) -> None:
        assert self._templates is not None
        touched = set()
        for iid, v in zip(iids.tolist(), mat):
            s = self._tsum.get(iid)
            self._tsum[iid] = (s if s is not None else np.zeros(mat.shape[1])) + sign * v.astype(np.float64)
            self._tcount[iid] = self._tcount.get(iid, 0) + int(sign)
            touched.add(iid)
        gone = [i for i in touched if self._tcount.get(i, 0) <= 0]
        for i in gone:
            self._tsum.pop(i, None)
            self._tcount.pop(i, None)
        self._templates.remove(list(touched))
        keep = [i for i in touched if i in self._tsum]
        if keep:
            t = np.stack([self._tsum[i] for i in keep])
            t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
            self._templates.add(np.array(keep), np.array(keep), t.astype(np.float32))

    def _ensure_templates(self) -> FlatIndex:
        if self._templates is None:
            assert self._index is not None
            _, iids, mat = self._index.rows()
            self._templates = FlatIndex()
            self._tsum, self._tcount = {}, {}
            if len(iids):
                order = np.argsort(iids, kind="stable")
                iids, mat = iids[order], mat[order].astype(np.float64)
                u, start, counts = np.unique(iids, return_index=True, return_counts=True)
                sums = np.add.reduceat(mat, start, axis=0)
                self._tsum = dict(zip(u.tolist(), sums))
                self._tcount = dict(zip(u.tolist(), counts.tolist()))
                t = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
                self._templates.add(u, u, t.astype(np.float32))
        return self._templates

    # --------------------------------------------------------------- search

    def search(self, queries: np.ndarray, k: int = 5) -> list[list[tuple[int, float, int]]]:
        """Top-``k`` identities for each query vector: ``[(identity_id, score, face_id), ...]``
        best first, under the gallery's ``combine`` rule."""
        if k < 1:
            raise InvalidInput(f"k must be >= 1, got {k}")
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None]
        if self.store.native_search:
            return self._aggregate_native(q, k)
        with self._lock:
            idx = self.sync_index()
            assert idx is not None
            if self.combine == "mean":
                return self._search_mean(idx, q, k)
            n = len(idx)
            out: list[list[tuple[int, float, int]]] = [[] for _ in range(len(q))]
            todo = np.arange(len(q))
            kk = min(n, max(4 * k, k + 16))
            while todo.size and n:
                s, f, ii = idx.search(q[todo], kk)
                again = []
                for row, qi in enumerate(todo):
                    res = self._first_per_identity(s[row], f[row], ii[row], k)
                    out[qi] = res
                    if len(res) < k and kk < n:
                        again.append(qi)
                todo = np.asarray(again, dtype=np.int64)
                kk = min(n, kk * 4)
            return out

    def _search_mean(self, idx: VectorIndex, q: np.ndarray, k: int) -> list[list[tuple[int, float, int]]]:
        """Mean rule: exact over all identity templates up to MEAN_EXACT_MAX identities; above,
        the identities of the top faces (face-level ANN search) are re-scored by their template."""
        t = self._ensure_templates()
        if len(t) <= MEAN_EXACT_MAX:
            s, _, ii = t.search(q, k)
            return [[(int(i), float(v), -1) for v, i in zip(sr, ir) if i >= 0] for sr, ir in zip(s, ii)]
        kk = min(len(idx), max(8 * k, 64))
        _, _, ii = idx.search(q, kk)
        out = []
        for row in range(len(q)):
            cands = np.unique(ii[row][ii[row] >= 0])
            tid, tv = t.get(cands)
            sc = tv @ q[row]
            o = np.argsort(-sc)[:k]
            out.append([(int(tid[j]), float(sc[j]), -1) for j in o])
        return out

    @staticmethod
    def _first_per_identity(s: np.ndarray, f: np.ndarray, ii: np.ndarray, k: int) -> list[tuple[int, float, int]]:
        seen: set[int] = set()
        res = []
        for v, fid, iid in zip(s.tolist(), f.tolist(), ii.tolist()):
            if iid < 0 or iid in seen:
                continue
            seen.add(iid)
            res.append((iid, v, fid))
            if len(res) == k:
                break
        return res

    def _aggregate_native(self, q: np.ndarray, k: int) -> list[list[tuple[int, float, int]]]:
        if self.combine == "mean":
            search_identities = getattr(self.store, "search_identities", None)
            if search_identities is None:
                raise InvalidInput("this store does not support combine='mean'")
            _, _, ii = self.store.search(q, max(8 * k, 64))  # candidates: identities of the nearest faces
            among = [sorted({int(i) for i in row if i >= 0}) for row in ii]
            return search_identities(q, k, among)  # type: ignore[no-any-return]
        kk = max(4 * k, k + 16)
        s, f, ii = self.store.search(q, kk)
        return [self._first_per_identity(s[r], f[r], ii[r], k) for r in range(len(q))]

    def identify_embeddings(
        self,
        embeddings: Sequence[Embedding] | np.ndarray,
        k: int = 5,
        *,
        threshold: float | None = None,
        target_fpir: float | None = None,
        boxes: Sequence[Box | None] | None = None,
        detection_scores: Sequence[float | None] | None = None,
    ) -> list[IdentifiedFace]:
        """Identify already-computed embeddings (Embedding objects, or unit rows of a matrix in
        the gallery's model). ``threshold`` overrides the open-set threshold; ``target_fpir``
        changes the FPIR it is solved for (see the module docstring)."""
        if isinstance(embeddings, np.ndarray):
            q = np.asarray(embeddings, np.float32)
            if q.ndim == 1:
                q = q[None]
            model = self.model
        else:
            embs = list(embeddings)
            if not embs:
                return []
            models = {e.model for e in embs}
            model = self.model
            if model is not None and models != {model}:
                raise GalleryError(
                    f"the gallery holds embeddings of model {model}; these come from {sorted(models)}: "
                    "models are never mixed (re-embed the gallery with `faceprint gallery reembed`)"
                )
            model = model or embs[0].model
            q = np.stack([e.vector for e in embs])
        if model is None:
            model = self.pipeline.model_tag
        gm = self.store.model()
        if gm is not None and q.shape[1] != gm[1]:
            raise GalleryError(f"queries are {q.shape[1]}-d but the gallery's model {gm[0]} is {gm[1]}-d")
        if target_fpir is not None and not 0.0 < float(target_fpir) < 1.0:
            raise InvalidInput(f"target_fpir must be in (0, 1), got {target_fpir}")
        results = self.search(q, k) if gm is not None else [[] for _ in range(len(q))]
        thr = self.threshold(model, threshold=threshold, target_fpir=target_fpir)  # after the search: index is current
        names = self.store.identity_names([iid for r in results for iid, _, _ in r])
        out = []
        for i, res in enumerate(results):
            cands = tuple(Candidate(names.get(iid, f"#{iid}"), float(s), int(f)) for iid, s, f in res)
            best = cands[0] if cands else None
            known = best is not None and best.score >= thr.value
            out.append(
                IdentifiedFace(
                    box=boxes[i] if boxes is not None else None,
                    candidates=cands,
                    identity=best.identity if known and best else None,
                    score=best.score if best else None,
                    threshold=thr.value,
                    threshold_source=thr.source,
                    far_estimate=thr.far_at(best.score) if best else None,
                    detection_score=detection_scores[i] if detection_scores is not None else None,
                    fpir_estimate=thr.fpir_at(best.score) if best else None,
                )
            )
        return out

    def identify(
        self, image: Any, k: int = 5, *, threshold: float | None = None, target_fpir: float | None = None
    ) -> list[IdentifiedFace]:
        """Top-``k`` identities for every face in ``image`` (most prominent first), each with the
        open-set decision (threshold for ``target_fpir`` and this gallery's size unless
        ``threshold`` is given). ``image`` may also be an :class:`Embedding` (one result, no box).
        Returns ``[]`` when the image has no face."""
        if isinstance(image, Embedding):
            return self.identify_embeddings([image], k, threshold=threshold, target_fpir=target_fpir)
        src = _read_source(image)
        self._check_pipeline_model()
        faces: list[Face] = self.pipeline.process(src.image)
        faces = [f for f in faces if f.embedding is not None]
        if not faces:
            return []
        return self.identify_embeddings(
            [f.embedding for f in faces],  # type: ignore[misc]
            k,
            threshold=threshold,
            target_fpir=target_fpir,
            boxes=[f.box for f in faces],
            detection_scores=[f.detection.score for f in faces],
        )

    # -------------------------------------------------------------- enroll

    def _check_pipeline_model(self) -> None:
        gm = self.model
        if gm is not None and self._pipeline_tag() != gm:
            raise GalleryError(
                f"the gallery holds embeddings of model {gm} but the pipeline makes {self._pipeline_tag()}: "
                "models are never mixed. Use a pipeline with the gallery's model, or re-embed the gallery "
                "(`faceprint gallery reembed`)"
            )

    def _pipeline_tag(self) -> str:
        return str(self.pipeline.model_tag)

    def _face_of(self, src: _Source, faces: Sequence[Face], select: Selection | int | None) -> NewFace:
        if src.embedding is not None:
            return NewFace(src.embedding, src.sha256, source=None)
        faces = [f for f in faces if f.embedding is not None]
        if not faces:
            raise NoFaceFound("no face found", source=src.name)
        if select is None:
            if len(faces) > 1:
                raise MultipleFaces(
                    f"{len(faces)} faces found where exactly one is needed to enroll; pick one with "
                    "select='largest' / 'center' / an index (CLI: --select)",
                    source=src.name,
                )
            face = faces[0]
        else:
            assert src.image is not None
            face = select_face(faces, select, src.image.shape)
        assert face.embedding is not None
        source = src.name if not src.name.startswith("<") else None
        return NewFace(face.embedding, src.sha256, box=face.box, quality=face.detection.score, source=source)

    def enroll(
        self,
        name: str,
        images: Any,
        *,
        select: Selection | int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> EnrollResult:
        """Enroll one or more images (paths, bytes, arrays or Embeddings) of one person.

        Each photo must hold exactly one usable face unless ``select`` says which to take
        (``"largest"``, ``"center"``, ``"score"`` or an index, most prominent first); otherwise
        :class:`NoFaceFound` / :class:`MultipleFaces` is raised and nothing is stored. All images
        are stored in one transaction. An image already enrolled for this person (same content
        sha256, same model) is not stored twice: its outcome is ``"duplicate"``.
        """
        items = _as_list(images)
        if not items:
            raise InvalidInput("enroll needs at least one image")
        srcs = [_read_source(it, i) for it, i in zip(items, range(len(items)))]
        new_faces: list[NewFace] = []
        need = [s for s in srcs if s.embedding is None]
        if need:
            self._check_pipeline_model()
            face_lists = list(self.pipeline.process_many([s.image for s in need]))
            by_src = dict(zip(map(id, need), face_lists))
        for s in srcs:
            new_faces.append(self._face_of(s, by_src.get(id(s), []) if need else [], select))
        results = self.store.add_faces(name, new_faces, metadata=metadata)
        outcomes = tuple(
            EnrollOutcome(name, s.name, "duplicate" if r.duplicate else "enrolled", r.face_id, nf.box)
            for s, nf, r in zip(srcs, new_faces, results)
        )
        return EnrollResult(name, outcomes)

    def enroll_many(
        self,
        items: Iterable[tuple[str, Any]],
        *,
        select: Selection | int | None = None,
        batch: int = 16,
        skip_known: bool = True,
    ) -> Iterator[EnrollOutcome]:
        """Bulk enrollment of ``(name, image)`` pairs, committing **each image** in its own
        transaction before yielding its outcome: a crash loses nothing reported enrolled.

        Bad images (unreadable, no face, several faces without ``select``) yield an ``"error"``
        outcome and enrollment continues. With ``skip_known``, an image already enrolled for that
        name (same file content, same model) is reported ``"duplicate"`` without being re-embedded,
        so re-running an interrupted bulk enrollment is cheap.
        """
        it = iter(items)
        tag: str | None = None
        while True:
            chunk = [x for _, x in zip(range(max(1, batch)), it)]
            if not chunk:
                return
            prepared: list[tuple[str, str, _Source | None, BaseException | None]] = []
            for i, (name, item) in enumerate(chunk):
                desc = _describe(item, i)
                try:
                    src = _read_source(item, i)
                    prepared.append((name, src.name, src, None))
                except Exception as e:  # noqa: BLE001 - reported per image
                    prepared.append((name, desc, None, e))
            todo = [(k, p[2]) for k, p in enumerate(prepared) if p[2] is not None and p[2].embedding is None]
            if skip_known and todo:
                if tag is None:
                    self._check_pipeline_model()
                    tag = self._pipeline_tag()
                known = self._known(tag, [(prepared[k][0], s.sha256) for k, s in todo])  # type: ignore[union-attr]
            else:
                known = {}
            faces_by_k: dict[int, list[Face] | BaseException] = {}
            run = [(k, s) for k, s in todo if (prepared[k][0], s.sha256) not in known]  # type: ignore[union-attr]
            if run:
                self._check_pipeline_model()
                try:
                    for (k, _), fl in zip(run, self.pipeline.process_many([s.image for _, s in run])):  # type: ignore[union-attr]
                        faces_by_k[k] = fl
                except Exception:  # noqa: BLE001 - one bad image spoils the batch: redo one by one
                    for k, s in run:
                        try:
                            faces_by_k[k] = self.pipeline.process(s.image)  # type: ignore[union-attr]
                        except Exception as e:  # noqa: BLE001
                            faces_by_k[k] = e
            for k, (name, desc, src, err) in enumerate(prepared):
                if err is not None or src is None:
                    yield _error_outcome(name, desc, err or InvalidImage("unreadable"))
                    continue
                if (name, src.sha256) in known:
                    yield EnrollOutcome(name, desc, "duplicate", known[(name, src.sha256)])
                    continue
                try:
                    got = faces_by_k.get(k, [])
                    if isinstance(got, BaseException):
                        raise got
                    nf = self._face_of(src, got, select)
                    r = self.store.add_faces(name, [nf])[0]
                except GalleryError:
                    raise  # storage problems stop the run: later images would fail the same way
                except Exception as e:  # noqa: BLE001 - per-image failure
                    yield _error_outcome(name, desc, e)
                    continue
                yield EnrollOutcome(name, desc, "duplicate" if r.duplicate else "enrolled", r.face_id, nf.box)

    def _known(self, model: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        finder = getattr(self.store, "find_faces_by_hash", None)
        if finder is None:
            return {}
        return finder(model, pairs)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ management

    def delete(self, name: str) -> int:
        """Delete a person and all their faces (store and index; effective for the next search).
        Returns the number of faces removed; raises UnknownIdentity when there is no such person."""
        n = self.store.delete_identity(name)
        if not self.store.native_search:
            self.sync_index()
        return n

    def list(self) -> list[IdentityRecord]:
        """Every enrolled person, by name, with their number of faces."""
        return self.store.identities()

    def show(self, name: str) -> tuple[IdentityRecord, list[FaceRecord]]:
        """A person's record and enrolled faces."""
        from faceprint.errors import UnknownIdentity

        rec = self.store.identity(name)
        if rec is None:
            raise UnknownIdentity(f"no identity named {name!r} in the gallery")
        return rec, self.store.faces(name)

    def export(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the whole gallery to one portable file (an SQLite gallery file, readable by
        :meth:`import_` or directly as a store)."""
        from faceprint.matching.store.sqlite import SqliteStore

        dest = Path(path)
        if dest.exists():
            if not overwrite:
                raise InvalidInput(f"{dest} exists; pass overwrite=True (CLI: --force) to replace it")
            dest.unlink()
        tmp = dest.with_name(dest.name + ".partial")
        if tmp.exists():
            tmp.unlink()
        if isinstance(self.store, SqliteStore):
            self.store.backup_to(tmp)
        else:
            with SqliteStore(tmp) as out:
                _copy_store(self.store, out)
        os.replace(tmp, dest)
        return dest

    def import_(self, path: str | os.PathLike[str]) -> dict[str, int]:
        """Merge a gallery file written by :meth:`export` into this gallery. Identities are matched
        by name; faces already present (same identity, model and content hash) are skipped. The
        file's model must be this gallery's (GalleryError otherwise)."""
        from faceprint.matching.store.sqlite import SqliteStore

        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"no gallery file at {p}")
        with SqliteStore(p, create=False) as src:
            stats = _copy_store(src, self.store)
        if not self.store.native_search:
            self.sync_index()
        return stats

    def reembed(
        self,
        pipeline: Any = None,
        *,
        roots: Sequence[str | os.PathLike[str]] = (),
        drop_missing: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReembedReport:
        """Re-compute every face's embedding with ``pipeline`` (default: this gallery's) from the
        enrolled source files, and make its model the gallery's — in one transaction.

        Sources are found at their stored path (content hash checked) or, failing that, by content
        hash among the files under ``roots``. Faces whose source cannot be found make it fail
        (GalleryError listing them, nothing changed) unless ``drop_missing``, which drops them.
        Faces are re-embedded at their stored box (no re-detection).
        """
        from faceprint.api import load_image

        pipe = pipeline if pipeline is not None else self.pipeline
        old = self.model
        tag = str(pipe.model_tag)
        records = [f for batch in self.store.iter_faces(with_vectors=False) for f in batch]
        by_hash: dict[str, Path] | None = None
        vectors: dict[int, np.ndarray] = {}
        missing: list[str] = []
        for i, rec in enumerate(records):
            data = None
            if rec.source and Path(rec.source).is_file():
                b = Path(rec.source).read_bytes()
                if hashlib.sha256(b).hexdigest() == rec.sha256:
                    data = b
            if data is None and roots:
                if by_hash is None:
                    by_hash = _hash_tree(roots)
                p = by_hash.get(rec.sha256)
                if p is not None:
                    data = p.read_bytes()
            if data is None:
                missing.append(rec.source or f"face {rec.id} of {rec.identity}")
                continue
            img = load_image(data)
            faces = pipe.process(img, boxes=[rec.box]) if rec.box is not None else pipe.process(img)
            faces = [f for f in faces if f.embedding is not None]
            if not faces:
                missing.append(rec.source or f"face {rec.id} of {rec.identity}")
                continue
            vectors[rec.id] = prominence_first(faces).embedding.vector  # type: ignore[union-attr]
            if progress:
                progress(i + 1, len(records))
        if missing and not drop_missing:
            raise GalleryError(
                f"cannot re-embed {len(missing)} face(s) whose source image is missing or changed "
                f"(e.g. {missing[:3]}); pass roots=[...] (CLI: --roots DIR) to search for them by content, "
                "or drop_missing=True (CLI: --drop-missing) to drop them"
            )
        dim = int(next(iter(vectors.values())).size) if vectors else (self.store.model() or ("", 0))[1]
        self.store.replace_model(tag, dim, vectors)
        with self._lock:
            self._index, self._stamp, self._templates = None, None, None
        if not self.store.native_search:
            self.sync_index()
        if pipeline is not None:
            self._pipeline = pipeline
        return ReembedReport(old, tag, len(vectors), len(missing), tuple(missing))


def prominence_first(faces: Sequence[Face]) -> Face:
    from faceprint.pipeline import prominence_order

    return prominence_order(faces)[0]


def _hash_tree(roots: Sequence[str | os.PathLike[str]]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for r in roots:
        for p in Path(r).rglob("*"):
            if p.is_file():
                try:
                    out.setdefault(hashlib.sha256(p.read_bytes()).hexdigest(), p)
                except OSError:
                    continue
    return out


def _copy_store(src: GalleryStore, dst: GalleryStore) -> dict[str, int]:
    """Copy every identity and face of ``src`` into ``dst`` (merging by name; duplicates skipped)."""
    sm, dm = src.model(), dst.model()
    if sm is not None and dm is not None and sm != dm and dst.count()[1]:
        raise GalleryError(
            f"cannot import: the file holds embeddings of {sm[0]} ({sm[1]}-d), this gallery {dm[0]} ({dm[1]}-d); "
            "models are never mixed"
        )
    metas = {r.name: r.metadata for r in src.identities()}
    added = dup = 0
    for batch in src.iter_faces(batch=5000, with_vectors=True):
        by_name: dict[str, list[NewFace]] = {}
        for f in batch:
            assert f.vector is not None
            by_name.setdefault(f.identity, []).append(
                NewFace(Embedding(f.vector, model=f.model), f.sha256, box=f.box, quality=f.quality, source=f.source)
            )
        bulk = getattr(dst, "add_faces_bulk", None)
        if bulk is not None:  # one transaction per batch
            n = bulk(list(by_name.items()))
            added += n
            dup += sum(len(v) for v in by_name.values()) - n
            continue
        for name, faces in by_name.items():
            res = dst.add_faces(name, faces, metadata=metas.get(name) or None)
            dup += sum(r.duplicate for r in res)
            added += sum(not r.duplicate for r in res)
    # metadata, and identities without faces
    add_identity = getattr(dst, "add_identity", None)
    if add_identity is not None:
        have = {r.name: r.metadata for r in dst.identities()}
        for name, meta in metas.items():
            if name not in have or (meta and have[name] != meta):
                add_identity(name, meta or None)
    return {"identities": len(metas), "faces_added": added, "duplicates": dup}

