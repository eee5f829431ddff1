"""Typed values the library passes around and returns (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from faceprint.types import Box, Landmarks


@dataclass(frozen=True)
class FaceData:
    """One face the pipeline found, as the library stores it (see :mod:`faceprint.library.quality`)."""

    box: Box
    score: float
    landmarks: Landmarks | None
    vector: np.ndarray  # unit-norm float32
    model: str
    norm: float
    face_px: float
    blur: float
    thumb: bytes | None


@dataclass(frozen=True)
class PhotoResult:
    """What indexing one file gave. ``status``: ``"indexed"`` (decoded and run through the
    pipeline), ``"known"`` (its content is already in the library: a copy, or a moved or renamed
    file) or ``"error"`` (``error_code`` / ``error`` say why)."""

    path: str
    size: int
    mtime_ns: int
    status: str
    sha256: str | None = None
    width: int = 0
    height: int = 0
    faces: tuple[FaceData, ...] = ()
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FileError:
    """A file or folder that could not be indexed, and why."""

    path: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class IndexReport:
    """The counts of one ``index`` run.

    ``files``: image files found; ``indexed``: decoded and run through the pipeline; ``unchanged``:
    skipped (same path, size and mtime as last time, or bad last time and unchanged); ``known``:
    content already in the library under another path (moved, renamed or copied: not decoded again);
    ``errors``: bad files this run (``error_list``); ``unreadable_dirs``: folders that could not be
    listed; ``removed``: paths that vanished since the last run (their photos dropped when no copy
    is left); ``faces``: faces added; ``clusters``: clusters in the library after the run.
    """

    files: int
    indexed: int
    unchanged: int
    known: int
    errors: int
    unreadable_dirs: int
    removed: int
    faces: int
    clusters: int
    elapsed_s: float
    error_list: tuple[FileError, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["error_list"] = [e.to_dict() for e in self.error_list]
        return d


@dataclass(frozen=True)
class ClusterInfo:
    """A cluster (proposed person) or named person: ``name`` is None until the user names it;
    ``cover_face`` is the id of its best face (largest, sharpest), for a thumbnail."""

    id: int
    name: str | None
    faces: int
    photos: int
    cover_face: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FaceInfo:
    """A stored face: where it is, its quality and its cluster."""

    id: int
    photo_id: int
    path: str | None
    box: tuple[float, float, float, float]
    score: float
    face_px: float
    blur: float
    cluster_id: int | None
    pinned: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PhotoInfo:
    """A photo of a person: its paths on disk and the ids of that person's faces in it."""

    photo_id: int
    paths: tuple[str, ...]
    face_ids: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
