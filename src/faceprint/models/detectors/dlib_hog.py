"""dlib's HOG + linear SVM frontal face detector (``dlib.get_frontal_face_detector()``).

The model is compiled into dlib itself (no weight file). It is five HOG filters (frontal, left,
right, and frontal rotated ±27°) with an 80×80 detection window and a ``pyramid_down<6>`` image
pyramid. Measured (benchmarks/detectors.py): it finds faces whose box is about 60 px wide and
larger at ``upsample=0`` (it misses all 37–53 px faces of dlib's testing.xml), about 30 px at
``upsample=1``; each upsampling doubles the image side and roughly quadruples the time. Its
training log (dlib's frontal_face_detector.h) says it was trained on Labeled Faces in the Wild
images, so its LFW detection rate is optimistic.

Boxes: dlib rectangles have inclusive corners; they become ``Box(left, top, right + 1,
bottom + 1)`` clipped to the image (see :mod:`faceprint.models.detectors._common`). dlib's boxes
are tight (eyebrows to upper lip/chin, cheek to cheek), smaller than MTCNN's.

Score: the SVM margin (unbounded; > 0 is a detection at dlib's default threshold, ~0.5–3 for
clear frontal faces). ``score_threshold`` is passed to dlib as ``adjust_threshold``: lower it
below 0 to find more (and more false) faces.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.detectors._dlib_base import DlibDetectorBase
from faceprint.models.registry import register

logger = logging.getLogger(__name__)

CARD = ModelCard(
    name="dlib_hog",
    task="detector",
    version="1",
    # no weight file: the detector is compiled into dlib (package=None, so there is no file to checksum)
    source=WeightSource(package=None, path="<compiled into dlib: dlib.get_frontal_face_detector()>", pip_name="dlib-bin"),
    license="Boost Software License 1.0 (dlib; the detector is compiled into the library)",
    landmark_scheme=None,
    default_threshold=0.0,
    threshold_provenance="dlib's default detection threshold (SVM margin 0)",
    notes=(
        "HOG + linear SVM, 5 filters (frontal, left/right turned, rotated ±27°), 80x80 window: "
        "finds faces >= ~60 px (box width) at upsample=0 and >= ~30 px at upsample=1. Trained on LFW images "
        "(LFW detection rates are optimistic). Score = SVM margin (unbounded, > 0 = face). "
        "No landmarks; boxes are tight around eyebrows-to-chin."
    ),
    extra={"pipeline_options": {"upsample": 1}},  # finds faces down to ~28 px wide (README, "detectors")
)


@register(CARD)
class DlibHogDetector(DlibDetectorBase):
    """dlib's HOG frontal face detector.

    Args:
        upsample: times dlib doubles the image before detecting (0 = fastest, finds faces
            ≥ ~60 px; 1 = finds faces ≥ ~30 px, ~4x slower).
        min_size: drop faces whose box is narrower or shorter than this (pixels).
        score_threshold: dlib's ``adjust_threshold`` (SVM margin; default 0).
    """

    def __init__(
        self,
        *,
        card: ModelCard = CARD,
        upsample: int = 1,
        min_size: int | None = None,
        score_threshold: float = 0.0,
    ) -> None:
        super().__init__(card=card, upsample=upsample, min_size=min_size, score_threshold=score_threshold)

    def _load(self) -> Any:
        import dlib

        return dlib.get_frontal_face_detector()

    def _run(self, detector: Any, image: np.ndarray) -> list[tuple[Any, float]]:
        rects, scores, _ = detector.run(image, self.upsample, self.score_threshold)
        return list(zip(rects, scores, strict=True))
