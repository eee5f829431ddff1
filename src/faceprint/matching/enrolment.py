"""Enrolment: images (or Embeddings) of a person into a gallery store, one transaction per call
(:meth:`Enrolment.enroll`) or one per image (:meth:`Enrolment.enroll_many`, bulk, resumable).

Every enrolment name passes through :func:`enrolment_name`, the one place to validate or normalise
names. Inputs are read by :func:`~faceprint.matching.inputs.read_input` with their content hash
(the duplicate key); the pipeline's model is checked against the gallery's before embedding.

**Every model.** A gallery holding several models gets each enrolled photo embedded by every one
of them: the main pipeline detects and selects the face, then each other model's pipeline
(``others()``: the gallery's other models that have a pipeline) embeds that face at the same box,
and all the embeddings are stored in the one transaction. A photo given as an
:class:`~faceprint.types.Embedding` holds only its own model's embedding (the others cannot be
computed from it): the face is stored lacking them, and ``gallery info`` reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from faceprint.cancel import checkpoint, commit_point
from faceprint.errors import GalleryError, InvalidImage, InvalidInput, LowQualityFace, MultipleFaces, NoFaceFound
from faceprint.matching.inputs import GalleryInput, as_list, describe, read_input
from faceprint.matching.results import EnrollOutcome, EnrollResult
from faceprint.matching.store.base import FindsFacesByHash, GalleryStore, NewFace
from faceprint.pipeline import Selection, select_face
from faceprint.types import Box, Face

__all__ = ["Enrolment", "GalleryPipeline", "check_min_quality", "check_pipeline_model", "enrolment_name"]


class GalleryPipeline(Protocol):
    """What the gallery needs from a pipeline (a :class:`~faceprint.pipeline.Pipeline`)."""

    @property
    def model_tag(self) -> str: ...

    def process(self, image: np.ndarray, *, boxes: Sequence[Box] | None = None, embed: bool = True) -> list[Face]: ...

    def process_many(self, images: Iterable[np.ndarray], *, boxes: Any = None, embed: bool = True) -> Iterator[list[Face]]: ...


def enrolment_name(name: str) -> str:
    """The single entry point every enrolment name goes through (``enroll``, ``enroll_many``):
    the name to store, or :class:`~faceprint.errors.InvalidInput`."""
    from faceprint.matching.names import validate_name

    return validate_name(name)


def _error_outcome(name: str, source: str, e: BaseException) -> EnrollOutcome:
    code = str(getattr(e, "code", type(e).__name__))
    msg = str(e)
    src = getattr(e, "source", None)
    if src and msg.startswith(f"{src}: "):
        msg = msg[len(src) + 2 :]
    return EnrollOutcome(name=name, source=source, status="error", error=msg, error_code=code)


def check_pipeline_model(store: GalleryStore, pipe: GalleryPipeline, *, add_model: bool = False) -> str:
    """The pipeline's model tag, refused (GalleryError) when the gallery holds faces but not that
    model (unless ``add_model``)."""
    tag = str(pipe.model_tag)
    held = [m.tag for m in store.models()]
    if held and tag not in held and not add_model and store.count()[1]:
        raise GalleryError(
            f"the gallery holds embeddings of model(s) {', '.join(held)} but the pipeline makes {tag}: "
            "models are never mixed. Use a pipeline with one of the gallery's models (--preset / --embedder), "
            f"or add {tag} to the gallery (`faceprint gallery reembed --add-model`, which also embeds the faces "
            "already enrolled; or enrol with add_model=True / `faceprint enroll --add-model`)"
        )
    return tag


def _most_prominent_embedding(faces: Sequence[Face]) -> Any:
    from faceprint.pipeline import prominence_order

    embedded = [f for f in faces if f.embedding is not None]
    return prominence_order(embedded)[0].embedding if embedded else None


def check_min_quality(value: float | None) -> float:
    """The enrolment quality floor: ``value``, or when None ``$FACEPRINT_MIN_QUALITY``, else
    :data:`faceprint.config.DEFAULT_MIN_QUALITY`; must lie in [0, 1] (0: no floor)."""
    import os

    from faceprint import config

    env = os.environ.get("FACEPRINT_MIN_QUALITY")
    v: Any = value if value is not None else (env if env else config.DEFAULT_MIN_QUALITY)
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InvalidInput(f"min_quality must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= v <= 1.0:
        raise InvalidInput(f"min_quality must be in [0, 1], got {value!r}")
    return v


class Enrolment:
    """Enrols into ``store`` with the pipeline ``pipeline()`` returns (looked up on each call),
    and embeds each face with every pipeline ``others(main_tag)`` returns too (the gallery's
    other models; default none). A photo whose face scores below ``min_quality``
    (:mod:`faceprint.models.analyzers.quality`; None: the default floor, 0: none) is refused with
    :class:`~faceprint.errors.LowQualityFace`; faces given as Embeddings have no image to judge."""

    def __init__(
        self,
        store: GalleryStore,
        pipeline: Callable[[], GalleryPipeline],
        others: Callable[[str], Sequence[GalleryPipeline]] | None = None,
        on_stored: Callable[[GalleryPipeline], None] | None = None,
        min_quality: float | None = None,
    ) -> None:
        self.min_quality = check_min_quality(min_quality)
        self._quality: Any = None
        self.store = store
        self._pipeline = pipeline
        self._others = others or (lambda tag: ())
        self._on_stored = on_stored
        self._finds_by_hash = isinstance(store, FindsFacesByHash)

    def _check(self, pipe: GalleryPipeline, add_model: bool = False) -> str:
        return check_pipeline_model(self.store, pipe, add_model=add_model)

    def _with_others(
        self, pipe: GalleryPipeline, srcs: Sequence[GalleryInput], faces: Sequence[NewFace]
    ) -> list[NewFace]:
        """``faces`` with the embeddings of the gallery's other models, each computed at the
        face's box by that model's pipeline (sources given as Embeddings get none)."""
        others = [o for o in self._others(str(pipe.model_tag)) if str(o.model_tag) != str(pipe.model_tag)]
        todo = [k for k, (s, f) in enumerate(zip(srcs, faces, strict=True)) if s.image is not None and f.box is not None]
        if not others or not todo:
            return list(faces)
        extra: dict[int, list[Any]] = {k: [] for k in todo}
        for other in others:
            images = [img for k in todo if (img := srcs[k].image) is not None]
            for k, got in zip(todo, other.process_many(images, boxes=[[faces[k].box] for k in todo]), strict=True):
                emb = _most_prominent_embedding(got)
                if emb is not None:
                    extra[k].append(emb)
        return [replace(f, extra=tuple(extra.get(k, ()))) for k, f in enumerate(faces)]

    def _check_quality(self, src: GalleryInput, face: Face, floor: float) -> None:
        if floor <= 0.0 or src.image is None:
            return
        if self._quality is None:
            from faceprint import config
            from faceprint.models import registry

            self._quality = registry.create(config.DEFAULT_QUALITY_MODEL)
        (q,) = self._quality.assess(src.image, [face])
        if q.score < floor:
            s = q.signals
            raise LowQualityFace(
                f"face quality {q.score:.2f} is below the enrolment floor {floor:.2f} (eye distance {s.eye_distance:.0f} px, "
                f"sharpness {s.sharpness:.2f}, yaw {s.yaw:.2f}, brightness {s.brightness:.2f}): use a sharper, larger, "
                "frontal, evenly lit photo, or lower the floor (min_quality=, CLI --min-quality)",
                quality=q.score,
                floor=floor,
                source=src.name,
            )

    def _face_of(self, src: GalleryInput, faces: Sequence[Face], select: Selection | int | None, floor: float) -> NewFace:
        sha = src.sha256
        if sha is None:  # pragma: no cover - enrolment always reads with the hash
            raise InvalidInput("enrolment needs the content hash", source=src.name)
        if src.embedding is not None:
            return NewFace(src.embedding, sha, source=None)
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
            shape = src.image.shape if src.image is not None else (0, 0, 3)
            face = select_face(faces, select, shape)
        if face.embedding is None:  # pragma: no cover - filtered above
            raise NoFaceFound("no face embedded", source=src.name)
        self._check_quality(src, face, floor)
        source = src.name if not src.name.startswith("<") else None
        return NewFace(face.embedding, sha, box=face.box, quality=face.detection.score, source=source)

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
        """Enroll one or more images (paths, bytes, arrays or Embeddings) of one person.

        Each photo must hold exactly one usable face unless ``select`` says which to take
        (``"largest"``, ``"center"``, ``"score"`` or an index, most prominent first); otherwise
        :class:`NoFaceFound` / :class:`MultipleFaces` is raised and nothing is stored. All images
        are stored in one transaction. An image already enrolled for this person (same content
        sha256) is not stored twice: its outcome is ``"duplicate"``. ``add_model``: accept a
        pipeline whose model the gallery does not hold yet (it is added; faces enrolled before
        lack it until ``gallery reembed --add-model``). ``min_quality``: this call's quality floor
        (None: the enrolment's); a face below it raises :class:`LowQualityFace`, nothing stored.
        """
        name = enrolment_name(name)
        floor = self.min_quality if min_quality is None else check_min_quality(min_quality)
        items = as_list(images)
        if not items:
            raise InvalidInput("enroll needs at least one image")
        srcs = [read_input(it, i, with_hash=True) for i, it in enumerate(items)]
        need = [s for s in srcs if s.embedding is None]
        by_src: dict[int, list[Face]] = {}
        pipe: GalleryPipeline | None = None
        if need:
            pipe = self._pipeline()
            self._check(pipe, add_model)
            face_lists = []
            for faces in pipe.process_many([s.image for s in need if s.image is not None]):
                checkpoint()  # a cancelled request (service time limit) stops between images
                face_lists.append(faces)
            by_src = dict(zip(map(id, need), face_lists, strict=True))
        new_faces = [self._face_of(s, by_src.get(id(s), []), select, floor) for s in srcs]
        if pipe is not None:
            new_faces = self._with_others(pipe, srcs, new_faces)
        commit_point()  # past here the write happens even if the caller gives up (see faceprint.cancel)
        results = self.store.add_faces(name, new_faces, metadata=metadata, add_models=add_model)
        if pipe is not None and self._on_stored is not None:
            self._on_stored(pipe)
        outcomes = tuple(
            EnrollOutcome(name, s.name, "duplicate" if r.duplicate else "enrolled", r.face_id, nf.box)
            for s, nf, r in zip(srcs, new_faces, results, strict=True)
        )
        return EnrollResult(name, outcomes)

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
        enrolled for that name with every model enrolment embeds with (same file content) is
        reported ``"duplicate"`` without being re-embedded, so re-running an interrupted bulk
        enrollment is cheap. A face below the quality floor (``min_quality``, None: the
        enrolment's) is an ``"error"`` outcome with code ``low_quality``.
        """
        floor = self.min_quality if min_quality is None else check_min_quality(min_quality)
        it = iter(items)
        tags: list[str] | None = None
        while True:
            chunk = [x for _, x in zip(range(max(1, batch)), it, strict=False)]
            if not chunk:
                return
            prepared: list[tuple[str, str, GalleryInput | None, BaseException | None]] = []
            for i, (name, item) in enumerate(chunk):
                desc = describe(item, i)
                try:
                    name = enrolment_name(name)
                    inp = read_input(item, i, with_hash=True)
                    prepared.append((name, inp.name, inp, None))
                except Exception as e:  # noqa: BLE001 - reported per image
                    prepared.append((name, desc, None, e))
            todo = [(k, s) for k, (_, _, s, _) in enumerate(prepared) if s is not None and s.embedding is None]
            known: dict[tuple[str, str], int] = {}
            if skip_known and todo:
                if tags is None:
                    main = self._pipeline()
                    tags = [self._check(main, add_model), *(str(o.model_tag) for o in self._others(str(main.model_tag)))]
                pairs = [(prepared[k][0], s.sha256) for k, s in todo if s.sha256 is not None]
                known = self._known(tags[0], pairs)
                for t in tags[1:]:  # known only when enrolled with every model
                    other = self._known(t, pairs)
                    known = {p: f for p, f in known.items() if p in other}
            faces_by_k: dict[int, list[Face] | BaseException] = {}
            run = [(k, s) for k, s in todo if (prepared[k][0], s.sha256) not in known]
            pipe = self._pipeline()
            if run:
                self._check(pipe, add_model)
                images = [s.image for _, s in run if s.image is not None]
                try:
                    for (k, _), fl in zip(run, pipe.process_many(images), strict=True):
                        faces_by_k[k] = fl
                except Exception:  # noqa: BLE001 - one bad image spoils the batch: redo one by one
                    for k, s in run:
                        try:
                            faces_by_k[k] = pipe.process(s.image) if s.image is not None else []
                        except Exception as e:  # noqa: BLE001
                            faces_by_k[k] = e
            for k, (name, desc, src, err) in enumerate(prepared):
                if err is not None or src is None:
                    yield _error_outcome(name, desc, err or InvalidImage("unreadable"))
                    continue
                if src.sha256 is not None and (name, src.sha256) in known:
                    yield EnrollOutcome(name, desc, "duplicate", known[(name, src.sha256)])
                    continue
                try:
                    got = faces_by_k.get(k, [])
                    if isinstance(got, BaseException):
                        raise got
                    nf = self._face_of(src, got, select, floor)
                    if src.embedding is None:
                        nf = self._with_others(pipe, [src], [nf])[0]
                    r = self.store.add_faces(name, [nf], add_models=add_model)[0]
                    if src.embedding is None and self._on_stored is not None:
                        self._on_stored(pipe)
                except GalleryError:
                    raise  # storage problems stop the run: later images would fail the same way
                except Exception as e:  # noqa: BLE001 - per-image failure
                    yield _error_outcome(name, desc, e)
                    continue
                yield EnrollOutcome(name, desc, "duplicate" if r.duplicate else "enrolled", r.face_id, nf.box)

    def _known(self, model: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not self._finds_by_hash or not isinstance(self.store, FindsFacesByHash):
            return {}
        return self.store.find_faces_by_hash(model, pairs)
