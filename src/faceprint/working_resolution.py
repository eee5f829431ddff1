"""Detection at a bounded working resolution (issue 12, "Real photos are big").

A detector's cost and memory grow with the pixel count (MTCNN's image pyramid on a 12-MP photo holds
hundreds of MB of float32), while faces in real photos are rarely small. :func:`detect_at_working_resolution`
runs the detector on a copy of the image shrunk (area averaging) so its longer side is at most
``max_side``, and maps the detections back to full-resolution coordinates; landmarks (when a
landmarker is configured) and alignment then use the full-resolution pixels, so the chips are as
sharp as before. A detector whose own points align the face (the default MTCNN) implements
:class:`LargeImageDetector`: it searches the shrunk copy and takes its boxes and points from the
full-resolution pixels (MTCNN's O-net on full-resolution crops). Images whose longer side is
already ≤ ``max_side`` are detected as they are.

The smallest face found at a working resolution is the detector's own smallest face (MTCNN: 20 px)
times the shrink factor; :data:`DEFAULT_DETECT_MAX_SIDE` was chosen by measurement
(``benchmarks/big_photos.py``, README "Big photos").
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.protocols import Detector
from faceprint.types import Box, Detection, Landmarks

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DETECT_MAX_SIDE",
    "LargeImageDetector",
    "check_max_side",
    "detect_at_working_resolution",
    "scale_detection",
]

#: The pipeline's default working resolution for detection: the longer side, in pixels.
#: Measured (benchmarks/big_photos.py, LFW images pasted on a 4000×3000 canvas; smallest face box, in
#: full-resolution pixels, found in every paste of that size and all larger ones):
#: 800 → 77 px, 1024 → 48 px, 1280 → 42 px, **1600 → 30 px**, 2400 → 24 px, full resolution → 16 px;
#: detection on that canvas took 0.37 s at 1600 against 9.6 s at full resolution (the same run).
DEFAULT_DETECT_MAX_SIDE = 1600


@runtime_checkable
class LargeImageDetector(Protocol):
    """A detector that can search a shrunk copy of an image and still take its boxes and points from
    the full-resolution pixels (MTCNN: P- and R-nets on the copy, O-net on full-resolution crops).
    Detectors without it are run on the copy and their detections scaled back."""

    def detect_large(self, image: np.ndarray, small: np.ndarray) -> list[Detection]: ...


def check_max_side(value: int | None) -> int | None:
    """Validate a working-resolution setting: None (full resolution) or an integer ≥ 64."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 64:
        raise InvalidInput(f"detect_max_side must be None or an integer >= 64, got {value!r}")
    return int(value)


def scale_detection(d: Detection, sx: float, sy: float, width: int, height: int) -> Detection:
    """``d`` with its box and landmarks scaled by ``(sx, sy)`` and the box clipped to ``width`` × ``height``."""
    b = d.box
    box = Box(b.x1 * sx, b.y1 * sy, b.x2 * sx, b.y2 * sy).clip(width, height)
    lm = None
    if d.landmarks is not None:
        pts = d.landmarks.points.astype(np.float64) * np.array([sx, sy])
        lm = Landmarks(pts.astype(np.float32), d.landmarks.scheme)
    return Detection(box, d.score, lm, d.detector)


def detect_at_working_resolution(detector: Detector, image: np.ndarray, max_side: int | None) -> list[Detection]:
    """``detector.detect`` on ``image`` shrunk to a longer side of at most ``max_side`` (None: as is),
    with the detections in ``image``'s coordinates."""
    h, w = int(image.shape[0]), int(image.shape[1])
    if max_side is None or max(h, w) <= max_side:
        return list(detector.detect(image))
    import cv2

    r = max_side / max(h, w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small)
    if isinstance(detector, LargeImageDetector):
        found = detector.detect_large(image, small)
        logger.debug("detected %d face(s) at %dx%d (refined at %dx%d)", len(found), nw, nh, w, h)
        return list(found)
    dets = detector.detect(small)
    logger.debug("detected %d face(s) at %dx%d for a %dx%d image", len(dets), nw, nh, w, h)
    return [scale_detection(d, w / nw, h / nh, w, h) for d in dets]
