"""MTCNN face detector (P-, R-, O-net cascade) on onnxruntime, with 5 landmarks.

Weights: the P/R/O-net state dicts shipped in the ``facenet-pytorch`` wheel
(``facenet_pytorch/data/{pnet,rnet,onet}.pt``), located without importing the package (it does
not import beside our torch), read with :mod:`faceprint.models.convert.torch_pickle` and rebuilt
as ONNX graphs (:mod:`faceprint.models.convert.mtcnn_onnx`) that are cached once.

The cascade follows facenet-pytorch's ``detect_face`` (v2.6.0) step for step — same image
pyramid (``int(h·scale + 1)`` sizes, "area" resampling = adaptive average pooling), the same
candidate-box formulas, NMS thresholds (0.5 per scale, 0.7 per image, 0.7 per image after the
R-net, 0.7 "Min" after the O-net), box regressions, squaring and clipped crops — but it is
vectorised: every crop of every image goes through the R-/O-net in one batched call, the
resampling of pyramid levels and crops is done from one integral image per input image, and
:meth:`MtcnnDetector.detect_batch` sends the crops of several images through the R-/O-nets at once.

Coordinates: facenet-pytorch's boxes are 1-based with inclusive ends (``pad`` crops
``img[y1-1:y2, x1-1:x2]``) while its landmarks are 0-based pixel positions. Here a box becomes
``Box(x1 − 1, y1 − 1, x2, y2)`` (so it spans exactly the pixels facenet-pytorch would crop, the
same convention as the dlib detectors), clipped to the image; landmarks are kept as they are.

Score: the O-net's face probability in ``[0, 1]`` (default acceptance threshold 0.7; the default
pipeline raises it to 0.9, see its card's ``extra["pipeline_options"]``).
Landmarks: scheme ``eyes_nose_mouth5`` in image order — eye on the image left, eye on the image
right, nose tip, mouth corner on the image left, mouth corner on the image right.

Box style: MTCNN's boxes run from the forehead to the chin. With ``box_style="dlib"`` every
detection's box is replaced by :func:`dlib_style_box` of it (clipped to the image) — the box dlib's
HOG detector would draw, which is what dlib's shape predictors were trained to start from — while
the score and the five MTCNN landmarks are unchanged. The default pipeline uses it so that
``dlib_shape5`` receives the boxes it expects (and users see boxes of the same geometry as
before, with HOG).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from faceprint.errors import InvalidInput, ModelIntegrityError
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.detectors._common import (
    check_float,
    check_image,
    check_images,
    check_int,
    sort_by_prominence,
)
from faceprint.models.registry import register
from faceprint.types import Box, Detection, Landmarks

logger = logging.getLogger(__name__)

_PACKAGE = "facenet_pytorch"
_PIP = "facenet-pytorch==2.6.0"
#: sha256 of the state dicts shipped in facenet-pytorch 2.6.0.
WEIGHTS: dict[str, tuple[str, str]] = {
    "pnet": ("data/pnet.pt", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f"),
    "rnet": ("data/rnet.pt", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86"),
    "onet": ("data/onet.pt", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"),
}

CARD = ModelCard(
    name="mtcnn",
    task="detector",
    version="1",
    source=WeightSource(package=_PACKAGE, path=WEIGHTS["onet"][0], pip_name=_PIP, sha256=WEIGHTS["onet"][1]),
    license="MIT (facenet-pytorch; weights from Zhang et al.'s MTCNN release, MIT)",
    landmark_scheme="eyes_nose_mouth5",
    default_threshold=0.7,
    threshold_provenance="MTCNN's published O-net threshold (thresholds=[0.6, 0.7, 0.7])",
    notes=(
        "Three state dicts (pnet.pt, rnet.pt, onet.pt; sha256 in extra['weights']) converted to ONNX "
        "once and cached. Score = O-net face probability in [0, 1]. Landmarks: eye centres, nose tip, "
        "mouth corners in image left/right order. Finds faces down to ~12-16 px (dlib-box width) at "
        "min_face_size=20. Boxes are taller than dlib's (forehead to chin): use dlib_style_box() "
        "before a dlib shape predictor, or create it with box_style='dlib'."
    ),
    extra={
        "weights": {k: {"path": p, "sha256": h} for k, (p, h) in WEIGHTS.items()},
        # the options a pipeline gives it (measured on LFW View 1 and the example photos: README, "detectors");
        # the constructor's own defaults are its signature's (the network's published 0.6/0.7/0.7, own boxes)
        "pipeline_options": {"thresholds": (0.6, 0.7, 0.9), "box_style": "dlib"},
    },
)

# Crops per onnxruntime call. Measured on 2 cores: per-crop cost is flat up to these sizes and
# 2-3x higher beyond (activations fall out of cache: 256 R-net crops or 64 O-net crops).
_RNET_BATCH = 64
_ONET_BATCH = 16
_BATCH_IMAGES = 8  # images whose R-/O-net crops share onnxruntime calls in detect_batch


BOX_STYLES = ("mtcnn", "dlib")

#: dlib's HOG box of a face, in units of the MTCNN box of the same face (x1, y1, x2, y2 as
#: fractions of the MTCNN box's width/height from its top-left corner): the median over 499 LFW
#: faces both detectors found (even-indexed images among the first 1000 in sorted order).
DLIB_BOX_IN_MTCNN_UNITS = (-0.0062, 0.1599, 1.0790, 0.9809)


def dlib_style_box(box: Box) -> Box:
    """The box dlib's HOG detector would most likely draw around the face MTCNN boxed as ``box``.

    dlib's shape predictors are initialised from the box and were trained with dlib-detector
    boxes, which are shorter than MTCNN's (no forehead). Measured on 498 held-out LFW faces, the
    5-point predictor's points started from raw MTCNN boxes differ from those started from dlib's
    own boxes by 2.7% of the inter-ocular distance on average (95th percentile 5.8%); started
    from this mapped box, by 1.0% (2.7%). Use it when feeding MTCNN detections to
    ``dlib_shape5``/``dlib_shape68``.
    """
    ax1, ay1, ax2, ay2 = DLIB_BOX_IN_MTCNN_UNITS
    w, h = box.width, box.height
    return Box(box.x1 + ax1 * w, box.y1 + ay1 * h, box.x1 + ax2 * w, box.y1 + ay2 * h)


# ---------------------------------------------------------------------------------------------
# Model loading


def _cache_path(name: str) -> Path:
    from faceprint.models.convert.mtcnn_onnx import CONVERTER_VERSION
    from faceprint.models.sources import cached_artifact

    sha = WEIGHTS[name][1]
    return cached_artifact(f"mtcnn_{name}-{sha[:16]}-c{CONVERTER_VERSION}.onnx")


def _onnx_bytes(name: str) -> bytes:
    """The ONNX graph of one net: from the cache, else converted from the installed state dict
    (checked against its sha256 first) and cached atomically."""
    from faceprint.models.convert import mtcnn_onnx
    from faceprint.models.convert.torch_pickle import load_state_dict
    from faceprint.models.sources import atomic_write_bytes, package_file, verify_sha256

    cache = _cache_path(name)
    if cache.is_file():
        return cache.read_bytes()
    rel, sha = WEIGHTS[name]
    src = package_file(_PACKAGE, rel, pip_name=_PIP)
    verify_sha256(src, sha)
    data = mtcnn_onnx.BUILDERS[name](load_state_dict(src)).SerializeToString()
    atomic_write_bytes(cache, data)
    logger.info("converted MTCNN %s to ONNX: %s", name, cache)
    return data


class _Nets:
    """The three onnxruntime sessions (run() is thread-safe)."""

    def __init__(self, threads: int | None) -> None:
        from faceprint.models.runtime.onnx import create_session

        self.sessions = {}
        for name in ("pnet", "rnet", "onet"):
            data = _onnx_bytes(name)
            try:
                self.sessions[name] = create_session(data, threads=threads)
            except Exception as e:  # an unreadable cache file: convert again, once
                logger.warning("cached MTCNN %s graph unusable (%s); converting again", name, e)
                _cache_path(name).unlink(missing_ok=True)
                try:
                    self.sessions[name] = create_session(_onnx_bytes(name), threads=threads)
                except Exception as e2:
                    raise ModelIntegrityError(f"MTCNN {name} graph cannot be loaded: {e2}") from e2

    def pnet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reg, prob = self.sessions["pnet"].run(None, {"input": x})
        return reg, prob

    def rnet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outs = [self.sessions["rnet"].run(None, {"input": x[i : i + _RNET_BATCH]}) for i in range(0, len(x), _RNET_BATCH)]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    def onet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        outs = [self.sessions["onet"].run(None, {"input": x[i : i + _ONET_BATCH]}) for i in range(0, len(x), _ONET_BATCH)]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs]), np.concatenate([o[2] for o in outs])


# ---------------------------------------------------------------------------------------------
# Resampling ("area" = adaptive average pooling, as torch.nn.functional.interpolate(mode="area"))


def _integral(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H+1, W+1, 3) integral images (exact: int32, or float64 if int32 could overflow)."""
    import cv2

    n, h, w, _ = images.shape
    small = h * w * 255 < 2**31
    if n == 1:
        return cv2.integral(images[0], sdepth=cv2.CV_32S if small else cv2.CV_64F)[None]
    ii = np.empty((n, h + 1, w + 1, 3), dtype=np.int32 if small else np.float64)
    for i in range(n):
        ii[i] = cv2.integral(images[i], sdepth=cv2.CV_32S if small else cv2.CV_64F)
    return ii


def _pool_bounds(n_in: np.ndarray | int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive-pooling cell bounds: start = floor(i·n_in/n_out), end = ceil((i+1)·n_in/n_out).

    ``n_in`` may be an array (one length per crop): the results are then (len(n_in), n_out).
    """
    i = np.arange(n_out, dtype=np.int64)
    n = np.asarray(n_in, dtype=np.int64)[..., None]
    start = (i * n) // n_out
    end = -((-(i + 1) * n) // n_out)
    return start, end


def _resize_area(ii: np.ndarray, ho: int, wo: int) -> np.ndarray:
    """Whole images from their integrals (N, H+1, W+1, 3) → (N, 3, ho, wo) float32, area-resampled."""
    _, hp, wp, _ = ii.shape
    r0, r1 = _pool_bounds(hp - 1, ho)
    c0, c1 = _pool_bounds(wp - 1, wo)
    rows = (np.take(ii, r1, axis=1) - np.take(ii, r0, axis=1)).transpose(0, 3, 1, 2)  # (N, 3, ho, W+1)
    sums = np.take(rows, c1, axis=3) - np.take(rows, c0, axis=3)  # (N, 3, ho, wo), C-contiguous
    cnt = ((r1 - r0)[:, None] * (c1 - c0)[None, :]).astype(np.float32)
    return np.divide(sums.astype(np.float32), cnt)


def _crop_resize_area(
    ii: np.ndarray, img_idx: np.ndarray, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, size: int
) -> np.ndarray:
    """Crops ``[y0, y1) × [x0, x1)`` of images ``img_idx`` → (K, 3, size, size) float32, area-resampled."""
    _, hp, wp, _ = ii.shape
    r0, r1 = _pool_bounds(y1 - y0, size)
    c0, c1 = _pool_bounds(x1 - x0, size)
    base = (img_idx.astype(np.int64) * (hp * wp))[:, None]
    row0 = (r0 + y0[:, None]) * wp + base
    row1 = (r1 + y0[:, None]) * wp + base
    col0 = c0 + x0[:, None]
    col1 = c1 + x0[:, None]
    flat = ii.reshape(-1, 3)

    def corner(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return np.take(flat, rows[:, :, None] + cols[:, None, :], axis=0)  # (K, size, size, 3)

    sums = corner(row1, col1)
    sums -= corner(row0, col1)
    sums -= corner(row1, col0)
    sums += corner(row0, col0)
    cnt = ((r1 - r0)[:, :, None] * (c1 - c0)[:, None, :]).astype(np.float32)
    out = np.empty((len(img_idx), 3, size, size), dtype=np.float32)
    np.divide(sums.astype(np.float32).transpose(0, 3, 1, 2), cnt[:, None], out=out)
    return out


# ---------------------------------------------------------------------------------------------
# Box utilities (facenet-pytorch semantics)


def _nms(boxes: np.ndarray, scores: np.ndarray, thr: float, method: str = "union") -> np.ndarray:
    """Greedy NMS; returns kept indices by descending score.

    ``"union"``: torchvision's ``nms`` (areas ``(x2−x1)(y2−y1)``, suppress IoU > thr), computed by
    OpenCV's ``NMSBoxes`` (same definition, same stable order of equal scores; ~20x faster than a
    numpy loop).
    ``"min"``: facenet-pytorch's ``nms_numpy(..., 'Min')`` (areas with +1, intersection over the
    smaller area, keep ≤ thr).
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    b = boxes.astype(np.float64)
    if method == "union":
        import cv2

        xywh = np.column_stack([b[:, :2], b[:, 2:4] - b[:, :2]])
        sc = np.asarray(scores, dtype=np.float32)
        if sc.min() <= 0:  # NMSBoxes only keeps scores > score_threshold >= 0: shift, order unchanged
            sc = (sc.astype(np.float64) - sc.min() + 1.0).astype(np.float32)
        # cv2's stub declares only Python sequences here; NMSBoxes takes numpy arrays directly.
        keep = cv2.dnn.NMSBoxes(xywh, sc, 0.0, float(thr))  # type: ignore[arg-type]
        return np.asarray(keep, dtype=np.int64).reshape(-1)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    area = (x2 - x1 + 1.0) * (y2 - y1 + 1.0)
    order = np.argsort(scores, kind="stable")[::-1]
    kept = []
    while order.size:
        i = order[0]
        kept.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1.0)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1.0)
        o = (w * h) / np.minimum(area[i], area[rest])
        order = rest[o <= thr]
    return np.asarray(kept, dtype=np.int64)


def _batched_nms(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, thr: float, method: str = "union") -> np.ndarray:
    """NMS independently within each group; kept indices (sorted by index)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    first = groups[0]
    if np.all(groups == first):
        return np.sort(_nms(boxes, scores, thr, method))
    keep = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        keep.append(idx[_nms(boxes[idx], scores[idx], thr, method)])
    return np.sort(np.concatenate(keep))


def _rerec(b: np.ndarray) -> np.ndarray:
    """Make boxes square around their centre (side = the longer side)."""
    b = b.copy()
    h = b[:, 3] - b[:, 1]
    w = b[:, 2] - b[:, 0]
    side = np.maximum(w, h)
    b[:, 0] = b[:, 0] + w * 0.5 - side * 0.5
    b[:, 1] = b[:, 1] + h * 0.5 - side * 0.5
    b[:, 2] = b[:, 0] + side
    b[:, 3] = b[:, 1] + side
    return b


def _bbreg(b: np.ndarray, reg: np.ndarray) -> np.ndarray:
    b = b.copy()
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, 0] += reg[:, 0] * w
    b[:, 1] += reg[:, 1] * h
    b[:, 2] += reg[:, 2] * w
    b[:, 3] += reg[:, 3] * h
    return b


def _crops(
    iis: list[np.ndarray], boxes: np.ndarray, img_idx: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area-resampled crops of ``boxes`` (K, ≥4), each in image ``img_idx[k]``, as facenet-pytorch's
    ``pad`` + crop: truncate to int, clip to ``[1, w] × [1, h]`` (1-based, inclusive), take
    ``img[y1-1:y2, x1-1:x2]``. Boxes left with no pixels are dropped (facenet-pytorch skips them
    too, but then misaligns its crops with its boxes). Returns (crops, boxes, img_idx)."""
    t = np.trunc(boxes[:, :4]).astype(np.int64)
    hs = np.array([ii.shape[1] - 1 for ii in iis], dtype=np.int64)[img_idx]
    ws = np.array([ii.shape[2] - 1 for ii in iis], dtype=np.int64)[img_idx]
    x = np.maximum(t[:, 0], 1)
    y = np.maximum(t[:, 1], 1)
    ex = np.minimum(t[:, 2], ws)
    ey = np.minimum(t[:, 3], hs)
    ok = (ey > y - 1) & (ex > x - 1)
    if not ok.all():
        boxes, img_idx, x, y, ex, ey = boxes[ok], img_idx[ok], x[ok], y[ok], ex[ok], ey[ok]
    out = np.empty((len(boxes), 3, size, size), dtype=np.float32)
    for i in np.unique(img_idx):
        sel = np.flatnonzero(img_idx == i)
        zero = np.zeros(len(sel), dtype=np.int64)
        out[sel] = _crop_resize_area(iis[i], zero, x[sel] - 1, y[sel] - 1, ex[sel], ey[sel], size)
    return out, boxes, img_idx


# ---------------------------------------------------------------------------------------------
# The cascade


def _scales(h: int, w: int, min_face_size: float, factor: float) -> list[float]:
    m = 12.0 / min_face_size
    minl = min(h, w) * m
    scales = []
    scale = m
    while minl >= 12:
        scales.append(scale)
        scale *= factor
        minl *= factor
    return scales


def _stage1(nets: _Nets, ii: np.ndarray, scales: list[float], thr: float) -> np.ndarray:
    """P-net over one image's pyramid: candidate boxes (K, 5) float32 [x1, y1, x2, y2, score],
    regressed and squared (facenet-pytorch's first stage)."""
    h, w = ii.shape[1] - 1, ii.shape[2] - 1
    per_scale = []
    for scale in scales:
        hs, ws = int(h * scale + 1), int(w * scale + 1)
        reg, prob = nets.pnet(_resize_area(ii, hs, ws))
        _, r, c = np.nonzero(prob >= thr)
        if r.size == 0:
            continue
        score = prob[0, r, c]
        offs = reg[0, :, r, c]  # (K, 4)
        s32 = np.float32(scale)
        bx = c.astype(np.float32)
        by = r.astype(np.float32)
        boxes = np.column_stack(
            [
                np.floor((2 * bx + 1) / s32),
                np.floor((2 * by + 1) / s32),
                np.floor((2 * bx + 12) / s32),
                np.floor((2 * by + 12) / s32),
                score,
                offs,
            ]
        ).astype(np.float32)
        per_scale.append(boxes[np.sort(_nms(boxes[:, :4], boxes[:, 4], 0.5))])
    if not per_scale:
        return np.zeros((0, 5), np.float32)
    boxes = np.concatenate(per_scale)
    boxes = boxes[np.sort(_nms(boxes[:, :4], boxes[:, 4], 0.7))]
    regw = boxes[:, 2] - boxes[:, 0]
    regh = boxes[:, 3] - boxes[:, 1]
    out = np.column_stack(
        [
            boxes[:, 0] + boxes[:, 5] * regw,
            boxes[:, 1] + boxes[:, 6] * regh,
            boxes[:, 2] + boxes[:, 7] * regw,
            boxes[:, 3] + boxes[:, 8] * regh,
            boxes[:, 4],
        ]
    ).astype(np.float32)
    return _rerec(out)


def _stages12(
    nets: _Nets,
    iis: list[np.ndarray],
    min_face_size: float,
    thresholds: tuple[float, float, float],
    factor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """P-net over each image's pyramid, then the R-net on all crops together: the O-net's input
    boxes (K, 5), squared, and the index of the image each belongs to."""
    none = (np.zeros((0, 5), np.float32), np.zeros(0, np.int64))
    cands, owners = [], []
    for i, ii in enumerate(iis):
        scales = _scales(ii.shape[1] - 1, ii.shape[2] - 1, min_face_size, factor)
        if scales:
            b = _stage1(nets, ii, scales, thresholds[0])
            cands.append(b)
            owners.append(np.full(len(b), i, dtype=np.int64))
    if not cands or sum(len(c) for c in cands) == 0:
        return none
    boxes, idx = np.concatenate(cands), np.concatenate(owners)

    # Stage 2: R-net on 24x24 crops.
    data, boxes, idx = _crops(iis, boxes, idx, 24)
    if len(boxes) == 0:
        return none
    reg, prob = nets.rnet(data)
    ok = prob > thresholds[1]
    boxes = np.column_stack([boxes[ok, :4], prob[ok]]).astype(np.float32)
    idx, reg = idx[ok], reg[ok]
    keep = _batched_nms(boxes[:, :4], boxes[:, 4], idx, 0.7)
    boxes, idx, reg = boxes[keep], idx[keep], reg[keep]
    return _rerec(_bbreg(boxes, reg)), idx


def _stage3(
    nets: _Nets, iis: list[np.ndarray], boxes: np.ndarray, idx: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """O-net on 48x48 crops of ``boxes`` (in image ``idx[k]``): the accepted boxes (regressed, with
    their probability), their points (K, 5, 2) and image indices; no NMS."""
    data, boxes, idx = _crops(iis, boxes, idx, 48)
    if len(boxes) == 0:
        return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros(0, np.int64)
    reg, pts, prob = nets.onet(data)
    ok = prob > threshold
    boxes = np.column_stack([boxes[ok, :4], prob[ok]]).astype(np.float32)
    idx, reg, pts = idx[ok], reg[ok], pts[ok]
    bw = boxes[:, 2] - boxes[:, 0] + 1
    bh = boxes[:, 3] - boxes[:, 1] + 1
    px = bw[:, None] * pts[:, :5] + boxes[:, 0:1] - 1
    py = bh[:, None] * pts[:, 5:10] + boxes[:, 1:2] - 1
    points = np.stack([px, py], axis=2).astype(np.float32)  # (K, 5, 2) as (x, y)
    return _bbreg(boxes, reg), points, idx


def _split(boxes: np.ndarray, points: np.ndarray, idx: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    keep = _batched_nms(boxes[:, :4], boxes[:, 4], idx, 0.7, "min")
    boxes, idx, points = boxes[keep], idx[keep], points[keep]
    return [(boxes[idx == i], points[idx == i]) for i in range(n)]


def _cascade(
    nets: _Nets,
    images: Sequence[np.ndarray],
    min_face_size: float,
    thresholds: tuple[float, float, float],
    factor: float,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """MTCNN on (H, W, 3) uint8 images of any sizes: per image, (boxes (K, 5) [x1, y1, x2, y2, p]
    in facenet-pytorch's 1-based inclusive convention, points (K, 5, 2) as (x, y)).

    The P-net runs image by image (batching same-sized images through it was measured slower on
    CPU); the R- and O-nets run once on the crops of all images together.
    """
    n = len(images)
    iis = [_integral(im[None]) for im in images]
    boxes, idx = _stages12(nets, iis, min_face_size, thresholds, factor)
    if len(boxes) == 0:
        return [(np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))] * n
    return _split(*_stage3(nets, iis, boxes, idx, thresholds[2]), n)


def _cascade_large(
    nets: _Nets,
    image: np.ndarray,
    small: np.ndarray,
    min_face_size: float,
    thresholds: tuple[float, float, float],
    factor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """MTCNN with its P- and R-nets on ``small`` (``image`` shrunk) and its O-net on crops of the
    full-resolution ``image``: boxes and points in ``image``'s coordinates, as :func:`_cascade`'s.

    The O-net gives the points: fed crops from the full-resolution pixels (each crop's own integral
    image, so a 12-MP photo never gets one), its points are those it would give for the face in
    the full image, not a resampling of the shrunk one's."""
    boxes, _ = _stages12(nets, [_integral(small[None])], min_face_size, thresholds, factor)
    if len(boxes) == 0:
        return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
    h, w = image.shape[:2]
    sx, sy = w / small.shape[1], h / small.shape[0]
    full = boxes.copy()
    full[:, [0, 2]] = (boxes[:, [0, 2]] - 1) * sx + 1  # 1-based coordinates
    full[:, [1, 3]] = (boxes[:, [1, 3]] - 1) * sy + 1
    full = _rerec(full)
    iis, shifted, offsets = [], full.copy(), []
    for k, b in enumerate(full):  # one crop per box (clipped to the image), the box moved into it
        x0, y0 = max(int(np.trunc(b[0])) - 1, 0), max(int(np.trunc(b[1])) - 1, 0)
        x1, y1 = min(max(int(np.trunc(b[2])), x0 + 1), w), min(max(int(np.trunc(b[3])), y0 + 1), h)
        iis.append(_integral(np.ascontiguousarray(image[y0:y1, x0:x1])[None]))
        shifted[k, [0, 2]] -= x0
        shifted[k, [1, 3]] -= y0
        offsets.append((x0, y0))
    out, points, idx = _stage3(nets, iis, shifted, np.arange(len(full), dtype=np.int64), thresholds[2])
    if len(out) == 0:
        return out, points
    off = np.asarray(offsets, np.float32)[idx]
    out[:, [0, 2]] += off[:, 0:1]
    out[:, [1, 3]] += off[:, 1:2]
    points = points + off[:, None, :]
    ((b, p),) = _split(out, points, np.zeros(len(out), np.int64), 1)
    return b, p


# ---------------------------------------------------------------------------------------------


@register(CARD)
class MtcnnDetector:
    """MTCNN (facenet-pytorch weights) on onnxruntime: boxes, O-net probability, 5 landmarks.

    Args:
        min_face_size: smallest face searched for, in pixels (default 20; larger is faster).
        thresholds: P-, R-, O-net probability thresholds (default ``(0.6, 0.7, 0.7)``); the last
            one is the acceptance threshold on :attr:`Detection.score`.
        factor: pyramid scale step (default 0.709).
        box_style: ``"mtcnn"`` (default: the network's own box, forehead to chin) or ``"dlib"``
            (:func:`dlib_style_box` of it, clipped to the image: the box to give a dlib shape
            predictor). Scores and landmarks do not depend on it.
        threads: onnxruntime intra-op threads (default: ``$FACEPRINT_THREADS`` or all cores).
    """

    def __init__(
        self,
        *,
        card: ModelCard = CARD,
        min_face_size: float = 20,
        thresholds: Sequence[float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        box_style: str = "mtcnn",
        threads: int | None = None,
    ) -> None:
        self.card = card
        self.min_face_size = check_float(min_face_size, "min_face_size")
        if self.min_face_size < 1:
            raise InvalidInput(f"min_face_size must be >= 1, got {min_face_size}")
        th = tuple(check_float(t, "thresholds[i]") for t in thresholds)
        if len(th) != 3 or not all(0.0 <= t <= 1.0 for t in th):
            raise InvalidInput(f"thresholds must be three probabilities in [0, 1], got {thresholds!r}")
        self.thresholds: tuple[float, float, float] = (th[0], th[1], th[2])
        self.factor = check_float(factor, "factor")
        if not 0.1 <= self.factor < 1.0:
            raise InvalidInput(f"factor must be in [0.1, 1), got {factor}")
        if box_style not in BOX_STYLES:
            raise InvalidInput(f"box_style must be one of {', '.join(map(repr, BOX_STYLES))}, got {box_style!r}")
        self.box_style = box_style
        self.threads = None if threads is None else check_int(threads, "threads", 1)
        self._nets: _Nets | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"MtcnnDetector(min_face_size={self.min_face_size:g}, thresholds={self.thresholds}, "
            f"factor={self.factor:g}, box_style={self.box_style!r})"
        )

    def _get_nets(self) -> _Nets:
        nets = self._nets
        if nets is None:
            with self._lock:
                if self._nets is None:
                    self._nets = _Nets(self.threads)
                nets = self._nets
        return nets

    def load(self) -> MtcnnDetector:
        """Load (and convert, the first time) the nets now instead of on first use."""
        self._get_nets()
        return self

    def _to_detections(self, boxes: np.ndarray, points: np.ndarray, width: int, height: int) -> list[Detection]:
        dets = []
        for b, p in zip(boxes, points, strict=True):
            x1, y1, x2, y2 = float(b[0]) - 1.0, float(b[1]) - 1.0, float(b[2]), float(b[3])
            if not (x2 > x1 and y2 > y1):
                continue
            box = Box(x1, y1, x2, y2).clip(width, height)
            if box.width <= 0 or box.height <= 0:
                continue
            if self.box_style == "dlib":
                box = dlib_style_box(box).clip(width, height)
                if box.width <= 0 or box.height <= 0:
                    continue
            dets.append(Detection(box, float(b[4]), Landmarks(p, "eyes_nose_mouth5"), self.card.name))
        return sort_by_prominence(dets)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in one (H, W, 3) uint8 RGB image, largest first."""
        image = check_image(image)
        nets = self._get_nets()
        ((boxes, points),) = _cascade(nets, [image], self.min_face_size, self.thresholds, self.factor)
        return self._to_detections(boxes, points, image.shape[1], image.shape[0])

    def detect_large(self, image: np.ndarray, small: np.ndarray) -> list[Detection]:
        """Faces in ``image`` found in ``small`` (``image`` shrunk, same aspect): P- and R-nets on
        ``small``, the O-net on full-resolution crops, so boxes and points come from ``image``'s own
        pixels (:mod:`faceprint.working_resolution`)."""
        image, small = check_image(image), check_image(small)
        boxes, points = _cascade_large(self._get_nets(), image, small, self.min_face_size, self.thresholds, self.factor)
        return self._to_detections(boxes, points, image.shape[1], image.shape[0])

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Faces in each image (any sizes); the R-/O-nets see the crops of up to
        ``_BATCH_IMAGES`` images in one call."""
        imgs = check_images(images)
        nets = self._get_nets()
        results: list[list[Detection]] = []
        for start in range(0, len(imgs), _BATCH_IMAGES):
            chunk = imgs[start : start + _BATCH_IMAGES]
            outs = _cascade(nets, chunk, self.min_face_size, self.thresholds, self.factor)
            for im, (boxes, points) in zip(chunk, outs, strict=True):
                results.append(self._to_detections(boxes, points, im.shape[1], im.shape[0]))
        return results
