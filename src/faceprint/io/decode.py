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

Reduced-scale decoding (``max_side=``, for callers that want a working resolution, never by default):
the image comes back downscaled (aspect kept) so its longer side is at most ``max_side``; JPEGs are
decoded by DCT scaling (``PIL.Image.draft``: 1/2, 1/4 or 1/8 of the work and memory), then resized with
area averaging. :func:`load_image_scaled` also returns the factor.

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

Safety (every limit is checked before a pixel is decoded; defaults in :mod:`faceprint.config`):

* **Only regular files** are read: a path naming a FIFO, a character or block device (``/dev/zero``,
  ``/dev/urandom``), a socket or a directory, directly or through symlinks, raises
  :class:`~faceprint.errors.InvalidImage` saying what it is; nothing is opened that could block.
* **Bounded reads**: at most ``max_file_bytes`` (:func:`faceprint.config.max_file_bytes`, 256 MiB,
  ``$FACEPRINT_MAX_FILE_MB``) + 1 bytes are read from any file or stream; more raises
  :class:`~faceprint.errors.ImageTooLarge`.
* A **decode budget** (:func:`faceprint.config.max_decode_bytes`, 640 MiB, ``$FACEPRINT_MAX_DECODE_MB``):
  the peak memory of the decode and conversion, estimated from the header's size and mode
  (:func:`decode_cost`, e.g. 7 bytes a pixel for RGB, 12 for a palette with transparency), must fit.
* A baseline **JPEG whose header claims more pixels than its bytes can code** (each 8×8 block needs
  ≥ 2 bits) is refused as truncated or patched, rather than decoded into gigabytes of grey.
* A **pixel-count limit** (``max_pixels``, default :func:`faceprint.config.max_pixels`, 50 MP,
  ``$FACEPRINT_MAX_PIXELS``) is checked on the size in the file **header**, before any pixel is decoded,
  so a decompression bomb costs nothing. Pillow's own bomb guard (``DecompressionBombError``, above
  ``2 × PIL.Image.MAX_IMAGE_PIXELS``) also becomes :class:`~faceprint.errors.ImageTooLarge`.
* **Truncated** files raise :class:`~faceprint.errors.InvalidImage` instead of returning a partly grey
  image, even when the application has set ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True`` (the flag is
  forced off only while faceprint decodes, and restored afterwards).
* Conversions run in bands of rows, so their temporaries stay small.
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
import stat
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

__all__ = [
    "SUPPORTED_FORMATS",
    "content_hash",
    "decode_cost",
    "image_size",
    "load_image",
    "load_image_scaled",
    "read_image_bytes",
]

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

# Peak bytes per pixel of decode + conversion, by Pillow mode (Pillow keeps RGB, RGBA, LA, CMYK,
# YCbCr, I and F in 4 bytes a pixel, L, P and 1 in one, I;16 in two). E.g. RGB: Pillow's 4 + the
# numpy result's 3; a palette with transparency: 1 + RGBA 4 + numpy RGBA 4 + result 3.
_COST_PER_PIXEL: dict[str, int] = {
    "RGB": 7, "L": 5, "1": 6, "P": 8, "RGBA": 11, "RGBa": 11, "PA": 12, "LA": 9, "La": 9,
    "I;16": 7, "I;16B": 7, "I;16L": 7, "I;16N": 7, "I": 11, "F": 11,
}  # fmt: skip
_COST_P_TRANSPARENT = 12
_COST_OTHER = 11  # CMYK, YCbCr, LAB, HSV, RGBX: Pillow 4 + convert 4 + result 3
_COST_ROTATED = 6  # an EXIF rotation copies the (H, W, 3) result once
_BAND_PIXELS = 1 << 20  # conversions work on bands of about this many pixels

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


def load_image(
    source: Any, *, max_pixels: int | None = None, name: str | None = None, max_side: int | None = None
) -> np.ndarray:
    """Decode ``source`` into an ``(H, W, 3)`` uint8 RGB C-contiguous array (see the module docstring).

    Args:
        source: a path, encoded bytes, a binary file object or a numpy array.
        max_pixels: refuse images with more than this many pixels (width × height), checked before
            decoding. Default: :func:`faceprint.config.max_pixels` (50 MP).
        name: how error messages name the source (default: the path, ``<bytes>``, ``<file>`` or
            ``<array>``).
        max_side: when given, return the image downscaled so its longer side is at most this
            (JPEG: decoded at reduced scale). Default None: full resolution.

    Raises:
        InvalidInput: ``source`` has an unsupported type, or an array has an unsupported shape/dtype/range.
        ImageTooLarge: the image has more than ``max_pixels`` pixels, the file more than
            :func:`faceprint.config.max_file_bytes` bytes, or its decode would exceed
            :func:`faceprint.config.max_decode_bytes`.
        InvalidImage: the data cannot be decoded (missing file, not a regular file, empty, corrupt,
            truncated, unsupported format).
    """
    return load_image_scaled(source, max_pixels=max_pixels, name=name, max_side=max_side)[0]


def load_image_scaled(
    source: Any, *, max_pixels: int | None = None, name: str | None = None, max_side: int | None = None
) -> tuple[np.ndarray, float]:
    """As :func:`load_image`, returning ``(image, scale)``: ``scale`` is the returned width over the
    full-resolution (upright) width, 1.0 unless ``max_side`` made it smaller."""
    limit = _resolve_limit(max_pixels)
    side = _resolve_side(max_side)

    if isinstance(source, np.ndarray):
        return _downscale(_from_array(source, limit, name or "<array>"), side)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name or "<bytes>"
        _check_nbytes(len(data), label)
        return _decode_bytes(data, label, limit, side)
    if isinstance(source, (str, os.PathLike)):
        return _decode_path(source, name, limit, side)
    if hasattr(source, "read") and callable(source.read):
        label = name or _file_label(source)
        data = _read_file_object(source, label)
        return _decode_bytes(data, label, limit, side)
    raise InvalidInput(
        "image source must be a path, bytes, a binary file object or a numpy array, "
        f"got {type(source).__name__}"
    )


def read_image_bytes(path: str | os.PathLike[str], *, name: str | None = None) -> bytes:
    """The bytes of the image file at ``path`` (for hashing and storing), read as :func:`load_image`
    reads paths: regular files only (symlinks resolved), at most
    :func:`faceprint.config.max_file_bytes` bytes; :class:`InvalidImage` / :class:`ImageTooLarge` otherwise."""
    fspath, label = _path_and_label(path, name)
    fd = _open_regular(fspath, label)
    with os.fdopen(fd, "rb") as f:
        limit = config.max_file_bytes()
        data = f.read(limit + 1)
    _check_nbytes(len(data), label)
    if not data:
        raise InvalidImage("empty file (0 bytes)", source=label)
    return data


def decode_cost(width: int, height: int, mode: str, *, transparency: bool = False) -> int:
    """Estimated peak bytes of decoding and converting a ``width`` × ``height`` image whose Pillow
    mode is ``mode`` into RGB (Pillow's buffer, any conversion, the numpy result; an EXIF rotation
    copy of the result). ``transparency``: a palette image with a transparent colour."""
    per_pixel = _COST_P_TRANSPARENT if mode == "P" and transparency else _COST_PER_PIXEL.get(mode, _COST_OTHER)
    return int(width) * int(height) * max(per_pixel, _COST_ROTATED)


# --------------------------------------------------------------------------- helpers


def image_size(
    data: bytes | bytearray | memoryview, *, max_pixels: int | None = None, name: str | None = None
) -> tuple[int, int]:
    """``(width, height)`` of encoded image bytes from the header alone (no pixel is decoded),
    refusing what :func:`load_image` would refuse before decoding: empty or unrecognised data
    (:class:`InvalidImage`), more bytes than :func:`faceprint.config.max_file_bytes`, more than
    ``max_pixels`` pixels or a decode over the budget (:class:`ImageTooLarge`), a JPEG too short for
    the size it claims (:class:`InvalidImage`). The size is the stored one (before EXIF orientation)."""
    label = name or "<bytes>"
    if not data:
        raise InvalidImage("empty input (0 bytes)", source=label)
    _check_nbytes(len(data), label)
    limit = _resolve_limit(max_pixels)
    fp = io.BytesIO(bytes(data))
    with _strict_truncation():
        im = _open_header(fp, label)
        try:
            _check_size(im.width, im.height, limit, label)
            if im.format in ("JPEG", "MPO"):
                _check_jpeg_data(im, fp, len(data), label)
            _check_budget(im, label)
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


def _path_and_label(path: str | os.PathLike[str], name: str | None) -> tuple[str, str]:
    try:
        fspath = os.fspath(path)
    except TypeError as e:
        raise InvalidInput(f"invalid path: {e}") from e
    if isinstance(fspath, bytes):
        fspath = os.fsdecode(fspath)
    label = name or fspath or "<path>"
    if fspath == "":
        raise InvalidImage("empty path", source=label)
    return fspath, label


def _kind(mode: int) -> str | None:
    """What a non-regular file is (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode):
        return "is a character device, not a regular file"
    if stat.S_ISBLK(mode):
        return "is a block device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def _open_regular(fspath: str, label: str) -> int:
    """A read-only descriptor of the regular file at ``fspath`` (symlinks followed). Anything else is
    refused before it is opened, and opened non-blocking, so a FIFO swapped in meanwhile cannot block."""
    try:
        st = os.stat(fspath)
    except FileNotFoundError:
        raise InvalidImage("file not found", source=label) from None
    except OSError as e:
        raise InvalidImage(f"cannot open file: {e.strerror or e}", source=label) from e
    what = _kind(st.st_mode)
    if what is not None:
        raise InvalidImage(what, source=label)
    try:
        fd = os.open(fspath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InvalidImage("file not found", source=label) from None
    except OSError as e:
        raise InvalidImage(f"cannot open file: {e.strerror or e}", source=label) from e
    try:
        what = _kind(os.fstat(fd).st_mode)
    except OSError as e:
        os.close(fd)
        raise InvalidImage(f"cannot open file: {e.strerror or e}", source=label) from e
    if what is not None:
        os.close(fd)
        raise InvalidImage(what, source=label)
    return fd


def _check_nbytes(nbytes: int, label: str) -> None:
    limit = config.max_file_bytes()
    if nbytes > limit:
        raise ImageTooLarge(
            f"file holds more than {limit:,} bytes, the limit (raise it with $FACEPRINT_MAX_FILE_MB)", source=label
        )


def _read_file_object(f: Any, label: str) -> bytes:
    limit = config.max_file_bytes()
    try:
        data = f.read(limit + 1)
    except (OSError, ValueError) as e:  # closed file, unreadable stream
        raise InvalidImage(f"cannot read file object: {e}", source=label) from e
    except TypeError:  # read() without a size argument
        raise InvalidInput("file object's read() must accept a size", source=label) from None
    if isinstance(data, str):
        raise InvalidInput("file object is open in text mode; open it with 'rb'", source=label)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"file object's read() returned {type(data).__name__}, expected bytes", source=label)
    _check_nbytes(len(data), label)
    return bytes(data)


def _decode_path(path: str | os.PathLike[str], name: str | None, limit: int, side: int | None) -> tuple[np.ndarray, float]:
    fspath, label = _path_and_label(path, name)
    fd = _open_regular(fspath, label)
    with os.fdopen(fd, "rb") as f:
        # Decode from the open file: only the header is read before the size checks.
        nbytes = os.fstat(f.fileno()).st_size
        if nbytes == 0:
            raise InvalidImage("empty file (0 bytes)", source=label)
        _check_nbytes(nbytes, label)
        return _decode_stream(f, label, limit, nbytes, side)


def _decode_bytes(data: bytes, label: str, limit: int, side: int | None) -> tuple[np.ndarray, float]:
    if not data:
        raise InvalidImage("empty input (0 bytes)", source=label)
    return _decode_stream(io.BytesIO(data), label, limit, len(data), side)


def _check_budget(im: Image.Image, label: str) -> None:
    cost = decode_cost(im.width, im.height, im.mode, transparency="transparency" in im.info)
    budget = config.max_decode_bytes()
    if cost > budget:
        raise ImageTooLarge(
            f"decoding this {im.width}x{im.height} {im.mode} image would take about {cost / config.MIB:,.0f} MiB, "
            f"more than the budget of {budget / config.MIB:,.0f} MiB (raise it with $FACEPRINT_MAX_DECODE_MB)",
            source=label,
        )


_SOF_HUFFMAN_SEQUENTIAL = (0xC0, 0xC1)  # baseline and extended sequential, Huffman-coded


def _jpeg_sof(fp: Any) -> int | None:
    """The SOFn marker of a JPEG stream (None when not found); the stream position is kept."""
    pos = fp.tell()
    try:
        fp.seek(0)
        if fp.read(2) != b"\xff\xd8":
            return None
        for _ in range(1000):
            head = fp.read(2)
            while len(head) == 2 and head[0] == 0xFF and head[1] == 0xFF:  # fill bytes
                head = head[1:] + fp.read(1)
            if len(head) < 2 or head[0] != 0xFF:
                return None
            marker = head[1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return marker
            if marker == 0xDA or marker == 0xD9:
                return None
            if 0xD0 <= marker <= 0xD7 or marker == 0x01:
                continue
            seglen = fp.read(2)
            if len(seglen) < 2:
                return None
            fp.seek(int.from_bytes(seglen, "big") - 2, os.SEEK_CUR)
        return None
    except (OSError, ValueError):
        return None
    finally:
        fp.seek(pos)


def _check_jpeg_data(im: Image.Image, fp: Any, nbytes: int, label: str) -> None:
    """Refuse a Huffman-sequential JPEG whose file is too short for the blocks its header declares
    (every 8×8 block codes at least a DC symbol and an end-of-block: ≥ 2 bits). libjpeg would fill
    the missing blocks with grey, and a patched header would cost the memory of its claimed size."""
    layers = getattr(im, "layer", None)
    if not layers or _jpeg_sof(fp) not in _SOF_HUFFMAN_SEQUENTIAL:
        return
    hmax = max(int(c[1]) for c in layers) or 1
    vmax = max(int(c[2]) for c in layers) or 1
    blocks = 0
    for c in layers:
        cw = -(-im.width * max(int(c[1]), 1) // hmax)
        ch = -(-im.height * max(int(c[2]), 1) // vmax)
        blocks += (-(-cw // 8)) * (-(-ch // 8))
    need = blocks // 4
    if nbytes < need:
        raise InvalidImage(
            f"truncated or inconsistent JPEG: its header claims {im.width}x{im.height} pixels "
            f"({blocks:,} blocks, at least {need:,} bytes) but the file holds {nbytes:,} bytes",
            source=label,
        )


def _decode_stream(fp: Any, label: str, limit: int, nbytes: int, side: int | None) -> tuple[np.ndarray, float]:
    """Decode a seekable binary stream (a BytesIO or an open file) of ``nbytes`` bytes."""
    with _strict_truncation():
        im = _open_header(fp, label)
        try:
            # Header only so far: check the size and the cost before a single pixel is decoded.
            _check_size(im.width, im.height, limit, label)
            full_w, full_h = int(im.width), int(im.height)
            fmt = im.format or "image"
            if fmt in ("JPEG", "MPO"):
                _check_jpeg_data(im, fp, nbytes, label)
                if side is not None and max(full_w, full_h) > side:
                    r = side / max(full_w, full_h)
                    im.draft(im.mode if im.mode in ("RGB", "L") else None, (max(1, int(full_w * r)), max(1, int(full_h * r))))
            _check_budget(im, label)
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
        if orientation >= 5:
            full_w, full_h = full_h, full_w
    out = np.ascontiguousarray(arr)
    if not out.flags.writeable:  # callers may draw on the result
        out = out.copy()
    if side is None:
        return out, 1.0
    out, _ = _downscale(out, side)
    return out, out.shape[1] / full_w


def _resolve_side(max_side: int | None) -> int | None:
    if max_side is None:
        return None
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise InvalidInput(f"max_side must be a positive integer, got {max_side!r}")
    return int(max_side)


def _downscale(img: np.ndarray, side: int | None) -> tuple[np.ndarray, float]:
    """``img`` resized (area averaging) so its longer side is at most ``side``; and the factor."""
    h, w = img.shape[:2]
    if side is None or max(h, w) <= side:
        return img, 1.0
    import cv2

    r = side / max(h, w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    out = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out), nw / w


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


def _band_rows(width: int) -> int:
    return max(1, _BAND_PIXELS // max(width, 1))


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``rgb`` (H, W, C) uint8 over a white background with ``alpha`` (H, W) uint8; rounded.
    Computed in bands of rows, so the 32-bit temporaries stay small."""
    h, w, c = rgb.shape
    out = np.empty((h, w, c), np.uint8)
    step = _band_rows(w)
    for y in range(0, h, step):
        a = alpha[y : y + step].astype(np.uint32)[..., None]
        out[y : y + step] = (rgb[y : y + step].astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return out


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def _u16_to_u8(a: np.ndarray) -> np.ndarray:
    """Scale 16-bit values (any integer dtype, in [0, 65535]) to 8 bits, rounded, in bands of rows."""
    out = np.empty(a.shape, np.uint8)
    step = _band_rows(int(np.prod(a.shape[1:])) if a.ndim > 1 else 1)
    for y in range(0, a.shape[0], step):
        out[y : y + step] = (a[y : y + step].astype(np.uint32) * 255 + 32767) // 65535
    return out


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
    if mode == "RGBA":
        rgba = np.array(im)
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    if mode in ("RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = np.array(im.convert("RGBA"))
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    if mode.startswith("I;16"):
        return _grey_to_rgb(_u16_to_u8(np.array(im)))
    if mode == "I":
        a = np.array(im)
        if a.size and int(a.max()) > 255:  # a 16-bit image in 32-bit storage
            return _grey_to_rgb(_u16_to_u8(np.clip(a, 0, 65535)))
        return _grey_to_rgb(np.clip(a, 0, 255).astype(np.uint8))
    if mode == "F":
        a = np.nan_to_num(np.array(im), nan=0.0, copy=False)
        scale = np.float32(255.0 if a.size and float(a.max()) <= 1.0 else 1.0)
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
