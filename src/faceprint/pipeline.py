"""Pipeline composition: detect → landmarks → align → embed.

A :class:`Pipeline` is built from stage objects (dependency injection), or from registry names via
:class:`PipelineConfig`. It loads nothing until first used, and is safe to share between threads
(each stage guards its own model).

    >>> p = Pipeline.from_config(PipelineConfig(detector="mtcnn"))  # doctest: +SKIP
    >>> faces = p.process(load_image("photo.jpg"))                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from faceprint.detect_fallback import DEFAULT_PAD_STEPS, PAD_MAX_SIDE, PadStep, detect_padded, needs_padding
from faceprint.errors import InvalidInput, ModelUnavailable, NoFaceFound
from faceprint.protocols import Detector, Embedder, Landmarker
from faceprint.types import AlignedFace, Box, Detection, Embedding, Face, Landmarks
from faceprint.working_resolution import DEFAULT_DETECT_MAX_SIDE, check_max_side, detect_at_working_resolution

logger = logging.getLogger(__name__)

Selection = Literal["largest", "center", "score"]

#: The options a pipeline gives a detector chosen by name (``PipelineConfig(detector=...)`` without
#: ``detector_options``, or the CLI's ``--detector``), chosen by measurement (README, LFW View 1):
#:
#: * ``mtcnn``: O-net score floor 0.9 — every real face in the example photos and dlib's detection
#:   XMLs scores ≥ 0.975, while its false positives there (a chair back, a streamer, a button, an
#:   object in a corner) score 0.52–0.82 — and dlib-style boxes, so a dlib shape predictor gets the boxes it was
#:   trained on (:func:`faceprint.models.detectors.mtcnn.dlib_style_box`).
#: * ``dlib_hog``: one upsampling (finds faces down to ~28 px wide; without it, ~60 px; benchmarks/detectors.py).
#: These options live in one place, each detector's card (``card.extra["pipeline_options"]``).
def detector_defaults(name: str) -> dict[str, Any]:
    """The pipeline's measured options for detector ``name``: a copy of its card's
    ``extra["pipeline_options"]`` (empty for detectors without them or not registered)."""
    from faceprint.errors import ModelUnavailable
    from faceprint.models import registry

    try:
        card = registry.get_card(name)
    except ModelUnavailable:
        return {}
    return dict(card.extra.get("pipeline_options", {}))


@dataclass(frozen=True)
class PipelineConfig:
    """Registry names (and options) of each stage. The defaults were chosen by measurement on LFW
    View 1 only (README, "LFW"; ``benchmarks/lfw_view1_candidates.py --new-models``): MTCNN (score
    ≥ 0.9) and its own five points → the ArcFace 112 px chip → SFace int8 (``sface_int8``), one pass
    per chip — DevTrain 99.82 % (the best of every candidate), DevTest 99.40 % at DevTrain's threshold.
    The previous default (dlib 5 points → dlib ResNet, mirrored: 99.23 % / 98.60 %) is preset ``fast``.

    ``detector_options``: None (the default) means the measured options of the chosen detector,
    :func:`detector_defaults` — so ``PipelineConfig(detector="dlib_hog")`` gets ``upsample=1``;
    pass a dict (``{}`` for the detector's own defaults) to choose them yourself.

    ``landmarker``: None aligns from the detector's own points (MTCNN's five).

    ``flip_average``: embed every chip and its horizontal mirror and average the two raw
    descriptors (test-time augmentation; two network passes per face). With the dlib ResNet on LFW
    View 1 it raised accuracy from 98.91 % to 99.23 % (DevTrain) and 98.70 % to 99.00 % (DevTest).

    ``detect_max_side``: detect on a copy shrunk so its longer side is at most this many pixels
    (landmarks and alignment still from full-resolution pixels; :mod:`faceprint.working_resolution`);
    None detects at full resolution. Images no larger than it (LFW, most uploads) are unaffected,
    so it is not part of :meth:`signature`.

    ``tight_crop_fallback``: when detection finds no face, or a face that spans the frame, detect
    again on the image padded with a border (:mod:`faceprint.detect_fallback`,
    :data:`~faceprint.detect_fallback.DEFAULT_PAD_STEPS`), so tight face crops (ID photos, avatars,
    dataset crops) are not "no face found" and get the points of the whole face. On LFW's full
    images (View 1 and View 2) it changes no detection (README, "Tight crops"), so it is not part
    of :meth:`signature` either.
    """

    detector: str = "mtcnn"
    detector_options: dict[str, Any] | None = None
    landmarker: str | None = None
    embedder: str = "sface_int8"
    embedder_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    flip_average: bool = False
    detect_max_side: int | None = DEFAULT_DETECT_MAX_SIDE
    tight_crop_fallback: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "detect_max_side", check_max_side(self.detect_max_side))
        if self.detector_options is None:
            object.__setattr__(self, "detector_options", detector_defaults(self.detector))

    def signature(self) -> str:
        """A stable string naming everything that changes the embeddings (for caches)."""
        from faceprint.models import registry

        emb = registry.get_card(self.embedder)
        det = registry.get_card(self.detector)
        lm = registry.get_card(self.landmarker).tag if self.landmarker else "-"
        opts = ",".join(f"{k}={v}" for k, v in sorted((self.detector_options or {}).items()))
        eopts = ",".join(f"{k}={v}" for k, v in sorted(self.embedder_options.items()))
        flip = ";flip" if self.flip_average else ""
        return f"det={det.tag}[{opts}];lm={lm};emb={emb.tag}[{eopts}];align=2{flip}"


class Pipeline:
    """detect → landmarks → align → embed, batched.

    Args:
        detector: finds faces (:class:`~faceprint.protocols.Detector`).
        embedder: maps aligned chips to descriptors (:class:`~faceprint.protocols.Embedder`).
        landmarker: places landmarks in each detected box. When None, the detector's own landmarks
            are used (e.g. MTCNN's five points); a detector without landmarks then needs one.
        batch_size: chips per embedder call.
        flip_average: also embed each chip's mirror image and average the two raw descriptors
            (twice the network work; :class:`PipelineConfig` turns it on by default).
        detect_max_side: detect at a working resolution whose longer side is at most this
            (None, the default here: full resolution; :class:`PipelineConfig` sets a measured one).
        pad_steps: when detection finds nothing or a face spanning the frame, detect again on the image padded by each of these
            in turn (:func:`faceprint.detect_fallback.detect_padded`; empty, the default here: no
            fallback; :class:`PipelineConfig` turns it on).
    """

    def __init__(
        self,
        detector: Detector,
        embedder: Embedder,
        landmarker: Landmarker | None = None,
        *,
        batch_size: int = 32,
        flip_average: bool = False,
        config: PipelineConfig | None = None,
        detect_max_side: int | None = None,
        pad_steps: Sequence[PadStep] = (),
    ) -> None:
        if batch_size < 1:
            raise InvalidInput("batch_size must be >= 1")
        self.detector = detector
        self.embedder = embedder
        self.landmarker = landmarker
        self.batch_size = batch_size
        self.flip_average = bool(flip_average)
        self.config = config
        self.detect_max_side = check_max_side(detect_max_side)
        self.pad_steps: tuple[PadStep, ...] = tuple(pad_steps)
        if not all(isinstance(st, PadStep) for st in self.pad_steps):
            raise InvalidInput("pad_steps must be faceprint.detect_fallback.PadStep values")

    @classmethod
    def from_config(cls, config: PipelineConfig | None = None, **overrides: Any) -> Pipeline:
        """Build the stages named by ``config`` (default :class:`PipelineConfig`) with ``overrides``
        applied. Overriding ``detector`` without ``detector_options`` gives the new detector its
        own defaults (:func:`detector_defaults`), not the options of the one it replaces."""
        from faceprint.models import registry

        base = config or PipelineConfig()
        if "detector" in overrides and "detector_options" not in overrides and overrides["detector"] != base.detector:
            overrides["detector_options"] = None
        cfg = replace(base, **overrides)
        detector = registry.create(cfg.detector, **(cfg.detector_options or {}))
        landmarker = registry.create(cfg.landmarker) if cfg.landmarker else None
        embedder = registry.create(cfg.embedder, **cfg.embedder_options)
        return cls(
            detector,
            embedder,
            landmarker,
            batch_size=cfg.batch_size,
            flip_average=cfg.flip_average,
            config=cfg,
            detect_max_side=cfg.detect_max_side,
            pad_steps=DEFAULT_PAD_STEPS if cfg.tight_crop_fallback else (),
        )

    @property
    def model_tag(self) -> str:
        """Tag of the embedding model (``name@version``), stored with every embedding."""
        return self.embedder.card.tag

    def without_tight_crop_fallback(self) -> Pipeline:
        """This pipeline (same models, shared sessions) with no tight-crop fallback: for video frames
        and other scenes, which are never face crops, where a frame with no face would otherwise pay
        for every pad step's detection."""
        if not self.pad_steps:
            return self
        import copy

        other = copy.copy(self)
        other.pad_steps = ()
        return other

    # ------------------------------------------------------------------ stages

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in ``image``, in its coordinates, found at the working resolution (``detect_max_side``);
        when none is found or a face spans the frame, on the image padded by ``pad_steps`` (the
        tight-crop fallback, :func:`faceprint.detect_fallback.needs_padding`)."""
        dets = detect_at_working_resolution(self.detector, image, self.detect_max_side)
        if not self.pad_steps or not needs_padding(dets, int(image.shape[1]), int(image.shape[0])):
            return dets
        bound = PAD_MAX_SIDE if self.detect_max_side is None else min(PAD_MAX_SIDE, self.detect_max_side)
        return detect_padded(self.detector, image, self.pad_steps, max_side=bound) or dets

    def landmarks(self, image: np.ndarray, detections: Sequence[Detection]) -> list[Landmarks]:
        """Landmarks for each detection: from the landmarker, else the detector's own."""
        if not detections:
            return []
        if self.landmarker is not None:
            return list(self.landmarker.landmarks(image, [d.box for d in detections]))
        out = []
        for d in detections:
            if d.landmarks is not None:
                out.append(d.landmarks)
            elif d.detector == "given":  # a box given without points: faceprint.box_points
                from faceprint.box_points import points_for_box

                out.append(points_for_box(self.detector, image, d.box, self.embedder.card.template)[0])
            else:
                raise ModelUnavailable(
                    f"detector {d.detector or '?'} gives no landmarks and the pipeline has no landmarker; "
                    "configure one (e.g. landmarker='dlib_shape5')"
                )
        return out

    def align(self, image: np.ndarray, landmarks: Sequence[Landmarks]) -> list[AlignedFace]:
        from faceprint.align import align_face

        template = self.embedder.card.template
        return [align_face(image, lm, template) for lm in landmarks]

    def embed_aligned(self, aligned: Sequence[AlignedFace]) -> list[Embedding]:
        """Embed chips in batches of ``batch_size``; returns unit-norm embeddings (with
        ``flip_average``, of the mean raw descriptor of each chip and its mirror image)."""
        if not aligned:
            return []
        chips = np.stack([a.chip for a in aligned])
        raw = np.concatenate([self._embed_batch(chips[i : i + self.batch_size]) for i in range(0, len(chips), self.batch_size)])
        norms = np.linalg.norm(raw, axis=1)
        tag = self.model_tag
        return [Embedding(v, model=tag, norm=float(n)) for v, n in zip(raw, norms, strict=True)]

    def _embed_batch(self, chips: np.ndarray) -> np.ndarray:
        if not self.flip_average:
            return self.embedder.embed_chips(chips)
        n = len(chips)
        both = self.embedder.embed_chips(np.concatenate([chips, chips[:, :, ::-1]]))  # one call: chips, then mirrors
        return (both[:n] + both[n:]) / 2.0

    # -------------------------------------------------------------- composites

    def process(self, image: np.ndarray, *, boxes: Sequence[Box] | None = None, embed: bool = True) -> list[Face]:
        """All faces of one image, most prominent first. ``boxes`` skips detection."""
        return next(self.process_many([image], boxes=[boxes] if boxes is not None else None, embed=embed))

    def process_many(
        self,
        images: Iterable[np.ndarray],
        *,
        boxes: Sequence[Sequence[Box] | None] | None = None,
        embed: bool = True,
    ) -> Iterator[list[Face]]:
        """Faces for each image, in order, embedding chips of several images in shared batches."""
        pending: list[tuple[list[Detection], list[Landmarks], list[AlignedFace]]] = []
        n_chips = 0
        for i, image in enumerate(images):
            given = boxes[i] if boxes is not None else None
            dets = [Detection(b, score=1.0, detector="given") for b in given] if given is not None else self.detect(image)
            lms = self.landmarks(image, dets)
            aligned = self.align(image, lms)
            pending.append((dets, lms, aligned))
            n_chips += len(aligned)
            if not embed or n_chips >= self.batch_size:
                yield from self._flush(pending, embed)
                pending, n_chips = [], 0
        yield from self._flush(pending, embed)

    def _flush(
        self, pending: list[tuple[list[Detection], list[Landmarks], list[AlignedFace]]], embed: bool
    ) -> Iterator[list[Face]]:
        all_aligned = [a for _, _, al in pending for a in al]
        embs = self.embed_aligned(all_aligned) if embed else [None] * len(all_aligned)
        k = 0
        for dets, lms, aligned in pending:
            faces = []
            for d, lm, al in zip(dets, lms, aligned, strict=True):
                faces.append(Face(detection=d, landmarks=lm, aligned=al, embedding=embs[k]))
                k += 1
            yield faces


def prominence_order(faces: Sequence[Face]) -> list[Face]:
    """Faces sorted most prominent first: larger box area, then higher score."""
    return sorted(faces, key=lambda f: (-f.box.area, -f.detection.score))


def select_face(faces: Sequence[Face], how: Selection | int = "largest", image_shape: tuple[int, ...] | None = None) -> Face:
    """Pick one face: ``"largest"`` (most prominent — the default everywhere), ``"center"``
    (nearest the image centre; needs ``image_shape``), ``"score"`` (highest detector score), or an
    index into ``faces`` as returned (most prominent first)."""
    if not faces:
        raise NoFaceFound("no face found")
    if isinstance(how, (int, np.integer)) and not isinstance(how, bool):
        if not 0 <= how < len(faces):
            raise InvalidInput(f"face index {how} out of range: {len(faces)} face(s) found")
        return faces[how]
    if how == "largest":
        return prominence_order(faces)[0]
    if how == "score":
        return max(faces, key=lambda f: f.detection.score)
    if how == "center":
        if image_shape is None:
            raise InvalidInput("select='center' needs the image shape")
        cy, cx = image_shape[0] / 2.0, image_shape[1] / 2.0
        return min(faces, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2)
    raise InvalidInput(f"unknown face selection {how!r}: use 'largest', 'center', 'score' or an index")


def central_box(image_shape: tuple[int, ...], fraction: float = 0.45) -> Box:
    """A square box of ``fraction`` × the shorter side, centred: the documented fallback when no
    face is detected in an image known to hold one centred face (e.g. LFW)."""
    h, w = image_shape[:2]
    side = fraction * min(h, w)
    return Box(w / 2 - side / 2, h / 2 - side / 2, w / 2 + side / 2, h / 2 + side / 2)


#: Named pipelines (``--preset`` on the CLI, ``FACEPRINT_PRESET`` / ``preset`` in the service).
#: ``default`` is :class:`PipelineConfig`'s defaults (the same as ``accurate``); ``fast`` is the fastest
#: pipeline measured with LFW View 2 ≥ 99.0 % (the dlib pipeline, the default before issue 12, also named
#: ``dlib``: README, "LFW"). The others were measured on LFW View 1 only
#: (``benchmarks/lfw_view1_candidates.py --new-models``, ``benchmarks/fusion_calibrate.py``; DevTrain
#: best-threshold accuracy / DevTest accuracy at its own best threshold):
#:
#: * ``accurate`` — the best View 1 pipeline at any speed: MTCNN's five points → ArcFace chip → SFace int8
#:   (DevTrain 99.82 %, AUC 0.99919, TAR@FAR=1e-3 0.996; DevTest 99.40 % at DevTrain's threshold, 99.60 % best).
#:   fp32 SFace scores 99.77 % / 99.30 % / 99.60 % (one DevTrain pair apart: the block-quantised weights
#:   cost nothing measurable); the dlib pipeline 99.23 % / 98.60 % / 99.00 %.
#: * ``sface`` — the same with fp32 weights; ``sface_int8`` = ``accurate``; ``yunet_sface`` YuNet's own
#:   five points instead of MTCNN's (YuNet ~4× cheaper than MTCNN on LFW images, but SFace on its points
#:   scores 99.55 % / 98.80 % / 99.00 %).
#: * ``fusion`` — the z-score fusion ``dlib_resnet_v1+sface`` (its members' chips cut from one canvas):
#:   99.77 % / 99.20 % / 99.40 %, AUC 0.99983.
#:
#: Pipelines that align from the detector's own points have no landmarker and no pipeline-level
#: mirror averaging (the fusion mirrors its dlib member itself).
_OWN_POINTS: dict[str, Any] = {"landmarker": None, "flip_average": False}
#: the default until issue 12: MTCNN (dlib-style boxes) → dlib 5 points → dlib's 150 px chip → dlib ResNet, mirrored
_DLIB: dict[str, Any] = {"landmarker": "dlib_shape5", "embedder": "dlib_resnet_v1", "flip_average": True}
def _build_presets() -> dict[str, PipelineConfig]:
    return {
        "default": PipelineConfig(),
        "fast": PipelineConfig(**_DLIB),
        "accurate": PipelineConfig(),
        "dlib": PipelineConfig(**_DLIB),
        "sface": PipelineConfig(embedder="sface", **_OWN_POINTS),
        "sface_int8": PipelineConfig(embedder="sface_int8", **_OWN_POINTS),
        "yunet_sface": PipelineConfig(detector="yunet", embedder="sface", **_OWN_POINTS),
        "fusion": PipelineConfig(embedder="dlib_resnet_v1+sface", **_OWN_POINTS),
    }


class _Presets(Mapping[str, PipelineConfig]):
    """Built on first use: a config reads its detector's card, and importing this module loads no model."""

    def __init__(self) -> None:
        self._table: dict[str, PipelineConfig] | None = None

    def _get(self) -> dict[str, PipelineConfig]:
        if self._table is None:
            self._table = _build_presets()
        return self._table

    def __getitem__(self, name: str) -> PipelineConfig:
        return self._get()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


PRESETS: Mapping[str, PipelineConfig] = _Presets()


def preset_config(name: str) -> PipelineConfig:
    """The :class:`PipelineConfig` of preset ``name`` (one of :data:`PRESETS`)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidInput(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}") from None
