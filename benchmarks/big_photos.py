"""Big photos (issue 12): detection at a working resolution, time and peak RSS on 12-MP photos.

Two parts, both in one run:

* ``smallest``: LFW images pasted at decreasing sizes onto a 4000×3000 canvas; for each working
  resolution (``PipelineConfig.detect_max_side``), the smallest face width (the default detector's box
  at full resolution) still found in every paste of that size.
* ``speed``: two 12-MP photos (an example photo upscaled to 4624×2601, and LFW faces tiled on a
  4000×3000 canvas): in-process seconds per photo for faceprint at full resolution ("before") and at
  the default working resolution ("after"), and face_recognition 1.3.0 in the same run; peak RSS of
  each in its own process; the ``faceprint detect`` CLI's wall time and peak RSS, before and after.

    PYTHONPATH=src .venv/bin/python benchmarks/big_photos.py [--reps 2] [--sides 800,1024,1280,1600,2400]

The CPU may be shared: compare the ratios measured in the same run, not absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import REPO, SHARED, lfw_images, write_result

SIZES = [200, 160, 128, 112, 96, 80, 72, 64, 56, 48, 40, 32, 28, 24, 20]
PEOPLE = 3


def _paste_canvas(paths: list[Path], w: int = 4000, h: int = 3000, seed: int = 0):
    """Canvas with each of ``paths`` pasted at every size of SIZES; returns canvas and (size, box) list."""
    import cv2

    from faceprint.io import load_image

    rng = np.random.default_rng(seed)
    canvas = np.clip(rng.normal(128, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 3)
    placed = []
    x, y, row_h = 20, 20, 0
    for s in SIZES:
        for p in paths:
            img = cv2.resize(load_image(p), (s, s), interpolation=cv2.INTER_AREA)
            if x + s > w - 20:
                x, y, row_h = 20, y + row_h + 40, 0
            canvas[y : y + s, x : x + s] = img
            placed.append((s, (x, y, x + s, y + s)))
            x += s + 40
            row_h = max(row_h, s)
    assert y + row_h < h, "canvas too small"
    return canvas, placed


def smallest(reps_paths: list[Path], sides: list[int | None]) -> dict:
    from faceprint.pipeline import Pipeline, PipelineConfig

    canvas, placed = _paste_canvas(reps_paths)
    out = {}
    for side in sides:
        pipe = Pipeline.from_config(PipelineConfig(detect_max_side=side))
        t0 = time.perf_counter()
        dets = pipe.detect(canvas)
        dt = time.perf_counter() - t0
        found: dict[int, list[float]] = {}
        for s, (x1, y1, x2, y2) in placed:
            hit = [d for d in dets if x1 <= d.box.center[0] <= x2 and y1 <= d.box.center[1] <= y2]
            found.setdefault(s, []).append(max(d.box.width for d in hit) if hit else 0.0)
        ok = [s for s in SIZES if all(v > 0 for v in found[s])]
        # smallest size such that it and every larger size are all found
        smallest_ok = None
        for s in SIZES:
            if s in ok:
                smallest_ok = s
            else:
                break
        face_w = float(np.mean(found[smallest_ok])) if smallest_ok else None
        key = str(side)
        out[key] = {
            "detect_s": round(dt, 3),
            "smallest_paste_px": smallest_ok,
            "smallest_face_box_px": None if face_w is None else round(face_w, 1),
            "found_per_size": {s: sum(v > 0 for v in found[s]) for s in SIZES},
            "false_or_extra": len(dets) - sum(sum(v > 0 for v in found[s]) for s in SIZES),
        }
        print(f"detect_max_side={side}: every face found down to a {smallest_ok} px paste "
              f"(face box ≈ {face_w and round(face_w)} px); detect {dt:.2f} s", flush=True)  # fmt: skip
    return out


def make_photos(tmp: Path) -> dict[str, Path]:
    import cv2
    from PIL import Image

    from faceprint.io import load_image

    ex = SHARED / "face_recognition_examples" / "examples" / "two_people.jpg"
    up = cv2.resize(load_image(ex), (4624, 2601), interpolation=cv2.INTER_CUBIC)
    a = tmp / "upscaled_4624x2601.jpg"
    Image.fromarray(up).save(a, quality=92)
    canvas = np.full((3000, 4000, 3), 235, np.uint8)
    paths = lfw_images(48, stride=97)
    for i, p in enumerate(paths):
        r, c = divmod(i, 8)
        canvas[r * 500 : r * 500 + 500, c * 500 : c * 500 + 500] = cv2.resize(load_image(p), (500, 500))
    b = tmp / "lfw_tiled_4000x3000.jpg"
    Image.fromarray(canvas).save(b, quality=92)
    return {"upscaled": a, "tiled": b}


_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {src!r})
which, path, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
if which == "face_recognition":
    import face_recognition as fr
    def run():
        img = fr.load_image_file(path)
        return len(fr.face_encodings(img, fr.face_locations(img)))
else:
    from faceprint.io import load_image
    from faceprint.pipeline import Pipeline, PipelineConfig
    side = None if which == "before" else PipelineConfig().detect_max_side
    pipe = Pipeline.from_config(PipelineConfig(detect_max_side=side))
    def run():
        return len(pipe.process(load_image(path)))
n = run()  # warm-up (model loading)
t = []
for _ in range(reps):
    t0 = time.perf_counter(); n = run(); t.append(time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"faces": n, "s": min(t), "times": t, "peak_rss_mb": rss}}))
"""

_CLI_BEFORE = r"""
import sys
sys.path.insert(0, {src!r})
import faceprint.pipeline as p
from faceprint.working_resolution import detect_at_working_resolution as f
p.detect_at_working_resolution = lambda d, img, side: f(d, img, None)
from faceprint.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _child(code: str, args: list[str], timeout: float = 900) -> tuple[str, float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0 and not args[0:1] == ["detect"]:
        raise RuntimeError(f"child failed: {proc.stderr.read() if proc.stderr else ''}")
    return out, wall, ru.ru_maxrss / 1024


def speed(photos: dict[str, Path], reps: int) -> dict:
    src = str(REPO / "src")
    res: dict = {}
    for name, path in photos.items():
        row: dict = {"load_before": os.getloadavg()}
        for which in ("before", "after", "face_recognition"):
            out, _, _ = _child(_CHILD.format(src=src), [which, str(path), str(reps)])
            row[which] = json.loads(out.strip().splitlines()[-1])
        for which, code in (("cli_before", _CLI_BEFORE), ("cli_after", _CLI_BEFORE.replace("p.detect_at", "#"))):
            out, wall, rss = _child(code.format(src=src), ["detect", str(path)])
            row[which] = {"wall_s": round(wall, 2), "peak_rss_mb": round(rss, 1), "out": out.strip()[-200:]}
        row["load_after"] = os.getloadavg()
        fr = row["face_recognition"]["s"]
        row["ratio_after_vs_face_recognition"] = round(fr / row["after"]["s"], 2)
        row["ratio_before_vs_face_recognition"] = round(fr / row["before"]["s"], 2)
        res[name] = row
        print(
            f"{name}: faceprint before {row['before']['s']:.2f} s ({row['before']['faces']} faces, "
            f"{row['before']['peak_rss_mb']:.0f} MB), after {row['after']['s']:.2f} s ({row['after']['faces']} faces, "
            f"{row['after']['peak_rss_mb']:.0f} MB), face_recognition {fr:.2f} s ({row['face_recognition']['faces']} faces, "
            f"{row['face_recognition']['peak_rss_mb']:.0f} MB): after = {row['ratio_after_vs_face_recognition']}x fr; "
            f"CLI detect before {row['cli_before']['wall_s']} s / {row['cli_before']['peak_rss_mb']:.0f} MB, "
            f"after {row['cli_after']['wall_s']} s / {row['cli_after']['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--sides", default="800,1024,1280,1600,2400,none")
    ap.add_argument("--skip", choices=["smallest", "speed"], default=None)
    args = ap.parse_args()
    sides = [None if s == "none" else int(s) for s in args.sides.split(",")]
    result: dict = {"load": os.getloadavg()}
    if args.skip != "smallest":
        people = lfw_images(PEOPLE, stride=1777)
        result["smallest"] = smallest(people, sides)
    if args.skip != "speed":
        with tempfile.TemporaryDirectory() as d:
            result["speed"] = speed(make_photos(Path(d)), args.reps)
    result["load_after"] = os.getloadavg()
    part = {None: "", "smallest": "_speed", "speed": "_smallest"}[args.skip]
    write_result(f"big_photos{part}", result)


if __name__ == "__main__":
    main()
