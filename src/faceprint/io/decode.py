"""Decode anything image-like into faceprint's image convention: ``(H, W, 3)`` uint8 RGB, C-contiguous.

Accepted sources (:func:`load_image`):

* a **path** (``str`` or :class:`os.PathLike`);
* encoded **bytes** (``bytes``, ``bytearray``, ``memoryview``);
* a binary **file object** (anything with ``.read()`` returning bytes; read to the end);
* a **numpy array**: ``(H, W)`` grey, ``(H, W, 1)`` grey, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, of dtype

  - ``uint8`` — used as is;
  - ``uint16`` — the full 16-bit range is scaled down: ``round(v / 257)``;
  - floating point — must be finite and in ``[0, 1]``; scaled by 255 and rounded.

  Any other dtype (bool, signed ints, ...) or shape raises :class:`~faceprint.errors.InvalidInput`.
  An array that already is ``(H, W, 3)`` uint8 C-contiguous is returned as is (no copy).

Encoded formats: JPEG (and MPO, which phones write), PNG, BMP, TIFF, WebP, GIF, PBM/PGM/PPM
(:data:`SUPPORTED_FORMATS`). Multi-frame files (GIF, animated WebP, multi-page TIFF) give their
**first frame**.

Conversions:

* **EXIF orientation** (tag 0x0112, values 1–8) is applied, so the array is upright as a viewer shows it.
* **Greyscale** (1-bit, 8-bit, 16-bit) is expanded to three equal channels; 16-bit grey is scaled by
  ``round(v / 257)``. 16-bit RGB PNGs are reduced to 8 bits by Pillow's decoder (high byte).
* **Alpha** (RGBA, LA, palette with transparency) is **composited on white**: a transparent background
  becomes white, as an image viewer or browser shows it, rather than exposing whatever colour happens to
  sit under fully transparent pixels (often black, which detectors can mistake for hair or shadow).
* **CMYK**, YCbCr, LAB and HSV images are converted to RGB by Pillow.

Safety:

* A **pixel-count limit** (``max_pixels``, default :func:`faceprint.config.max_pixels`, 50 MP,
  ``$FACEPRINT_MAX_PIXELS``) is checked on the size in the file **header**, before any pixel is decoded,
  so a decompression bomb costs nothing. Pillow's own bomb guard (``DecompressionBombError``, above
  ``2 × PIL.Image.MAX_IMAGE_PIXELS``) also becomes :class:`~faceprint.errors.ImageTooLarge`.
* **Truncated** files raise :class:`~faceprint.errors.InvalidImage` instead of returning a partly grey
  image, even when the application has set ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True`` (the flag is
  forced off only while faceprint decodes, and restored afterwards).
* Corrupt, empty or non-image data, a missing file and a directory raise
  :class:`~faceprint.errors.InvalidImage`, whose message starts with the source: the path, or ``<bytes>``,
  ``<file>``, ``<array>``, or the ``name`` argument when given. Wrong Python types raise
  :class:`~faceprint.errors.InvalidInput`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from faceprint import config
from faceprint.errors import FaceprintError, ImageTooLarge, InvalidImage, InvalidInput

logger = logging.getLogger(__name__)

__all__ = ["SUPPORTED_FORMATS", "content_hash", "load_image"]

#: Pillow format names faceprint decodes. Others (Pillow knows ~40, some rarely exercised) are refused.
#: "PPM" covers PBM, PGM, PPM and PNM; "JPEG" includes MPO, the JPEG variant many cameras and phones write.
SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF", "PPM")

# EXIF orientation → the Pillow transpose that makes the image upright (as PIL.ImageOps.exif_transpose).
_ORIENTATION_OPS: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG = 0x0112

# --------------------------------------------------------------------------- truncation guard

_trunc_lock = threading.Lock()
_trunc_users = 0
_trunc_saved = False


@contextmanager
def _strict_truncation() -> Iterator[None]:
    """Force ``ImageFile.LOAD_TRUNCATED_IMAGES`` off while we decode, restoring the caller's value after.

    Reference-counted so concurrent decodes in several threads keep it off until the last one leaves.
    With Pillow's default (False) nothing observable changes.
    """
    global _trunc_users, _trunc_saved
    with _trunc_lock:
        if _trunc_users == 0:
            _trunc_saved = bool(ImageFile.LOAD_TRUNCATED_IMAGES)
        _trunc_users += 1
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        with _trunc_lock:
            _trunc_users -= 1
            if _trunc_users == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES = _trunc_saved


# --------------------------------------------------------------------------- public API


def content_hash(data: bytes | bytearray | memoryview) -> str:
    """SHA-256 (hex) of encoded image bytes: a stable key for caching and de-duplication."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"content_hash needs bytes, got {type(data).__name__}")
    return hashlib.sha256(data).hexdigest()


def load_image(source: Any, *, max_pixels: int | None = None, name: str | None = None) -> np.ndarray:
    """Decode ``source`` into an ``(H, W, 3)`` uint8 RGB C-contiguous array (see the module docstring).

    Args:
        source: a path, encoded bytes, a binary file object or a numpy array.
        max_pixels: refuse images with more than this many pixels (width × height), checked before
            decoding. Default: :func:`faceprint.config.max_pixels` (50 MP).
        name: how error messages name the source (default: the path, ``<bytes>``, ``<file>`` or
            ``<array>``).

    Raises:
        InvalidInput: ``source`` has an unsupported type, or an array has an unsupported shape/dtype/range.
        ImageTooLarge: the image has more than ``max_pixels`` pixels.
        InvalidImage: the data cannot be decoded (missing file, directory, empty, corrupt, truncated,
            unsupported format).
    """
    limit = _resolve_limit(max_pixels)

    if isinstance(source, np.ndarray):
        return _from_array(source, limit, name or "<array>")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode_bytes(bytes(source), name or "<bytes>", limit)
    if isinstance(source, (str, os.PathLike)):
        return _decode_path(source, name, limit)
    if hasattr(source, "read") and callable(source.read):
        label = name or _file_label(source)
        try:
            data = source.read()
        except (OSError, ValueError) as e:  # closed file, unreadable stream
            raise InvalidImage(f"cannot read file object: {e}", source=label) from e
        if isinstance(data, str):
            raise InvalidInput("file object is open in text mode; open it with 'rb'", source=label)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInput(f"file object's read() returned {type(data).__name__}, expected bytes", source=label)
        return _decode_bytes(bytes(data), label, limit)
    raise InvalidInput(
        "image source must be a path, bytes, a binary file object or a numpy array, "
        f"got {type(source).__name__}"
    )


# --------------------------------------------------------------------------- helpers


def image_size(data: bytes | bytearray | memoryview, *, max_pixels: int | None = None, name: str | None = None) -> tuple[int, int]:
    """``(width, height)`` of encoded image bytes from the header alone (no pixel is decoded),
    refusing what :func:`load_image` would refuse before decoding: empty or unrecognised data
    (:class:`InvalidImage`) and more than ``max_pixels`` pixels (:class:`ImageTooLarge`).
    The size is the stored one (before EXIF orientation)."""
    label = name or "<bytes>"
    if not data:
        raise InvalidImage("empty input (0 bytes)", source=label)
    limit = _resolve_limit(max_pixels)
    with _strict_truncation():
        im = _open_header(io.BytesIO(bytes(data)), label)
        try:
            _check_size(im.width, im.height, limit, label)
            return int(im.width), int(im.height)
        finally:
            im.close()


def _resolve_limit(max_pixels: int | None) -> int:
    if max_pixels is None:
        return config.max_pixels()
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels <= 0:
        raise InvalidInput(f"max_pixels must be a positive integer, got {max_pixels!r}")
    return int(max_pixels)


def _file_label(f: Any) -> str:
    fname = getattr(f, "name", None)
    return fname if isinstance(fname, str) and fname else "<file>"


def _check_size(width: int, height: int, limit: int, label: str) -> None:
    if width <= 0 or height <= 0:
        raise InvalidImage(f"image has no pixels ({width}x{height})", source=label)
    if width * height > limit:
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height:,} pixels, more than the limit of {limit:,} "
            "(raise it with max_pixels= or $FACEPRINT_MAX_PIXELS)",
            source=label,
        )


def _decode_path(path: str | os.PathLike[str], name: str | None, limit: int) -> np.ndarray:
    try:
        fspath = os.fspath(path)
    except TypeError as e:
        raise InvalidInput(f"invalid path: {e}") from e
    if isinstance(fspath, bytes):
        fspath = os.fsdecode(fspath)
    label = name or fspath or "<path>"
    if fspath == "":
        raise InvalidImage("empty path", source=label)
    if os.path.isdir(fspath):
        raise InvalidImage("is a directory, not an image file", source=label)
    try:
        f = open(fspath, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise InvalidImage("file not found", source=label) from None
    except OSError as e:
        raise InvalidImage(f"cannot open file: {e.strerror or e}", source=label) from e
    with f:
        # Decode from the open file: only the header is read before the size check.
        try:
            nbytes = os.fstat(f.fileno()).st_size
        except OSError:
            nbytes = -1
        if nbytes == 0:
            raise InvalidImage("empty file (0 bytes)", source=label)
        return _decode_stream(f, label, limit)


def _decode_bytes(data: bytes, label: str, limit: int) -> np.ndarray:
    if not data:
        raise InvalidImage("empty input (0 bytes)", source=label)
    return _decode_stream(io.BytesIO(data), label, limit)


def _decode_stream(fp: Any, label: str, limit: int) -> np.ndarray:
    """Decode a seekable binary stream (a BytesIO or an open file)."""
    with _strict_truncation():
        im = _open_header(fp, label)
        try:
            # Header only so far: check the size before a single pixel is decoded.
            _check_size(im.width, im.height, limit, label)
            fmt = im.format or "image"
            try:
                im.load()  # first frame for multi-frame formats
                orientation = _exif_orientation(im)
                arr = _pil_to_rgb(im)
            except FaceprintError:
                raise
            except Image.DecompressionBombError as e:
                raise ImageTooLarge(str(e), source=label) from e
            except Exception as e:  # Pillow raises many types on corrupt data
                raise InvalidImage(f"cannot decode {fmt} data: {e}", source=label) from e
        finally:
            im.close()
    if orientation in _ORIENTATION_OPS:
        arr = _apply_orientation(arr, orientation)
    out = np.ascontiguousarray(arr)
    if not out.flags.writeable:  # callers may draw on the result
        out = out.copy()
    return out


def _open_header(fp: Any, label: str) -> Image.Image:
    """``Image.open`` (reads the header only), with Pillow's errors turned into ours."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above Image.MAX_IMAGE_PIXELS; our own limit, checked next, governs instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(fp, formats=SUPPORTED_FORMATS)
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(str(e), source=label) from e
    except UnidentifiedImageError:
        raise InvalidImage(
            f"not a recognised image (supported formats: {', '.join(SUPPORTED_FORMATS)})", source=label
        ) from None
    except Exception as e:
        raise InvalidImage(f"corrupt or truncated image header: {e}", source=label) from e


def _exif_orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
        return int(value)
    except Exception as e:  # a broken EXIF block must not make a good image unreadable
        logger.debug("ignoring unreadable EXIF data: %s", e)
        return 1


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Make ``arr`` (H, W, C) upright according to EXIF ``orientation`` (2..8)."""
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:  # transpose (mirror about the main diagonal)
        return arr.transpose(1, 0, 2)
    if orientation == 6:  # stored rotated 90° counter-clockwise: rotate 90° clockwise
        return np.rot90(arr, k=-1)
    if orientation == 7:  # transverse (mirror about the anti-diagonal)
        return arr[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:  # rotate 90° counter-clockwise
        return np.rot90(arr, k=1)
    return arr


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``rgb`` (H, W, C) uint8 over a white background with ``alpha`` (H, W) uint8; rounded."""
    a = alpha.astype(np.uint32)[..., None]
    out = (rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def _u16_to_u8(a: np.ndarray) -> np.ndarray:
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    """A loaded Pillow image of any mode to (H, W, 3) uint8 RGB. (np.array, not np.asarray: with
    Pillow 13 it is ~6x faster and gives a writable array.)"""
    mode = im.mode
    if mode == "RGB":
        return np.array(im)
    if mode == "L":
        return _grey_to_rgb(np.array(im))
    if mode == "1":
        return _grey_to_rgb(np.array(im.convert("L")))
    if mode in ("LA", "La"):
        la = np.array(im.convert("LA"))
        return _grey_to_rgb(_composite_on_white(la[..., :1], la[..., 1])[..., 0])
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = np.array(im.convert("RGBA"))
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    if mode.startswith("I;16"):
        return _grey_to_rgb(_u16_to_u8(np.array(im).astype(np.uint16)))
    if mode == "I":
        a = np.array(im)
        if a.size and int(a.max()) > 255:  # a 16-bit image in 32-bit storage
            return _grey_to_rgb(_u16_to_u8(np.clip(a, 0, 65535)))
        return _grey_to_rgb(np.clip(a, 0, 255).astype(np.uint8))
    if mode == "F":
        a = np.nan_to_num(np.array(im, dtype=np.float64), nan=0.0)
        scale = 255.0 if a.size and float(a.max()) <= 1.0 else 1.0
        return _grey_to_rgb(np.clip(np.rint(a * scale), 0, 255).astype(np.uint8))
    # P without transparency, CMYK, YCbCr, LAB, HSV, RGBX, ...
    return np.array(im.convert("RGB"))


def _from_array(arr: np.ndarray, limit: int, label: str) -> np.ndarray:
    if arr.ndim == 2:
        channels = 1
    elif arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        channels = arr.shape[2]
    else:
        raise InvalidInput(
            f"image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {arr.shape}", source=label
        )
    h, w = int(arr.shape[0]), int(arr.shape[1])
    if h == 0 or w == 0:
        raise InvalidInput(f"image array is empty (shape {arr.shape})", source=label)
    _check_size(w, h, limit, label)

    if arr.dtype == np.uint8:
        a8 = arr
    elif arr.dtype == np.uint16:
        a8 = _u16_to_u8(arr)
    elif np.issubdtype(arr.dtype, np.floating):
        a = arr.astype(np.float64, copy=False)
        if not np.all(np.isfinite(a)):
            raise InvalidInput("float image array contains NaN or infinity", source=label)
        lo, hi = float(a.min()), float(a.max())
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise InvalidInput(
                f"float image array must hold values in [0, 1], got [{lo:g}, {hi:g}] "
                "(pass uint8 for 0-255 data)",
                source=label,
            )
        a8 = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    else:
        raise InvalidInput(
            f"image array dtype must be uint8, uint16 or float (values in [0, 1]), got {arr.dtype}", source=label
        )

    if channels == 1:
        out = _grey_to_rgb(a8.reshape(h, w))
    elif channels == 4:
        out = _composite_on_white(a8[..., :3], a8[..., 3])
    else:
        out = a8
    return np.ascontiguousarray(out)
