"""Finding the photos of a collection: a recursive walk over folders.

Every file whose name ends in a suffix faceprint decodes (:data:`PHOTO_SUFFIXES`, the formats of
:mod:`faceprint.io.decode`) is a photo candidate; other files are not looked at. Hidden files and
folders (name starting with ``.``) are skipped, symlinked folders are followed but each folder is
walked once (no loops: folders are known by device and inode), and a folder that cannot be listed
is reported through ``on_error`` and the walk goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from faceprint.library.records import FileError

logger = logging.getLogger(__name__)

#: The image formats :func:`faceprint.io.load_image` decodes, by file name ending.
PHOTO_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".gif",
    ".pbm", ".pgm", ".ppm", ".pnm",
})


@dataclass(frozen=True)
class FoundFile:
    """A candidate photo: its absolute path, byte size and modification time (ns)."""

    path: str
    size: int
    mtime_ns: int


def is_photo_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in PHOTO_SUFFIXES


def walk(roots: Iterable[str | os.PathLike[str]], on_error: Callable[[FileError], None] | None = None) -> Iterator[FoundFile]:
    """Every candidate photo under ``roots`` (files or folders), each folder in name order."""

    def report(path: str, e: OSError) -> None:
        err = FileError(path, "unreadable_folder" if os.path.isdir(path) else "unreadable", e.strerror or str(e))
        logger.warning("skipped %s: %s", path, err.message)
        if on_error is not None:
            on_error(err)

    for root in roots:
        top = os.path.abspath(os.fspath(root))
        if os.path.isfile(top):
            try:
                st = os.stat(top)
            except OSError as e:
                report(top, e)
                continue
            yield FoundFile(top, st.st_size, st.st_mtime_ns)
            continue
        if not os.path.isdir(top):
            report(top, FileNotFoundError(2, "no such file or folder"))
            continue
        yield from _walk_dir(top, report)


def _walk_dir(top: str, report: Callable[[str, OSError], None]) -> Iterator[FoundFile]:
    stack = [top]
    visited: set[tuple[int, int]] = set()
    while stack:
        d = stack.pop()
        try:
            st = os.stat(d)
            if (st.st_dev, st.st_ino) in visited:
                continue
            visited.add((st.st_dev, st.st_ino))
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            report(d, e)
            continue
        subdirs = []
        for ent in entries:
            if ent.name.startswith("."):
                continue
            try:
                if ent.is_dir():
                    subdirs.append(ent.path)
                elif is_photo_name(ent.name) and ent.is_file():
                    fst = ent.stat()
                    yield FoundFile(ent.path, fst.st_size, fst.st_mtime_ns)
            except OSError as err:
                report(ent.path, err)
        stack.extend(reversed(subdirs))  # depth first, folders in name order
