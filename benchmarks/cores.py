"""One core or both: `faceprint embed DIR --jobs N` on LFW images, quiet and with one core kept busy.

Issue 12 ("use the whole machine"): each configuration runs the CLI as a user would (a fresh process:
model loading included, reported apart from the steady rate), on the same folder of LFW images (a
temporary folder of symlinks; nothing is copied):

* ``jobs1``: ``--jobs 1`` (one image at a time; onnxruntime's intra-op threads = every core);
* ``jobs1_t1``: ``--jobs 1`` with ``FACEPRINT_THREADS=1`` (one core, single-threaded sessions);
* ``jobs2``: ``--jobs 2`` (the default on 2 cores: images on two threads);
* face_recognition 1.3.0's own CLI, ``face_recognition --cpus 1`` and ``--cpus 2`` (HOG + ResNet, the
  peer's multi-process option), on the same folder against one known face.

Each is timed twice, with the machine quiet and with one busy-looping process (``--load``: a second
run with a spinner on one core), best of ``--reps``. The steady rate is images / (wall − the same
command's wall on one image), so process start and model loading do not count.

    .venv/bin/python benchmarks/cores.py [--n 300] [--reps 2] [--no-load]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, SHARED, lfw_images, write_result

VENV_BIN = Path(sys.executable).parent


def _spin() -> None:  # pragma: no cover - a load generator
    while True:
        pass


def _peak_rss_run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, the process and its children) of one command."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [ps, *ps.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-800:]}")
    return wall, peak / (1 << 20)


def configs(folder: Path, one: Path, known: Path) -> dict[str, tuple[list[str], list[str], dict[str, str]]]:
    fp = [str(VENV_BIN / "faceprint"), "embed"]
    fr = [str(VENV_BIN / "face_recognition")]
    return {
        "jobs1": ([*fp, str(folder), "--jobs", "1", "--no-progress", "--json"],
                  [*fp, str(one), "--jobs", "1", "--no-progress", "--json"], {}),
        "jobs1_t1": ([*fp, str(folder), "--jobs", "1", "--no-progress", "--json"],
                     [*fp, str(one), "--jobs", "1", "--no-progress", "--json"], {"FACEPRINT_THREADS": "1"}),
        "jobs2": ([*fp, str(folder), "--jobs", "2", "--no-progress", "--json"],
                  [*fp, str(one), "--jobs", "2", "--no-progress", "--json"], {}),
        "face_recognition_cpus1": ([*fr, "--cpus", "1", str(known), str(folder)],
                                   [*fr, "--cpus", "1", str(known), str(one.parent)], {}),
        "face_recognition_cpus2": ([*fr, "--cpus", "2", str(known), str(folder)],
                                   [*fr, "--cpus", "2", str(known), str(one.parent)], {}),
    }


def measure(cfgs: dict, n: int, reps: int) -> dict:
    out = {}
    for name, (cmd, cmd_one, extra) in cfgs.items():
        env = {**os.environ, **extra}
        walls, peaks, ones = [], [], []
        for _ in range(reps):
            w1, _ = _peak_rss_run(cmd_one, env)
            w, pk = _peak_rss_run(cmd, env)
            ones.append(w1)
            walls.append(w)
            peaks.append(pk)
        best, one = min(walls), min(ones)
        steady = n / max(best - one, 1e-9)
        out[name] = {"wall_s": round(best, 2), "one_image_wall_s": round(one, 2), "steady_img_per_s": round(steady, 2),
                     "end_to_end_img_per_s": round(n / best, 2), "peak_rss_mb": round(max(peaks), 1)}
        print(f"  {name:<24} wall {best:6.2f} s (one image {one:5.2f} s)  steady {steady:6.2f} img/s  "
              f"peak RSS {max(peaks):6.0f} MB", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-load", action="store_true", help="skip the run with one core kept busy")
    args = ap.parse_args()
    paths = lfw_images(args.n, stride=29)
    if len(paths) < args.n:
        raise SystemExit(f"only {len(paths)} LFW images")
    known_photo = SHARED / "face_recognition_examples" / "examples" / "obama.jpg"
    with tempfile.TemporaryDirectory() as tmp:
        folder, single, known = Path(tmp, "images"), Path(tmp, "one"), Path(tmp, "known")
        for d in (folder, single, known):
            d.mkdir()
        for i, p in enumerate(paths):
            (folder / f"{i:04d}_{p.name}").symlink_to(p)
        (single / paths[0].name).symlink_to(paths[0])
        (known / "obama.jpg").symlink_to(known_photo)
        cfgs = configs(folder, single / paths[0].name, known)
        runs: dict[str, dict] = {}
        print(f"quiet ({args.n} LFW images, best of {args.reps}; load {os.getloadavg()[0]:.2f})")
        runs["quiet"] = measure(cfgs, args.n, args.reps)
        if not args.no_load:
            spinner = mp.Process(target=_spin, daemon=True)
            spinner.start()
            try:
                print("one core kept busy")
                runs["one_core_busy"] = measure(cfgs, args.n, args.reps)
            finally:
                spinner.terminate()
    ratios = {}
    for cond, r in runs.items():
        fr1 = r["face_recognition_cpus1"]["steady_img_per_s"]
        ratios[cond] = {
            "jobs2_over_jobs1": round(r["jobs2"]["steady_img_per_s"] / r["jobs1"]["steady_img_per_s"], 3),
            "jobs2_over_jobs1_t1": round(r["jobs2"]["steady_img_per_s"] / r["jobs1_t1"]["steady_img_per_s"], 3),
            "jobs2_over_face_recognition_cpus1": round(r["jobs2"]["steady_img_per_s"] / fr1, 2),
            "jobs2_over_face_recognition_cpus2": round(
                r["jobs2"]["steady_img_per_s"] / r["face_recognition_cpus2"]["steady_img_per_s"], 2),
        }
        print(cond, ratios[cond])
    write_result("cores", {"n_images": args.n, "repo": str(REPO.name), "runs": runs, "ratios": ratios})


if __name__ == "__main__":
    main()
