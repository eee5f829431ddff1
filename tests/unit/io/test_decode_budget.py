"""Issue 13, point 10 (library side): the memory a decode may use is bounded from the header before
decoding (pixel limit, decode budget, baseline JPEGs too short for the size they claim), conversions
run in bands, and ``max_side`` decodes JPEGs at reduced scale."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceprint import config
from faceprint.errors import ImageTooLarge, InvalidImage, InvalidInput
from faceprint.io import decode_cost, image_size, load_image, load_image_scaled

SRC = str(Path(__file__).resolve().parents[3] / "src")


def _jpeg_bytes(img: np.ndarray, **kw) -> bytes:
    b = io.BytesIO()
    Image.fromarray(img).save(b, "JPEG", **kw)
    return b.getvalue()


def _patch_sof(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    i = out.find(b"\xff\xc0")
    assert i > 0
    out[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def _png(width: int, height: int, *, bit_depth: int, colour_type: int, extra: bytes = b"") -> bytes:
    """A valid PNG of a flat image, compressed by zlib: tiny on disk, huge once decoded."""

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)

    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row = b"\0" + b"\0" * (width * channels * bit_depth // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_one_default_pixel_limit() -> None:
    from faceprint.service.settings import ServiceSettings

    assert ServiceSettings().max_pixels == config.DEFAULT_MAX_PIXELS == config.max_pixels()


def test_decode_cost_by_mode() -> None:
    assert decode_cost(1000, 1000, "RGB") == 7_000_000
    assert decode_cost(1000, 1000, "L") == 6_000_000  # at least the rotation copy
    assert decode_cost(1000, 1000, "P", transparency=True) == 12_000_000
    assert decode_cost(1000, 1000, "CMYK") == 11_000_000
    # every 8-bit image within the default pixel limit fits the default budget
    assert decode_cost(10_000, 5_000, "P", transparency=True) <= config.DEFAULT_MAX_DECODE_BYTES


def test_patched_jpeg_header_is_refused_before_decoding() -> None:
    """A 5.6 KB-class JPEG claiming 40 MP: refused (too few bytes for its blocks), no 120 MB decode."""
    small = _jpeg_bytes(np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8), quality=40)
    assert len(small) < 10_000
    patched = _patch_sof(small, 8000, 5000)
    for fn in (load_image, image_size):
        with pytest.raises(InvalidImage, match="truncated or inconsistent JPEG"):
            fn(patched)
    assert load_image(small).shape == (60, 80, 3)  # the check passes genuine files


def test_genuine_flat_jpeg_passes_the_data_check() -> None:
    """The bound (2 bits a block) is below what any encoder writes, even for a flat image."""
    data = _jpeg_bytes(np.full((1200, 1600, 3), 200, np.uint8), quality=10)
    assert load_image(data).shape == (1200, 1600, 3)
    data = _jpeg_bytes(np.full((1200, 1600), 200, np.uint8), quality=10)
    assert load_image(data).shape == (1200, 1600, 3)


def test_decode_budget_refuses_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _png(2000, 2000, bit_depth=8, colour_type=6)  # RGBA: 11 B/px = 44 MB
    assert len(data) < 50_000
    monkeypatch.setenv("FACEPRINT_MAX_DECODE_MB", "40")
    with pytest.raises(ImageTooLarge, match="FACEPRINT_MAX_DECODE_MB"):
        load_image(data)
    with pytest.raises(ImageTooLarge):
        image_size(data)
    monkeypatch.setenv("FACEPRINT_MAX_DECODE_MB", "50")
    out = load_image(data)
    assert out.shape == (2000, 2000, 3) and int(out.min()) == 255  # transparent black composited on white
    monkeypatch.setenv("FACEPRINT_MAX_DECODE_MB", "zero")
    with pytest.raises(InvalidInput):
        load_image(data)


def _peak_rss_mib(code: str) -> float:
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={"PYTHONPATH": SRC}, check=True
    )
    return float(r.stdout.strip().splitlines()[-1])


_MEASURE = """
import resource, sys, zlib, struct
sys.path.insert(0, {tests!r})
from test_decode_budget import _png
data = _png({w}, {h}, bit_depth={bd}, colour_type={ct}, extra={extra!r})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from faceprint.io import load_image
img = load_image(data)
assert img.shape == ({h}, {w}, 3)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


@pytest.mark.parametrize(
    "bd,ct,extra,bpp",
    [
        (8, 6, b"", 11),  # RGBA
        (16, 0, b"", 7),  # 16-bit grey
        (8, 3, None, 12),  # palette with a transparent entry
    ],
    ids=["rgba", "grey16", "palette-transparent"],
)
def test_decode_peak_memory_within_the_estimate(bd: int, ct: int, extra: bytes | None, bpp: int) -> None:
    """The 116 KB PNG that took the server to 5.5 GB: the decode's own peak stays within decode_cost."""
    if extra is None:

        def chunk(tag: bytes, payload: bytes) -> bytes:
            crc = struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)
            return struct.pack(">I", len(payload)) + tag + payload + crc

        extra = chunk(b"PLTE", b"\0\0\0" + b"\x10" * 765) + chunk(b"tRNS", b"\0")
    w, h = 4000, 3000
    code = _MEASURE.format(tests=str(Path(__file__).parent), w=w, h=h, bd=bd, ct=ct, extra=extra)
    peak = _peak_rss_mib(code)
    assert peak <= bpp * w * h / (1 << 20) * 1.1, f"decode peak {peak:.0f} MiB"


def test_max_side_decodes_jpeg_at_reduced_scale() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (75, 100, 3), dtype=np.uint8)
    big = np.ascontiguousarray(np.repeat(np.repeat(base, 40, axis=0), 40, axis=1))  # 4000x3000, blocky
    data = _jpeg_bytes(big, quality=90)
    img, scale = load_image_scaled(data, max_side=1000)
    assert img.shape == (750, 1000, 3) and scale == pytest.approx(0.25)
    # same picture as decoding at full size and shrinking
    full = load_image(data)
    import cv2

    ref = cv2.resize(full, (1000, 750), interpolation=cv2.INTER_AREA)
    assert np.abs(img.astype(int) - ref.astype(int)).mean() < 3.0
    assert load_image(data, max_side=5000).shape == (3000, 4000, 3)
    with pytest.raises(InvalidInput):
        load_image(data, max_side=0)


def test_max_side_for_other_formats_and_arrays() -> None:
    arr = np.zeros((300, 600, 3), np.uint8)
    b = io.BytesIO()
    Image.fromarray(arr).save(b, "PNG")
    for src in (arr, b.getvalue()):
        img, scale = load_image_scaled(src, max_side=200)
        assert img.shape == (100, 200, 3) and scale == pytest.approx(1 / 3)
