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

Parts (each one job; this class composes them)
    :mod:`~faceprint.matching.results` (what it answers), :mod:`~faceprint.matching.inputs` (the
    one input reader; hashes content only to enrol), :mod:`~faceprint.matching.search` (index
    cache, change-log replay, templates, search), :mod:`~faceprint.matching.enrolment` (enrol one
    person or many), :mod:`~faceprint.matching.transfer` (export,
    import, re-embed) and the store (:mod:`~faceprint.matching.store`). The pipeline is injected:
    without one the gallery uses the process-wide default pipeline
    (:func:`faceprint.defaults.default_pipeline`), looked up on every use.
"""

from __future__ import annotations

import builtins
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceprint.config import home_dir
from faceprint.errors import GalleryError, InvalidImage, InvalidInput, UnknownIdentity
from faceprint.matching.enrolment import Enrolment, GalleryPipeline, check_pipeline_model, enrolment_name
from faceprint.matching.inputs import read_input
from faceprint.matching.results import Candidate, EnrollOutcome, EnrollResult, EnrollStatus, IdentifiedFace, ReembedReport
from faceprint.matching.search import Combine, GallerySearch, Hit, IndexKind, snapshot_exists
from faceprint.matching.store.base import FaceRecord, GalleryStore, IdentityRecord
from faceprint.pipeline import Selection
from faceprint.types import Box, Embedding

if TYPE_CHECKING:
    from faceprint.matching.calibration import Threshold
    from faceprint.matching.index import VectorIndex

logger = logging.getLogger(__name__)

GALLERY_FILE = "gallery.sqlite"
#: combine="mean": up to this many identities every template is scored exactly; above, only the
#: identities of the nearest faces (ANN) are re-scored by their template.
MEAN_EXACT_MAX = 10_000

__all__ = [
    "GALLERY_FILE",
    "MEAN_EXACT_MAX",
    "Candidate",
    "Combine",
    "EnrollOutcome",
    "EnrollResult",
    "EnrollStatus",
    "Gallery",
    "GalleryPipeline",
    "IdentifiedFace",
    "ReembedReport",
    "enrolment_name",
]


class Gallery:
    """A persistent gallery.

    Args:
        home: data directory (default: ``--home`` / ``$FACEPRINT_HOME`` / the user data dir, see
            :func:`faceprint.config.home_dir`); the SQLite store is ``<home>/gallery.sqlite``.
        pipeline: the :class:`~faceprint.pipeline.Pipeline` used to embed images, or a
            zero-argument callable returning one (called on every use). Default: the process-wide
            default pipeline (:func:`faceprint.defaults.default_pipeline`), looked up on every use,
            so :func:`faceprint.set_default_pipeline` applies to galleries already open.
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
        pipeline: GalleryPipeline | Callable[[], GalleryPipeline] | None = None,
        store: GalleryStore | str | os.PathLike[str] | None = None,
        *,
        index: IndexKind = "auto",
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
        self._owns_store = store is None or isinstance(store, (str, os.PathLike))
        if store is None:
            from faceprint.matching.store.sqlite import SqliteStore

            self.store: GalleryStore = SqliteStore(self.home / GALLERY_FILE)
        elif isinstance(store, (str, os.PathLike)):
            from faceprint.matching.store import open_store

            self.store = open_store(store)
        else:
            self.store = store
        self._pipeline: GalleryPipeline | None = None
        self._provider: Callable[[], GalleryPipeline] | None = None
        self._set_pipeline(pipeline)
        self._threshold = threshold
        self.target_fpir = None if target_fpir is None else float(target_fpir)
        self._search = GallerySearch(self.store, index=index, combine=combine, persist=persist_index)
        self._enrolment = Enrolment(self.store, lambda: self.pipeline)
        self._thr_cache: tuple[Any, Threshold] | None = None

    # ------------------------------------------------------------- plumbing

    def _set_pipeline(self, pipeline: GalleryPipeline | Callable[[], GalleryPipeline] | None) -> None:
        if pipeline is None:
            from faceprint.defaults import default_pipeline

            self._pipeline, self._provider = None, default_pipeline
        elif hasattr(pipeline, "process_many"):
            self._pipeline, self._provider = pipeline, None  # type: ignore[assignment]
        elif callable(pipeline):
            self._pipeline, self._provider = None, pipeline
        else:
            raise InvalidInput(f"pipeline must be a Pipeline or a callable returning one, got {type(pipeline).__name__}")

    @property
    def pipeline(self) -> GalleryPipeline:
        """The pipeline in use now (the injected one, or the provider's answer)."""
        if self._pipeline is not None:
            return self._pipeline
        if self._provider is None:  # pragma: no cover - one of the two is always set
            raise InvalidInput("this gallery has no pipeline")
        return self._provider()

    @property
    def combine(self) -> Combine:
        return self._search.combine

    @combine.setter
    def combine(self, value: Combine) -> None:
        if value not in ("max", "mean"):
            raise InvalidInput(f"combine must be 'max' or 'mean', got {value!r}")
        with self._search.lock:
            self._search.combine = value

    @property
    def persist_index(self) -> bool:
        return self._search.persist

    @persist_index.setter
    def persist_index(self, value: bool) -> None:
        self._search.persist = bool(value)

    @property
    def index_path(self) -> Path | None:
        return self._search.index_path

    @property
    def model(self) -> str | None:
        """The gallery's embedding model tag (None while empty)."""
        m = self.store.model()
        return m[0] if m else None

    def threshold(
        self, model: str | None = None, *, threshold: float | None = None, target_fpir: float | None = None
    ) -> Threshold:
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
            user_mtime: int | None = user_open_set_path(tag.split("@", 1)[0], self.home).stat().st_mtime_ns
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
        identities}`` under the mean rule, ``{1: faces}`` under the max rule (cached; see
        :meth:`~faceprint.matching.search.GallerySearch.composition`)."""
        return self._search.composition()

    def close(self) -> None:
        with self._search.lock:
            self._search.close()
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

    def sync_index(self) -> VectorIndex | None:
        """Bring the index up to date with the store (see :meth:`GallerySearch.sync`)."""
        return self._search.sync()

    def save_index(self) -> Path | None:
        """Write the index beside the store (atomic); failures are logged, never raised (it is a cache)."""
        return self._search.save()

    def search(self, queries: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """Top-``k`` identities for each query vector: ``[(identity_id, score, face_id), ...]``
        best first, under the gallery's ``combine`` rule."""
        return self._search.search(queries, k, mean_exact_max=MEAN_EXACT_MAX)

    # -------------------------------------------------------------- identify

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
        model: str | None
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
        Returns ``[]`` when the image has no face. The image is not hashed."""
        if isinstance(image, Embedding):
            return self.identify_embeddings([image], k, threshold=threshold, target_fpir=target_fpir)
        src = read_input(image, with_hash=False)
        pipe = self.pipeline
        self._check_pipeline_model(pipe)
        if src.image is None:  # pragma: no cover - read_input decodes every non-Embedding input
            raise InvalidImage("nothing to identify", source=src.name)
        faces = [f for f in pipe.process(src.image) if f.embedding is not None]
        if not faces:
            return []
        return self.identify_embeddings(
            [f.embedding for f in faces if f.embedding is not None],
            k,
            threshold=threshold,
            target_fpir=target_fpir,
            boxes=[f.box for f in faces],
            detection_scores=[f.detection.score for f in faces],
        )

    # -------------------------------------------------------------- enroll

    def _check_pipeline_model(self, pipe: GalleryPipeline) -> str:
        return check_pipeline_model(self.store, pipe)

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
        sha256, same model) is not stored twice: its outcome is ``"duplicate"``. The name goes
        through :func:`~faceprint.matching.enrolment.enrolment_name`.
        """
        return self._enrolment.enroll(name, images, select=select, metadata=metadata)

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

        Bad images (unreadable, no face, several faces without ``select``) and bad names yield an
        ``"error"`` outcome and enrollment continues. With ``skip_known``, an image already
        enrolled for that name (same file content, same model) is reported ``"duplicate"`` without
        being re-embedded, so re-running an interrupted bulk enrollment is cheap.
        """
        return self._enrolment.enroll_many(items, select=select, batch=batch, skip_known=skip_known)

    # ------------------------------------------------------------ management

    def delete(self, name: str) -> int:
        """Delete a person and all their faces. Returns the number of faces removed; raises
        UnknownIdentity when there is no such person.

        When it returns, the person's embeddings are gone from every file of the gallery: the
        index snapshot is removed before the store deletes (so a crash cannot leave it holding
        them) and rewritten without them afterwards; the SQLite store overwrites deleted content
        and checkpoints its WAL (see docs/gallery.md for PostgreSQL)."""
        with self._search.lock:
            had = snapshot_exists(self.store)
            if had:
                self._search.drop_snapshot()
            try:
                return self.store.delete_identity(name)
            finally:
                self._search.forget_deleted(had)

    def list(self) -> builtins.list[IdentityRecord]:
        """Every enrolled person, by name, with their number of faces."""
        return self.store.identities()

    def show(self, name: str) -> tuple[IdentityRecord, builtins.list[FaceRecord]]:
        """A person's record and enrolled faces."""
        rec = self.store.identity(name)
        if rec is None:
            raise UnknownIdentity(f"no identity named {name!r} in the gallery")
        return rec, self.store.faces(name)

    def export(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the whole gallery to one portable file (an SQLite gallery file, readable by
        :meth:`import_` or directly as a store), readable by its owner only."""
        from faceprint.matching.transfer import export_store

        return export_store(self.store, path, overwrite=overwrite)

    def import_(self, path: str | os.PathLike[str]) -> dict[str, int]:
        """Merge a gallery file written by :meth:`export` into this gallery. Identities are matched
        by name; faces already present (same identity, model and content hash) are skipped. The
        file's model must be this gallery's (GalleryError otherwise)."""
        from faceprint.matching.transfer import import_file

        stats = import_file(self.store, path)
        if not self.store.native_search:
            self.sync_index()
        return stats

    def reembed(
        self,
        pipeline: GalleryPipeline | None = None,
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
        from faceprint.matching.transfer import reembed_store

        pipe = pipeline if pipeline is not None else self.pipeline
        with self._search.lock:
            had = snapshot_exists(self.store)
            if had:
                self._search.drop_snapshot()  # holds the old embeddings (and any dropped face)
            try:
                report = reembed_store(self.store, pipe, roots=roots, drop_missing=drop_missing, progress=progress)
            finally:
                self._search.reset()
                self._search.forget_deleted(had)
        if pipeline is not None:
            self._set_pipeline(pipeline)
        return report
