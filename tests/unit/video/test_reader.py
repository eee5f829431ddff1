"""The video reader on clips written in the test: frames, container timestamps, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from faceprint.errors import ImageTooLarge
from faceprint.video.reader import StreamError, VideoError, VideoReader, describe_source


def write_clip(path: Path, n: int, size: tuple[int, int] = (96, 64), fps: float = 25.0, fourcc: str = "MJPG") -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
    assert w.isOpened()
    for i in range(n):
        frame = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
        cv2.putText(frame, str(i), (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        w.write(frame)
    w.release()
    return path


def test_frames_and_timestamps(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "a.avi", 20, fps=25.0)
    with VideoReader(clip) as r:
        assert r.info.frame_count == 20 and r.info.fps == pytest.approx(25.0) and not r.live
        frames = list(r)
    assert [f.index for f in frames] == list(range(20))
    times = np.array([f.time for f in frames])
    assert np.all(np.diff(times) > 0)
    assert times[-1] == pytest.approx(19 / 25.0, abs=1e-3)  # the container's presentation times
    assert frames[0].rgb().shape == (64, 96, 3) and not r.truncated


def test_missing_empty_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="no such file"):
        VideoReader(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="not a regular file"):
        VideoReader(tmp_path)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        VideoReader(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError):
        r = VideoReader(tmp_path / "junk.mp4")
        list(r)


def test_zero_frames(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "zero.avi", 0)
    with pytest.raises(VideoError):
        r = VideoReader(clip)
        list(r)


def test_truncated_file_keeps_frames_before_the_cut(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "full.avi", 40)
    data = clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    r = VideoReader(cut)
    frames = list(r)
    assert 5 < len(frames) < 40
    # the frames delivered are the first ones, in order
    assert [f.index for f in frames] == list(range(len(frames)))


def test_huge_frames_refused(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "a.avi", 3, size=(96, 64))
    with pytest.raises(ImageTooLarge, match="exceed the limit"):
        VideoReader(clip, max_pixels=96 * 64 - 1)


def test_unreachable_stream_is_a_clear_error() -> None:
    with pytest.raises(StreamError, match="cannot be reached"):
        VideoReader("rtsp://127.0.0.1:9/none", open_timeout=1.0, read_timeout=1.0, reconnects=0)


def test_source_names_hide_credentials() -> None:
    assert describe_source("rtsp://user:secret@cam.local/s") == "rtsp://***@cam.local/s"
    assert describe_source(0) == "camera 0" and describe_source("2") == "camera 2"


def _serve(folder: Path):
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def test_http_file_and_dropped_connection(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "full.avi", 40)
    (tmp_path / "half.avi").write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    srv, base = _serve(tmp_path)
    try:
        with VideoReader(f"{base}/full.avi") as r:
            assert not r.live  # a file over HTTP (its header counts frames): read to the end, not re-opened
            assert len(list(r)) == 40
        r = VideoReader(f"{base}/half.avi")
        got = []
        with pytest.raises(StreamError, match="dropped after"):
            for f in r:
                got.append(f.index)
        assert 5 < len(got) < 40 and got == list(range(len(got)))  # everything before the drop was delivered
    finally:
        srv.shutdown()


VFR_TIMES_MS = [0, 33, 66, 200, 233, 600, 633, 1000, 1040, 1500]


def test_variable_frame_rate_file_keeps_its_timestamps(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, write_vfr_clip: Any
) -> None:
    clip = write_vfr_clip(tmp_path / "vfr.mkv", VFR_TIMES_MS)
    with VideoReader(clip) as r:
        # OpenCV's count is the duration times the nominal rate: an estimate for such a file
        assert r.info.frame_count is not None and r.info.frame_count > len(VFR_TIMES_MS)
        frames = list(r)
    assert [f.index for f in frames] == list(range(len(VFR_TIMES_MS)))
    assert [f.time for f in frames] == pytest.approx([t / 1000 for t in VFR_TIMES_MS], abs=1e-3)
    assert not r.truncated  # fewer frames than the estimate, but the timestamps reach its end
    assert "truncated" not in caplog.text


def test_a_cut_variable_frame_rate_file_is_still_truncated(tmp_path: Path, write_vfr_clip: Any) -> None:
    clip = write_vfr_clip(tmp_path / "vfr.mkv", [40 * i for i in range(30)] + [1200 + 200 * i for i in range(20)])
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 3])
    with VideoReader(cut) as r:
        frames = list(r)
    assert 0 < len(frames) < 50 and r.truncated  # the timestamps stop short of the header's duration
