"""Issue 12's candidate table: every pipeline preset and face_recognition 1.3.0, end to end, in one run.

For each candidate, in a process of its own (so its peak RSS is its own), one after the other:

* LFW images: decode + detect + align + embed of ``--n`` LFW images (every 37th of the sorted list),
  images/s, best of ``--reps`` rounds after a warm-up;
* 12-MP photos: the two photos of ``benchmarks/big_photos.py`` (an example photo upscaled to
  4624×2601, 48 LFW faces tiled on 4000×3000), seconds per photo, best of ``--reps``;
* peak RSS of the process (VmHWM) over both.

The accuracy columns are read from the stored results of ``benchmarks/lfw_view1_candidates.py
--new-models`` (View 1: DevTrain to choose, DevTest to confirm) and ``benchmarks/lfw_side_by_side.py``
(View 2, run once), so the printed table holds every figure issue 12 asks for. Ratios against
face_recognition are from this run (the machine may be shared: compare ratios, not absolute figures).

    PYTHONPATH=src .venv/bin/python benchmarks/candidates.py [--n 200] [--reps 2] [--only default,fast]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, lfw_images, write_result
from big_photos import make_photos

#: candidate -> (preset, row of lfw_view1_new_models.json, row of lfw_side_by_side.json)
CANDIDATES = {
    "default": ("default", "SFace int8, MTCNN 5 pts", "default"),
    "fast": ("fast", "dlib (default: MTCNN dlib-box 5-pt, mirror)", "fast"),
    "sface": ("sface", "SFace fp32, MTCNN 5 pts", "sface"),
    "yunet_sface": ("yunet_sface", "SFace fp32, YuNet 5 pts", "yunet_sface"),
    "fusion": ("fusion", "fusion dlib+SFace fp32 (MTCNN)", "fusion"),
    "face_recognition": (None, None, "face_recognition"),
}

_CHILD = r"""
import json, sys, time
sys.path.insert(0, {src!r})
which, reps = sys.argv[1], int(sys.argv[2])
lfw = json.loads(sys.argv[3]); big = json.loads(sys.argv[4])
if which == "face_recognition":
    import face_recognition as fr
    def run(path):
        img = fr.load_image_file(path)
        return len(fr.face_encodings(img, fr.face_locations(img)))
else:
    from faceprint.io import load_image
    from faceprint.pipeline import Pipeline, preset_config
    pipe = Pipeline.from_config(preset_config(which))
    def run(path):
        return len(pipe.process(load_image(path)))
for p in lfw[:3]:
    run(p)  # warm-up: model loading
out = {{"lfw": [], "big": {{}}}}
no_face = 0
for r in range(reps):
    t0 = time.perf_counter()
    counts = [run(p) for p in lfw]
    out["lfw"].append(len(lfw) / (time.perf_counter() - t0))
    no_face = sum(1 for c in counts if c == 0)
out["lfw_no_face"] = no_face
for name, path in big.items():
    times, faces = [], 0
    for r in range(reps):
        t0 = time.perf_counter(); faces = run(path); times.append(time.perf_counter() - t0)
    out["big"][name] = {{"s": min(times), "times": times, "faces": faces}}
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        out["peak_rss_mb"] = int(line.split()[1]) / 1024
print(json.dumps(out))
"""


def run_candidate(which: str, lfw: list[Path], big: dict[str, Path], reps: int) -> dict:
    code = _CHILD.format(src=str(REPO / "src"))
    args = [which, str(reps), json.dumps([str(p) for p in lfw]), json.dumps({k: str(v) for k, v in big.items()})]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{which} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _stored(name: str) -> dict:
    path = REPO / "benchmarks" / "results" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="LFW images per round")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--only", default=None, help="comma-separated candidates (default: all)")
    args = ap.parse_args()
    names = list(CANDIDATES) if args.only is None else args.only.split(",")
    if "face_recognition" not in names:
        names.append("face_recognition")  # the peer is always in the run: ratios need it
    lfw = lfw_images(args.n, stride=37)
    view1, view2 = _stored("lfw_view1_new_models").get("rows", {}), _stored("lfw_side_by_side").get("rows", {})
    rows: dict[str, dict] = {}
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        big = make_photos(Path(tmp))
        for name in names:
            preset, v1, v2 = CANDIDATES[name]
            m = run_candidate(preset or "face_recognition", lfw, big, args.reps)
            rows[name] = {"preset": preset, "speed": m, "view1": view1.get(v1) if v1 else None, "view2": view2.get(v2)}
            print(f"{name}: {max(m['lfw']):.1f} LFW img/s, " + ", ".join(f"{k} {v['s']:.2f} s" for k, v in m["big"].items())
                  + f", peak RSS {m['peak_rss_mb']:.0f} MB", flush=True)  # fmt: skip
    load.append(os.getloadavg())
    peer = rows["face_recognition"]["speed"]
    table = ["| pipeline | View 1 DevTrain | DevTest (DevTrain thr. / best) | View 2 ± SE | AUC | TAR@1e-2 | TAR@1e-3 "
             "| no face (View 2) | LFW img/s (× peer) | 12-MP upscaled s (× peer) | 12-MP tiled s (× peer) | peak RSS MB |",
             "|---" * 12 + "|"]  # fmt: skip
    for name, r in rows.items():
        s, v1, v2 = r["speed"], r["view1"], r["view2"]
        lfw_rate = max(s["lfw"])
        cells = [name]
        if v1:
            dt = v1["devtest"]
            cells += [f"{100 * v1['devtrain']['accuracy']:.2f} %",
                      f"{100 * dt['accuracy_at_devtrain_threshold']:.2f} / {100 * dt['accuracy_best']:.2f} %"]  # fmt: skip
        else:
            cells += ["–", "–"]
        if v2:
            tar = {t["target_far"]: t["tar"] for t in v2.get("tar_at_far", [])}
            cells += [f"{100 * v2['accuracy']:.2f} % ± {100 * v2['std_error']:.2f}", f"{v2['roc_auc']:.5f}",
                      f"{tar.get(0.01, float('nan')):.4f}", f"{tar.get(0.001, float('nan')):.4f}",
                      str(v2["no_face"]["count"])]  # fmt: skip
        else:
            cells += ["–"] * 5
        cells.append(f"{lfw_rate:.1f} ({lfw_rate / max(peer['lfw']):.2f}×)")
        for k in ("upscaled", "tiled"):
            cells.append(f"{s['big'][k]['s']:.2f} ({peer['big'][k]['s'] / s['big'][k]['s']:.2f}×)")
        cells.append(f"{s['peak_rss_mb']:.0f}")
        r["ratios"] = {
            "lfw": lfw_rate / max(peer["lfw"]),
            **{k: peer["big"][k]["s"] / s["big"][k]["s"] for k in ("upscaled", "tiled")},
        }
        table.append("| " + " | ".join(cells) + " |")
    print("\n".join(table))
    write_result("candidates", {"n_lfw": len(lfw), "reps": args.reps, "load": load, "rows": rows, "table": table})


if __name__ == "__main__":
    main()
