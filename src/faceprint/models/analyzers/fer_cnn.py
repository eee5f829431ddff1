"""Facial expression recognition with faceprint's own FER2013 network (``faceprint_fer_cnn``).

A VGG-style CNN (:mod:`faceprint.train.backbones.fer_vgg`, 64-128-256-512 channels, 4.69 M
parameters) trained with ``faceprint train configs/fer_vgg_wide.toml`` on FER2013's Training split
(28,709 faces), selected on
FER2013 PublicTest (``validation``) accuracy, exported to ONNX by
:func:`faceprint.train.export.export_classifier_onnx` and shipped inside the package
(``faceprint/models/weights/faceprint_fer_cnn.onnx``, 4.7 MB with its weights stored as per-channel
int8, computed in float32; verified against the card's sha256 before use). Faces are scored with flip test-time augmentation
by default (the card's ``extra["tta"]``; ``tta="none"`` halves the cost). Recipe and figures:
docs/training.md, "Expression recognition (FER2013)".

The graph takes uint8 greyscale faces ``(N, 48, 48)``, normalises them ``(x − 127.5)/127.5``
itself and returns the 7 softmax probabilities in :data:`~faceprint.models.analyzers.expression.LABELS`
order (the shipped mini-Xception's order).

Face crops for real photos (:func:`fer2013_crops`): FER2013 faces are tightly framed and
centred. ``benchmarks/fer_crop_geometry.py`` measured where the pipeline's detector (MTCNN with
dlib-style boxes, the default; dlib HOG too) puts its box inside FER2013 training frames;
:data:`FER2013_CROP` turns a box into the square region that frames the face the same way: side = ``side`` × box size
(box size = mean of width and height), centre = box centre + ``offset`` × box size. The region is
cut from the grey image (pixels outside the image replicate its edge) and resized to 48×48 with
``cv2.INTER_AREA`` (downscaling) or bilinear (upscaling).

User-trained analyzers exported with ``faceprint train`` (``task = "classification"``) register
the same way from their ``model.card.json`` (:func:`register_from_card_file`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.models.analyzers.base import OnnxAnalyzerBase
from faceprint.models.analyzers.expression import LABELS, _check_image, to_gray
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.registry import register
from faceprint.types import Box

logger = logging.getLogger(__name__)

WEIGHTS_PATH = "models/weights/faceprint_fer_cnn.onnx"


@dataclass(frozen=True)
class CropGeometry:
    """A face crop relative to a detector box: square side and centre offset, in box sizes."""

    side: float
    offset: tuple[float, float]

    def region(self, box: Box) -> tuple[float, float, float]:
        """``(centre x, centre y, side)`` of the crop for ``box``, in image pixels."""
        size = 0.5 * (box.width + box.height)
        cx = 0.5 * (box.x1 + box.x2) + self.offset[0] * size
        cy = 0.5 * (box.y1 + box.y2) + self.offset[1] * size
        return cx, cy, self.side * size


#: Crop geometry per detector, measured by ``python benchmarks/fer_crop_geometry.py --detector NAME``
#: with the pipeline's detector options (medians over the FER2013 training faces found among the
#: first 150 of each class; benchmarks/results/fer_crop_geometry_<NAME>.json): MTCNN's dlib-style
#: box is 42.2 px of the 48 px frame with its centre 4.0 px below the frame's (918 of 1,050 faces
#: found); dlib HOG's is 39.0 px, 4.75 px below (759 found).
CROP_BY_DETECTOR: dict[str, CropGeometry] = {
    "mtcnn": CropGeometry(side=1.138, offset=(-0.021, -0.094)),
    "dlib_hog": CropGeometry(side=1.231, offset=(-0.006, -0.122)),
}

#: The default: the pipeline's default detector (MTCNN, dlib-style boxes).
FER2013_CROP = CROP_BY_DETECTOR["mtcnn"]

CARD = ModelCard(
    name="faceprint_fer_cnn",
    task="analyzer",
    version="3",
    source=WeightSource(
        package="faceprint",
        path=WEIGHTS_PATH,
        pip_name="faceprint",
        sha256="c14e56332b181f8750103a47f19647a995bfde6ccc1922e0291116515dc9e46b",
    ),
    license="FER2013 (Goodfellow et al. 2013; Kaggle 'Challenges in Representation Learning') is for research "
    "use only; these weights are derived from its Training split and carry the same restriction. The code "
    "that trained them is faceprint's (MIT).",
    input_size=(48, 48),
    mean=(127.5,),
    std=(127.5,),
    color_order="GRAY",
    labels=LABELS,
    notes=(
        "VGG-style CNN (fer_vgg: 4 stages of 2 conv3x3-BN-ReLU, 64/128/256/512 channels, max-pool, global "
        "average pool, dropout 0.3, linear; 4,689,735 parameters) trained from scratch on FER2013's "
        "Training split (28,709 faces) with `faceprint train configs/fer_vgg_wide.toml`: random 40x40 crops "
        "with ±10° rotation, 0.9-1.1 zoom, flips, brightness/contrast ±0.2, random erasing p 0.25; "
        "cross entropy with label smoothing 0.1; SGD momentum 0.9, lr 0.05, weight decay 5e-4, one "
        "warm-up epoch then cosine; batch 128, 50 epochs with bfloat16 autocast on two CPU threads "
        "(card version 2 was the 1.17 M-parameter configs/fer_vgg_long.toml run, version 1 the 22-epoch "
        "configs/fer_vgg.toml run). Epoch selected on FER2013 PublicTest (validation) accuracy. Weights "
        "stored as symmetric per-output-channel int8 in the ONNX file, dequantised to float32 when the "
        "session is built (67.01% vs 67.15% for the float32 export; 68.35% with flip TTA for both). "
        "Input: 48x48 greyscale uint8 face (the graph normalises (x - 127.5)/127.5 and looks at the "
        "central 40x40); scored with flip TTA by default. Real photos: face crops framed like FER2013 "
        "(FER2013_CROP, measured for the default MTCNN boxes)."
    ),
    extra={
        "tta": "flip",
        "validation": {"accuracy": 0.670103, "macro_f1": 0.650198, "accuracy_flip_tta": 0.683477, "macro_f1_flip_tta": 0.663548},
        "validation_data": "FER2013 PublicTest (3,589 faces)",
        "selected_epoch": 45,
        "trained_epochs": 50,
        "training_data": "FER2013 Training (28,709 faces; research use only)",
        "default": True,
        "default_reason": "most accurate measured on FER2013 PublicTest (68.35 % flip TTA vs fer_mini_xception 58.37 %; "
        "python benchmarks/fer_eval.py); both are trained on FER2013, so its terms do not separate them",
        "config": "configs/fer_vgg_wide.toml",
        "crop": "FER2013_CROP",
    },
)


def fer2013_crops(
    image: np.ndarray, boxes: Sequence[Box], size: tuple[int, int] = (48, 48), geometry: CropGeometry = FER2013_CROP
) -> np.ndarray:
    """Grey face crops ``(N, size[1], size[0])`` uint8 framed like FER2013 faces (module docstring)."""
    import cv2

    _check_image(image)
    boxes = list(boxes)
    out = np.empty((len(boxes), size[1], size[0]), np.uint8)
    if not boxes:
        return out
    gray = to_gray(image)
    h, w = gray.shape
    for i, box in enumerate(boxes):
        if not isinstance(box, Box):
            raise InvalidInput(f"boxes[{i}] must be a faceprint.types.Box, got {type(box).__name__}")
        cx, cy, side = geometry.region(box)
        if side < 1 or cx + side / 2 <= 0 or cy + side / 2 <= 0 or cx - side / 2 >= w or cy - side / 2 >= h:
            raise InvalidInput(f"boxes[{i}] {box.as_tuple()} lies outside the {w}x{h} image")
        # affine map of the square region onto the output (pixel centres), edges replicated
        sx, sy = size[0] / side, size[1] / side
        m = np.array([[sx, 0.0, size[0] / 2 - sx * cx - 0.5 + 0.5 * sx], [0.0, sy, size[1] / 2 - sy * cy - 0.5 + 0.5 * sy]])
        interp = cv2.INTER_AREA if side > max(size) else cv2.INTER_LINEAR
        if interp == cv2.INTER_AREA:
            # INTER_AREA needs a plain resize: cut the (edge-padded) region first
            x0, y0 = int(np.floor(cx - side / 2)), int(np.floor(cy - side / 2))
            n = int(round(side))
            pad = max(0, -x0, -y0, x0 + n - w, y0 + n - h)
            src = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else gray
            out[i] = cv2.resize(src[y0 + pad : y0 + pad + n, x0 + pad : x0 + pad + n], size, interpolation=cv2.INTER_AREA)
        else:
            out[i] = cv2.warpAffine(gray, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


class OnnxExpressionAnalyzer(OnnxAnalyzerBase):
    """An ONNX expression classifier: uint8 grey faces ``(N, H, W)`` in, probabilities over
    ``card.labels`` out. Thread-safe; the session is built on first use after the file's sha256
    has been checked against the card.

    Args:
        card: the registry card (its source names the ONNX file and its sha256).
        threads: onnxruntime intra-op threads (default: ``$FACEPRINT_THREADS`` or all cores).
        weights: an explicit ONNX path instead of the card's (its sha256 is then not checked).
        batch_size: faces per onnxruntime call in :meth:`predict_crops`.
        geometry: how a detector box becomes a face crop: a :class:`CropGeometry`, or the name of
            the detector whose boxes will be given (:data:`CROP_BY_DETECTOR`; default ``mtcnn``).
    """

    def __init__(
        self,
        card: ModelCard = CARD,
        *,
        threads: int | None = None,
        weights: str | Path | None = None,
        batch_size: int = 64,
        tta: str | None = None,
        geometry: CropGeometry | str = FER2013_CROP,
    ) -> None:
        if isinstance(geometry, str):
            if geometry not in CROP_BY_DETECTOR:
                raise InvalidInput(f"no measured crop geometry for detector {geometry!r}; known: {sorted(CROP_BY_DETECTOR)}")
            geometry = CROP_BY_DETECTOR[geometry]
        super().__init__(card, threads=threads, batch_size=batch_size, tta=tta)
        self.geometry = geometry
        self._weights = Path(weights) if weights is not None else None

    def weights_path(self) -> Path:
        """The ONNX file, verified against the card's sha256 (unless given explicitly)."""
        from faceprint.models.sources import package_file, verify_sha256

        if self._weights is not None:
            if not self._weights.is_file():
                raise InvalidInput(f"weights file {self._weights} does not exist")
            return self._weights
        src = self.card.source
        path = package_file(src.package, src.path, pip_name=src.pip_name) if src.package else Path(src.path)
        if not path.is_file():
            raise InvalidInput(f"weights file {path} of model {self.card.name!r} does not exist")
        verify_sha256(path, src.sha256)
        return path

    def _load(self) -> Any:
        from faceprint.models.runtime.onnx import create_session

        return create_session(self.weights_path(), threads=self._threads)

    def crop(self, image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """FER2013-framed grey crops of ``boxes`` in ``image`` (:func:`fer2013_crops`)."""
        return fer2013_crops(image, boxes, self.input_size, self.geometry)


@register(CARD)
class FerCnnAnalyzer(OnnxExpressionAnalyzer):
    """``faceprint_fer_cnn``: the shipped FER2013 network (module docstring)."""


def card_from_file(card_json: str | Path) -> ModelCard:
    """A :class:`ModelCard` from an exported classifier's ``*.card.json``
    (:func:`faceprint.train.export.export_classifier_onnx`); a relative ``path`` is relative to the
    card file."""
    p = Path(card_json)
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise InvalidInput(f"cannot read model card {p}: {e}") from None
    missing = [k for k in ("name", "path", "labels", "input_size", "sha256") if k not in d]
    if missing:
        raise InvalidInput(f"model card {p} lacks {missing}")
    if d.get("task", "analyzer") != "analyzer":
        raise InvalidInput(f"model card {p} is for task {d['task']!r}, not an analyzer")
    mp = Path(d["path"])
    if not mp.is_absolute():
        mp = p.parent / mp
    return ModelCard(
        name=str(d["name"]),
        task="analyzer",
        version=str(d.get("version", "1")),
        source=WeightSource(package=None, path=str(mp.resolve()), sha256=d["sha256"]),
        license=str(d.get("license", "")),
        input_size=tuple(int(v) for v in d["input_size"]),  # type: ignore[arg-type]
        mean=tuple(float(v) for v in d.get("mean", (127.5,))),
        std=tuple(float(v) for v in d.get("std", (127.5,))),
        color_order=str(d.get("color_order", "GRAY")),
        labels=tuple(str(v) for v in d["labels"]),
        notes=str(d.get("notes", "")),
        extra=dict(d.get("extra") or {}),  # e.g. "tta", the validation figures
    )


def register_from_card_file(card_json: str | Path) -> ModelCard:
    """Register an exported expression classifier by the name in its card; returns the card."""
    card = card_from_file(card_json)
    register(card)(OnnxExpressionAnalyzer)
    return card


__all__ = [
    "CARD",
    "CROP_BY_DETECTOR",
    "FER2013_CROP",
    "WEIGHTS_PATH",
    "CropGeometry",
    "FerCnnAnalyzer",
    "OnnxExpressionAnalyzer",
    "card_from_file",
    "fer2013_crops",
    "register_from_card_file",
]
