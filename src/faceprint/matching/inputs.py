"""The gallery's one input reader: paths, bytes, binary file objects, RGB arrays and Embeddings.

:func:`read_input` reads an input once and decodes it; it hashes the content (sha256, the key that
makes an enrolment idempotent) **only when asked** (``with_hash=True``: enrolment). Identification
never needs the hash, so it never pays for it (hashing a 1080p array's pixels took ~71 ms).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidImage, InvalidInput
from faceprint.types import Embedding

__all__ = ["GalleryInput", "as_list", "content_hash", "describe", "read_input"]


@dataclass(frozen=True)
class GalleryInput:
    """One input read once: a display name, its decoded pixels or its Embedding, and (when asked
    for) the sha256 of its content."""

    name: str
    sha256: str | None = None
    image: np.ndarray | None = None
    embedding: Embedding | None = None


def content_hash(*parts: bytes) -> str:
    """sha256 hex digest of the concatenated ``parts`` (the gallery's duplicate key)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()


def describe(item: Any, i: int = 0) -> str:
    """A short display name for an input (its path, or ``<array i>`` ...)."""
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    if isinstance(item, Embedding):
        return f"<embedding {i}>"
    if isinstance(item, np.ndarray):
        return f"<array {i}>"
    return f"<bytes {i}>"


def as_list(images: Any) -> list[Any]:
    """One input or an iterable of inputs, as a list."""
    if isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview, Embedding)) or hasattr(images, "read"):
        return [images]
    if isinstance(images, np.ndarray) and images.ndim == 3:
        return [images]
    return list(images)


def _read_bytes(item: Any, i: int) -> tuple[bytes, str]:
    if isinstance(item, (str, os.PathLike)):
        from faceprint.io import read_image_bytes  # regular files only, reads bounded (issue 13, point 8)

        p = Path(item)
        return read_image_bytes(p, name=str(item)), str(p.resolve())
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item), f"<bytes {i}>"
    if hasattr(item, "read"):
        from faceprint import config

        data = item.read(config.max_file_bytes() + 1)
        if isinstance(data, bytes) and len(data) > config.max_file_bytes():
            from faceprint.errors import ImageTooLarge

            raise ImageTooLarge(f"file object holds more than {config.max_file_bytes()} bytes")
        if not isinstance(data, bytes):
            raise InvalidInput("file objects must be opened in binary mode")
        return data, str(getattr(item, "name", f"<file {i}>"))
    raise InvalidInput(f"unsupported image input of type {type(item).__name__}")


def read_input(item: Any, i: int = 0, *, with_hash: bool) -> GalleryInput:
    """Read and decode one input; hash its content only ``with_hash`` (enrolment)."""
    if isinstance(item, Embedding):
        h = content_hash(item.model.encode(), b"\0", item.vector.tobytes()) if with_hash else None
        return GalleryInput(f"<embedding {i}>", h, embedding=item)
    if isinstance(item, np.ndarray):
        if not (item.ndim == 3 and item.shape[2] == 3 and item.dtype == np.uint8):
            raise InvalidImage(f"arrays must be (H, W, 3) uint8 RGB, got {item.shape} {item.dtype}")
        h = content_hash(repr(item.shape).encode(), np.ascontiguousarray(item).tobytes()) if with_hash else None
        return GalleryInput(f"<array {i}>", h, image=item)
    from faceprint.io import load_image

    data, name = _read_bytes(item, i)
    h = content_hash(data) if with_hash else None
    return GalleryInput(name, h, image=load_image(data, name=name))
