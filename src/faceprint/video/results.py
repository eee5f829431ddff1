"""What video analysis answers: per-frame faces, per-track identities, the whole run.

Typed frozen value objects with ``to_dict()`` for JSON (the CLI's timeline, the service). A
track's dictionary carries what enrolling it later needs (``enrolment``: the model tag and its
best embeddings), so ``faceprint enroll NAME --track RESULT.json:ID`` needs no video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.matching.results import Candidate
from faceprint.types import Box, Embedding
from faceprint.video.reader import VideoInfo

__all__ = ["FaceInFrame", "FrameResult", "TrackResult", "VideoResult", "embeddings_from_track_dict"]


def _box(b: Box | None) -> list[float] | None:
    return None if b is None else [round(v, 2) for v in b.as_tuple()]


def _r(x: float | None, n: int = 6) -> float | None:
    return None if x is None else round(float(x), n)


@dataclass(frozen=True, slots=True)
class FaceInFrame:
    """One tracked face in one frame.

    ``detected``: the detector found it in this frame (else the box is the tracker's prediction).
    ``identity``: the track's identity as known at this frame (its template so far; None: unknown).
    ``frame_identity`` / ``frame_score``: this detection identified on its own (frame-level), when
    the face was detected and embedded here."""

    track_id: int
    box: Box
    detected: bool
    detection_score: float | None = None
    identity: str | None = None
    score: float | None = None
    frame_identity: str | None = None
    frame_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "box": _box(self.box),
            "detected": self.detected,
            "detection_score": _r(self.detection_score, 4),
            "identity": self.identity,
            "score": _r(self.score),
            "frame_identity": self.frame_identity,
            "frame_score": _r(self.frame_score),
        }


@dataclass(frozen=True, slots=True)
class FrameResult:
    """The faces of one frame (``detected``: the detector ran on it)."""

    index: int
    time: float
    detected: bool
    faces: tuple[FaceInFrame, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.index,
            "time": round(self.time, 4),
            "detected": self.detected,
            "faces": [f.to_dict() for f in self.faces],
        }


@dataclass(frozen=True)
class TrackResult:
    """One face track, identified from its quality-weighted template against the gallery.

    ``identity`` is None for an unknown track (best candidate below the open-set threshold, or
    an empty gallery). ``frame_votes`` counts the frame-level identities of its detections
    (``None`` key: unknown). ``best_crop`` (RGB array, not in :meth:`to_dict`) is the crop around
    the highest-quality detection; ``embeddings`` its best embeddings (for enrolment)."""

    track_id: int
    identity: str | None
    score: float | None
    threshold: float | None
    threshold_source: str | None
    candidates: tuple[Candidate, ...]
    first_frame: int
    last_frame: int
    first_time: float
    last_time: float
    best_frame: int
    best_time: float
    best_box: Box
    best_quality: float
    n_detections: int
    model: str | None
    template: Embedding | None
    embeddings: tuple[Embedding, ...] = ()
    qualities: tuple[float, ...] = ()
    frame_votes: tuple[tuple[str | None, int], ...] = ()
    best_crop: np.ndarray | None = field(default=None, repr=False, compare=False)
    crop_path: str | None = None

    @property
    def is_unknown(self) -> bool:
        return self.identity is None

    @property
    def duration(self) -> float:
        return self.last_time - self.first_time

    def to_dict(self, *, embeddings: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "track_id": self.track_id,
            "identity": self.identity,
            "unknown": self.identity is None,
            "score": _r(self.score),
            "threshold": _r(self.threshold),
            "threshold_source": self.threshold_source,
            "first_time": round(self.first_time, 4),
            "last_time": round(self.last_time, 4),
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "best_frame": self.best_frame,
            "best_time": round(self.best_time, 4),
            "best_box": _box(self.best_box),
            "best_quality": round(self.best_quality, 4),
            "detections": self.n_detections,
            "candidates": [c.to_dict() for c in self.candidates],
            "frame_votes": [{"identity": k, "frames": n} for k, n in self.frame_votes],
            "crop": self.crop_path,
        }
        if embeddings and self.embeddings:
            d["enrolment"] = {
                "model": self.model,
                "embeddings": [[round(float(x), 7) for x in e.vector] for e in self.embeddings],
                "qualities": [round(q, 4) for q in self.qualities],
            }
        return d


def embeddings_from_track_dict(track: dict[str, Any], source: str = "track") -> list[Embedding]:
    """The enrolment embeddings stored in a track's dictionary (:meth:`TrackResult.to_dict`)."""
    enr = track.get("enrolment") if isinstance(track, dict) else None
    if not isinstance(enr, dict) or not enr.get("model") or not isinstance(enr.get("embeddings"), list):
        raise InvalidInput(f"{source} holds no enrolment embeddings (analysed without them?)")
    out = []
    for v in enr["embeddings"]:
        if not isinstance(v, list) or not v or not all(isinstance(x, (int, float)) for x in v):
            raise InvalidInput(f"{source}: malformed embedding")
        out.append(Embedding(np.asarray(v, np.float32), model=str(enr["model"])))
    if not out:
        raise InvalidInput(f"{source} holds no enrolment embeddings")
    return out


@dataclass(frozen=True)
class VideoResult:
    """A whole run: the source, its tracks, how much was read, and how it ended.

    ``error`` / ``error_code``: why reading stopped early (a dropped stream, a decoder failure);
    everything before it is in ``tracks``. ``truncated``: the file ended before its announced
    frame count."""

    info: VideoInfo
    tracks: tuple[TrackResult, ...]
    frames: int
    detected_frames: int
    elapsed: float
    model: str | None
    detect_every: str
    truncated: bool = False
    error: str | None = None
    error_code: str | None = None
    last_time: float = 0.0
    cuts: int = 0

    @property
    def fps_processed(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def speed(self) -> float | None:
        """Processing speed as a multiple of real time (None when the duration is unknown)."""
        if self.elapsed <= 0 or self.last_time <= 0:
            return None
        return (self.last_time + (1.0 / self.info.fps if self.info.fps > 0 else 0.0)) / self.elapsed

    def to_dict(self, *, embeddings: bool = True) -> dict[str, Any]:
        return {
            "video": self.info.to_dict(),
            "model": self.model,
            "frames": self.frames,
            "detected_frames": self.detected_frames,
            "detect_every": self.detect_every,
            "elapsed_s": round(self.elapsed, 3),
            "fps_processed": round(self.fps_processed, 2),
            "speed_x_realtime": _r(self.speed, 3),
            "shot_cuts": self.cuts,
            "truncated": self.truncated,
            "error": None if self.error is None else {"code": self.error_code, "message": self.error},
            "tracks": [t.to_dict(embeddings=embeddings) for t in self.tracks],
        }

    def track(self, track_id: int) -> TrackResult:
        for t in self.tracks:
            if t.track_id == track_id:
                return t
        raise InvalidInput(f"no track {track_id} (tracks: {', '.join(str(t.track_id) for t in self.tracks) or 'none'})")
