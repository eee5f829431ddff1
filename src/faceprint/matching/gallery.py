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

Several models
    A gallery may hold several models' embeddings of every face (``Gallery.models``; the first is
    the *primary* model). Enrolment embeds each photo with every model the gallery holds (the
    main pipeline detects; each other model's pipeline — given in ``pipelines=``, else rebuilt from
    the :class:`~faceprint.pipeline.PipelineConfig` the gallery recorded for it — embeds the same
    box). ``identify`` / ``verify`` use the embeddings of the pipeline's model only, with that
    model's open-set threshold solved for the number of people enrolled **with that model**;
    models are never mixed. :meth:`add_model` embeds the faces already enrolled with a new model
    (faces whose photos are gone are kept for the old models and reported as missing for the new
    one, never dropped), :meth:`drop_model` forgets one. Score fusion (``dlib_resnet_v1+sface``)
    is a model of its own here: its members' chips come from its own canvas, not from the member
    pipelines' chips, so its vectors are stored as they are made (calibrated as such).

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
import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceprint.config import home_dir
from faceprint.errors import GalleryError, InvalidImage, InvalidInput, UnknownIdentity
from faceprint.matching.enrolment import Enrolment, GalleryPipeline, check_pipeline_model, enrolment_name
from faceprint.matching.inputs import read_input
from faceprint.matching.results import Candidate, EnrollOutcome, EnrollResult, EnrollStatus, IdentifiedFace, ReembedReport
from faceprint.matching.search import Combine, GallerySearch, Hit, IndexKind, snapshot_exists, snapshot_paths
from faceprint.matching.store.base import FaceRecord, GalleryStore, IdentityRecord, ModelRecord
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
        pipelines: pipelines of the gallery's other models (a sequence, or ``{model tag: pipeline}``),
            used to embed enrolled photos with every model the gallery holds; a model without one
            here is embedded with a pipeline built from the configuration the gallery recorded for it.
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
        pipelines: Sequence[GalleryPipeline] | Mapping[str, GalleryPipeline] | None = None,
        min_quality: float | None = None,
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
        self._index_kind: IndexKind = index
        self._combine: Combine = combine
        self._persist = bool(persist_index)
        self._lock = threading.RLock()
        self._searches: dict[str, GallerySearch] = {}
        self._search = GallerySearch(self.store, index=index, combine=combine, persist=persist_index)  # primary
        self._given: dict[str, GalleryPipeline] = {}
        for p in (pipelines.values() if isinstance(pipelines, Mapping) else pipelines or ()):
            self._given[str(p.model_tag)] = p
        self._built: dict[str, GalleryPipeline | None] = {}
        self._recorded: set[str] = set()
        self._enrolment = Enrolment(
            self.store, lambda: self.pipeline, self._other_pipelines, self._record_pipeline, min_quality=min_quality
        )
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

    def _all_searches(self) -> builtins.list[GallerySearch]:
        return [self._search, *self._searches.values()]

    @property
    def combine(self) -> Combine:
        return self._combine

    @combine.setter
    def combine(self, value: Combine) -> None:
        if value not in ("max", "mean"):
            raise InvalidInput(f"combine must be 'max' or 'mean', got {value!r}")
        self._combine = value
        for s in self._all_searches():
            with s.lock:
                s.combine = value

    @property
    def persist_index(self) -> bool:
        return self._persist

    @persist_index.setter
    def persist_index(self, value: bool) -> None:
        self._persist = bool(value)
        for s in self._all_searches():
            s.persist = bool(value)

    @property
    def index_path(self) -> Path | None:
        """The primary model's index snapshot (each model has its own, beside the store)."""
        return self._search.index_path

    @property
    def model(self) -> str | None:
        """The gallery's primary embedding model tag (None while it holds none)."""
        m = self.store.model()
        return m[0] if m else None

    @property
    def models(self) -> builtins.list[str]:
        """Every model the gallery holds, primary first."""
        return [m.tag for m in self.store.models()]

    def model_records(self) -> builtins.list[ModelRecord]:
        return self.store.models()

    def has_model(self, tag: str) -> bool:
        return tag in self.models

    def search_for(self, model: str | None = None) -> GallerySearch:
        """The search over one model's embeddings (``None``: the primary model)."""
        if model is None or model == self.model:
            return self._search
        with self._lock:
            s = self._searches.get(model)
            if s is None:
                s = GallerySearch(self.store, index=self._index_kind, combine=self._combine, persist=self._persist, model=model)
                self._searches[model] = s
            return s

    # ----------------------------------------------------------- pipelines

    def pipeline_for(self, model: str) -> GalleryPipeline | None:
        """The pipeline that makes ``model``'s embeddings: the main pipeline when it does, one given
        in ``pipelines=``, else one built from the configuration the gallery recorded (None when
        there is none, or it cannot be built)."""
        main = self.pipeline
        if str(main.model_tag) == model:
            return main
        if model in self._given:
            return self._given[model]
        with self._lock:
            if model not in self._built:
                self._built[model] = self._build_recorded(model)
            return self._built[model]

    def _build_recorded(self, model: str) -> GalleryPipeline | None:
        from faceprint.errors import FaceprintError
        from faceprint.pipeline import Pipeline

        rec = next((m for m in self.store.models() if m.tag == model), None)
        if rec is None or not rec.pipeline:
            return None
        try:
            cfg = config_from_record(rec.pipeline)
            pipe = Pipeline.from_config(cfg)
        except (FaceprintError, TypeError, ValueError) as e:
            logger.warning("cannot build the recorded pipeline of model %s: %s", model, e)
            return None
        if pipe.model_tag != model:
            logger.warning("the recorded pipeline of %s now makes %s (weights changed?)", model, pipe.model_tag)
            return None
        return pipe

    def _other_pipelines(self, main_tag: str) -> builtins.list[GalleryPipeline]:
        """Pipelines of every configured model other than ``main_tag`` (enrolment): those given in
        ``pipelines=`` and every model the gallery holds. A held model without a pipeline is an
        error: enrolment would leave its new faces lacking that model."""
        out = [p for tag, p in self._given.items() if tag != main_tag]
        lacking = []
        for tag in self.models:
            if tag == main_tag or tag in self._given:
                continue
            p = self.pipeline_for(tag)
            if p is None:
                lacking.append(tag)
            else:
                out.append(p)
        if lacking:
            raise GalleryError(
                f"the gallery holds model(s) {', '.join(lacking)} but no pipeline for them is configured or recorded, "
                "so enrolment cannot embed new faces with every model: pass pipelines=[...], or drop the model "
                "(`faceprint gallery reembed --drop-model NAME`)"
            )
        return out

    def _record_pipeline(self, pipe: GalleryPipeline) -> None:
        """Record how ``pipe``'s model is made (once per model), so other processes can embed with it."""
        tag = str(pipe.model_tag)
        if tag in self._recorded:
            return
        self._recorded.add(tag)
        rec = pipeline_record(pipe)
        if rec is None:
            return
        have = next((m for m in self.store.models() if m.tag == tag), None)
        if have is not None and have.pipeline is None:
            self.store.add_model(tag, have.dim, pipeline=rec)

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
        comp = self.composition(tag)
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

    def composition(self, model: str | None = None) -> dict[int, int]:
        """What a probe of ``model`` (default: the primary) is compared with, for the open-set
        threshold: ``{photos per template: identities}`` over the faces holding that model's
        embedding under the mean rule, ``{1: faces}`` under the max rule (cached; see
        :meth:`~faceprint.matching.search.GallerySearch.composition`)."""
        return self.search_for(model).composition()

    def close(self) -> None:
        with self._lock:
            for s in self._all_searches():
                with s.lock:
                    s.close()
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

    def sync_index(self, model: str | None = None) -> VectorIndex | None:
        """Bring ``model``'s index (default: the primary's) up to date with the store (see
        :meth:`GallerySearch.sync`)."""
        return self.search_for(model).sync()

    def save_index(self) -> Path | None:
        """Write the indexes beside the store (atomic); failures are logged, never raised (they are
        caches). Returns the primary model's."""
        for s in self._searches.values():
            s.save()
        return self._search.save()

    def search(self, queries: np.ndarray, k: int = 5, *, model: str | None = None) -> list[list[Hit]]:
        """Top-``k`` identities for each query vector (of ``model``, default the primary):
        ``[(identity_id, score, face_id), ...]`` best first, under the gallery's ``combine`` rule."""
        return self.search_for(model).search(queries, k, mean_exact_max=MEAN_EXACT_MAX)

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
        model: str | None = None,
    ) -> list[IdentifiedFace]:
        """Identify already-computed embeddings (Embedding objects, or unit rows of a matrix of
        ``model``, default the primary) against the gallery's embeddings of **their** model only.
        ``threshold`` overrides the open-set threshold; ``target_fpir`` changes the FPIR it is solved
        for (see the module docstring)."""
        held = self.store.models()
        dims = {m.tag: m.dim for m in held}
        if isinstance(embeddings, np.ndarray):
            q = np.asarray(embeddings, np.float32)
            if q.ndim == 1:
                q = q[None]
            tag = model or self.model
        else:
            embs = list(embeddings)
            if not embs:
                return []
            models = {e.model for e in embs}
            if len(models) != 1:
                raise GalleryError(f"these embeddings come from several models {sorted(models)}: identify them separately")
            (tag,) = models
            if model is not None and tag != model:
                raise GalleryError(f"model={model} given for embeddings of {tag}")
            q = np.stack([e.vector for e in embs])
        if held and tag not in dims:
            raise GalleryError(
                f"the gallery holds embeddings of model(s) {', '.join(dims)}; these come from {tag}: models are never "
                "mixed (use a pipeline of one of the gallery's models, or add this one: `faceprint gallery reembed "
                "--add-model`)"
            )
        if tag is None:
            tag = self.pipeline.model_tag
        if tag in dims and q.shape[1] != dims[tag]:
            raise GalleryError(f"queries are {q.shape[1]}-d but the gallery's model {tag} is {dims[tag]}-d")
        gm = tag if tag in dims else None
        if target_fpir is not None and not 0.0 < float(target_fpir) < 1.0:
            raise InvalidInput(f"target_fpir must be in (0, 1), got {target_fpir}")
        results = self.search(q, k, model=gm) if gm is not None else [[] for _ in range(len(q))]
        thr = self.threshold(tag, threshold=threshold, target_fpir=target_fpir)  # after the search: index is current
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
        add_model: bool = False,
        min_quality: float | None = None,
    ) -> EnrollResult:
        """Enroll one or more images (paths, bytes, arrays or Embeddings) of one person, embedded
        by every model the gallery holds.

        Each photo must hold exactly one usable face unless ``select`` says which to take
        (``"largest"``, ``"center"``, ``"score"`` or an index, most prominent first); otherwise
        :class:`NoFaceFound` / :class:`MultipleFaces` is raised and nothing is stored. All images
        are stored in one transaction. An image already enrolled for this person (same content
        sha256, same model) is not stored twice: its outcome is ``"duplicate"``. The name goes
        through :func:`~faceprint.matching.enrolment.enrolment_name`. A pipeline whose model the
        gallery does not hold is refused (GalleryError) unless ``add_model``. A face whose quality
        (:mod:`faceprint.models.analyzers.quality`) is below ``min_quality`` (None: the gallery's
        floor, ``Gallery(min_quality=)``, default :data:`faceprint.config.DEFAULT_MIN_QUALITY`;
        0: none) raises :class:`~faceprint.errors.LowQualityFace` and nothing is stored.
        """
        return self._enrolment.enroll(
            name, images, select=select, metadata=metadata, add_model=add_model, min_quality=min_quality
        )

    def enroll_many(
        self,
        items: Iterable[tuple[str, Any]],
        *,
        select: Selection | int | None = None,
        batch: int = 16,
        skip_known: bool = True,
        add_model: bool = False,
        min_quality: float | None = None,
    ) -> Iterator[EnrollOutcome]:
        """Bulk enrollment of ``(name, image)`` pairs, committing **each image** in its own
        transaction before yielding its outcome: a crash loses nothing reported enrolled.

        Bad images (unreadable, no face, several faces without ``select``) and bad names yield an
        ``"error"`` outcome and enrollment continues. With ``skip_known``, an image already
        enrolled for that name (same file content, same model) is reported ``"duplicate"`` without
        being re-embedded, so re-running an interrupted bulk enrollment is cheap. A face below the
        quality floor (``min_quality``, as in :meth:`enroll`) is an ``"error"`` outcome, code ``low_quality``.
        """
        return self._enrolment.enroll_many(
            items, select=select, batch=batch, skip_known=skip_known, add_model=add_model, min_quality=min_quality
        )

    # ------------------------------------------------------------ management

    def delete(self, name: str) -> int:
        """Delete a person and all their faces. Returns the number of faces removed; raises
        UnknownIdentity when there is no such person.

        When it returns, the person's embeddings are gone from every file of the gallery: the
        index snapshot is removed before the store deletes (so a crash cannot leave it holding
        them) and rewritten without them afterwards; the SQLite store overwrites deleted content
        and checkpoints its WAL (see docs/gallery.md for PostgreSQL)."""
        with self._lock:
            had = self._drop_snapshots()
            try:
                return self.store.delete_identity(name)
            finally:
                for s in self._all_searches():
                    s.forget_deleted(had)

    def _drop_snapshots(self) -> bool:
        """Remove every index snapshot beside the store (before a deletion); whether there was one."""
        had = snapshot_exists(self.store)
        for p in snapshot_paths(self.store):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as e:
                logger.warning("could not remove the gallery index %s (%s)", p, e)
        return had

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
            for tag in self.models:
                self.sync_index(tag)
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
        with self._lock:
            had = self._drop_snapshots()  # they hold the old embeddings (and any dropped face)
            try:
                report = reembed_store(self.store, pipe, roots=roots, drop_missing=drop_missing, progress=progress)
                self._record_pipeline(pipe)
            finally:
                self._searches.clear()
                self._search.reset()
                self._search.forget_deleted(had)
        if pipeline is not None:
            self._set_pipeline(pipeline)
        return report

    def add_model(
        self,
        pipeline: GalleryPipeline,
        *,
        roots: Sequence[str | os.PathLike[str]] = (),
        progress: Callable[[int, int], None] | None = None,
    ) -> ReembedReport:
        """Add ``pipeline``'s model to the gallery: embed every enrolled face with it from its
        source file (found at its stored path, content hash checked, or by content hash under
        ``roots``; at its stored box), in one transaction, and record the pipeline's configuration
        so enrolment embeds new faces with it too. The other models are untouched.

        Faces whose source is gone (or holds no face at its box any more) are **kept**, with their
        other models' embeddings: they are reported (``missing``) and counted as lacking the new
        model by :meth:`info`; identification with the new model does not see them until they are
        enrolled again. Re-running it (e.g. with ``roots``) embeds only the faces still lacking it.
        """
        from faceprint.matching.transfer import add_model_to_store

        with self._lock:
            report = add_model_to_store(self.store, pipeline, roots=roots, progress=progress,
                                        pipeline_config=pipeline_record(pipeline))
            self._recorded.add(str(pipeline.model_tag))
            self._given.setdefault(str(pipeline.model_tag), pipeline)
            s = self._searches.pop(str(pipeline.model_tag), None)
            if s is not None:
                s.reset()
        return report

    def drop_model(self, model: str) -> int:
        """Forget ``model`` and all its embeddings (faces are kept with their other models'); the
        next model becomes the primary when it was. Returns the number of embeddings removed."""
        with self._lock:
            had = self._drop_snapshots()
            try:
                n = self.store.drop_model(model)
            finally:
                self._searches.pop(model, None)
                self._given.pop(model, None)
                self._built.pop(model, None)
                self._search.reset()
                for s in self._all_searches():
                    s.forget_deleted(had)
        return n

    def info(self) -> dict[str, Any]:
        """Where the gallery is, its size, and per model: dimension, faces holding it, faces lacking it."""
        ni, nf = self.store.count()
        counts = self.store.model_counts()
        models = []
        for m in self.store.models():
            n = counts.get(m.tag, 0)
            entry: dict[str, Any] = {"model": m.tag, "dim": m.dim, "primary": m.primary, "faces": n, "faces_lacking": nf - n}
            if nf - n:
                entry["lacking"] = [f"{f.identity}: {f.source or f'face {f.id}'}" for f in self.store.faces_lacking(m.tag)[:20]]
            if m.pipeline:
                entry["pipeline"] = m.pipeline
            models.append(entry)
        return {"location": self.store.location, "model": self.model, "identities": ni, "faces": nf, "models": models}


def pipeline_record(pipe: Any) -> dict[str, Any] | None:
    """A pipeline's :class:`~faceprint.pipeline.PipelineConfig` as JSON-ready data (None when the
    pipeline has no config, e.g. a test double), for the gallery's ``models`` table."""
    cfg = getattr(pipe, "config", None)
    if cfg is None or not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        return None
    return {"format": "faceprint.pipeline/1", "config": dataclasses.asdict(cfg)}


def config_from_record(rec: Mapping[str, Any]) -> Any:
    """The :class:`~faceprint.pipeline.PipelineConfig` recorded by :func:`pipeline_record`."""
    from faceprint.pipeline import PipelineConfig

    if rec.get("format") != "faceprint.pipeline/1":
        raise InvalidInput(f"not a recorded pipeline: {rec.get('format')!r}")
    fields = {f.name for f in dataclasses.fields(PipelineConfig)}
    return PipelineConfig(**{k: v for k, v in dict(rec["config"]).items() if k in fields})
