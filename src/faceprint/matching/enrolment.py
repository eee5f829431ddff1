"""Enrolment: images (or Embeddings) of a person into a gallery store, one transaction per call
(:meth:`Enrolment.enroll`) or one per image (:meth:`Enrolment.enroll_many`, bulk, resumable).

Every enrolment name passes through :func:`enrolment_name`, the one place to validate or normalise
names. Inputs are read by :func:`~faceprint.matching.inputs.read_input` with their content hash
(the duplicate key); the pipeline's model is checked against the gallery's before embedding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from faceprint.cancel import checkpoint, commit_point
from faceprint.errors import GalleryError, InvalidImage, InvalidInput, MultipleFaces, NoFaceFound
from faceprint.matching.inputs import GalleryInput, as_list, describe, read_input
from faceprint.matching.results import EnrollOutcome, EnrollResult
from faceprint.matching.store.base import FindsFacesByHash, GalleryStore, NewFace
from faceprint.pipeline import Selection, select_face
from faceprint.types import Box, Face

__all__ = ["Enrolment", "GalleryPipeline", "check_pipeline_model", "enrolment_name"]


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


def check_pipeline_model(store: GalleryStore, pipe: GalleryPipeline) -> str:
    """The pipeline's model tag, refused (GalleryError) when the gallery holds another model's."""
    tag = str(pipe.model_tag)
    m = store.model()
    gm = m[0] if m else None
    if gm is not None and tag != gm:
        raise GalleryError(
            f"the gallery holds embeddings of model {gm} but the pipeline makes {tag}: "
            "models are never mixed. Use a pipeline with the gallery's model, or re-embed the gallery "
            "(`faceprint gallery reembed`)"
        )
    return tag


class Enrolment:
    """Enrols into ``store`` with the pipeline ``pipeline()`` returns (looked up on each call)."""

    def __init__(self, store: GalleryStore, pipeline: Callable[[], GalleryPipeline]) -> None:
        self.store = store
        self._pipeline = pipeline
        self._finds_by_hash = isinstance(store, FindsFacesByHash)

    def _check(self, pipe: GalleryPipeline) -> str:
        return check_pipeline_model(self.store, pipe)

    @staticmethod
    def _face_of(src: GalleryInput, faces: Sequence[Face], select: Selection | int | None) -> NewFace:
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
        source = src.name if not src.name.startswith("<") else None
        return NewFace(face.embedding, sha, box=face.box, quality=face.detection.score, source=source)

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
        name = enrolment_name(name)
        items = as_list(images)
        if not items:
            raise InvalidInput("enroll needs at least one image")
        srcs = [read_input(it, i, with_hash=True) for i, it in enumerate(items)]
        need = [s for s in srcs if s.embedding is None]
        by_src: dict[int, list[Face]] = {}
        if need:
            pipe = self._pipeline()
            self._check(pipe)
            face_lists = []
            for faces in pipe.process_many([s.image for s in need if s.image is not None]):
                checkpoint()  # a cancelled request (service time limit) stops between images
                face_lists.append(faces)
            by_src = dict(zip(map(id, need), face_lists, strict=True))
        new_faces = [self._face_of(s, by_src.get(id(s), []), select) for s in srcs]
        commit_point()  # past here the write happens even if the caller gives up (see faceprint.cancel)
        results = self.store.add_faces(name, new_faces, metadata=metadata)
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
    ) -> Iterator[EnrollOutcome]:
        """Bulk enrollment of ``(name, image)`` pairs, committing **each image** in its own
        transaction before yielding its outcome: a crash loses nothing reported enrolled.

        Bad images (unreadable, no face, several faces without ``select``) and bad names yield an
        ``"error"`` outcome and enrollment continues. With ``skip_known``, an image already
        enrolled for that name (same file content, same model) is reported ``"duplicate"`` without
        being re-embedded, so re-running an interrupted bulk enrollment is cheap.
        """
        it = iter(items)
        tag: str | None = None
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
                if tag is None:
                    tag = self._check(self._pipeline())
                known = self._known(tag, [(prepared[k][0], s.sha256) for k, s in todo if s.sha256 is not None])
            faces_by_k: dict[int, list[Face] | BaseException] = {}
            run = [(k, s) for k, s in todo if (prepared[k][0], s.sha256) not in known]
            if run:
                pipe = self._pipeline()
                self._check(pipe)
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
                    nf = self._face_of(src, got, select)
                    r = self.store.add_faces(name, [nf])[0]
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
