"""Faces through a video: who appears when.

    >>> import faceprint
    >>> run = faceprint.video("clip.mp4")                   # doctest: +SKIP
    >>> for item in run:                                     # FrameResult / TrackResult  # doctest: +SKIP
    ...     pass
    >>> [(t.track_id, t.identity) for t in run.result.tracks]  # doctest: +SKIP

Parts: :mod:`~faceprint.video.reader` (files, cameras, streams; container timestamps; errors),
:mod:`~faceprint.video.tracker` (Kalman + IoU + appearance association; :mod:`~faceprint.video.kalman`),
:mod:`~faceprint.video.template` (quality-weighted track templates), :mod:`~faceprint.video.process`
(the loop and its detection rate), :mod:`~faceprint.video.results` (value types),
:mod:`~faceprint.video.output` (timeline JSON/CSV, annotated video, crops) and
:mod:`~faceprint.video.evaluate` (the track-level protocol). Names resolve on first use.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from faceprint._lazy import lazy_exports

if TYPE_CHECKING:
    from faceprint.video.process import VideoRun, video
    from faceprint.video.reader import Frame, StreamError, VideoError, VideoInfo, VideoReader
    from faceprint.video.results import FaceInFrame, FrameResult, TrackResult, VideoResult
    from faceprint.video.tracker import FaceTracker, TrackerConfig

_EXPORTS = {
    "VideoRun": "faceprint.video.process",
    "video": "faceprint.video.process",
    "Frame": "faceprint.video.reader",
    "StreamError": "faceprint.video.reader",
    "VideoError": "faceprint.video.reader",
    "VideoInfo": "faceprint.video.reader",
    "VideoReader": "faceprint.video.reader",
    "FaceInFrame": "faceprint.video.results",
    "FrameResult": "faceprint.video.results",
    "TrackResult": "faceprint.video.results",
    "VideoResult": "faceprint.video.results",
    "FaceTracker": "faceprint.video.tracker",
    "TrackerConfig": "faceprint.video.tracker",
}

__all__ = [
    "FaceInFrame",
    "FaceTracker",
    "Frame",
    "FrameResult",
    "StreamError",
    "TrackResult",
    "TrackerConfig",
    "VideoError",
    "VideoInfo",
    "VideoReader",
    "VideoResult",
    "VideoRun",
    "video",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


class _CallableModule(types.ModuleType):
    """``faceprint.video(...)`` is the function API (:func:`faceprint.api.video`) while
    ``faceprint.video`` is also this package: once the package is imported, Python binds the
    attribute ``faceprint.video`` to it, so the package itself must answer the call."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from faceprint.api import video as _video

        return _video(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
