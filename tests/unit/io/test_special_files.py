"""Issue 13, points 8 and 9: special files (FIFOs, devices, directories, symlinks to them) are refused
before anything can block, and every read is bounded by the file-size limit — through
:func:`load_image`, :func:`read_image_bytes` and the CLI (``verify``, ``identify``, ``enroll``, ``detect``)."""

from __future__ import annotations

import io
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceprint.errors import ImageTooLarge, InvalidImage
from faceprint.io import load_image, read_image_bytes

SRC = str(Path(__file__).resolve().parents[3] / "src")
posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX special files")


def _jpeg(tmp_path: Path) -> Path:
    p = tmp_path / "ok.jpg"
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(p)
    return p


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    p = tmp_path / "pipe.jpg"
    os.mkfifo(p)
    return p


def _link(tmp_path: Path, target: str, name: str) -> Path:
    if not os.path.exists(target):
        pytest.skip(f"{target} is absent")
    p = tmp_path / name
    p.symlink_to(target)
    return p


def _in_thread(fn, *args, timeout: float = 10.0):
    """Run ``fn`` in a daemon thread; fail (instead of hanging) when it blocks."""
    import threading

    out: dict[str, object] = {}

    def target() -> None:
        try:
            out["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn.__name__} blocked for {timeout} s"
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out.get("value")


# --------------------------------------------------------------------------- library


@posix_only
@pytest.mark.parametrize("reader", [load_image, read_image_bytes], ids=["load_image", "read_image_bytes"])
def test_fifo_is_refused_without_blocking(fifo: Path, reader) -> None:
    with pytest.raises(InvalidImage, match="FIFO"):
        _in_thread(reader, fifo)


@posix_only
@pytest.mark.parametrize("device", ["/dev/urandom", "/dev/zero", "/dev/null"])
@pytest.mark.parametrize("reader", [load_image, read_image_bytes], ids=["load_image", "read_image_bytes"])
def test_symlink_to_a_device_is_refused(tmp_path: Path, device: str, reader) -> None:
    link = _link(tmp_path, device, "photo.jpg")
    with pytest.raises(InvalidImage, match="character device") as e:
        _in_thread(reader, link)
    assert "empty" not in str(e.value)
    assert str(link) in str(e.value)


@posix_only
def test_device_path_itself_is_refused() -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    with pytest.raises(InvalidImage, match="character device"):
        _in_thread(load_image, "/dev/zero")


@pytest.mark.parametrize("reader", [load_image, read_image_bytes], ids=["load_image", "read_image_bytes"])
def test_directory_and_symlink_to_directory(tmp_path: Path, reader) -> None:
    d = tmp_path / "folder.jpg"
    d.mkdir()
    with pytest.raises(InvalidImage, match="is a directory"):
        reader(d)
    link = tmp_path / "link.jpg"
    link.symlink_to(d)
    with pytest.raises(InvalidImage, match="is a directory"):
        reader(link)


@posix_only
def test_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.jpg"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
    except OSError:
        pytest.skip("cannot bind a unix socket here")
    try:
        with pytest.raises(InvalidImage, match="socket"):
            load_image(path)
    finally:
        s.close()


def test_symlink_to_a_regular_file_still_works(tmp_path: Path) -> None:
    link = tmp_path / "link.jpg"
    link.symlink_to(_jpeg(tmp_path))
    assert load_image(link).shape == (40, 50, 3)
    assert read_image_bytes(link)[:2] == b"\xff\xd8"


def test_file_larger_than_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEPRINT_MAX_FILE_MB", "0.01")  # 10,485 bytes
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(big)
    assert big.stat().st_size > 10_485
    for reader in (load_image, read_image_bytes):
        with pytest.raises(ImageTooLarge, match="FACEPRINT_MAX_FILE_MB"):
            reader(big)
    with pytest.raises(ImageTooLarge):
        load_image(big.read_bytes())


class _Endless(io.RawIOBase):
    """A stream that never ends (like /dev/zero opened by the caller), counting what was read."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise MemoryError("unbounded read of an endless stream")
        self.served += n
        return b"\0" * n


def test_file_object_read_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEPRINT_MAX_FILE_MB", "1")
    f = _Endless()
    with pytest.raises(ImageTooLarge):
        load_image(f)
    assert f.served == (1 << 20) + 1


# --------------------------------------------------------------------------- CLI


def _cli(args: list[str], home: Path, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "FACEPRINT_HOME": str(home)}
    try:
        return subprocess.run(
            [sys.executable, "-m", "faceprint.cli.main", *args],
            capture_output=True, text=True, timeout=timeout, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"faceprint {' '.join(args)} blocked for {timeout} s")


def _commands(bad: str, good: str) -> list[list[str]]:
    return [["verify", bad, good], ["identify", bad], ["enroll", "x", bad], ["detect", bad]]


@posix_only
@pytest.mark.parametrize("which", ["fifo", "urandom", "zero", "directory"])
def test_cli_refuses_special_files_with_exit_2(tmp_path: Path, which: str) -> None:
    if which == "fifo":
        bad = tmp_path / "pipe.jpg"
        os.mkfifo(bad)
        expect = "FIFO"
    elif which == "directory":
        bad = tmp_path / "dir.jpg"
        bad.mkdir()
        expect = "is a directory"
    else:
        bad = _link(tmp_path, f"/dev/{which}", f"{which}.jpg")
        expect = "character device"
    good = _jpeg(tmp_path)
    for args in _commands(str(bad), str(good)):
        r = _cli(args, tmp_path / "home")
        said = r.stdout + r.stderr
        # enroll reports each image's outcome and exits 1 when any failed (its batch policy, as for a
        # corrupt file); every other command exits 2 (bad input)
        # the multi-image commands take folders (and say when one holds no image: exit 2); verify takes files
        took_folder = which == "directory" and args[0] in ("identify", "detect", "embed", "analyze", "enroll")
        assert r.returncode == (1 if args[0] == "enroll" and not took_folder else 2), (args, r.returncode, said[-2000:])
        assert (("no images" in said) if took_folder else (expect in said)), (args, said[-2000:])
        assert "empty file" not in said


@posix_only
def test_cli_enroll_dev_zero_stays_small(tmp_path: Path) -> None:
    """`enroll x /dev/zero` grew to 3 GB; now it is refused before reading, and the process stays small."""
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = _cli(["enroll", "x", "/dev/zero"], tmp_path / "home")
    assert r.returncode != 0 and "character device" in r.stdout + r.stderr
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far; only meaningful if this child set it or it is small
    assert peak_kib < 1_000_000 or peak_kib == before, f"peak RSS {peak_kib / 1024:.0f} MiB"
