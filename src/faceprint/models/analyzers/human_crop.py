"""Face crops and model inputs exactly as the ``human`` library (vladmandic/human 3.x) makes them
for its face-analysis models, re-implemented in numpy from its source:

1. ``src/face/blazeface.ts``: the detector box is enlarged 1.4× around its centre
   (``config.face.detector.scale``, ``util.enlargeBox``) and made square on its longer side with
   rounded corners (``util.squarifyBox``);
2. ``src/face/facemeshutil.ts`` ``cutAndResize``: that box, as a fraction of the image, is cut with
   ``tf.image.cropAndResize`` (bilinear) to the face-mesh input size, 192×192, and divided by 255:
   the *face tensor*, RGB in [0, 1], which every face model starts from (``src/face/face.ts``);
3. each model resizes it with ``tf.image.resizeBilinear`` (``alignCorners=false``,
   ``halfPixelCenters=false``) to its input size and normalises it (:data:`MODEL_INPUTS`); ``gear``
   instead crops ``[top 0, left 0.10, bottom 0.90, right 0.90]`` of it with ``cropAndResize``.

faceprint's detector box stands in for BlazeFace's (both box the face from brows to chin; see
the analyzer cards). Arithmetic is float32 like tfjs' CPU backend; the interpolation positions are
computed in double like its JavaScript kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from faceprint.errors import InvalidImage, InvalidInput
from faceprint.types import Box

#: human's constants (``src/tfjs/constants.ts``, ``src/config.ts``).
FACE_SCALE = 1.4
FACE_TENSOR_SIZE = 192
GRAY_WEIGHTS = np.asarray([0.2989, 0.5870, 0.1140], np.float32)
GEAR_BOX = (0.0, 0.10, 0.90, 0.90)  # top, left, bottom, right (src/gear/gear.ts)


def crop_and_resize(image: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    """``tf.image.cropAndResize`` of one box (``y1, x1, y2, x2`` as fractions of the image) of an
    ``(H, W, C)`` float32 image to ``size = (height, width)``, bilinear, extrapolating with 0."""
    h, w = image.shape[:2]
    ch, cw = size
    y1, x1, y2, x2 = (float(v) for v in box)
    ys = y1 * (h - 1) + np.arange(ch) * ((y2 - y1) * (h - 1) / (ch - 1)) if ch > 1 else np.asarray([0.5 * (y1 + y2) * (h - 1)])
    xs = x1 * (w - 1) + np.arange(cw) * ((x2 - x1) * (w - 1) / (cw - 1)) if cw > 1 else np.asarray([0.5 * (x1 + x2) * (w - 1)])
    return _bilinear(image, ys, xs, extrapolate=True)


def resize_bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``tf.image.resizeBilinear(image, size, alignCorners=false)`` (no half-pixel centres) of an
    ``(H, W, C)`` float32 image to ``size = (height, width)``."""
    h, w = image.shape[:2]
    ys = np.arange(size[0]) * (h / size[0])
    xs = np.arange(size[1]) * (w / size[1])
    return _bilinear(image, ys, xs, extrapolate=False)


def _bilinear(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, *, extrapolate: bool) -> np.ndarray:
    h, w = image.shape[:2]
    img = image.astype(np.float32, copy=False)
    y0 = np.floor(ys)
    x0 = np.floor(xs)
    if extrapolate:  # cropAndResize: top/bottom = floor/ceil, outside -> 0
        y1 = np.ceil(ys)
        x1 = np.ceil(xs)
    else:  # resizeBilinear: ceil clamped to the last row/column
        y1 = np.minimum(h - 1, np.ceil(ys))
        x1 = np.minimum(w - 1, np.ceil(xs))
    yl = (ys - y0).astype(np.float32)[:, None, None]
    xl = (xs - x0).astype(np.float32)[None, :, None]
    yi0, yi1 = np.clip(y0, 0, h - 1).astype(np.intp), np.clip(y1, 0, h - 1).astype(np.intp)
    xi0, xi1 = np.clip(x0, 0, w - 1).astype(np.intp), np.clip(x1, 0, w - 1).astype(np.intp)
    tl = img[yi0][:, xi0]
    tr = img[yi0][:, xi1]
    bl = img[yi1][:, xi0]
    br = img[yi1][:, xi1]
    top = tl + (tr - tl) * xl
    bottom = bl + (br - bl) * xl
    out = (top + (bottom - top) * yl).astype(np.float32)
    if extrapolate:
        out[(ys < 0) | (ys > h - 1)] = 0.0
        out[:, (xs < 0) | (xs > w - 1)] = 0.0
    return out


@dataclass(frozen=True)
class SquareBox:
    """human's squared face box, in pixels (``startPoint``/``endPoint``)."""

    x1: float
    y1: float
    x2: float
    y2: float


def human_face_box(box: Box, scale: float = FACE_SCALE) -> SquareBox:
    """``squarifyBox(enlargeBox(box, scale))`` (module docstring, step 1)."""
    cx, cy = box.x1 + (box.x2 - box.x1) / 2, box.y1 + (box.y2 - box.y1) / 2
    w, h = abs(box.x2 - box.x1) * scale, abs(box.y2 - box.y1) * scale
    # enlargeBox keeps the centre; squarifyBox recomputes it from the enlarged box (the same point)
    half = max(w, h) / 2
    return SquareBox(_js_round(cx - half), _js_round(cy - half), _js_round(cx + half), _js_round(cy + half))


def _js_round(v: float) -> float:
    """JavaScript's ``Math.round`` (halves go up)."""
    return float(np.floor(v + 0.5))


def face_tensor(image: np.ndarray, box: Box, size: int = FACE_TENSOR_SIZE, scale: float = FACE_SCALE) -> np.ndarray:
    """human's face tensor: ``(size, size, 3)`` float32 RGB in [0, 1] (module docstring, step 2)."""
    _check_image(image)
    if not isinstance(box, Box):
        raise InvalidInput(f"box must be a faceprint.types.Box, got {type(box).__name__}")
    sq = human_face_box(box, scale)
    h, w = image.shape[:2]
    crop = crop_and_resize(image.astype(np.float32), (sq.y1 / h, sq.x1 / w, sq.y2 / h, sq.x2 / w), (size, size))
    return (crop / np.float32(255.0)).astype(np.float32)


def _gray(t: np.ndarray) -> np.ndarray:
    return (t * GRAY_WEIGHTS).sum(axis=-1, keepdims=True, dtype=np.float32)


def _resize(size: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: resize_bilinear(t, (size, size))


#: model name -> (face tensor -> model input ``(H, W, C)`` float32), from each model's human code.
MODEL_INPUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    # src/face/antispoof.ts, src/face/liveness.ts: resize, range [0, 1]
    "antispoof": _resize(128),
    "liveness": _resize(32),
    # src/gear/ssrnet-age.ts: resize, times 255
    "age": lambda t: resize_bilinear(t, (64, 64)) * np.float32(255.0),
    # src/gear/ssrnet-gender.ts: resize, (x - 0.5) * 2 (grey first for a one-channel model)
    "gender-ssrnet-imdb": lambda t: (resize_bilinear(t, (64, 64)) - np.float32(0.5)) * np.float32(2.0),
    "gender": lambda t: (_gray(resize_bilinear(t, (64, 64))) - np.float32(0.5)) * np.float32(2.0),
    # src/gear/emotion.ts (grey model): resize, grey by the rgb constants, (x - 0.5) * 2
    "emotion": lambda t: (_gray(resize_bilinear(t, (64, 64))) - np.float32(0.5)) * np.float32(2.0),
    # src/gear/gear.ts: cropAndResize of GEAR_BOX, range [0, 1]
    "gear": lambda t: crop_and_resize(t, GEAR_BOX, (198, 198)),
    # src/face/faceres.ts enhance(): resize, times 255
    "faceres": lambda t: resize_bilinear(t, (224, 224)) * np.float32(255.0),
    "faceres-deep": lambda t: resize_bilinear(t, (224, 224)) * np.float32(255.0),
}


def model_input(model: str, tensor: np.ndarray) -> np.ndarray:
    """The input of human's ``model`` (a key of :data:`MODEL_INPUTS`) for one face tensor."""
    fn = MODEL_INPUTS.get(model)
    if fn is None:
        raise InvalidInput(f"no human preprocessing known for model {model!r}; known: {sorted(MODEL_INPUTS)}")
    return np.ascontiguousarray(fn(tensor), dtype=np.float32)


def _check_image(image: object) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InvalidImage(f"image must be an (H, W, 3) uint8 RGB array, got {desc}")


__all__ = [
    "FACE_SCALE",
    "FACE_TENSOR_SIZE",
    "GEAR_BOX",
    "MODEL_INPUTS",
    "SquareBox",
    "crop_and_resize",
    "face_tensor",
    "human_face_box",
    "model_input",
    "resize_bilinear",
]
