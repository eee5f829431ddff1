from __future__ import annotations

import os
from pathlib import Path

import pytest

from faceprint.library.walk import is_photo_name, walk


def test_walk_finds_photos_recursively_in_name_order(tmp_path: Path) -> None:
    for rel in ("b/2.jpg", "a/1.PNG", "a/sub/3.webp", "notes.txt", ".hidden/4.jpg", "a/.5.jpg"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    found = [os.path.relpath(f.path, tmp_path) for f in walk([tmp_path])]
    assert found == ["a/1.PNG", "a/sub/3.webp", "b/2.jpg"]
    assert all(f.size == 1 and f.mtime_ns > 0 for f in walk([tmp_path]))


def test_walk_takes_files_and_reports_missing_roots(tmp_path: Path) -> None:
    f = tmp_path / "x.jpg"
    f.write_bytes(b"x")
    errors: list = []
    found = list(walk([f, tmp_path / "missing"], on_error=errors.append))
    assert [x.path for x in found] == [str(f)]
    assert len(errors) == 1 and errors[0].path.endswith("missing")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folder_is_reported_and_the_walk_goes_on(tmp_path: Path) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "a.jpg").write_bytes(b"x")
    (tmp_path / "open.jpg").write_bytes(b"x")
    os.chmod(tmp_path / "locked", 0)
    try:
        errors: list = []
        found = [f.path for f in walk([tmp_path], on_error=errors.append)]
    finally:
        os.chmod(tmp_path / "locked", 0o700)
    assert found == [str(tmp_path / "open.jpg")]
    assert [e.code for e in errors] == ["unreadable_folder"]


def test_photo_names() -> None:
    assert is_photo_name("a.JPEG") and is_photo_name("b.tif") and is_photo_name("c.pgm")
    assert not is_photo_name("d.txt") and not is_photo_name("e")


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "a.jpg").write_bytes(b"x")
    (tmp_path / "open.jpg").write_bytes(b"x")
    real = os.scandir

    def scandir(path):  # what a folder without read permission does for a non-root user
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    errors: list = []
    found = [f.path for f in walk([tmp_path], on_error=errors.append)]
    assert found == [str(tmp_path / "open.jpg")]
    assert [(e.code, e.message) for e in errors] == [("unreadable_folder", "Permission denied")]


def test_symlinked_folders_are_followed_once(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.jpg").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "loop").symlink_to(tmp_path)
    found = [os.path.relpath(f.path, tmp_path) for f in walk([tmp_path])]
    assert found == ["link/a.jpg"]
