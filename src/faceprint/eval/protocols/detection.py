"""Face-detection evaluation on dlib imglab XML ground truth (recall, precision at an IoU threshold).

The XML is dlib's imglab format (``testing.xml``/``training.xml`` of dlib's ``examples/faces``)::

    <dataset><images>
      <image file='2008_002470.jpg' width='500' height='332'>
        <box top='181' left='274' width='52' height='53'/>
        <box top='10' left='20' width='30' height='30' ignore='1'/>
      </image>
    </images></dataset>

A box ``top/left/width/height`` covers pixel columns ``left … left + width − 1`` (dlib's inclusive
rectangle), i.e. ``Box(left, top, left + width, top + height)`` — the same convention the dlib
detectors use (:mod:`faceprint.models.detectors._common`). ``file`` is relative to the XML file.

Matching (per image, greedy): detections are taken in descending score order; each is matched to
the not-yet-matched real box with the highest IoU, if that IoU ≥ ``iou_threshold`` (a true
positive). An unmatched detection whose IoU with an ``ignore='1'`` box is ≥ ``iou_threshold`` is
"don't care" (neither true nor false positive); any other unmatched detection is a false
positive. Real boxes left unmatched are misses; ignored boxes are never counted as misses.

Note: IoU against one annotation style penalises detectors whose boxes are drawn differently
(dlib's detectors were trained on boxes like these; MTCNN's are taller, forehead to chin), so
:func:`evaluate_detector` also reports recall at a looser ``loose_iou`` threshold.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faceprint.errors import InvalidInput
from faceprint.types import Box, Detection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroundTruthImage:
    """One annotated image: its path, its face boxes, and its don't-care boxes."""

    path: Path
    boxes: tuple[Box, ...]
    ignore: tuple[Box, ...] = ()
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class MatchResult:
    """Outcome of matching one image's detections to its ground truth."""

    tp: int
    fp: int
    fn: int
    ignored_detections: int
    #: (detection index, ground-truth index, IoU) for each true positive
    matches: tuple[tuple[int, int, float], ...] = field(default_factory=tuple)


def _int_attr(el: ET.Element, name: str, source: str) -> int:
    v = el.get(name)
    if v is None:
        raise InvalidInput(f"<box> without {name!r} attribute", source=source)
    try:
        return int(float(v))
    except ValueError:
        raise InvalidInput(f"<box> attribute {name}={v!r} is not a number", source=source) from None


def parse_imglab_xml(xml_path: str | Path) -> list[GroundTruthImage]:
    """Parse a dlib imglab dataset XML into :class:`GroundTruthImage` records (in file order)."""
    xml_path = Path(xml_path)
    src = str(xml_path)
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as e:
        raise InvalidInput(f"cannot read imglab XML: {e}", source=src) from e
    images_el = root.find("images")
    if images_el is None:
        raise InvalidInput("no <images> element (not an imglab dataset)", source=src)
    out = []
    for im in images_el.findall("image"):
        file = im.get("file")
        if not file:
            raise InvalidInput("<image> without a 'file' attribute", source=src)
        boxes: list[Box] = []
        ignore: list[Box] = []
        for b in im.findall("box"):
            left, top = _int_attr(b, "left", src), _int_attr(b, "top", src)
            w, h = _int_attr(b, "width", src), _int_attr(b, "height", src)
            if w <= 0 or h <= 0:
                raise InvalidInput(f"box with non-positive size {w}x{h} in {file}", source=src)
            box = Box.from_xywh(left, top, w, h)
            (ignore if b.get("ignore", "0").strip() in ("1", "true") else boxes).append(box)
        width = im.get("width")
        height = im.get("height")
        out.append(
            GroundTruthImage(
                path=(xml_path.parent / file),
                boxes=tuple(boxes),
                ignore=tuple(ignore),
                width=int(width) if width else None,
                height=int(height) if height else None,
            )
        )
    return out


def match_detections(
    gt: Sequence[Box],
    detections: Sequence[Box | Detection],
    *,
    ignore: Sequence[Box] = (),
    scores: Sequence[float] | None = None,
    iou_threshold: float = 0.5,
) -> MatchResult:
    """Greedy one-to-one matching of detections to ground-truth boxes (see the module docstring).

    ``detections`` may be :class:`Detection` (their scores order the matching) or :class:`Box`
    (in the given order, or by ``scores`` when given).
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise InvalidInput(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    boxes: list[Box] = []
    sc: list[float] = []
    for i, d in enumerate(detections):
        if isinstance(d, Detection):
            boxes.append(d.box)
            sc.append(d.score)
        elif isinstance(d, Box):
            boxes.append(d)
            sc.append(0.0)
        else:
            raise InvalidInput(f"detections[{i}] must be a Box or Detection, got {type(d).__name__}")
    if scores is not None:
        if len(scores) != len(boxes):
            raise InvalidInput(f"{len(scores)} scores for {len(boxes)} detections")
        sc = [float(s) for s in scores]
    # stable sort: equal scores keep the given order
    order = sorted(range(len(boxes)), key=lambda i: -sc[i])
    matched_gt = [False] * len(gt)
    tp = fp = ignored = 0
    matches = []
    for di in order:
        best, best_iou = -1, -1.0
        for gi, g in enumerate(gt):
            if matched_gt[gi]:
                continue
            iou = boxes[di].iou(g)
            if iou >= iou_threshold and iou > best_iou:
                best, best_iou = gi, iou
        if best >= 0:
            matched_gt[best] = True
            tp += 1
            matches.append((di, best, best_iou))
        elif any(boxes[di].iou(ig) >= iou_threshold for ig in ignore):
            ignored += 1
        else:
            fp += 1
    fn = matched_gt.count(False)
    return MatchResult(tp=tp, fp=fp, fn=fn, ignored_detections=ignored, matches=tuple(matches))


def evaluate_detector(
    detector: Any,
    xml_path: str | Path,
    *,
    iou_threshold: float = 0.5,
    loose_iou: float = 0.3,
) -> dict[str, Any]:
    """Run ``detector`` on every image of an imglab XML and score it.

    Returns a JSON-serialisable dict: ``recall``, ``precision``, ``tp``, ``fp``, ``fn``,
    ``ground_truth`` (boxes, excluding ignored), ``detections``, ``ignored_detections``,
    ``recall_loose`` (recall at ``loose_iou``), ``ms_per_image``, and ``per_image`` (one dict per
    image with its counts). Precision is 1.0 when there are no counted detections.
    """
    from faceprint.io.decode import load_image

    images = parse_imglab_xml(xml_path)
    per_image = []
    totals = {"tp": 0, "fp": 0, "fn": 0, "ignored": 0, "gt": 0, "det": 0, "tp_loose": 0}
    seconds = 0.0
    for gti in images:
        img = load_image(gti.path)
        t0 = time.perf_counter()
        dets = detector.detect(img)
        seconds += time.perf_counter() - t0
        m = match_detections(gti.boxes, dets, ignore=gti.ignore, iou_threshold=iou_threshold)
        loose = match_detections(gti.boxes, dets, ignore=gti.ignore, iou_threshold=loose_iou)
        per_image.append(
            {
                "file": gti.path.name,
                "ground_truth": len(gti.boxes),
                "ignored_boxes": len(gti.ignore),
                "detections": len(dets),
                "tp": m.tp,
                "fp": m.fp,
                "fn": m.fn,
                "ignored_detections": m.ignored_detections,
                "tp_loose": loose.tp,
                "mean_iou": round(sum(x[2] for x in m.matches) / m.tp, 4) if m.tp else None,
            }
        )
        totals["tp"] += m.tp
        totals["fp"] += m.fp
        totals["fn"] += m.fn
        totals["ignored"] += m.ignored_detections
        totals["gt"] += len(gti.boxes)
        totals["det"] += len(dets)
        totals["tp_loose"] += loose.tp
    counted = totals["tp"] + totals["fp"]
    return {
        "xml": str(xml_path),
        "iou_threshold": iou_threshold,
        "loose_iou": loose_iou,
        "images": len(images),
        "ground_truth": totals["gt"],
        "detections": totals["det"],
        "tp": totals["tp"],
        "fp": totals["fp"],
        "fn": totals["fn"],
        "ignored_detections": totals["ignored"],
        "recall": totals["tp"] / totals["gt"] if totals["gt"] else 1.0,
        "precision": totals["tp"] / counted if counted else 1.0,
        "recall_loose": totals["tp_loose"] / totals["gt"] if totals["gt"] else 1.0,
        "ms_per_image": 1000.0 * seconds / len(images) if images else 0.0,
        "per_image": per_image,
    }
