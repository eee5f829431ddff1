"""The tracker on synthetic detections: motion, appearance, crossings, gaps, expiry."""

from __future__ import annotations

import numpy as np

from faceprint.types import Box, Detection, Embedding, Face
from faceprint.video.kalman import BoxKalman
from faceprint.video.tracker import FaceTracker, TrackerConfig

MODEL = "test_model@1"


def _emb(seed: int, noise: float = 0.0, rng: np.random.Generator | None = None) -> Embedding:
    v = np.random.default_rng(seed).normal(size=64)
    if noise and rng is not None:
        v = v / np.linalg.norm(v) + rng.normal(scale=noise, size=64)
    return Embedding(v, model=MODEL)


def _face(x: float, y: float, seed: int, size: float = 60.0, rng: np.random.Generator | None = None) -> Face:
    return Face(Detection(Box(x, y, x + size, y + size), 0.99), embedding=_emb(seed, 0.05, rng))


def test_kalman_follows_constant_motion() -> None:
    k = BoxKalman(Box(0, 0, 50, 50))
    for i in range(1, 10):
        k.predict(0.1)
        k.update(Box(10 * i, 0, 10 * i + 50, 50))  # 100 px/s to the right
    k.predict(0.1)
    assert abs(k.box().center[0] - (100 + 25)) < 5


def test_two_faces_crossing_keep_their_ids(rng: np.random.Generator) -> None:
    tr = FaceTracker(None, TrackerConfig(min_hits=1))
    ids_a, ids_b = set(), set()
    for i in range(30):
        t = i / 10
        a = _face(20 + 10 * i, 100, seed=1, rng=rng)   # left → right
        b = _face(320 - 10 * i, 110, seed=2, rng=rng)  # right → left, they overlap mid-way
        out = tr.update(i, t, [a, b])
        for track, face, _ in out:
            (ids_a if face is a else ids_b).add(track.id)
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def test_gap_within_max_age_keeps_the_track_and_longer_ends_it(rng: np.random.Generator) -> None:
    tr = FaceTracker(None, TrackerConfig(min_hits=2, max_age=1.0))
    first = tr.update(0, 0.0, [_face(100, 100, 1, rng=rng)])[0][0]
    tr.update(1, 0.1, [_face(102, 100, 1, rng=rng)])
    assert first.confirmed
    assert tr.expire(0.8) == []
    again = tr.update(2, 0.8, [_face(104, 100, 1, rng=rng)])[0][0]
    assert again.id == first.id
    done = tr.expire(2.0)
    assert [t.id for t in done] == [first.id] and tr.tracks == []


def test_different_face_in_the_same_place_starts_a_new_track(rng: np.random.Generator) -> None:
    tr = FaceTracker(None, TrackerConfig(min_hits=1))  # uncalibrated: the cosine gate
    a = tr.update(0, 0.0, [_face(100, 100, 1, rng=rng)])[0][0]
    b = tr.update(1, 0.04, [_face(101, 100, 7, rng=rng)])[0][0]  # another person, same box
    assert a.id != b.id


def test_tentative_tracks_are_dropped_confirmed_ones_reported(rng: np.random.Generator) -> None:
    tr = FaceTracker(None, TrackerConfig(min_hits=3))
    tr.update(0, 0.0, [_face(10, 10, 1, rng=rng)])
    tr.update(1, 0.1, [_face(12, 10, 1, rng=rng)])
    assert tr.finish() == []
    for i in range(3):
        tr.update(i, i / 10, [_face(10 + i, 10, 1, rng=rng)])
    assert len(tr.finish()) == 1
