"""Alignment points for face boxes given without landmarks, in pipelines that have no landmarker.

A pipeline that aligns from its detector's own points (MTCNN's five, YuNet's five: the default
since issue 12) cannot place landmarks in a box it is *given* (``Pipeline.process(image,
boxes=...)``: boxes from another detector, from a stored gallery face, or the evaluation's
central-box fallback). Two steps, in order:

1. **Detect around the box.** The detector runs on the box enlarged by :data:`CONTEXT` of its
   side on every side (clipped to the image); the detection whose box overlaps the given one best
   (IoU ≥ :data:`MIN_IOU`) gives its points, mapped back into image coordinates. This is what a
   landmarker does, with the detector's own landmark head: the points are the ones the embedder's
   threshold was calibrated with.
2. **Template geometry.** When nothing there overlaps (the detector rejects the face), the
   embedder's alignment template is laid over the box — the box's side maps onto the template's
   chip — so the chip is the box itself at the template's scale. This is a documented last
   resort: it is only as good as the box (the LFW evaluation's central box: see
   :func:`faceprint.pipeline.central_box`).

The landmarks' source is not lost: :func:`points_for_box` says which step gave them.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.protocols import Detector
from faceprint.types import Box, Landmarks

logger = logging.getLogger(__name__)

#: context added around a given box before detecting in it, as a fraction of its side on every side
CONTEXT = 0.5
#: the least IoU between the given box and a detection for the detection's points to be used
MIN_IOU = 0.3

PointsSource = Literal["detector", "template"]


def _crop_box(box: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    side = max(box.x2 - box.x1, box.y2 - box.y1)
    m = CONTEXT * side
    x1, y1 = max(0, int(np.floor(box.x1 - m))), max(0, int(np.floor(box.y1 - m)))
    x2, y2 = min(w, int(np.ceil(box.x2 + m))), min(h, int(np.ceil(box.y2 + m)))
    return x1, y1, x2, y2


def detected_points(detector: Detector, image: np.ndarray, box: Box) -> Landmarks | None:
    """Step 1: the points of the detection around ``box`` that overlaps it best, or None."""
    x1, y1, x2, y2 = _crop_box(box, image.shape)
    if x2 - x1 < 8 or y2 - y1 < 8:
        return None
    crop = np.ascontiguousarray(image[y1:y2, x1:x2])
    best, best_iou = None, MIN_IOU
    for d in detector.detect(crop):
        if d.landmarks is None:
            continue
        moved = Box(d.box.x1 + x1, d.box.y1 + y1, d.box.x2 + x1, d.box.y2 + y1)
        iou = moved.iou(box)
        if iou >= best_iou:
            best, best_iou = d.landmarks, iou
    if best is None:
        return None
    return Landmarks(best.points.astype(np.float64) + (x1, y1), best.scheme)


def template_points(template: str | None, box: Box) -> Landmarks:
    """Step 2: the template's points laid over ``box`` (its width and height map onto the chip's)."""
    from faceprint.align.templates import get_template

    if template is None:
        raise InvalidInput("the embedder names no alignment template: give the pipeline a landmarker to embed given boxes")
    tpl = get_template(template)
    scheme, pts = next(iter(tpl.points.items()))
    scale = np.array([(box.x2 - box.x1) / tpl.size[0], (box.y2 - box.y1) / tpl.size[1]])
    return Landmarks(np.asarray(pts, np.float64) * scale + (box.x1, box.y1), scheme)


def points_for_box(detector: Detector, image: np.ndarray, box: Box, template: str | None) -> tuple[Landmarks, PointsSource]:
    """Alignment points for a given ``box``, and which step gave them (module docstring)."""
    lm = detected_points(detector, image, box)
    if lm is not None:
        return lm, "detector"
    logger.debug("no detection overlaps the given box %s: template points", box)
    return template_points(template, box), "template"
