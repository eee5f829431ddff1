"""Align faces: landmarks + template → :class:`~faceprint.types.AlignedFace` (chip + transform)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faceprint.align import dlib_chip
from faceprint.align.similarity import estimate_similarity, warp_chip
from faceprint.align.templates import AlignTemplate, Resample, get_template
from faceprint.errors import InvalidInput
from faceprint.types import AlignedFace, Landmarks

__all__ = ["align_face", "align_faces", "chip_transform"]


def _source_and_target(landmarks: Landmarks, template: AlignTemplate) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(landmarks, Landmarks):
        raise InvalidInput(f"landmarks must be a faceprint.types.Landmarks, got {type(landmarks).__name__}")
    lm = landmarks
    if lm.scheme not in template.points:
        if lm.scheme == "ibug68" and "eyes_nose_mouth5" in template.points:
            lm = lm.to_eyes_nose_mouth5()
        else:
            raise InvalidInput(
                f"template {template.name!r} has no target points for {landmarks.scheme!r} landmarks "
                f"(it supports {', '.join(template.schemes)}"
                + (", and ibug68 by conversion" if "eyes_nose_mouth5" in template.points else "")
                + "); use a landmarker that produces one of those schemes"
            )
    src = lm.points.astype(np.float64)
    idx = template.point_indices.get(lm.scheme)
    if idx is not None:
        src = src[list(idx)]
    return src, template.points[lm.scheme]


def _check_image(image: object) -> np.ndarray:
    if (
        not isinstance(image, np.ndarray)
        or image.ndim != 3
        or image.shape[2] != 3
        or image.dtype != np.uint8
        or image.shape[0] == 0
        or image.shape[1] == 0
    ):
        raise InvalidInput(
            f"image must be a non-empty (H, W, 3) uint8 RGB array, got {getattr(image, 'shape', None)} "
            f"{getattr(image, 'dtype', type(image).__name__)}"
        )
    return image


def chip_transform(landmarks: Landmarks, template: str | AlignTemplate) -> np.ndarray:
    """The 2×3 image → chip matrix :func:`align_face` would use (no pixels are touched)."""
    tmpl = get_template(template)
    src, dst = _source_and_target(landmarks, tmpl)
    if tmpl.geometry == "dlib":
        return dlib_chip.mapping_to_chip(dlib_chip.chip_details_from_points(dst, src, tmpl.size))
    return estimate_similarity(src, dst)


def align_face(
    image: np.ndarray,
    landmarks: Landmarks,
    template: str | AlignTemplate,
    *,
    resample: Resample | None = None,
) -> AlignedFace:
    """Cut the face described by ``landmarks`` out of ``image`` as ``template``'s chip.

    Args:
        image: (H, W, 3) uint8 RGB.
        landmarks: in image pixels; their scheme picks the template's target points. ``ibug68``
            landmarks use the template's own 68-point targets when it has them (dlib), else are converted
            to ``eyes_nose_mouth5``.
        template: a template name (:data:`~faceprint.align.templates.TEMPLATES`) or object.
        resample: ``"cv2"`` or ``"dlib"``; default: the template's (``dlib`` for dlib templates, which
            reproduces ``dlib.get_face_chip`` exactly).

    Returns:
        :class:`AlignedFace` with the chip and the image → chip matrix (for the dlib geometry, dlib's
        ``get_mapping_to_chip``; its pyramid's half-pixel quirk is not part of the reported transform).

    Raises:
        InvalidInput: bad image, unknown template, landmarks the template cannot use, or degenerate
            landmarks (NaN, all points equal).
    """
    image = _check_image(image)
    tmpl = get_template(template)
    method = resample or tmpl.resample
    if method not in ("cv2", "dlib"):
        raise InvalidInput(f"resample must be 'cv2' or 'dlib', got {resample!r}")
    src, dst = _source_and_target(landmarks, tmpl)
    if tmpl.geometry == "dlib":
        details = dlib_chip.chip_details_from_points(dst, src, tmpl.size)
        m = dlib_chip.mapping_to_chip(details)
        chip = dlib_chip.extract_chip(image, details) if method == "dlib" else warp_chip(image, m, tmpl.size)
    else:
        if method == "dlib":
            raise InvalidInput(f"template {tmpl.name!r} has the similarity geometry; the dlib resampler needs dlib's")
        m = estimate_similarity(src, dst)
        chip = warp_chip(image, m, tmpl.size)
    return AlignedFace(chip=chip, transform=m, template=tmpl.name)


def align_faces(
    image: np.ndarray,
    landmarks: Sequence[Landmarks],
    template: str | AlignTemplate,
    *,
    resample: Resample | None = None,
) -> list[AlignedFace]:
    """:func:`align_face` for each face of one image (each chip is cut as if alone, as
    ``dlib.get_face_chip`` does)."""
    return [align_face(image, lm, template, resample=resample) for lm in landmarks]
