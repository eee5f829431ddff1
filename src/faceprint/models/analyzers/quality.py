"""Face-image quality: a score in [0, 1] meant to predict how well a face will be recognised
(low quality: a genuine pair that includes it is more likely to be missed).

It combines signals measured on each face (:func:`measure`):

- ``detector_score``: the detector's confidence;
- ``eye_distance``: inter-ocular distance in image pixels (from the five points; 0.4 × the box
  width without them);
- ``sharpness``: log10(1 + variance of the Laplacian) of the grey ArcFace-template chip's central half
  (blur lowers it);
- ``yaw``: horizontal offset of the nose tip from the eyes' midpoint, over the eye distance
  (0 frontal, ~0.5 and more in profile); ``pitch``: the nose tip's vertical place between the eye
  line and the mouth line (fraction) minus the frontal value in the card; ``roll``: the eye line's
  angle in degrees;
- ``brightness``, ``contrast``, ``clipped``: the grey chip's mean and standard deviation (in
  [0, 1]) and the fraction of pixels at ≤ 5 or ≥ 250.

Each signal becomes a bounded feature (:func:`features`) and the score is
``sigmoid(bias + weights · features)``; the weights were fitted on LFW View 1 DevTrain only
(least squares of each genuine pair's cosine score, SFace int8 default pipeline, on the features of
each of its two photos; ``benchmarks/quality.py --fit``) and checked on View 2 with an
error-versus-reject curve: figures on the card. A pair's quality is the smaller of its two faces'.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.registry import register
from faceprint.types import Box, Face, Landmarks

#: Feature names, in the order of the card's ``extra["weights"]``.
FEATURES = (
    "detector_score",
    "eye_distance",
    "sharpness",
    "yaw",
    "pitch",
    "roll",
    "exposure",
    "contrast",
    "clipped",
    "embedding_norm",
    "mirror_similarity",
)


@dataclass(frozen=True)
class QualitySignals:
    """The raw measurements of one face (module docstring)."""

    detector_score: float
    eye_distance: float
    sharpness: float
    yaw: float
    pitch: float
    roll: float
    brightness: float
    contrast: float
    clipped: float
    embedding_norm: float = float("nan")
    mirror_similarity: float = float("nan")

    def to_dict(self, digits: int = 4) -> dict[str, float]:
        return {k: round(float(v), digits) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class QualityPrediction:
    """Quality of one face: the score in [0, 1], the signals it came from, and the box."""

    score: float
    signals: QualitySignals
    box: Box

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        return {
            "score": round(self.score, digits),
            "signals": self.signals.to_dict(digits),
            "box": [round(v, 2) for v in self.box.as_tuple()],
        }


def _gray(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.float32)


#: The chip the signals are measured on (the default pipeline's: SFace's ArcFace 112 px template).
TEMPLATE = "arcface_112"


def _points5(face: Face) -> Landmarks | None:
    """The face's five eye-centre/nose/mouth points: the pipeline's landmarks when they convert
    (ibug68 does), else the detector's own (a dlib 5-point landmarker has no mouth points: the
    ``fast`` preset's MTCNN still gives five), else None."""
    for lm in (face.landmarks, face.detection.landmarks):
        if lm is None:
            continue
        try:
            return lm.to_eyes_nose_mouth5()
        except InvalidInput:
            continue
    return None


def _chip(image: np.ndarray, face: Face) -> np.ndarray:
    """The face's :data:`TEMPLATE` chip: the pipeline's when it made one on that template, else
    aligned here from the face's points, else the box cut and resized to 112×112."""
    if face.aligned is not None and face.aligned.template == TEMPLATE:
        return np.asarray(face.aligned.chip)
    import cv2

    lm = _points5(face)
    if lm is not None:
        from faceprint.align import align_face

        try:
            return np.asarray(align_face(image, lm, TEMPLATE).chip)
        except InvalidInput:
            pass

    b = face.box
    h, w = image.shape[:2]
    x1, y1 = max(0, int(b.x1)), max(0, int(b.y1))
    x2, y2 = min(w, max(x1 + 1, int(math.ceil(b.x2)))), min(h, max(y1 + 1, int(math.ceil(b.y2))))
    return np.asarray(cv2.resize(np.ascontiguousarray(image[y1:y2, x1:x2]), (112, 112), interpolation=cv2.INTER_AREA))


#: The embedder of the embedding signals (the default pipeline's).
EMBEDDER = "sface_int8"


def embedding_signals(embedder: Any, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(norm, mirror similarity)`` per :data:`TEMPLATE` chip ``(N, 112, 112, 3)``: the L2 norm of
    the raw :data:`EMBEDDER` descriptor, and the cosine between the descriptors of the chip and
    its mirror image (one embedder call on both)."""
    n = len(chips)
    raw = np.asarray(embedder.embed_chips(np.concatenate([chips, chips[:, :, ::-1]])), np.float64)
    norms = np.linalg.norm(raw, axis=1)
    unit = raw / np.maximum(norms[:, None], 1e-12)
    return norms[:n], np.sum(unit[:n] * unit[n:], axis=1)


def measure(image: np.ndarray, face: Face, embedder: Any = None) -> QualitySignals:
    """The quality signals of ``face`` (from :meth:`faceprint.pipeline.Pipeline.process`) in the
    RGB uint8 ``image`` it was found in; with ``embedder`` (an :data:`EMBEDDER` instance) the
    embedding signals too (else NaN)."""
    import cv2

    if not isinstance(face, Face):
        raise InvalidInput(f"face must be a faceprint.types.Face, got {type(face).__name__}")
    chip = _chip(image, face)
    norm = mirror = float("nan")
    if embedder is not None:
        ns, ms = embedding_signals(embedder, chip[None])
        norm, mirror = float(ns[0]), float(ms[0])
    gray = _gray(chip)
    s = gray.shape[0]
    centre = gray[s // 4 : s - s // 4, s // 4 : s - s // 4]
    lap = cv2.Laplacian(centre, cv2.CV_32F, ksize=1)
    sharp = math.log10(1.0 + float(lap.var()))
    lm = _points5(face)
    yaw = pitch = roll = 0.0
    iod = 0.4 * face.box.width
    if lm is not None:
        p = lm.points.astype(np.float64)
        eyes = 0.5 * (p[0] + p[1])
        mouth = 0.5 * (p[3] + p[4])
        d = p[1] - p[0]
        iod = float(np.hypot(*d))
        if iod > 1e-6:
            roll = math.degrees(math.atan2(d[1], d[0]))
            ux = d / iod  # eye-line direction; measure in the face's own frame
            uy = np.array([-ux[1], ux[0]])
            yaw = abs(float(np.dot(p[2] - eyes, ux))) / iod
            span = float(np.dot(mouth - eyes, uy))
            pitch = float(np.dot(p[2] - eyes, uy)) / span if abs(span) > 1e-6 else 0.0
    g = gray / 255.0
    clipped = float(np.mean((gray <= 5) | (gray >= 250)))
    return QualitySignals(
        detector_score=float(face.detection.score),
        eye_distance=iod,
        sharpness=sharp,
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        brightness=float(g.mean()),
        contrast=float(g.std()),
        clipped=clipped,
        embedding_norm=norm,
        mirror_similarity=mirror,
    )


def features(s: QualitySignals, frontal_pitch: float) -> np.ndarray:
    """Bounded features of the signals, in :data:`FEATURES` order (module docstring); missing
    embedding signals (NaN) count as 0."""

    def finite(v: float) -> float:
        return float(v) if math.isfinite(v) else 0.0

    return np.array(
        [
            min(max(s.detector_score, 0.0), 1.0),
            math.log(min(max(s.eye_distance, 4.0), 80.0)),
            min(s.sharpness, 3.5),
            min(s.yaw, 1.0),
            min(abs(s.pitch - frontal_pitch), 1.0),
            min(abs(s.roll), 45.0) / 45.0,
            abs(s.brightness - 0.5),
            min(s.contrast, 0.5),
            s.clipped,
            finite(s.embedding_norm),
            finite(s.mirror_similarity),
        ],
        np.float64,
    )


#: Fitted on LFW View 1 DevTrain by ``python benchmarks/quality.py --fit`` (module docstring): 2,200
#: rows (each genuine pair's cosine, once per photo), r = 0.399, residual s.d. 0.0946; weights of
#: the wrong sign on DevTrain (detector score, yaw, roll, contrast, clipped) set to 0 and refitted;
#: ``bias`` includes −0.3592 (sface_int8's shipped threshold) and ``scale`` is 1.702 / residual s.d.,
#: so the score approximates P(a genuine comparison of this face clears the threshold).
FIT: dict[str, Any] = {
    "weights": (0.0, 0.002026, 0.008833, 0.0, -0.01694, 0.0, -0.011443, 0.0, 0.0, 0.030356, 1.536182),
    "bias": -1.575555,
    "scale": 18.001347,
    "frontal_pitch": 0.536205,
}

CARD = ModelCard(
    name="faceprint_quality",
    task="analyzer",
    version="1",
    source=WeightSource(package=None, path="", pip_name=None, sha256=None),
    license="MIT (faceprint's code; no learned weights beyond the 11 numbers in extra, fitted on LFW View 1).",
    labels=("quality",),
    notes="Face-image quality in [0, 1]: sigmoid of a linear combination of measured signals (detector score, eye "
    "distance, chip sharpness, pose from the five points, exposure, SFace int8 embedding norm and chip/mirror "
    "embedding agreement); fitted on LFW View 1 DevTrain only (weights of the wrong sign zeroed: on LFW only eye "
    "distance, sharpness, pitch, exposure, embedding norm and mirror agreement kept a weight). About P(a genuine "
    "comparison of the face clears sface_int8's threshold), so LFW faces score high (median 0.9975). See "
    "extra['view2_erc'] for the error-versus-reject check on View 2.",
    extra={
        "analysis_task": "quality",
        "features": FEATURES,
        **FIT,
        "default": True,
        "fit_data": "LFW View 1 pairsDevTrain.txt (1,100 genuine pairs), default pipeline (mtcnn -> sface_int8)",
        "view2_erc": {
            "data": "LFW View 2 pairs.txt (6,000 pairs); threshold fixed on all 3,000 impostor pairs; pair quality = "
            "min of its two faces'; benchmarks/results/quality.json",
            "command": "python benchmarks/quality.py",
            "fmr_1e-3": {"threshold": 0.35781, "fnmr_all": 0.0083, "fnmr_reject_5pct": 0.006, "fn_all": 25, "fn_reject_5pct": 17},
            "fmr_1e-2": {"threshold": 0.30124, "fnmr_all": 0.004, "fnmr_reject_5pct": 0.0035, "fn_all": 12, "fn_reject_5pct": 10},
        },
        "ms_per_face": 34.0,
    },
)


@register(CARD)
class QualityAnalyzer:
    """Quality of each face (module docstring). Needs the pipeline's faces (landmarks, chip), so
    it takes faces rather than boxes: :meth:`assess`. ``embedder``: the :data:`EMBEDDER` used for
    the embedding signals (default: built on first use)."""

    task = "quality"

    def __init__(self, card: ModelCard = CARD, *, embedder: Any = None) -> None:
        w = np.asarray(card.extra["weights"], np.float64)
        if w.shape != (len(FEATURES),):
            raise InvalidInput(f"model card {card.name!r}: extra['weights'] needs {len(FEATURES)} numbers")
        self.card = card
        self._w = w
        self._bias = float(card.extra["bias"])
        self._scale = float(card.extra["scale"])
        self._frontal_pitch = float(card.extra["frontal_pitch"])
        self._embedder = embedder
        self._lock = threading.Lock()

    def _get_embedder(self) -> Any:
        with self._lock:
            if self._embedder is None:
                from faceprint.models import registry

                self._embedder = registry.create(EMBEDDER)
            return self._embedder

    def load(self) -> None:
        """Build the embedder now (the analyzers share this method)."""
        emb = self._get_embedder()
        if hasattr(emb, "embed_chips"):
            emb.embed_chips(np.zeros((1, 112, 112, 3), np.uint8))

    def score(self, signals: QualitySignals) -> float:
        z = self._scale * (self._bias + float(self._w @ features(signals, self._frontal_pitch)))
        return float(1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0))))

    def assess(self, image: np.ndarray, faces: Sequence[Face]) -> list[QualityPrediction]:
        """One :class:`QualityPrediction` per face, in ``faces`` order."""
        emb = self._get_embedder()
        out = []
        for f in faces:
            sig = measure(image, f, emb)
            out.append(QualityPrediction(self.score(sig), sig, f.box))
        return out


__all__ = ["CARD", "FEATURES", "FIT", "QualityAnalyzer", "QualityPrediction", "QualitySignals", "features", "measure"]
