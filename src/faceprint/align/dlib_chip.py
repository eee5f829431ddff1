"""dlib-compatible face chips: the geometry of ``dlib.get_face_chip_details`` and the resampling of
``dlib.extract_image_chip``, reimplemented from their documented behaviour in numpy.

Why: dlib's ResNet face descriptor was trained on chips cut exactly this way; reproducing them bit for bit
lets faceprint run the network elsewhere (ONNX) without an accuracy cost. Measured against dlib 20.0.1 on
real photos (tests/integration/test_align_dlib_parity.py) the chips are identical.

How dlib does it (facts from dlib/image_transforms/interpolation.h and image_pyramid.h):

1. **Chip geometry** (``chip_details(chip_points, img_points, dims)``): fit the least-squares similarity
   ``T`` (Umeyama) mapping the template's chip points onto the landmarks. Its rotation gives ``angle``,
   its scale ``s``. The chip's source rectangle is centred on ``T(cols/2, rows/2)`` and is
   ``cols·s × rows·s`` in dlib's *inclusive* rectangle convention, so its left and right edges are
   ``cols·s − 1`` apart. The image→chip mapping then sends the rectangle's rotated top-left, top-right
   and bottom-right corners to chip pixels ``(0, 0)``, ``(cols−1, 0)``, ``(cols−1, rows−1)``
   (``get_mapping_to_chip``). This differs slightly from ``T⁻¹`` itself: the chip's pixel pitch is
   ``(cols·s − 1)/(cols − 1)`` image pixels instead of ``s``, and its centre pixel ``(cols−1)/2`` sits
   on ``T(cols/2)``.
2. **Anti-aliasing pyramid**: while the source rectangle, halved with ``pyramid_down<2>``'s
   ``rect_down`` (``p/2 − (1.25, 0.75)``), still has more pixels than the chip, dlib goes one pyramid level
   down. The pyramid is built from the rotated rectangle's bounding box, grown by a margin
   (2, then ``2·g + 2`` per level) and clipped to the image. One level applies the 5-tap filter
   ``[1 4 6 4 1]`` along rows, keeping every other column (output column ``c`` centred on input
   ``2c + 2``), then along columns, and divides the integer sum by 256 with truncation; the output is
   ``((rows − 3) // 2, (cols − 3) // 2)``.
3. **Bilinear sampling** at each chip pixel's mapped position (computed with ``rect_down``'s mapping, not
   the filter's true centre, a quirk we reproduce), in double precision; a sample needs all four
   neighbours inside the source (else it is black); the value is **truncated** to uint8, not rounded.
4. A chip with angle exactly 0 and scale exactly 1 is a plain integer crop (``basic_extract_image_chip``).

dlib's landmarks are integers (``dlib.point``); faceprint's are float and are used as given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from faceprint.align.similarity import estimate_similarity, invert_affine
from faceprint.errors import InvalidInput

__all__ = [
    "DLIB5_MEAN_FACE",
    "DLIB68_MEAN_FACE",
    "ChipDetails",
    "chip_details_from_points",
    "extract_chip",
    "mapping_to_chip",
    "padded_template_points",
]

#: dlib's 5-point template (``get_face_chip_details``), on the unit square before padding, in the order of
#: dlib's 5-point shape predictor: subject's left eye outer/inner corner (image right), right eye
#: outer/inner corner (image left), base of the nose.
DLIB5_MEAN_FACE: np.ndarray = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
DLIB5_MEAN_FACE.setflags(write=False)

#: dlib's mean face for the 68-point (iBUG) path: ``(index, x, y)`` on the unit square before padding,
#: for the 33 points dlib fits (17–67 without the eyebrows 17–26 and the lower lip 55–59, 65–67).
DLIB68_MEAN_FACE: tuple[tuple[int, float, float], ...] = (
    (27, 0.490127, 0.203352), (28, 0.490127, 0.307009), (29, 0.490127, 0.409805), (30, 0.490127, 0.515625),
    (31, 0.36688, 0.587326), (32, 0.426036, 0.609345), (33, 0.490127, 0.628106), (34, 0.554217, 0.609345),
    (35, 0.613373, 0.587326), (36, 0.121737, 0.216423), (37, 0.187122, 0.178758), (38, 0.265825, 0.179852),
    (39, 0.334606, 0.231733), (40, 0.260918, 0.245099), (41, 0.182743, 0.244077), (42, 0.645647, 0.231733),
    (43, 0.714428, 0.179852), (44, 0.793132, 0.178758), (45, 0.858516, 0.216423), (46, 0.79751, 0.244077),
    (47, 0.719335, 0.245099), (48, 0.254149, 0.780233), (49, 0.340985, 0.745405), (50, 0.428858, 0.727388),
    (51, 0.490127, 0.742578), (52, 0.551395, 0.727388), (53, 0.639268, 0.745405), (54, 0.726104, 0.780233),
    (60, 0.290379, 0.784792), (61, 0.428096, 0.778746), (62, 0.490127, 0.785343), (63, 0.552157, 0.778746),
    (64, 0.689874, 0.784792),
)  # fmt: skip


def padded_template_points(unit_points: np.ndarray, size: int, padding: float) -> np.ndarray:
    """dlib's template points in chip pixels: ``size · (padding + p) / (1 + 2·padding)``."""
    p = np.asarray(unit_points, dtype=np.float64)
    return (padding + p) / (2.0 * padding + 1.0) * float(size)


@dataclass(frozen=True, slots=True)
class ChipDetails:
    """dlib's ``chip_details``: the source rectangle (inclusive ``left, top, right, bottom`` in image
    pixels, before rotation), its rotation ``angle`` (radians, about the rectangle's centre) and the chip's
    ``rows × cols``."""

    left: float
    top: float
    right: float
    bottom: float
    angle: float
    rows: int
    cols: int

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def rotated_corners(self) -> np.ndarray:
        """The rectangle's top-left, top-right, bottom-left, bottom-right corners rotated by ``angle``
        about its centre: where chip corners ``(0,0)``, ``(cols−1,0)``, ``(0,rows−1)``, ``(cols−1,rows−1)``
        come from in the image."""
        return _rotated_corners(self.left, self.top, self.right, self.bottom, self.angle)


def _rotated_corners(left: float, top: float, right: float, bottom: float, angle: float) -> np.ndarray:
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    ca, sa = math.cos(angle), math.sin(angle)
    out = np.empty((4, 2), dtype=np.float64)
    for i, (x, y) in enumerate(((left, top), (right, top), (left, bottom), (right, bottom))):
        dx, dy = x - cx, y - cy
        out[i, 0] = ca * dx - sa * dy + cx
        out[i, 1] = sa * dx + ca * dy + cy
    return out


def chip_details_from_points(chip_points: np.ndarray, image_points: np.ndarray, size: tuple[int, int]) -> ChipDetails:
    """dlib's ``chip_details(chip_points, img_points, chip_dims(rows, cols))`` for ``size = (cols, rows)``."""
    cols, rows = (int(v) for v in size)
    if cols < 2 or rows < 2:
        raise InvalidInput(f"chip size must be at least 2x2, got {size}")
    t = estimate_similarity(chip_points, image_points)  # chip template -> image
    a, b = float(t[0, 0]), float(t[1, 0])
    angle = math.atan2(b, a)
    scale = math.hypot(a, b)
    cx = t[0, 0] * (cols / 2.0) + t[0, 1] * (rows / 2.0) + t[0, 2]
    cy = t[1, 0] * (cols / 2.0) + t[1, 1] * (rows / 2.0) + t[1, 2]
    # centered_drect(p, w, h): inclusive rectangle, so its edges are (w - 1) apart.
    hw = (cols * scale - 1.0) / 2.0
    hh = (rows * scale - 1.0) / 2.0
    return ChipDetails(float(cx - hw), float(cy - hh), float(cx + hw), float(cy + hh), angle, rows, cols)


def _chip_to_image(details: ChipDetails) -> np.ndarray:
    """2×3 matrix taking chip pixel (u, v) to image (x, y): rotated tl/tr/bl corners to the chip's."""
    c = details.rotated_corners()
    tl, tr, bl = c[0], c[1], c[2]
    m = np.empty((2, 3), dtype=np.float64)
    m[:, 0] = (tr - tl) / (details.cols - 1)
    m[:, 1] = (bl - tl) / (details.rows - 1)
    m[:, 2] = tl
    return m


def mapping_to_chip(details: ChipDetails) -> np.ndarray:
    """dlib's ``get_mapping_to_chip``: the 2×3 image → chip matrix of ``details``."""
    return invert_affine(_chip_to_image(details))


# --------------------------------------------------------------------------- resampling


def _lround(x: float) -> int:
    """C's ``lround``: nearest integer, halves away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _rect_down(r: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    left, top, right, bottom = r
    return (left / 2.0 - 1.25, top / 2.0 - 0.75, right / 2.0 - 1.25, bottom / 2.0 - 0.75)


def _area(r: tuple[float, float, float, float]) -> float:
    left, top, right, bottom = r
    if top > bottom or left > right:
        return 0.0
    return (right - left + 1.0) * (bottom - top + 1.0)


_PYR_KERNEL = np.array([1, 4, 6, 4, 1], dtype=np.float32)


def pyramid_down2(img: np.ndarray) -> np.ndarray:
    """One level of dlib's ``pyramid_down<2>`` for an (H, W) or (H, W, C ≤ 4) uint8 image.

    dlib: the 5-tap ``[1 4 6 4 1]`` filter along rows keeping columns ``2c .. 2c+4`` for output column
    ``c``, the same along columns, integer sums divided by 256 with truncation; output
    ``((H − 3) // 2, (W − 3) // 2)``; images of 8 rows/columns or fewer give an empty result. Here the
    separable filter runs in OpenCV in float32, exact for these integer sums (< 2²⁴), and only interior
    outputs (no border) are kept.
    """
    import cv2

    nr, nc = img.shape[:2]
    if nr <= 8 or nc <= 8:
        return img[:0, :0]
    h = (nr - 3) // 2
    w = (nc - 3) // 2
    full = cv2.sepFilter2D(np.ascontiguousarray(img), cv2.CV_32F, _PYR_KERNEL, _PYR_KERNEL)
    sums = full[2 : 2 + 2 * h : 2, 2 : 2 + 2 * w : 2]
    out = (sums.astype(np.int32) >> 8).astype(np.uint8)
    return out.reshape((h, w) + img.shape[2:])


_BLOCK = 8192


def _bilinear_truncate(src: np.ndarray, m: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """dlib's ``transform_image`` with ``interpolate_bilinear`` and a black background: chip pixel
    ``(u, v)`` samples ``src`` at ``m @ (u, v, 1)``; same operation order as dlib, in float64."""
    channels = src.shape[2] if src.ndim == 3 else 1
    nr, nc = src.shape[:2]
    if nr < 2 or nc < 2:
        return np.zeros((rows, cols, channels), dtype=np.uint8)
    u = np.arange(cols, dtype=np.float64)[None, :]
    v = np.arange(rows, dtype=np.float64)[:, None]
    px = (m[0, 0] * u + m[0, 1] * v + m[0, 2]).ravel()
    py = (m[1, 0] * u + m[1, 1] * v + m[1, 2]).ravel()
    fx = np.floor(px)
    fy = np.floor(py)
    # A sample needs its 2x2 neighbourhood inside src. The valid set is convex in chip coordinates (an
    # affine image of a rectangle), so when the four chip corners are valid every pixel is.
    ok = (fx >= 0) & (fy >= 0) & (fx < nc - 1) & (fy < nr - 1)
    all_ok = bool(ok[[0, cols - 1, (rows - 1) * cols, rows * cols - 1]].all())
    if not all_ok:
        if not ok.any():
            return np.zeros((rows, cols, channels), dtype=np.uint8)
        px, py, fx, fy = px[ok], py[ok], fx[ok], fy[ok]
    planes = np.ascontiguousarray(np.moveaxis(src.reshape(nr, nc, channels), 2, 0)).reshape(channels, nr * nc)
    vals = np.empty((channels, px.size), dtype=np.uint8)
    # In blocks: small temporaries stay in cache (about 4x faster than whole-chip arrays here).
    for s in range(0, px.size, _BLOCK):
        e = s + _BLOCK
        bx, by, bfx, bfy = px[s:e], py[s:e], fx[s:e], fy[s:e]
        lr = bx - bfx
        tb = by - bfy
        idx = bfy.astype(np.intp) * nc + bfx.astype(np.intp)
        tl = np.take(planes, idx, axis=1).astype(np.float64)
        tr = np.take(planes, idx + 1, axis=1).astype(np.float64)
        bl = np.take(planes, idx + nc, axis=1).astype(np.float64)
        br = np.take(planes, idx + nc + 1, axis=1).astype(np.float64)
        one_lr = 1 - lr
        val = (1 - tb) * (one_lr * tl + lr * tr) + tb * (one_lr * bl + lr * br)
        vals[:, s:e] = val  # float -> uint8 truncates, as dlib's assign_pixel (values stay in 0..255)
    if all_ok:
        return np.ascontiguousarray(vals.T).reshape(rows, cols, channels)
    out = np.zeros((rows * cols, channels), dtype=np.uint8)
    out[ok] = vals.T
    return out.reshape(rows, cols, channels)


def _basic_crop(img: np.ndarray, details: ChipDetails) -> np.ndarray:
    left, top = _lround(details.left), _lround(details.top)
    right, bottom = _lround(details.right), _lround(details.bottom)
    h, w = bottom - top + 1, right - left + 1
    out = np.zeros((h, w) + img.shape[2:], dtype=np.uint8)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(right, img.shape[1] - 1), min(bottom, img.shape[0] - 1)
    if x1 >= x0 and y1 >= y0:
        out[y0 - top : y1 - top + 1, x0 - left : x1 - left + 1] = img[y0 : y1 + 1, x0 : x1 + 1]
    return out


def extract_chip(image: np.ndarray, details: ChipDetails) -> np.ndarray:
    """dlib's ``extract_image_chip(image, details)`` (bilinear, with its anti-aliasing pyramid) for an
    (H, W, C) uint8 image; returns ``(rows, cols, C)`` uint8."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise InvalidInput(f"image must be an (H, W, C) uint8 array, got {getattr(image, 'shape', None)}")
    rows, cols = details.rows, details.cols
    rect = (details.left, details.top, details.right, details.bottom)
    if details.angle == 0 and rows == rect[3] - rect[1] + 1 and cols == rect[2] - rect[0] + 1:
        return _basic_crop(image, details)
    n_out = rows * cols
    img_h, img_w = image.shape[:2]

    # Pyramid depth and the margin its filters need.
    depth = 0
    grow = 2.0
    r = _rect_down(rect)
    while _area(r) > n_out:
        r = _rect_down(r)
        depth += 1
        grow = grow * 2 + 2
    corners = details.rotated_corners()
    bx0 = max(corners[:, 0].min() - grow, 0.0)
    by0 = max(corners[:, 1].min() - grow, 0.0)
    bx1 = min(corners[:, 0].max() + grow, float(img_w - 1))
    by1 = min(corners[:, 1].max() + grow, float(img_h - 1))
    bl, bt, br, bb = _lround(bx0), _lround(by0), _lround(bx1), _lround(by1)
    if br < bl or bb < bt:  # the chip lies entirely outside the image
        return np.zeros((rows, cols, image.shape[2]), dtype=np.uint8)
    src = image[bt : bb + 1, bl : br + 1]

    # Which level to sample from, and the chip rectangle in that level's coordinates.
    level = -1
    r = (rect[0] - bl, rect[1] - bt, rect[2] - bl, rect[3] - bt)
    while _area(_rect_down(r)) > n_out:
        level += 1
        r = _rect_down(r)
    for _ in range(level + 1):
        src = pyramid_down2(src)

    c = _rotated_corners(*r, details.angle)
    m = np.empty((2, 3), dtype=np.float64)
    m[:, 0] = (c[1] - c[0]) / (cols - 1)
    m[:, 1] = (c[2] - c[0]) / (rows - 1)
    m[:, 2] = c[0]
    return _bilinear_truncate(src, m, rows, cols)
