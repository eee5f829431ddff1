"""Video: frames per second and identification on the Hamilton clip, faceprint vs face_recognition.

Both run in this one process on the same clip (640×360, 29.97 fps, 275 frames), with the two
people enrolled from their photos:

* faceprint: ``VideoRun`` (detect every Nth frame or ``auto``, track, quality-weighted templates,
  open-set identification per track) for each configuration asked (default: the ``default``
  preset at ``auto`` and at every frame, and ``accurate`` at ``auto``);
* face_recognition 1.3.0: the per-frame loop of its ``examples/facerec_from_video_file.py``
  (every frame: BGR→RGB, ``face_locations`` (HOG, one upsampling), ``face_encodings``,
  ``compare_faces(tolerance=0.50)``), without writing the output video (neither side writes one).

Identification is scored with the track-level protocol (:mod:`faceprint.video.evaluate`) on
``benchmarks/video_hamilton_manifest.csv``: frame-level (each detection on its own) against
track-level (each detection given its track's identity); the peer has only frame-level names.

    .venv/bin/python benchmarks/video.py [--peer-frames N] [--configs default:auto,default:1,fast:auto]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import REPO, SHARED, write_result

CLIP = SHARED / "video" / "short_hamilton_clip.mp4"
MANIFEST = REPO / "benchmarks" / "video_hamilton_manifest.csv"
EX = SHARED / "face_recognition_examples" / "examples"
PEOPLE = {"lin": EX / "lin-manuel-miranda.png", "alex": EX / "alex-lacamoire.png"}


def run_faceprint(preset: str, every: str) -> dict:
    from faceprint.matching.gallery import Gallery
    from faceprint.pipeline import Pipeline, preset_config
    from faceprint.video.evaluate import evaluate_items, read_manifest
    from faceprint.video.process import VideoRun
    from faceprint.video.reader import VideoReader

    pipe = Pipeline.from_config(preset_config(preset))
    with tempfile.TemporaryDirectory() as home, Gallery(home=home, pipeline=pipe) as g:
        for name, photo in PEOPLE.items():
            g.enroll(name, photo)
        first = next(iter(VideoReader(CLIP)))
        pipe.process(first.rgb())  # warm-up: models loaded before the clock starts
        rate = "auto" if every == "auto" else int(every)
        run = VideoRun(CLIP, pipeline=pipe, gallery=g, detect_every=rate)
        t0 = time.perf_counter()
        items = list(run)
        dt = time.perf_counter() - t0
        res = run.result
        assert res is not None
        ev = evaluate_items([(read_manifest(MANIFEST), items)])
    return {
        "preset": preset,
        "detect_every": res.detect_every,
        "frames": res.frames,
        "detected_frames": res.detected_frames,
        "seconds": dt,
        "fps": res.frames / dt,
        "x_realtime": (res.frames / res.info.fps) / dt,
        "tracks": [(t.track_id, t.identity, round(t.first_time, 2), round(t.last_time, 2)) for t in res.tracks],
        "evaluation": ev.to_dict(),
    }


def run_peer(max_frames: int | None) -> dict:
    import cv2
    import face_recognition

    from faceprint.types import Box
    from faceprint.video.evaluate import read_manifest

    known = [face_recognition.face_encodings(face_recognition.load_image_file(str(p)))[0] for p in PEOPLE.values()]
    names = list(PEOPLE)
    rows = read_manifest(MANIFEST)
    cap = cv2.VideoCapture(str(CLIP))
    fps = cap.get(cv2.CAP_PROP_FPS)
    n = ok_n = scored = unknown = enrolled = 0
    t0 = time.perf_counter()
    while max_frames is None or n < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        # the example's BGR → RGB is frame[:, :, ::-1]; dlib 19.24+ refuses that non-contiguous view in
        # face_encodings, so the same conversion is made contiguous
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        locs = face_recognition.face_locations(rgb)
        encs = face_recognition.face_encodings(rgb, locs)
        for (top, right, bottom, left), enc in zip(locs, encs, strict=True):
            match = face_recognition.compare_faces(known, enc, tolerance=0.50)
            name = names[match.index(True)] if True in match else None  # the example takes the first match
            row = next((r for r in rows if r.holds(t, Box(left, top, right, bottom))), None)
            if row is not None:
                scored += 1
                ok_n += name == row.identity
                if row.identity is not None:
                    enrolled += 1
                    unknown += name is None
        n += 1
    dt = time.perf_counter() - t0
    cap.release()
    return {"frames": n, "seconds": dt, "fps": n / dt, "x_realtime": (n / fps) / dt,
            "frame_level": {"annotated_detections": scored, "accuracy": ok_n / scored if scored else 0.0,
                            "unknown_rate": unknown / enrolled if enrolled else 0.0}}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", default="default:auto,default:1,fast:auto", help="preset:detect_every,...")
    ap.add_argument("--peer-frames", type=int, default=None, help="frames the peer runs (default: the whole clip)")
    args = ap.parse_args()
    if not CLIP.exists():
        raise SystemExit(f"benchmark needs {CLIP}")
    import face_recognition  # noqa: F401  (its models load at import)

    ours = [run_faceprint(*c.split(":")) for c in args.configs.split(",")]
    peer = run_peer(args.peer_frames)
    print(f"{CLIP.name}: 640x360, 29.97 fps, 2 cores (shared machine: compare ratios)")
    print(f"{'':30}{'fps':>7}{'x real':>8}{'x peer':>8}{'frame acc':>10}{'track acc':>10}{'unk(trk)':>9}{'switch':>7}")
    for r in ours:
        e = r["evaluation"]
        print(f"{r['preset'] + ' every ' + r['detect_every'].split(' ')[0]:30}{r['fps']:7.1f}{r['x_realtime']:8.2f}"
              f"{r['fps'] / peer['fps']:8.2f}{e['frame_level']['accuracy']:10.3f}{e['track_level']['accuracy']:10.3f}"
              f"{e['track_level']['unknown_rate']:9.3f}{e['track_level']['identity_switches']:7d}")  # fmt: skip
        print(f"{'':30}detect_every {r['detect_every']}")
    pf = peer["frame_level"]
    print(f"{'face_recognition (per frame)':30}{peer['fps']:7.1f}{peer['x_realtime']:8.2f}{1.0:8.2f}{pf['accuracy']:10.3f}"
          f"{'-':>10}{'-':>9}{'-':>7}  ({peer['frames']} frames)")  # fmt: skip
    print("targets: >= 3x real time and >= 3x the peer (default pipeline)")
    write_result("video", {"clip": str(CLIP.name), "faceprint": ours, "face_recognition": peer,
                           "targets": {"x_realtime": 3.0, "x_peer": 3.0}})  # fmt: skip


if __name__ == "__main__":
    main()
