"""Detection on tight face crops: detect again on the image padded with a border.

Images that are themselves a face crop (ID photos, avatars, dataset crops whose face touches the
frame) often give no detection: MTCNN's P-net scans windows that must hold the whole face with a
little context, and a face cut at the chin and cheeks fills no such window at any pyramid scale
(issue 12: LFW images cropped to the default's own box shrunk by 10 % on every side and resized to
150 px — the default found a face in 70–79 of 150). :func:`detect_padded` adds that context: it pads
the image with a border on every side (:class:`PadStep`: a ratio of the longer side and a border
mode, OpenCV's ``BORDER_REPLICATE`` or a constant grey), detects, and maps the detections back
into the image's coordinates — tried in the order of :data:`DEFAULT_PAD_STEPS` until one finds a
face. Measured with ``benchmarks/tight_crops.py`` (README, "Tight crops"; docs/architecture.md).

When it runs (:func:`needs_padding`): when the plain detection found **nothing**, and when a face it
found **spans the frame** (its box reaches two opposite sides of the image, within
:data:`SPAN_TOLERANCE` of the side): MTCNN does sometimes find a face in a tight crop, but its box
is then cut by the frame and its five points are off — on the first 40 LFW images cropped at −10 %
(150 px), the 23 faces found without padding matched their full image's embedding at cosine 0.26
on average (16 below the shipped 1:1 threshold), the same faces found on the padded crop at 0.73
(none below). The padded detections replace the plain ones only when the padding finds a face.

Geometry (closed form; ``tests/unit/test_detect_fallback.py``): for an ``h × w`` image and a step
of ratio ``r``, the image is first shrunk by ``s = min(1, max_side / ((1 + 2r) · max(h, w)))`` to
``round(w·s) × round(h·s)`` (area averaging: the padded image never exceeds ``max_side``,
:data:`PAD_MAX_SIDE` in the pipeline), then padded by ``p = round(r · max(h', w'))`` pixels on every
side (less by the rounding that would take it past ``max_side``). A point ``(x', y')``
of the padded image is ``((x' − p) / sx, (y' − p) / sy)`` in the image, ``sx = w'/w``, ``sy = h'/h``.

What comes back:

* a detection whose box centre falls in the padding (a "face" in the border) is dropped;
* boxes are clipped to the image (the :class:`~faceprint.types.Box` convention);
* landmarks are mapped back but **not** clipped: a mouth corner cut off by the crop lies outside
  the image, and moving it onto the border would bend the similarity transform of the alignment —
  the chip then shows black where the image ends (:mod:`faceprint.align`), as it does for any face
  at an image border;
* the detector's score floor is unchanged (no lower threshold for the second try), so the border
  adds context, not permissiveness.

Images whose faces do not span the frame (LFW's full images, photos) are detected exactly as before
(README, "Tight crops": LFW View 1 + View 2 unchanged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.protocols import Detector
from faceprint.types import Box, Detection, Landmarks

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PAD_STEPS",
    "PAD_GREY",
    "PAD_MAX_SIDE",
    "SPAN_TOLERANCE",
    "PadStep",
    "detect_padded",
    "needs_padding",
    "pad_geometry",
    "pad_image",
    "spans_frame",
    "unpad_detection",
]

PadMode = Literal["replicate", "constant"]
PAD_MODES: tuple[str, ...] = ("replicate", "constant")
#: the value of a ``constant`` border (mid grey, every channel)
PAD_GREY = 127
#: a box "reaches" a side of the image when it ends within this fraction of the image's side of it
SPAN_TOLERANCE = 0.02
#: The padded image's longer side is at most this (the image is shrunk first): the face of a tight
#: crop fills the image, so it is still ≥ 240 px wide there (MTCNN's O-net reads every face at
#: 48 × 48 px anyway), while an image with no face at all costs each step at most a 480 px detection.
PAD_MAX_SIDE = 480


@dataclass(frozen=True)
class PadStep:
    """One try of the fallback: a border of ``ratio`` × the image's longer side on every side,
    filled by ``mode`` (``"replicate"``: the edge pixels repeated; ``"constant"``: :data:`PAD_GREY`)."""

    ratio: float
    mode: PadMode = "replicate"

    def __post_init__(self) -> None:
        r = self.ratio
        if isinstance(r, bool) or not isinstance(r, (int, float, np.floating, np.integer)) or not 0.0 < float(r) <= 2.0:
            raise InvalidInput(f"PadStep.ratio must be a number in (0, 2], got {r!r}")
        object.__setattr__(self, "ratio", float(r))
        if self.mode not in PAD_MODES:
            raise InvalidInput(f"PadStep.mode must be one of {', '.join(PAD_MODES)}, got {self.mode!r}")


#: The pipeline's steps, in order, chosen by measurement (``benchmarks/tight_crops.py --steps``, README
#: "Tight crops"): of 437 LFW crops at −10 % / −5 % (96–160 px, every 30th image) in which the plain
#: detection found no face, a grey border of 0.25 alone misses 4, replicated edges of 0.25 14, of 0.1
#: 29, of 0.5 46, grey 0.5 3; the three below, tried in turn, miss none (nor on the first 150 images).
DEFAULT_PAD_STEPS: tuple[PadStep, ...] = (PadStep(0.25, "constant"), PadStep(0.25, "replicate"), PadStep(0.5, "constant"))


@dataclass(frozen=True)
class PadGeometry:
    """How an ``width × height`` image becomes the padded one: shrunk to ``inner_w × inner_h``
    (``sx = inner_w / width``, ``sy = inner_h / height``), then ``pad`` pixels added on every side."""

    width: int
    height: int
    inner_w: int
    inner_h: int
    pad: int

    @property
    def sx(self) -> float:
        return self.inner_w / self.width

    @property
    def sy(self) -> float:
        return self.inner_h / self.height

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """``(N, 2)`` padded-image points in the original image's coordinates."""
        p = np.asarray(points, np.float64)
        return (p - self.pad) / np.array([self.sx, self.sy])


def pad_geometry(height: int, width: int, ratio: float, max_side: int | None = None) -> PadGeometry:
    """The geometry of one pad step on an ``height × width`` image (module docstring)."""
    if height < 1 or width < 1:
        raise InvalidInput(f"image must be at least 1x1, got {width}x{height}")
    long = max(height, width)
    s = 1.0
    if max_side is not None and (1.0 + 2.0 * ratio) * long > max_side:
        s = max_side / ((1.0 + 2.0 * ratio) * long)
    iw, ih = (max(1, round(width * s)), max(1, round(height * s))) if s < 1.0 else (width, height)
    pad = int(round(ratio * max(iw, ih)))
    if s < 1.0 and max_side is not None:  # rounding must not take the padded image past max_side
        pad = max(0, min(pad, (max_side - max(iw, ih)) // 2))
    return PadGeometry(width, height, iw, ih, pad)


def pad_image(image: np.ndarray, step: PadStep, max_side: int | None = None) -> tuple[np.ndarray, PadGeometry]:
    """``image`` shrunk (if ``max_side`` asks) and padded by ``step``, with its geometry."""
    import cv2

    geo = pad_geometry(int(image.shape[0]), int(image.shape[1]), step.ratio, max_side)
    inner = image
    if (geo.inner_w, geo.inner_h) != (geo.width, geo.height):
        inner = cv2.resize(image, (geo.inner_w, geo.inner_h), interpolation=cv2.INTER_AREA)
    p = geo.pad
    if step.mode == "replicate":
        out = cv2.copyMakeBorder(inner, p, p, p, p, cv2.BORDER_REPLICATE)
    else:
        out = cv2.copyMakeBorder(inner, p, p, p, p, cv2.BORDER_CONSTANT, value=(PAD_GREY, PAD_GREY, PAD_GREY))
    return np.ascontiguousarray(out), geo


def unpad_detection(d: Detection, geo: PadGeometry) -> Detection | None:
    """A padded-image detection in the original image's coordinates (box clipped, points not),
    or None when its box centre lies outside the image (a detection in the border)."""
    corners = geo.to_image(np.array([[d.box.x1, d.box.y1], [d.box.x2, d.box.y2]]))
    (x1, y1), (x2, y2) = corners
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    if not (0.0 <= cx <= geo.width and 0.0 <= cy <= geo.height):
        return None
    box = Box(x1, y1, x2, y2).clip(geo.width, geo.height)
    if box.width <= 0 or box.height <= 0:
        return None
    lm = None
    if d.landmarks is not None:
        lm = Landmarks(geo.to_image(d.landmarks.points), d.landmarks.scheme)
    return Detection(box, d.score, lm, d.detector)


def spans_frame(box: Box, width: int, height: int) -> bool:
    """Whether ``box`` reaches two opposite sides of a ``width × height`` image (within
    :data:`SPAN_TOLERANCE`): the face fills the frame's width or height, as in a tight crop."""
    tx, ty = max(1.0, SPAN_TOLERANCE * width), max(1.0, SPAN_TOLERANCE * height)
    across = box.x1 <= tx and box.x2 >= width - tx
    down = box.y1 <= ty and box.y2 >= height - ty
    return across or down


def needs_padding(dets: Sequence[Detection], width: int, height: int) -> bool:
    """Whether the fallback should run: no face found, or a face found that spans the frame."""
    return not dets or any(spans_frame(d.box, width, height) for d in dets)


def detect_padded(
    detector: Detector,
    image: np.ndarray,
    steps: Sequence[PadStep] = DEFAULT_PAD_STEPS,
    *,
    max_side: int | None = PAD_MAX_SIDE,
) -> list[Detection]:
    """Detections of the first pad step (in order) that finds a face, in ``image``'s coordinates,
    largest first; empty when none does. ``max_side`` bounds the padded image's longer side
    (default :data:`PAD_MAX_SIDE`; None: no bound)."""
    for step in steps:
        padded, geo = pad_image(image, step, max_side)
        found = [u for d in detector.detect(padded) if (u := unpad_detection(d, geo)) is not None]
        if found:
            logger.debug(
                "%dx%d image: %d face(s) found with a %s border of %.2f", geo.width, geo.height, len(found), step.mode, step.ratio
            )
            return sorted(found, key=lambda d: (-d.box.area, -d.score))
    return []
