"""The function-level API.

    >>> import faceprint
    >>> img = faceprint.load_image("photo.jpg")                       # doctest: +SKIP
    >>> faceprint.detect(img)                                          # doctest: +SKIP
    >>> faceprint.verify("obama.jpg", "obama2.jpg").is_match           # doctest: +SKIP

Every function accepts an image as a path, bytes, a binary file object or an RGB uint8 array, and
an optional ``pipeline=`` (a :class:`~faceprint.pipeline.Pipeline`); without one, a default pipeline
is built on first use, once per process, and shared.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from faceprint import defaults as _defaults
from faceprint.errors import InvalidInput, NoFaceFound
from faceprint.pipeline import Pipeline, Selection, select_face
from faceprint.types import Detection, Embedding, Face, Verification

if TYPE_CHECKING:
    from faceprint.analysis import FaceAnalysis
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.results import EnrollResult, IdentifiedFace
    from faceprint.video.process import DetectRate, VideoRun

__all__ = [
    "analyze",
    "default_pipeline",
    "detect",
    "embed",
    "embed_face",
    "enroll",
    "faces",
    "gallery",
    "identify",
    "load_image",
    "set_default_pipeline",
    "verify",
    "video",
]


#: An override older code (and tests) assign directly; the state lives in :mod:`faceprint.defaults`.
_default: Pipeline | None = None


def default_pipeline() -> Pipeline:
    """The process-wide default pipeline, built lazily on first call (thread-safe)."""
    return _default if _default is not None else _defaults.default_pipeline()


def set_default_pipeline(pipeline: Pipeline | None) -> None:
    """Replace the default pipeline (None resets it to be rebuilt from defaults on next use); it
    applies to every later call, galleries already opened without a pipeline included."""
    global _default
    _default = None
    _defaults.set_default_pipeline(pipeline)


def load_image(source: Any, *, max_pixels: int | None = None) -> np.ndarray:
    """Decode ``source`` (path, bytes, file object or array) to an (H, W, 3) uint8 RGB array."""
    from faceprint.io import load_image as _load

    return _load(source, max_pixels=max_pixels)


def _as_image(image: Any) -> np.ndarray:
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return image
    return load_image(image)


def detect(image: Any, *, pipeline: Pipeline | None = None) -> list[Detection]:
    """Every face in ``image``: box, score and landmarks where the detector gives them, most
    prominent (largest) first."""
    p = pipeline or default_pipeline()
    return p.detect(_as_image(image))


def faces(image: Any, *, pipeline: Pipeline | None = None, embed: bool = True) -> list[Face]:
    """Detect, landmark, align and (by default) embed every face, most prominent first."""
    p = pipeline or default_pipeline()
    return p.process(_as_image(image), embed=embed)


def embed(image: Any, *, pipeline: Pipeline | None = None) -> list[Embedding]:
    """Embeddings of every face in ``image``, most prominent first (empty when there is none)."""
    return [f.embedding for f in faces(image, pipeline=pipeline) if f.embedding is not None]


def embed_face(image: Any, *, select: Selection | int = "largest", pipeline: Pipeline | None = None) -> Embedding:
    """The embedding of one face of ``image``, chosen by ``select`` (see
    :func:`faceprint.pipeline.select_face`). Raises :class:`NoFaceFound` when there is none."""
    img = _as_image(image)
    found = faces(img, pipeline=pipeline)
    if not found:
        raise NoFaceFound("no face found", source=_describe(image))
    emb = select_face(found, select, img.shape).embedding  # process() embeds every face
    if emb is None:  # pragma: no cover - a pipeline that returned faces without embeddings
        raise NoFaceFound("the face found has no embedding", source=_describe(image))
    return emb


def _describe(image: Any) -> str | None:
    if isinstance(image, (str, os.PathLike)):
        return str(image)
    return None


def verify(
    a: Any,
    b: Any,
    *,
    threshold: float | None = None,
    calibration: Any = None,
    select: Selection | int | Sequence[Selection | int] = "largest",
    pipeline: Pipeline | None = None,
) -> Verification:
    """Are ``a`` and ``b`` the same person?

    ``a`` and ``b`` are images (the most prominent face of each is used unless ``select`` says
    otherwise; a pair of selections applies one to each) or :class:`Embedding` objects. The
    threshold comes from, in order: ``threshold``, ``calibration`` (a fitted
    :class:`~faceprint.matching.calibration.ThresholdCalibrator` or its file), the user's saved
    calibration, the model card's default (see :mod:`faceprint.matching.thresholds`).
    The result reports the score, the decision, the threshold and its source, and the false-match
    rate the calibration data shows at this score.
    """
    from faceprint.matching.metrics import cosine_similarity
    from faceprint.matching.thresholds import resolve_threshold

    sel_a, sel_b = (select, select) if isinstance(select, (str, int)) else tuple(select)
    ea = a if isinstance(a, Embedding) else embed_face(a, select=sel_a, pipeline=pipeline)
    eb = b if isinstance(b, Embedding) else embed_face(b, select=sel_b, pipeline=pipeline)
    if ea.model != eb.model:
        raise InvalidInput(f"embeddings come from different models ({ea.model} vs {eb.model})")
    score = cosine_similarity(ea, eb)
    thr = resolve_threshold(ea.model, threshold=threshold, calibration=calibration)
    return Verification(
        score=score,
        is_match=score >= thr.value,
        threshold=thr.value,
        threshold_source=thr.source,
        model=ea.model,
        far_estimate=thr.far_at(score),
    )


# ---------------------------------------------------------------- gallery

_galleries_lock = threading.Lock()
_galleries: dict[tuple[str, int], Gallery] = {}


def gallery(*, home: str | os.PathLike[str] | None = None, pipeline: Pipeline | None = None) -> Gallery:
    """The :class:`~faceprint.matching.gallery.Gallery` in ``home`` (default: ``$FACEPRINT_HOME``
    or the user data dir), opened once per process and pipeline and shared. Without a
    ``pipeline`` it uses the default pipeline in force at each call (see
    :func:`set_default_pipeline`)."""
    from faceprint.config import home_dir
    from faceprint.matching.gallery import Gallery

    key = (str(home_dir(home).resolve()), id(pipeline) if pipeline is not None else 0)
    with _galleries_lock:
        g = _galleries.get(key)
        if g is None:
            g = _galleries[key] = Gallery(home=key[0], pipeline=pipeline)
        return g


def enroll(
    name: str,
    images: Any,
    *,
    select: Selection | int | None = None,
    metadata: dict[str, Any] | None = None,
    min_quality: float | None = None,
    home: str | os.PathLike[str] | None = None,
    pipeline: Pipeline | None = None,
) -> EnrollResult:
    """Enroll ``images`` (one or a list: paths, bytes, arrays or Embeddings) as person ``name`` in
    the gallery in ``home``. Each photo must hold exactly one face unless ``select`` picks one; a
    face whose quality is below ``min_quality`` (None: the default floor,
    :data:`faceprint.config.DEFAULT_MIN_QUALITY`; 0: none) raises
    :class:`~faceprint.errors.LowQualityFace`. Returns an :class:`~faceprint.matching.gallery.EnrollResult`."""
    return gallery(home=home, pipeline=pipeline).enroll(name, images, select=select, metadata=metadata, min_quality=min_quality)


def identify(
    image: Any,
    *,
    k: int = 5,
    threshold: float | None = None,
    home: str | os.PathLike[str] | None = None,
    pipeline: Pipeline | None = None,
) -> list[IdentifiedFace]:
    """Who is in ``image``? For each face (most prominent first): the top-``k`` enrolled identities
    with scores, and the identity when the best score reaches the calibrated threshold, else
    unknown. Returns a list of :class:`~faceprint.matching.gallery.IdentifiedFace`."""
    return gallery(home=home, pipeline=pipeline).identify(image, k, threshold=threshold)


# ---------------------------------------------------------------- analysis


_analyzers_lock = threading.Lock()
_analyzers: dict[tuple[Any, ...], Any] = {}


def _analyzer_set(tasks: Any, model: str | None, include_race: bool) -> Any:
    from faceprint.analysis import load_analyzers, parse_tasks

    wanted = parse_tasks(tasks)
    key = (wanted, model, include_race)
    with _analyzers_lock:
        a = _analyzers.get(key)
        if a is None:
            a = _analyzers[key] = load_analyzers(
                wanted, models={"expression": model} if model else None, include_race=include_race
            )
        return a


def analyze(
    image: Any,
    *,
    tasks: str | Sequence[str] | None = None,
    identify: bool = False,
    k: int = 5,
    threshold: float | None = None,
    model: str | None = None,
    include_race: bool = False,
    home: str | os.PathLike[str] | None = None,
    pipeline: Pipeline | None = None,
) -> list[FaceAnalysis]:
    """Analysis of every face in ``image`` (most prominent first), one typed result per task:
    ``expression`` (the 7 probabilities of angry, disgust, fear, happy, sad, surprise, neutral and
    the top label), ``age`` (years), ``gender`` (probability and label), ``liveness`` (score,
    decision, threshold) and ``quality`` (score in [0, 1]). ``tasks`` (``"age,gender"`` or a list;
    default: every installed task — one whose weights are missing is skipped with a warning, a task
    named explicitly raises :class:`~faceprint.errors.ModelUnavailable`). ``model``: the expression
    model (default :data:`faceprint.config.DEFAULT_EXPRESSION_MODEL`). ``include_race``: add GEAR's
    race probabilities, for bias audits only (never in the default results). With
    ``identify=True`` the same pass also says who each face is (gallery in ``home``). Returns a
    list of :class:`~faceprint.analysis.FaceAnalysis`."""
    from faceprint.analysis import analyze_faces

    p = pipeline or default_pipeline()
    analyzers = _analyzer_set(tasks, model, include_race)
    g = gallery(home=home, pipeline=pipeline) if identify else None
    return analyze_faces(_as_image(image), pipeline=p, analyzers=analyzers, gallery=g, k=k, threshold=threshold)


# ---------------------------------------------------------------- video


def video(
    source: Any,
    *,
    identify: bool = True,
    detect_every: DetectRate = "auto",
    k: int = 5,
    threshold: float | None = None,
    home: str | os.PathLike[str] | None = None,
    pipeline: Pipeline | None = None,
    **options: Any,
) -> VideoRun:
    """Faces tracked through ``source`` (a video file, a camera index or a stream URL) and
    identified per track against the gallery in ``home`` (``identify=False``: no gallery).
    Iterating the returned :class:`~faceprint.video.process.VideoRun` yields a
    :class:`~faceprint.video.results.FrameResult` per frame and a
    :class:`~faceprint.video.results.TrackResult` as each track ends; ``run.result`` (or
    ``run.run()``) is the :class:`~faceprint.video.results.VideoResult`. ``options`` go to
    :class:`~faceprint.video.process.VideoRun` (``speed``, ``max_gap``, ``frame_level``, ``tracker`` ...)."""
    from faceprint.video.process import VideoRun

    p = pipeline or default_pipeline()
    g = gallery(home=home, pipeline=pipeline) if identify else None
    return VideoRun(source, pipeline=p, gallery=g, detect_every=detect_every, k=k, threshold=threshold, **options)
