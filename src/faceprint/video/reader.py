"""Video input: files, camera indices and stream URLs, decoded by OpenCV's ``VideoCapture``
(FFmpeg backend), one :class:`Frame` at a time.

* **Timestamps** come from the container (``CAP_PROP_POS_MSEC``: the decoded frame's
  presentation time), so variable-frame-rate files get their real times; where the container
  gives none (some streams, cameras) the time since opening is used, and a non-increasing time
  falls back to ``index / fps``.
* **Bad input** raises :class:`VideoError` (a missing or non-regular file, nothing OpenCV can
  open, no decodable frame, frames larger than the pixel limit) or :class:`StreamError` (a stream
  that cannot be reached, or drops and cannot be re-opened). Errors after the first frame are
  raised from the iterator, so everything read before them has been delivered (the processor keeps
  those results: :mod:`faceprint.video.process`).
* A file that ends before the frame count its header announces (truncated) is reported in
  :attr:`VideoReader.truncated` and logged; its frames up to the cut are delivered.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import ImageTooLarge, InvalidImage

logger = logging.getLogger(__name__)

__all__ = ["Frame", "StreamError", "VideoError", "VideoInfo", "VideoReader", "describe_source", "open_video"]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
#: Schemes taken as live streams (no frame count, reconnect on a drop).
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")


class VideoError(InvalidImage):
    """The video could not be opened or decoded (missing, corrupt, empty, too large)."""

    code = "invalid_video"


class StreamError(VideoError):
    """A camera or stream could not be reached, or dropped and could not be re-opened."""

    code = "stream_error"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: its 0-based ``index``, presentation ``time`` in seconds and pixels.

    ``bgr`` is OpenCV's (H, W, 3) uint8 BGR array (no copy); :meth:`rgb` converts on demand, so
    frames that are only tracked never pay for the conversion."""

    index: int
    time: float
    bgr: np.ndarray

    def rgb(self) -> np.ndarray:
        import cv2

        return cv2.cvtColor(self.bgr, cv2.COLOR_BGR2RGB)

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container says before decoding: frame rate (nominal), frame count (None for live
    sources or when unknown), size, and whether the source is live (camera or stream)."""

    source: str
    fps: float
    frame_count: int | None
    width: int
    height: int
    live: bool

    @property
    def duration(self) -> float | None:
        if self.frame_count is None or self.fps <= 0:
            return None
        return self.frame_count / self.fps

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fps": round(self.fps, 4),
            "frame_count": self.frame_count,
            "width": self.width,
            "height": self.height,
            "live": self.live,
            "duration": None if self.duration is None else round(self.duration, 3),
        }


def describe_source(source: Any) -> str:
    """A display name for a source: a path, ``camera N`` or the URL without its credentials."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return f"camera {int(source)}"
    s = str(source)
    return re.sub(r"://[^/@]*@", "://***@", s)  # rtsp://user:pass@host → rtsp://***@host


def _is_live_url(s: str) -> bool:
    m = _URL.match(s)
    return bool(m) and s.split("://", 1)[0].lower() in STREAM_SCHEMES


class VideoReader:
    """Frames of one source, in order. Use as an iterator (``for frame in reader``) and close it
    (or use ``with``).

    Args:
        source: a video file path, a camera index (``0`` or ``"0"``) or a stream URL.
        max_pixels: the largest frame accepted (default :func:`faceprint.config.max_pixels`).
        open_timeout, read_timeout: seconds OpenCV waits to open a stream and for each frame.
        reconnects: how often a dropped stream is re-opened before :class:`StreamError`.
    """

    def __init__(
        self,
        source: str | int | os.PathLike[str],
        *,
        max_pixels: int | None = None,
        open_timeout: float = 10.0,
        read_timeout: float = 10.0,
        reconnects: int = 3,
    ) -> None:
        import cv2

        from faceprint import config

        self.name = describe_source(source)
        self._max_pixels = int(max_pixels) if max_pixels is not None else config.max_pixels()
        self._timeouts = (open_timeout, read_timeout)
        self._reconnects = max(0, int(reconnects))
        self.truncated = False
        self.frames_read = 0
        if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
            self._target: str | int = int(source)
            self._kind = "camera"
        elif isinstance(source, str) and _URL.match(source):
            self._target = source
            self._kind = "stream" if _is_live_url(source) else "url"
        else:
            p = Path(source)
            if not p.exists():
                raise VideoError("no such file", source=self.name)
            if not p.is_file():
                raise VideoError("not a regular file", source=self.name)
            if p.stat().st_size == 0:
                raise VideoError("the file is empty", source=self.name)
            self._target = str(p)
            self._kind = "file"
        self._cv2 = cv2
        self._cap = self._open()
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        # a URL whose container announces a frame count is a file served over the network: read to
        # its end, not re-opened (which would start it again); without one it is a live stream
        live = self._kind == "camera" or (self._kind in ("stream", "url") and n <= 0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 30.0 if live else 0.0
        self.info = VideoInfo(self.name, fps, n if n > 0 and not live else None, w, h, live)
        self._check_size(w, h)
        self._t0: float | None = None
        self._last_time = -1.0

    # ------------------------------------------------------------------ opening

    def _open(self) -> Any:
        cv2 = self._cv2
        params: list[int] = []
        if self._kind != "camera":
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self._timeouts[0] * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self._timeouts[1] * 1000),
            ]  # fmt: skip
        try:
            cap = cv2.VideoCapture(self._target, cv2.CAP_ANY, params)
        except cv2.error as e:  # pragma: no cover - OpenCV raises for some malformed URLs
            raise self._error(f"cannot open: {e}") from None
        if not cap.isOpened():
            cap.release()
            what = {
                "file": "cannot be decoded as a video (corrupt, truncated before the first frame, or an unknown format)",
                "camera": "the camera cannot be opened (no such device, or it is busy)",
            }.get(self._kind, "the stream cannot be reached or decoded (check the URL and the network)")
            raise self._error(what)
        return cap

    def _error(self, message: str) -> VideoError:
        cls = StreamError if self._kind in ("camera", "stream", "url") else VideoError
        return cls(message, source=self.name)

    def _check_size(self, w: int, h: int) -> None:
        if w * h > self._max_pixels:
            self.close()
            raise ImageTooLarge(
                f"frames of {w}x{h} = {w * h} pixels exceed the limit of {self._max_pixels} (FACEPRINT_MAX_PIXELS)",
                source=self.name,
            )

    # ------------------------------------------------------------------ reading

    @property
    def live(self) -> bool:
        return self.info.live

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        if self._cap is None:
            raise StopIteration
        ok, bgr = self._read()
        if not ok:
            if self.live and self._reconnect():
                ok, bgr = self._read()
            if not ok:
                return self._end()
        if self.frames_read == 0:
            h, w = bgr.shape[:2]
            self._check_size(w, h)  # the header may have lied
        t = self._time()
        frame = Frame(self.frames_read, t, bgr)
        self.frames_read += 1
        return frame

    def _read(self) -> tuple[bool, Any]:
        try:
            ok, bgr = self._cap.read()
        except self._cv2.error as e:  # pragma: no cover - decoder crash surfaced by OpenCV
            logger.warning("%s: decoder error after %d frames: %s", self.name, self.frames_read, e)
            return False, None
        if ok and (bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3):
            return False, None
        return ok, bgr

    def _reconnect(self) -> bool:
        for attempt in range(1, self._reconnects + 1):
            logger.warning("%s: stream dropped after %d frames; re-opening (%d/%d)", self.name, self.frames_read, attempt,
                           self._reconnects)  # fmt: skip
            if self._cap is not None:
                self._cap.release()
            try:
                self._cap = self._open()
                return True
            except VideoError:
                time.sleep(min(2.0, 0.25 * attempt))
        return False

    def _end(self) -> Frame:
        n = self.frames_read
        self.close()
        if n == 0:
            raise self._error("no frame could be decoded (empty, corrupt or truncated before the first frame)")
        if self.live:
            raise StreamError(f"the stream dropped after {n} frames and could not be re-opened", source=self.name)
        expected = self.info.frame_count
        if expected is not None and n < expected - 1 and self._reached_the_end(expected):
            # a variable-frame-rate file: OpenCV's frame count is its duration times the nominal rate,
            # an estimate; the timestamps ran to the end of that duration, so nothing is missing
            logger.debug("%s: %d frames over %.3f s (variable frame rate; the header's estimate was %d)",
                         self.name, n, self._last_time, expected)  # fmt: skip
            expected = None
        if expected is not None and n < expected - 1 and self._kind != "file":
            raise StreamError(f"the connection dropped after {n} of {expected} frames", source=self.name)
        if expected is not None and n < expected - 1:  # headers are often one frame optimistic
            self.truncated = True
            logger.warning("%s: ended after %d of the %d frames its header announces (truncated or corrupt)",
                           self.name, n, expected)  # fmt: skip
        raise StopIteration

    def _reached_the_end(self, expected: int) -> bool:
        """Whether the last frame's timestamp is at the end of the duration the header's frame count
        stands for (within two nominal frames): then fewer frames than counted is a variable rate."""
        fps = self.info.fps
        if self._kind == "camera" or not fps or fps <= 0 or self._last_time < 0:
            return False
        return self._last_time >= (expected - 1) / fps - 2.0 / fps

    def _time(self) -> float:
        """The frame's presentation time from the container, else the wall-clock time since
        opening (live sources without timestamps), never earlier than the previous frame's."""
        if self._kind in ("camera",):
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            t = now - self._t0
        else:
            ms = float(self._cap.get(self._cv2.CAP_PROP_POS_MSEC) or 0.0)
            t = ms / 1000.0 if np.isfinite(ms) else -1.0
            if t <= self._last_time:  # no or broken timestamps: the nominal rate
                fps = self.info.fps or 30.0
                t = max(self._last_time + 1e-6, self.frames_read / fps)
        self._last_time = t
        return t

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_video(source: str | int | os.PathLike[str], **kwargs: Any) -> VideoReader:
    """A :class:`VideoReader` for ``source`` (see there)."""
    return VideoReader(source, **kwargs)
