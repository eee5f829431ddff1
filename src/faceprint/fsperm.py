"""Private files and directories for biometric data and secrets, whatever the process umask.

Everything faceprint keeps under ``$FACEPRINT_HOME`` (the gallery file and SQLite's ``-wal`` /
``-shm`` files beside it, the index snapshot, exports, the service's key store) is readable by its
owner only: directories it creates are ``0700``, files ``0600``. A umask can only take permission
bits away, so files are created with ``os.open(..., 0o600)`` and then ``fchmod``-ed to exactly
``0600`` (a umask such as ``0277`` would otherwise leave them unwritable).

SQLite creates its ``-wal`` and ``-shm`` files with the permissions of the database file, so
creating the database file private first (:func:`create_private_file`) makes them private too;
:func:`make_private` tightens files made by older versions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "create_private_file",
    "make_private",
    "private_dir",
    "write_private_atomic",
]


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) when absent; a directory created here is ``0700``.
    An existing directory is left as it is (it may be one the user chose to share)."""
    p = Path(path)
    if p.is_dir():
        return p
    missing = []
    q = p
    while not q.exists() and q != q.parent:
        missing.append(q)
        q = q.parent
    p.mkdir(parents=True, exist_ok=True)
    for d in missing:
        with contextlib.suppress(OSError):
            os.chmod(d, PRIVATE_DIR_MODE)
    return p


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create an empty ``0600`` file at ``path`` unless one exists; True when created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def make_private(*paths: str | os.PathLike[str]) -> None:
    """``chmod 0600`` each existing regular file among ``paths`` owned by this user whose mode is
    wider; missing files, read-only file systems and files of other users are left alone."""
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o777 & ~PRIVATE_FILE_MODE == 0:
            continue
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            continue
        try:
            os.chmod(path, stat.S_IMODE(st.st_mode) & PRIVATE_FILE_MODE)
        except OSError as e:
            logger.debug("could not make %s private: %s", path, e)


def write_private_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a ``0600`` file at ``path`` atomically (temp file in the same directory,
    fsync, rename): readers see the old file or the new one, never half of one, and the old
    file's content is unlinked with it."""
    p = Path(path)
    private_dir(p.parent)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")  # mkstemp: 0600
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), PRIVATE_FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return p
