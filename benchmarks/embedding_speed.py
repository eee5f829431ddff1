"""Per-face embedding rate: dlib's native face descriptor vs faceprint's ONNX rebuild (dlib_resnet_v1).

Both run on the same real 150×150 chips (LFW images, first people in sorted order; dlib HOG detector,
5-point shape predictor, ``dlib.get_face_chip(size=150, padding=0.25)``). dlib is timed in its best
mode (one call per chip, or its list API, whichever is faster on a probe); faceprint with
``embed_chips`` in batches of 32 on 2 onnxruntime threads. The host is shared and its load drifts,
so timing alternates in paired rounds and the speed-up is the median of per-round ratios.

    python benchmarks/embedding_speed.py [--chips 200] [--batch-size 32] [--threads 2]

Prints ms/face for each, the speed-up and the max abs difference between the two, and writes
benchmarks/results/embedding_speed.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from _common import SHARED, machine, write_result

DEFAULT_LFW = SHARED / "lfw" / "images"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def collect_chips(lfw: Path, n: int) -> tuple[np.ndarray, list[str]]:
    import dlib
    from PIL import Image

    from faceprint.models.sources import package_file

    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(
        str(package_file("face_recognition_models", "models/shape_predictor_5_face_landmarks.dat"))
    )
    chips, names = [], []
    for person in sorted(p for p in lfw.iterdir() if p.is_dir()):
        for path in sorted(person.glob("*.jpg")):
            with Image.open(path) as im:
                img = np.ascontiguousarray(np.asarray(im.convert("RGB")))
            rects = list(detector(img, 0)) or list(detector(img, 1))
            if not rects:
                continue
            cy, cx = img.shape[0] / 2, img.shape[1] / 2  # LFW: the named person is at the centre
            rect = min(rects, key=lambda r: (r.center().x - cx) ** 2 + (r.center().y - cy) ** 2)
            chips.append(np.asarray(dlib.get_face_chip(img, sp5(img, rect), size=150, padding=0.25)))
            names.append(path.name)
            if len(chips) >= n:
                return np.stack(chips), names
    if not chips:
        raise SystemExit(f"no faces found under {lfw}")
    return np.stack(chips), names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    ap.add_argument("--chips", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10, help="paired dlib/faceprint timing rounds")
    args = ap.parse_args(argv)
    if not args.lfw.is_dir():
        print(f"LFW images not found at {args.lfw}", file=sys.stderr)
        return 2

    import dlib
    import onnxruntime

    from faceprint.models.embedders.dlib_resnet import DlibResNetEmbedder
    from faceprint.models.sources import package_file

    t = time.perf_counter()
    chips, names = collect_chips(args.lfw, args.chips)
    n = len(chips)
    print(f"{n} chips from {len(set(nm.rsplit('_', 1)[0] for nm in names))} people "
          f"({time.perf_counter() - t:.1f} s to detect and align)")

    # ---- dlib native: pick its faster API on a subset
    facerec = dlib.face_recognition_model_v1(
        str(package_file("face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat"))
    )
    chip_list = [np.ascontiguousarray(c) for c in chips]
    facerec.compute_face_descriptor(chip_list[0])  # warm-up
    probe = chip_list[: min(n, 48)]
    t = time.perf_counter()
    for c in probe:
        facerec.compute_face_descriptor(c)
    probe_single = (time.perf_counter() - t) * 1000 / len(probe)
    t = time.perf_counter()
    facerec.compute_face_descriptor(probe)
    probe_list = (time.perf_counter() - t) * 1000 / len(probe)
    dlib_mode = "per_chip" if probe_single <= probe_list else "list_api"
    print(f"dlib probe on {len(probe)} chips: {probe_single:.2f} ms/face per chip, "
          f"{probe_list:.2f} ms/face with the list API -> using {dlib_mode}")

    def dlib_run(batch: list[np.ndarray]) -> np.ndarray:
        if dlib_mode == "per_chip":
            return np.array([np.asarray(facerec.compute_face_descriptor(c)) for c in batch])
        return np.array([np.asarray(v) for v in facerec.compute_face_descriptor(batch)])

    # ---- faceprint
    emb = DlibResNetEmbedder(batch_size=args.batch_size, threads=args.threads)
    t = time.perf_counter()
    emb.load()
    load_s = time.perf_counter() - t
    emb.embed_chips(chips[: args.batch_size])  # warm-up

    # ---- paired rounds: the host's load drifts, so each round times dlib on a slice of the chips
    # and faceprint on all of them back to back; the ratio is taken per round.
    rounds = max(1, args.rounds)
    slices = np.array_split(np.arange(n), rounds)
    dlib_round_ms, fp_round_ms, ratios = [], [], []
    ref = np.zeros((n, 128))
    for idx in slices:
        t = time.perf_counter()
        ref[idx] = dlib_run([chip_list[i] for i in idx])
        d_ms = (time.perf_counter() - t) * 1000 / len(idx)
        t = time.perf_counter()
        ours = emb.embed_chips(chips)
        f_ms = (time.perf_counter() - t) * 1000 / n
        dlib_round_ms.append(d_ms)
        fp_round_ms.append(f_ms)
        ratios.append(d_ms / f_ms)
    dlib_ms = float(np.mean(dlib_round_ms))  # every chip once
    fp_median, fp_best = float(np.median(fp_round_ms)), float(min(fp_round_ms))
    speedup = float(np.median(ratios))
    max_diff = float(np.abs(ours - ref).max())
    print(f"dlib ({dlib_mode}): {dlib_ms:.2f} ms/face (mean over all chips)")
    print(f"faceprint dlib_resnet_v1 (onnxruntime, batch {args.batch_size}, {args.threads} threads): "
          f"{fp_median:.2f} ms/face median of {rounds} passes, {fp_best:.2f} best")
    print(f"speed-up: {speedup:.1f}x (median of per-round ratios; range {min(ratios):.1f}-{max(ratios):.1f}x)")
    print(f"max abs diff vs dlib over {n} chips: {max_diff:.3g}")

    result = {
        "chips": n,
        "chip_source": "LFW images, first people sorted, HOG + 5-point shape + get_face_chip(150, 0.25)",
        "method": (
            f"{rounds} paired rounds: dlib on 1/{rounds} of the chips, then faceprint on all chips; "
            "speed-up = median of per-round ratios (the shared host's load drifts)"
        ),
        "dlib": {
            "probe_per_chip_ms_per_face": round(probe_single, 3),
            "probe_list_api_ms_per_face": round(probe_list, 3),
            "mode": dlib_mode,
            "ms_per_face": round(dlib_ms, 3),
            "ms_per_face_rounds": [round(x, 3) for x in dlib_round_ms],
        },
        "faceprint": {
            "model": emb.card.tag,
            "batch_size": args.batch_size,
            "threads": args.threads,
            "ms_per_face_median": round(fp_median, 3),
            "ms_per_face_best": round(fp_best, 3),
            "ms_per_face_rounds": [round(x, 3) for x in fp_round_ms],
            "load_s": round(load_s, 3),
        },
        "speedup": round(speedup, 2),
        "speedup_rounds": [round(x, 2) for x in ratios],
        "target_speedup": 20.0,
        "max_abs_diff_vs_dlib": max_diff,
        "machine": {
            **machine(),
            "cpu_count": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "cpu_model": cpu_model(),
            "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "dlib": getattr(dlib, "__version__", "unknown"),
            "numpy": np.__version__,
        },
        "command": "python benchmarks/embedding_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    write_result("embedding_speed", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
