"""faceprint.io.decode: every format, source kind, conversion and failure mode, on generated images."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from faceprint.errors import FaceprintError, ImageTooLarge, InvalidImage, InvalidInput
from faceprint.io import content_hash, load_image

# --------------------------------------------------------------------------- helpers


def _quadrants(h: int = 24, w: int = 40) -> np.ndarray:
    """A non-square image with four distinct flat quadrants: every EXIF orientation changes it."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = (220, 30, 30)
    img[: h // 2, w // 2 :] = (30, 220, 30)
    img[h // 2 :, : w // 2] = (30, 30, 220)
    img[h // 2 :, w // 2 :] = (230, 230, 40)
    return img


def _noise(h: int = 30, w: int = 44, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A syntactically valid PNG whose header claims width x height 8-bit grey pixels; the pixel
    data is a few bytes (decoding it would fail, and must never be attempted)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _assert_image(out: np.ndarray, shape: tuple[int, int]) -> None:
    assert out.shape == (*shape, 3)
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous
    assert out.flags.writeable


# --------------------------------------------------------------------------- formats x source kinds

LOSSLESS_RGB = [
    ("PNG", {}),
    ("BMP", {}),
    ("TIFF", {}),
    ("WEBP", {"lossless": True}),
    ("PPM", {}),
]


@pytest.mark.parametrize("fmt,kw", LOSSLESS_RGB, ids=[f for f, _ in LOSSLESS_RGB])
@pytest.mark.parametrize("kind", ["path", "bytes", "bytearray", "memoryview", "file"])
def test_lossless_formats_exact_for_every_source_kind(tmp_path: Path, fmt: str, kw: dict, kind: str) -> None:
    ref = _noise()
    data = _encode(Image.fromarray(ref), fmt, **kw)
    if kind == "path":
        p = tmp_path / f"img.{fmt.lower()}"
        p.write_bytes(data)
        src: object = p
    elif kind == "bytes":
        src = data
    elif kind == "bytearray":
        src = bytearray(data)
    elif kind == "memoryview":
        src = memoryview(data)
    else:
        src = io.BytesIO(data)
    out = load_image(src)
    _assert_image(out, ref.shape[:2])
    np.testing.assert_array_equal(out, ref)


def test_path_as_str(tmp_path: Path) -> None:
    ref = _noise()
    p = tmp_path / "a.png"
    Image.fromarray(ref).save(p)
    np.testing.assert_array_equal(load_image(str(p)), ref)


def test_real_file_object(tmp_path: Path) -> None:
    ref = _noise()
    p = tmp_path / "a.png"
    Image.fromarray(ref).save(p)
    with open(p, "rb") as f:
        np.testing.assert_array_equal(load_image(f), ref)


def test_jpeg_close_to_source() -> None:
    ref = _quadrants(48, 64)
    out = load_image(_encode(Image.fromarray(ref), "JPEG", quality=95))
    _assert_image(out, (48, 64))
    assert np.abs(out.astype(int) - ref).mean() < 3


def test_webp_lossy_close_to_source() -> None:
    ref = _quadrants(48, 64)
    out = load_image(_encode(Image.fromarray(ref), "WEBP", quality=95))
    assert np.abs(out.astype(int) - ref).mean() < 6


def test_pgm_greyscale_expanded() -> None:
    grey = np.random.default_rng(1).integers(0, 256, (20, 30), dtype=np.uint8)
    data = _encode(Image.fromarray(grey), "PPM")  # mode L is written as PGM (P5)
    assert data[:2] == b"P5"
    out = load_image(data)
    _assert_image(out, (20, 30))
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_gif_first_frame() -> None:
    frames = [Image.fromarray(np.full((10, 12, 3), c, np.uint8)) for c in ((200, 10, 10), (10, 200, 10))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(data)) as im:
        assert getattr(im, "n_frames", 1) == 2
    out = load_image(data)
    _assert_image(out, (10, 12))
    np.testing.assert_array_equal(out[0, 0], (200, 10, 10))


def test_multipage_tiff_first_page() -> None:
    pages = [Image.fromarray(np.full((8, 9, 3), c, np.uint8)) for c in (50, 150)]
    data = _encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    np.testing.assert_array_equal(load_image(data), np.full((8, 9, 3), 50, np.uint8))


# --------------------------------------------------------------------------- modes and bit depths


def test_png_16bit_greyscale_scaled_down() -> None:
    g16 = np.array([[0, 257, 32896, 65535], [128, 129, 1000, 60000]], dtype=np.uint16)
    data = _encode(Image.fromarray(g16), "PNG")
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode.startswith("I;16")
    out = load_image(data)
    expected = np.rint(g16 / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expected)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_png_16bit_rgb() -> None:
    rgb16 = (np.random.default_rng(2).integers(0, 65536, (6, 7, 3))).astype(np.uint16)
    ok, buf = cv2.imencode(".png", rgb16[..., ::-1])  # OpenCV writes BGR 48-bit PNG
    assert ok
    out = load_image(buf.tobytes())
    _assert_image(out, (6, 7))
    np.testing.assert_array_equal(out, (rgb16 >> 8).astype(np.uint8))  # Pillow keeps the high byte


def test_palette_png() -> None:
    ref = _quadrants()
    pal = Image.fromarray(ref).quantize(colors=4)
    assert pal.mode == "P"
    np.testing.assert_array_equal(load_image(_encode(pal, "PNG")), ref)


def test_palette_with_transparency_composited_on_white() -> None:
    pal = Image.fromarray(_quadrants()).quantize(colors=4)
    idx = pal.getpixel((0, 0))
    pal.info["transparency"] = idx
    out = load_image(_encode(pal, "PNG", transparency=idx))
    np.testing.assert_array_equal(out[0, 0], (255, 255, 255))  # the transparent colour became white
    np.testing.assert_array_equal(out[-1, -1], (230, 230, 40))


def test_rgba_composited_on_white() -> None:
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., :3] = (100, 50, 0)
    rgba[0, :, 3] = 255  # opaque row
    rgba[1, :, 3] = 0  # transparent row
    rgba[2, :, 3] = 128  # half
    rgba[3, :, 3] = 64
    out = load_image(_encode(Image.fromarray(rgba), "PNG"))
    np.testing.assert_array_equal(out[0, 0], (100, 50, 0))
    np.testing.assert_array_equal(out[1, 0], (255, 255, 255))
    a = 128 / 255
    np.testing.assert_allclose(out[2, 0], np.array([100, 50, 0]) * a + 255 * (1 - a), atol=0.51)
    a = 64 / 255
    np.testing.assert_allclose(out[3, 0], np.array([100, 50, 0]) * a + 255 * (1 - a), atol=0.51)


def test_la_composited_on_white() -> None:
    la = np.zeros((2, 3, 2), np.uint8)
    la[..., 0] = 40
    la[0, :, 1] = 255
    la[1, :, 1] = 0
    im = Image.fromarray(la)
    assert im.mode == "LA"
    out = load_image(_encode(im, "PNG"))
    np.testing.assert_array_equal(out[0, 0], (40, 40, 40))
    np.testing.assert_array_equal(out[1, 0], (255, 255, 255))


def test_one_bit_png() -> None:
    bits = np.zeros((5, 9), bool)
    bits[2:, 4:] = True
    out = load_image(_encode(Image.fromarray(bits), "PNG"))
    np.testing.assert_array_equal(out[..., 1], np.where(bits, 255, 0))


def test_cmyk_jpeg_converted_to_rgb() -> None:
    ref = _quadrants(32, 48)
    cmyk = Image.fromarray(ref).convert("CMYK")
    data = _encode(cmyk, "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "CMYK"
    out = load_image(data)
    _assert_image(out, (32, 48))
    assert np.abs(out.astype(int) - ref).mean() < 4


def test_real_32bit_png(fr_examples: Path) -> None:
    out = load_image(fr_examples / "tests" / "test_images" / "32bit.png")
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8


# --------------------------------------------------------------------------- EXIF orientation

# For each orientation: the transpose that turns the upright image into the stored one (the inverse of
# the one a viewer applies).
_STORE_OP = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _stored_with_orientation(upright: np.ndarray, orientation: int, fmt: str) -> bytes:
    im = Image.fromarray(upright)
    op = _STORE_OP[orientation]
    if op is not None:
        im = im.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    kw = {"quality": 95} if fmt == "JPEG" else {}
    return _encode(im, fmt, exif=exif.tobytes(), **kw)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_png_exact(orientation: int) -> None:
    upright = _noise(18, 30, seed=orientation)
    data = _stored_with_orientation(upright, orientation, "PNG")
    with Image.open(io.BytesIO(data)) as im:
        assert im.getexif().get(0x0112) == orientation
        oracle = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    out = load_image(data)
    np.testing.assert_array_equal(out, upright)
    np.testing.assert_array_equal(out, oracle)
    assert out.flags.c_contiguous


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_jpeg(orientation: int) -> None:
    upright = _quadrants(24, 40)
    out = load_image(_stored_with_orientation(upright, orientation, "JPEG"))
    assert out.shape == upright.shape
    h, w = 24, 40
    # centre pixel of each quadrant has its colour (JPEG: small error)
    for y, x in ((h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)):
        assert np.abs(out[y, x].astype(int) - upright[y, x]).max() < 12, (orientation, y, x)


def test_invalid_exif_orientation_ignored() -> None:
    img = _noise(6, 7)
    exif = Image.Exif()
    exif[0x0112] = 9
    out = load_image(_encode(Image.fromarray(img), "PNG", exif=exif.tobytes()))
    np.testing.assert_array_equal(out, img)


# --------------------------------------------------------------------------- numpy arrays


def test_array_rgb_uint8_returned_without_copy() -> None:
    a = _noise()
    assert load_image(a) is a


def test_array_noncontiguous_made_contiguous() -> None:
    a = _noise(20, 40)
    view = a[:, ::2]
    out = load_image(view)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, view)


@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 1)])
def test_array_grey(shape: tuple[int, ...]) -> None:
    g = np.arange(30, dtype=np.uint8).reshape(shape)
    out = load_image(g)
    _assert_image(out, (5, 6))
    np.testing.assert_array_equal(out[..., 0], g.reshape(5, 6))
    np.testing.assert_array_equal(out[..., 1], out[..., 2])


def test_array_rgba_composited_on_white() -> None:
    a = np.zeros((2, 2, 4), np.uint8)
    a[..., :3] = 10
    a[0, :, 3] = 255
    out = load_image(a)
    np.testing.assert_array_equal(out[0, 0], (10, 10, 10))
    np.testing.assert_array_equal(out[1, 1], (255, 255, 255))


def test_array_uint16_scaled() -> None:
    a = np.array([[0, 257, 65535, 32767]], dtype=np.uint16)
    np.testing.assert_array_equal(load_image(a)[0, :, 0], [0, 1, 255, 127])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_array_float_unit_range(dtype) -> None:
    a = np.array([[[0.0, 0.5, 1.0]]], dtype=dtype)
    np.testing.assert_array_equal(load_image(a)[0, 0], [0, 128, 255])


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[[0.0, 0.5, 1.5]]]),
        np.array([[[-0.2, 0.5, 1.0]]], dtype=np.float32),
        np.array([[[np.nan, 0.5, 1.0]]]),
        np.array([[[np.inf, 0.5, 1.0]]]),
    ],
    ids=["above1", "negative", "nan", "inf"],
)
def test_array_float_out_of_range_rejected(arr: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="<array>"):
        load_image(arr)


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((4, 4, 3), np.int32),
        np.zeros((4, 4, 3), np.int8),
        np.zeros((4, 4, 3), bool),
        np.zeros((4, 4, 3), np.complex64),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((4, 4, 5), np.uint8),
        np.zeros((2, 4, 4, 3), np.uint8),
        np.zeros((4,), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((4, 0), np.uint8),
    ],
    ids=["int32", "int8", "bool", "complex", "2ch", "5ch", "4d", "1d", "empty-h", "empty-w"],
)
def test_array_bad_dtype_or_shape(arr: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        load_image(arr)


# --------------------------------------------------------------------------- size limit / bombs


def test_limit_applies_exactly() -> None:
    data = _encode(Image.fromarray(_noise(10, 20)), "PNG")
    assert load_image(data, max_pixels=200).shape == (10, 20, 3)
    with pytest.raises(ImageTooLarge, match="200 pixels.*199"):
        load_image(data, max_pixels=199)


def test_limit_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "100")
    with pytest.raises(ImageTooLarge):
        load_image(_encode(Image.fromarray(_noise(10, 20)), "PNG"))
    with pytest.raises(ImageTooLarge):
        load_image(_noise(10, 20))  # arrays are size-checked too


def test_default_limit_is_50mp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACEPRINT_MAX_PIXELS", raising=False)
    with pytest.raises(ImageTooLarge, match="50,000,000"):
        load_image(_png_header_only(8000, 7000))  # 56 MP: under Pillow's own limits, over ours


@pytest.mark.parametrize("max_pixels", [0, -5, 1.5, "100", True])
def test_bad_max_pixels(max_pixels) -> None:
    with pytest.raises(InvalidInput):
        load_image(_noise(), max_pixels=max_pixels)


@pytest.mark.parametrize(
    "width,height",
    [(8000, 7000), (20000, 20000), (100000, 100000)],
    ids=["56MP-ours", "400MP-pillow-error", "10GP"],
)
def test_bomb_rejected_before_any_pixel_is_decoded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, width: int, height: int
) -> None:
    loads: list[object] = []
    real_load = ImageFile.ImageFile.load

    def spy(self):  # pragma: no cover - must not run
        loads.append(self)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    data = _png_header_only(width, height)
    assert len(data) < 200
    with pytest.raises(ImageTooLarge, match="<bytes>"):
        load_image(data)
    p = tmp_path / "bomb.png"
    p.write_bytes(data)
    with pytest.raises(ImageTooLarge, match="bomb.png"):
        load_image(p)
    assert loads == []


def test_header_only_png_fails_cleanly_when_allowed() -> None:
    # Sanity check of the generator above: with a large enough limit, the missing pixel data is a
    # decode error (so the bomb test really relies on the header check).
    with pytest.raises(InvalidImage) as ei:
        load_image(_png_header_only(300, 200), max_pixels=10**6)
    assert not isinstance(ei.value, ImageTooLarge)


# --------------------------------------------------------------------------- corrupt input


def _jpeg_bytes() -> bytes:
    return _encode(Image.fromarray(_noise(64, 80)), "JPEG", quality=90)


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_jpeg_raises(fraction: float) -> None:
    data = _jpeg_bytes()
    with pytest.raises(InvalidImage, match="truncated"):
        load_image(data[: int(len(data) * fraction)])


def test_truncated_jpeg_raises_even_if_app_allows_truncation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _jpeg_bytes()
    with pytest.raises(InvalidImage, match="truncated"):
        load_image(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored
    # ...and the application's own Pillow use still sees its setting
    with Image.open(io.BytesIO(data[: len(data) // 2])) as im:
        im.load()


def test_truncation_flag_untouched_by_default() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    load_image(_jpeg_bytes())
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_png_raises() -> None:
    data = _encode(Image.fromarray(_noise(64, 80)), "PNG")
    with pytest.raises(InvalidImage):
        load_image(data[: len(data) // 2])


def test_corrupted_jpeg_body_raises_or_decodes_without_crash() -> None:
    data = bytearray(_jpeg_bytes())
    data[200:260] = b"\xff" * 60
    try:
        out = load_image(bytes(data))
    except InvalidImage:
        return
    assert out.shape == (64, 80, 3)


@pytest.mark.parametrize(
    "data",
    [b"", b"just some text, not an image\n" * 5, np.random.default_rng(3).bytes(4096), b"\x89PNG\r\n\x1a\n"],
    ids=["empty", "text", "random", "png-signature-only"],
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(InvalidImage, match="^<bytes>: "):
        load_image(data)


def test_unsupported_format_refused() -> None:
    data = _encode(Image.fromarray(_noise(8, 8)), "TGA")
    with pytest.raises(InvalidImage, match="not a recognised image"):
        load_image(data)


def test_missing_file_names_path(tmp_path: Path) -> None:
    p = tmp_path / "nope.jpg"
    with pytest.raises(InvalidImage, match="nope.jpg: file not found"):
        load_image(p)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidImage, match="directory"):
        load_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(InvalidImage, match="empty.png: empty"):
        load_image(p)


def test_text_file_with_image_extension(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    p.write_text("hello")
    with pytest.raises(InvalidImage, match="notes.jpg"):
        load_image(p)


def test_name_argument_used_in_messages() -> None:
    with pytest.raises(InvalidImage, match="^upload.jpg: "):
        load_image(b"garbage", name="upload.jpg")
    with pytest.raises(InvalidImage, match="^upload.jpg: "):
        load_image(io.BytesIO(b"garbage"), name="upload.jpg")


def test_file_object_message_uses_its_name(tmp_path: Path) -> None:
    p = tmp_path / "bad.bin"
    p.write_bytes(b"garbage")
    with open(p, "rb") as f, pytest.raises(InvalidImage, match="bad.bin"):
        load_image(f)
    with pytest.raises(InvalidImage, match="^<file>: "):
        load_image(io.BytesIO(b"garbage"))


def test_error_carries_source_and_code() -> None:
    with pytest.raises(InvalidImage) as ei:
        load_image(b"xx", name="n")
    assert ei.value.source == "n"
    assert ei.value.code == "invalid_image"
    assert isinstance(ei.value, FaceprintError) and isinstance(ei.value, ValueError)


def test_text_mode_file_rejected(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("abc")
    with open(p) as f, pytest.raises(InvalidInput, match="text mode"):
        load_image(f)


@pytest.mark.parametrize("bad", [1, 2.5, None, [1, 2], {"a": 1}, object(), True])
def test_wrong_types(bad: object) -> None:
    with pytest.raises(InvalidInput, match="must be a path, bytes"):
        load_image(bad)


# --------------------------------------------------------------------------- content hash


def test_content_hash() -> None:
    data = _jpeg_bytes()
    expected = hashlib.sha256(data).hexdigest()
    assert content_hash(data) == expected
    assert content_hash(bytearray(data)) == expected
    assert content_hash(memoryview(data)) == expected
    assert content_hash(data + b"x") != expected
    with pytest.raises(InvalidInput):
        content_hash("not bytes")  # type: ignore[arg-type]
