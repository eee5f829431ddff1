"""What a video run leaves on disk: the timeline (JSON and CSV), each track's best face crop and
an annotated copy of the video (boxes and names).

For a file the annotated video is written in a second decoding pass once every track is
identified, so each box carries its track's final name from its first frame; a live source is
annotated while it is read, with the names known at each moment (:class:`AnnotatedWriter`).
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.video.results import FaceInFrame, FrameResult, TrackResult, VideoResult

logger = logging.getLogger(__name__)

__all__ = ["CSV_FIELDS", "AnnotatedWriter", "annotate_file", "label_of", "save_crops", "write_timeline"]

CSV_FIELDS = ("track_id", "identity", "score", "threshold", "first_time", "last_time", "first_frame", "last_frame",
              "best_frame", "best_time", "detections", "crop")  # fmt: skip

#: FourCC per annotated-video extension (OpenCV's FFmpeg writer; no H.264 encoder ships in its wheels).
FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".webm": "VP80"}


def save_crops(result: VideoResult, folder: str | os.PathLike[str]) -> VideoResult:
    """Write each track's best crop to ``folder/track_<id>.jpg``; returns the result with the
    crop paths filled in (tracks without a crop keep None)."""
    from faceprint.io.draw import save_image

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tracks = []
    for t in result.tracks:
        if t.best_crop is not None and t.best_crop.size:
            p = save_image(t.best_crop, out / f"track_{t.track_id}.jpg")
            t = replace(t, crop_path=str(p))
        tracks.append(t)
    return replace(result, tracks=tuple(tracks))


def write_timeline(result: VideoResult, json_path: str | os.PathLike[str] | None = None,
                   csv_path: str | os.PathLike[str] | None = None) -> None:  # fmt: skip
    """The timeline as JSON (the whole :meth:`VideoResult.to_dict`, enrolment embeddings included)
    and/or CSV (one row per track: :data:`CSV_FIELDS`). Each file is written atomically."""
    if json_path is not None:
        _atomic_write(Path(json_path), json.dumps(result.to_dict(), indent=2) + "\n")
    if csv_path is not None:
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        for t in result.tracks:
            d = t.to_dict(embeddings=False)
            w.writerow({k: "" if d.get(k) is None else d[k] for k in CSV_FIELDS})
        _atomic_write(Path(csv_path), buf.getvalue())


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def label_of(identity: str | None, track_id: int) -> str:
    return f"#{track_id} {identity if identity else 'unknown'}"


class AnnotatedWriter:
    """Writes frames with their faces' boxes and names to a video file (OpenCV ``VideoWriter``)."""

    def __init__(self, path: str | os.PathLike[str], fps: float, width: int, height: int) -> None:
        import cv2

        self.path = Path(path)
        fourcc = FOURCC.get(self.path.suffix.lower())
        if fourcc is None:
            raise InvalidInput(f"annotated video: use one of {', '.join(sorted(FOURCC))}, got {self.path.suffix!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._w = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*fourcc), fps if fps > 0 else 30.0,
                                  (int(width), int(height)))  # fmt: skip
        if not self._w.isOpened():
            raise InvalidInput(f"cannot write video {self.path} (codec {fourcc} unavailable?)")
        self.frames = 0

    def write(self, bgr: np.ndarray, faces: Iterable[FaceInFrame], names: Mapping[int, str | None] | None = None) -> None:
        import cv2

        from faceprint.io.draw import draw_faces

        items = list(faces)
        if items:
            labels = [label_of(names.get(f.track_id) if names is not None else f.identity, f.track_id) for f in items]
            rgb = draw_faces(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), [f.box for f in items], labels)
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        self._w.write(bgr)
        self.frames += 1

    def close(self) -> None:
        self._w.release()

    def __enter__(self) -> AnnotatedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def annotate_file(source: Any, frames: Mapping[int, FrameResult], tracks: Iterable[TrackResult],
                  path: str | os.PathLike[str], *, upto: int | None = None) -> int:  # fmt: skip
    """Second pass over a file: every frame written with its tracked faces labelled by the final
    track identities. ``upto``: stop after this many frames (a run that ended early). Returns the
    number of frames written."""
    from faceprint.video.reader import VideoReader

    names = {t.track_id: t.identity for t in tracks}
    with VideoReader(source) as reader:
        writer = None
        try:
            for frame in reader:
                if upto is not None and frame.index >= upto:
                    break
                if writer is None:
                    writer = AnnotatedWriter(path, reader.info.fps, frame.width, frame.height)
                fr = frames.get(frame.index)
                faces = [f for f in fr.faces if f.track_id in names] if fr is not None else []
                writer.write(frame.bgr, faces, names)
        except InvalidInput:
            raise
        except Exception as e:  # noqa: BLE001 - a decoder failure ends the copy where the analysis ended
            logger.warning("annotated video stopped early: %s", e)
        finally:
            if writer is not None:
                writer.close()
    return writer.frames if writer is not None else 0
