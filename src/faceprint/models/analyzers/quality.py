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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.registry import register
from faceprint.types import Box, Face

#: Feature names, in the order of the card's ``extra["weights"]``.
FEATURES = ("detector_score", "eye_distance", "sharpness", "yaw", "pitch", "roll", "exposure", "contrast", "clipped")


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


def _chip(image: np.ndarray, face: Face) -> np.ndarray:
    """The face's :data:`TEMPLATE` chip: the pipeline's when it made one on that template, else
    aligned here from the face's points, else the box cut and resized to 112×112."""
    if face.aligned is not None and face.aligned.template == TEMPLATE:
        return np.asarray(face.aligned.chip)
    import cv2

    lm = face.landmarks or face.detection.landmarks
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


def measure(image: np.ndarray, face: Face) -> QualitySignals:
    """The quality signals of ``face`` (from :meth:`faceprint.pipeline.Pipeline.process`) in the
    RGB uint8 ``image`` it was found in."""
    import cv2

    if not isinstance(face, Face):
        raise InvalidInput(f"face must be a faceprint.types.Face, got {type(face).__name__}")
    gray = _gray(_chip(image, face))
    s = gray.shape[0]
    centre = gray[s // 4 : s - s // 4, s // 4 : s - s // 4]
    lap = cv2.Laplacian(centre, cv2.CV_32F, ksize=1)
    sharp = math.log10(1.0 + float(lap.var()))
    lm = face.landmarks or face.detection.landmarks
    yaw = pitch = roll = 0.0
    iod = 0.4 * face.box.width
    if lm is not None:
        try:
            p = lm.to_eyes_nose_mouth5().points.astype(np.float64)
        except InvalidInput:
            p = None
        if p is not None:
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
    )


def features(s: QualitySignals, frontal_pitch: float) -> np.ndarray:
    """Bounded features of the signals, in :data:`FEATURES` order (module docstring)."""
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
        ],
        np.float64,
    )


#: Fitted on LFW View 1 DevTrain by ``python benchmarks/quality.py --fit`` (module docstring).
FIT: dict[str, Any] = {
    "weights": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "bias": 0.0,
    "scale": 1.0,
    "frontal_pitch": 0.5,
}

CARD = ModelCard(
    name="faceprint_quality",
    task="analyzer",
    version="1",
    source=WeightSource(package=None, path="", pip_name=None, sha256=None),
    license="MIT (faceprint's code; no learned weights beyond the 11 numbers in extra, fitted on LFW View 1).",
    labels=("quality",),
    notes="Face-image quality in [0, 1]: sigmoid of a linear combination of detector score, eye distance, chip "
    "sharpness (Laplacian variance), pose from the five points (yaw, pitch, roll) and exposure; fitted on LFW "
    "View 1 DevTrain only. See extra['view2_erc'] for the error-versus-reject check on View 2.",
    extra={"analysis_task": "quality", "features": FEATURES, **FIT, "default": True},
)


@register(CARD)
class QualityAnalyzer:
    """Quality of each face (module docstring). Needs the pipeline's faces (landmarks, chip), so
    it takes faces rather than boxes: :meth:`assess`."""

    task = "quality"

    def __init__(self, card: ModelCard = CARD) -> None:
        w = np.asarray(card.extra["weights"], np.float64)
        if w.shape != (len(FEATURES),):
            raise InvalidInput(f"model card {card.name!r}: extra['weights'] needs {len(FEATURES)} numbers")
        self.card = card
        self._w = w
        self._bias = float(card.extra["bias"])
        self._scale = float(card.extra["scale"])
        self._frontal_pitch = float(card.extra["frontal_pitch"])

    def load(self) -> None:
        """Nothing to load (the analyzers share this method)."""

    def score(self, signals: QualitySignals) -> float:
        z = self._scale * (self._bias + float(self._w @ features(signals, self._frontal_pitch)))
        return float(1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0))))

    def assess(self, image: np.ndarray, faces: Sequence[Face]) -> list[QualityPrediction]:
        """One :class:`QualityPrediction` per face, in ``faces`` order."""
        out = []
        for f in faces:
            sig = measure(image, f)
            out.append(QualityPrediction(self.score(sig), sig, f.box))
        return out


__all__ = ["CARD", "FEATURES", "FIT", "QualityAnalyzer", "QualityPrediction", "QualitySignals", "features", "measure"]
