"""The track-level protocol: manifest parsing and the figures on hand-made results."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceprint.errors import InvalidInput
from faceprint.types import Box
from faceprint.video.evaluate import evaluate_items, read_manifest
from faceprint.video.results import FaceInFrame, FrameResult, TrackResult


def _manifest(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "m.csv"
    p.write_text("# comment\nfile,start,end,identity,region\n" + body)
    return p


def test_read_manifest(tmp_path: Path) -> None:
    rows = read_manifest(_manifest(tmp_path, "v.mp4,0,2,ada,0 0 100 100\nv.mp4,2,5,unknown,\n"))
    assert rows[0].file == str(tmp_path / "v.mp4") and rows[0].identity == "ada" and rows[0].region == Box(0, 0, 100, 100)
    assert rows[1].identity is None and rows[1].region is None
    for bad in ("v.mp4,x,2,ada,\n", "v.mp4,3,2,ada,\n", "v.mp4,0,2,,\n", "v.mp4,0,2,ada,1 2 3\n"):
        with pytest.raises(InvalidInput, match="line 3"):
            read_manifest(_manifest(tmp_path, bad))
    (tmp_path / "nocols.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInput, match="columns"):
        read_manifest(tmp_path / "nocols.csv")


def _track(tid: int, identity: str | None) -> TrackResult:
    b = Box(0, 0, 10, 10)
    return TrackResult(tid, identity, 0.9, 0.5, "t", (), 0, 1, 0.0, 1.0, 0, 0.0, b, 1.0, 2, "m@1", None)


def test_frame_and_track_level_figures(tmp_path: Path) -> None:
    rows = read_manifest(_manifest(tmp_path, "v.mp4,0,10,ada,\n"))
    box = Box(10, 10, 50, 50)
    frames = [
        FrameResult(0, 0.0, True, (FaceInFrame(1, box, True, 0.99, None, None, "ada", 0.8),)),
        FrameResult(1, 0.5, True, (FaceInFrame(1, box, True, 0.99, "ada", 0.8, None, 0.3),)),
        FrameResult(2, 1.0, True, (FaceInFrame(1, box, True, 0.99, "ada", 0.8, "bob", 0.6),)),
        FrameResult(3, 1.5, False, (FaceInFrame(1, box, False),)),  # predicted: not scored
        FrameResult(4, 2.0, True, (FaceInFrame(2, box, True, 0.99, None, None, "ada", 0.7),)),
    ]
    ev = evaluate_items([(rows, [*frames, _track(1, "ada"), _track(2, None)])])
    assert ev.annotated_detections == 4 and ev.tracks == 2
    assert ev.frame_accuracy == 0.5  # ada, unknown, bob, ada
    assert ev.track_accuracy_per_detection == 0.75  # track 1 (ada) ×3, track 2 (unknown) ×1
    assert ev.frame_unknown_rate == 0.25 and ev.track_unknown_rate == 0.25
    assert ev.frame_false_identification_rate == 0.25 and ev.track_false_identification_rate == 0.0
    assert ev.track_accuracy == 0.5 and ev.identity_switches == 0 and ev.fragmentations == 1
    d = ev.to_dict()
    assert d["frame_level"]["accuracy"] == 0.5 and d["track_level"]["fragmentations"] == 1


def test_a_merged_track_is_an_identity_switch(tmp_path: Path) -> None:
    rows = read_manifest(_manifest(tmp_path, "v.mp4,0,1,ada,\nv.mp4,1.01,2,bob,\n"))
    box = Box(10, 10, 50, 50)
    frames = [
        FrameResult(0, 0.5, True, (FaceInFrame(1, box, True, 0.99, "ada", 0.9, "ada", 0.9),)),
        FrameResult(1, 1.5, True, (FaceInFrame(1, box, True, 0.99, "bob", 0.9, "bob", 0.9),)),
    ]
    ev = evaluate_items([(rows, [*frames, _track(1, "ada")])])
    assert ev.identity_switches == 2  # two people in one track, and the shown name changed once
