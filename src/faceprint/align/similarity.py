"""Similarity transforms (rotation + uniform scale + translation) and chip warping.

Conventions (as everywhere in faceprint): a point is ``(x, y)`` in pixels, ``x`` right, ``y`` down, and a
pixel's **centre** is at integer coordinates (pixel ``(0, 0)`` covers ``[-0.5, 0.5)²``). A 2×3 matrix
``M`` maps ``p`` to ``M[:, :2] @ p + M[:, 2]``. OpenCV's ``warpAffine`` and dlib's ``transform_image``
use the same pixel-centre convention, so no half-pixel offsets appear anywhere in :mod:`faceprint.align`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faceprint.errors import InvalidInput

__all__ = ["apply_affine", "estimate_similarity", "invert_affine", "warp_chip"]


def _points(a: Any, name: str) -> np.ndarray:
    try:
        p = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{name} must be an (N, 2) array of numbers: {e}") from e
    if p.ndim != 2 or p.shape[1] != 2:
        raise InvalidInput(f"{name} must have shape (N, 2), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise InvalidInput(f"{name} contains NaN or infinite coordinates")
    return p


def _spread(centred: np.ndarray) -> float:
    """Mean squared distance of centred points from their centroid."""
    return float((centred**2).sum() / len(centred))


def estimate_similarity(src: Any, dst: Any) -> np.ndarray:
    """Least-squares similarity transform mapping ``src`` points onto ``dst`` points.

    Umeyama's closed form (IEEE TPAMI 1991, eqs. 34–43): rotation, uniform scale and translation
    minimising ``Σ ||dst_i − (s R src_i + t)||²``, with ``det R = +1`` (never a reflection, even when
    a reflection would fit better).

    Args:
        src, dst: ``(N, 2)`` corresponding points, ``N >= 2``.

    Returns:
        ``(2, 3)`` float64 matrix ``[s R | t]``.

    Raises:
        InvalidInput: shapes differ or are not (N, 2), values are not finite, or either set has fewer
            than two distinct points (the transform would be undetermined or singular).
    """
    s = _points(src, "src")
    d = _points(dst, "dst")
    if s.shape != d.shape:
        raise InvalidInput(f"src and dst must have the same shape, got {s.shape} and {d.shape}")
    n = s.shape[0]
    if n < 2:
        raise InvalidInput(f"need at least 2 point pairs, got {n}")
    mean_s = s.mean(axis=0)
    mean_d = d.mean(axis=0)
    s0 = s - mean_s
    d0 = d - mean_d
    var_s = _spread(s0)
    var_d = _spread(d0)
    for name, var, pts in (("src", var_s, s), ("dst", var_d, d)):
        scale = max(1.0, float(np.abs(pts).max()))
        if not var > (1e-9 * scale) ** 2:
            raise InvalidInput(f"{name} needs at least 2 distinct points (all points coincide)")

    cov = d0.T @ s0 / n
    u, sv, vt = np.linalg.svd(cov)
    corr = np.ones(2)
    det = np.linalg.det(cov)
    if det < 0 or (det == 0 and np.linalg.det(u) * np.linalg.det(vt) < 0):
        corr[1] = -1.0  # flip the axis of the smaller singular value: best proper rotation
    rot = (u * corr) @ vt
    scale = float((sv * corr).sum() / var_s)
    t = mean_d - scale * rot @ mean_s
    m = np.empty((2, 3), dtype=np.float64)
    m[:, :2] = scale * rot
    m[:, 2] = t
    return m


def _affine(m: Any, name: str = "M") -> np.ndarray:
    try:
        a = np.asarray(m, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{name} must be a (2, 3) matrix: {e}") from e
    if a.shape != (2, 3):
        raise InvalidInput(f"{name} must have shape (2, 3), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InvalidInput(f"{name} contains NaN or infinite values")
    return a


def invert_affine(m: Any) -> np.ndarray:
    """Inverse of a 2×3 affine matrix. Raises InvalidInput when it is singular."""
    a = _affine(m)
    lin = a[:, :2]
    det = float(np.linalg.det(lin))
    if abs(det) < 1e-15:
        raise InvalidInput("affine matrix is singular and cannot be inverted")
    inv_lin = np.linalg.inv(lin)
    out = np.empty((2, 3), dtype=np.float64)
    out[:, :2] = inv_lin
    out[:, 2] = -inv_lin @ a[:, 2]
    return out


def apply_affine(m: Any, points: Any) -> np.ndarray:
    """``points`` (N, 2) mapped through the 2×3 matrix ``m``; returns (N, 2) float64."""
    a = _affine(m)
    p = _points(points, "points")
    return p @ a[:, :2].T + a[:, 2]


def warp_chip(image: np.ndarray, m: Any, size: tuple[int, int]) -> np.ndarray:
    """Resample ``image`` into a ``size = (width, height)`` chip through ``m`` (image → chip).

    Bilinear interpolation (``cv2.warpAffine`` with ``INTER_LINEAR``); chip pixels whose source lies
    outside the image are black (``BORDER_CONSTANT``, 0), and those within half a pixel of the border
    blend towards black. Chip pixel ``(u, v)`` takes the image value at ``m⁻¹ (u, v)``, both in
    pixel-centre coordinates. OpenCV computes the bilinear weights in fixed point (1/32 pixel), so
    results can differ by ±1 from an exact double-precision resampler.

    Returns:
        ``(height, width, C)`` uint8 chip, C-contiguous (same channel count as ``image``).
    """
    import cv2

    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InvalidInput(
            f"image must be an (H, W, 3) uint8 array, got {getattr(image, 'shape', None)} "
            f"{getattr(image, 'dtype', type(image).__name__)}"
        )
    a = _affine(m)
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"size must be (width, height), got {size!r}") from e
    if w <= 0 or h <= 0:
        raise InvalidInput(f"size must be positive, got {size!r}")
    src = np.ascontiguousarray(image)
    chip = cv2.warpAffine(
        src, a, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0)
    )
    if chip.ndim == 2 and image.ndim == 3:  # OpenCV drops a singleton channel axis
        chip = chip[..., None]
    return np.ascontiguousarray(chip)
