"""Alignment templates: where each landmark of a scheme should land in an embedder's chip.

A template has a chip ``size = (width, height)`` and, per landmark scheme (see
:data:`faceprint.types.LANDMARK_SCHEMES`), target points in **chip pixel coordinates** (pixel centres at
integers). Two geometries exist:

* ``"similarity"`` — the chip transform is the least-squares similarity taking the landmarks onto the
  target points (:func:`~faceprint.align.similarity.estimate_similarity`); ArcFace-style models.
* ``"dlib"`` — dlib's ``get_face_chip_details`` convention (:mod:`faceprint.align.dlib_chip`): the
  similarity is fitted the other way (targets → landmarks) and the chip rectangle is then laid out the
  way dlib does, which differs from the plain similarity by well under a chip pixel; the dlib ResNet
  descriptor was trained on exactly these chips.

and two resamplers: ``"cv2"`` (``cv2.warpAffine`` bilinear) and ``"dlib"`` (dlib's pyramid + truncating
bilinear, bit-identical to ``dlib.get_face_chip``; only with the dlib geometry).

Built-in templates (:data:`TEMPLATES`):

* ``dlib_150_pad025`` — 150×150, padding 0.25: ``dlib.get_face_chip(img, shape, size=150, padding=0.25)``
  for ``dlib5`` (dlib's 5-point predictor) and ``ibug68`` (dlib's 68-point path) landmarks, and
  empirically derived targets for ``eyes_nose_mouth5`` (MTCNN-style) landmarks so MTCNN can drive the
  dlib embedder.
* ``arcface_112`` — 112×112, the standard ArcFace 5-point template (insightface's ``arcface_dst``) for
  ``eyes_nose_mouth5``; ``ibug68`` landmarks are converted to that scheme; ``dlib5`` is refused (dlib's
  5 points have no mouth).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

from faceprint.align.dlib_chip import DLIB5_MEAN_FACE, DLIB68_MEAN_FACE, padded_template_points
from faceprint.errors import InvalidInput
from faceprint.types import LANDMARK_SCHEMES

__all__ = ["AlignTemplate", "TEMPLATES", "get_template", "register_template"]

Geometry = Literal["similarity", "dlib"]
Resample = Literal["cv2", "dlib"]


def _frozen_points(p: object, name: str) -> np.ndarray:
    a = np.array(p, dtype=np.float64, copy=True)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 2 or not np.all(np.isfinite(a)):
        raise InvalidInput(f"template points for {name} must be a finite (K >= 2, 2) array, got {a.shape}")
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class AlignTemplate:
    """An alignment template.

    Attributes:
        name: registry name (an embedder's ``ModelCard.template``).
        size: chip ``(width, height)`` in pixels.
        points: landmark scheme → ``(K, 2)`` float64 target points in chip pixel coordinates (read-only).
            For the dlib geometry they are dlib's template coordinates, in which the chip spans
            ``[0, size]`` edge to edge: in faceprint's pixel-centre coordinates a landmark fitted exactly
            lands at ``(size − 1)/2 + (s/k)(u − size/2)`` (``s`` the template → image scale, ``k`` dlib's
            pixel pitch ``(size·s − 1)/(size − 1)``), i.e. about half a pixel up and left of ``u``.
        point_indices: scheme → which ``K`` rows of that scheme's landmarks the points are for, when only
            a subset is used (dlib's 68-point path fits 33 of the 68); absent = all rows, in order.
        geometry: ``"similarity"`` or ``"dlib"`` (see the module docstring).
        resample: the default resampler, ``"cv2"`` or ``"dlib"``.
        description: provenance of the numbers.
    """

    name: str
    size: tuple[int, int]
    points: Mapping[str, np.ndarray]
    point_indices: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    geometry: Geometry = "similarity"
    resample: Resample = "cv2"
    description: str = ""

    def __post_init__(self) -> None:
        w, h = (int(v) for v in self.size)
        if w < 2 or h < 2:
            raise InvalidInput(f"template size must be at least 2x2, got {self.size}")
        object.__setattr__(self, "size", (w, h))
        if self.geometry not in ("similarity", "dlib"):
            raise InvalidInput(f"unknown template geometry {self.geometry!r}")
        if self.resample not in ("cv2", "dlib"):
            raise InvalidInput(f"unknown resampler {self.resample!r}")
        if self.resample == "dlib" and self.geometry != "dlib":
            raise InvalidInput("the dlib resampler needs the dlib geometry")
        pts: dict[str, np.ndarray] = {}
        idx: dict[str, tuple[int, ...]] = {}
        for scheme, p in self.points.items():
            if scheme not in LANDMARK_SCHEMES:
                raise InvalidInput(f"unknown landmark scheme {scheme!r} in template {self.name}")
            arr = _frozen_points(p, f"{self.name}/{scheme}")
            n = len(LANDMARK_SCHEMES[scheme])
            if scheme in self.point_indices:
                ii = tuple(int(i) for i in self.point_indices[scheme])
                if len(ii) != len(arr) or any(not 0 <= i < n for i in ii):
                    raise InvalidInput(f"bad point_indices for {self.name}/{scheme}")
                idx[scheme] = ii
            elif len(arr) != n:
                raise InvalidInput(f"{self.name}/{scheme} needs {n} points (or point_indices), got {len(arr)}")
            pts[scheme] = arr
        if not pts:
            raise InvalidInput(f"template {self.name} has no target points")
        object.__setattr__(self, "points", MappingProxyType(pts))
        object.__setattr__(self, "point_indices", MappingProxyType(idx))

    @property
    def schemes(self) -> tuple[str, ...]:
        """Landmark schemes this template has target points for."""
        return tuple(self.points)

    def accepts(self, scheme: str) -> bool:
        """Whether landmarks of ``scheme`` can be aligned to this template (directly or converted)."""
        return scheme in self.points or (scheme == "ibug68" and "eyes_nose_mouth5" in self.points)


# --------------------------------------------------------------------------- built-in templates

_DLIB_SIZE = 150
_DLIB_PADDING = 0.25

#: Targets of the MTCNN-style ``eyes_nose_mouth5`` points in the ``dlib_150_pad025`` chip (template
#: coordinates of the dlib geometry, chip pixels). Derived by ``python scripts/derive_templates.py``: on
#: the first 400 LFW images in sorted path order, dlib's HOG detector (upsampled once) kept the 368 images
#: with exactly one face at least 80 px wide; dlib's 68-point predictor gave eye centres (mean of points
#: 36–41 and 42–47), the nose tip (30) and the mouth corners (48, 54); each was mapped through the inverse
#: of the same face's dlib 5-point template fit, and the per-coordinate median taken (median absolute
#: deviation: eyes 0.9 px, nose 3–4 px, mouth 3–4 px). Aligning with these targets reproduces the dlib
#: 5-point chip to a median 1.6 px centre shift, 1.6° rotation and 3.1 % scale (dlib's own 68-point chip:
#: 1.7 px, 1.0°, 2.6 %).
DLIB150_EYES_NOSE_MOUTH5: tuple[tuple[float, float], ...] = (
    (47.6572, 46.7867),
    (100.4434, 46.7234),
    (73.5031, 76.5361),
    (50.9171, 105.3540),
    (97.4719, 105.5757),
)

#: The standard ArcFace 112×112 5-point template (insightface ``arcface_dst``): eye centres, nose tip,
#: mouth corners, image-left first.
ARCFACE_112: tuple[tuple[float, float], ...] = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)


def _dlib_150_pad025() -> AlignTemplate:
    idx68 = tuple(i for i, _, _ in DLIB68_MEAN_FACE)
    unit68 = np.array([(x, y) for _, x, y in DLIB68_MEAN_FACE])
    return AlignTemplate(
        name="dlib_150_pad025",
        size=(_DLIB_SIZE, _DLIB_SIZE),
        points={
            "dlib5": padded_template_points(DLIB5_MEAN_FACE, _DLIB_SIZE, _DLIB_PADDING),
            "ibug68": padded_template_points(unit68, _DLIB_SIZE, _DLIB_PADDING),
            "eyes_nose_mouth5": np.array(DLIB150_EYES_NOSE_MOUTH5),
        },
        point_indices={"ibug68": idx68},
        geometry="dlib",
        resample="dlib",
        description=(
            "dlib.get_face_chip(img, shape, size=150, padding=0.25): dlib's 5-point and 68-point mean face "
            "(dlib/image_transforms/interpolation.h); eyes_nose_mouth5 targets derived on LFW "
            "(scripts/derive_templates.py)"
        ),
    )


def _arcface_112() -> AlignTemplate:
    return AlignTemplate(
        name="arcface_112",
        size=(112, 112),
        points={"eyes_nose_mouth5": np.array(ARCFACE_112)},
        geometry="similarity",
        resample="cv2",
        description="insightface arcface_dst (112x112 ArcFace 5-point template)",
    )


_TEMPLATES: dict[str, AlignTemplate] = {}


def register_template(template: AlignTemplate, *, replace: bool = False) -> AlignTemplate:
    """Add a template to :data:`TEMPLATES` (e.g. for a user-supplied ONNX embedder)."""
    if not isinstance(template, AlignTemplate):
        raise InvalidInput(f"expected an AlignTemplate, got {type(template).__name__}")
    if template.name in _TEMPLATES and not replace:
        raise InvalidInput(f"template {template.name!r} already exists (pass replace=True)")
    _TEMPLATES[template.name] = template
    return template


register_template(_dlib_150_pad025())
register_template(_arcface_112())

#: Read-only view of the known templates by name.
TEMPLATES: Mapping[str, AlignTemplate] = MappingProxyType(_TEMPLATES)


def get_template(template: str | AlignTemplate) -> AlignTemplate:
    """The template named ``template`` (or ``template`` itself when it already is one)."""
    if isinstance(template, AlignTemplate):
        return template
    if not isinstance(template, str):
        raise InvalidInput(f"template must be a name or an AlignTemplate, got {type(template).__name__}")
    try:
        return _TEMPLATES[template]
    except KeyError:
        raise InvalidInput(f"unknown alignment template {template!r}; known: {sorted(_TEMPLATES)}") from None
