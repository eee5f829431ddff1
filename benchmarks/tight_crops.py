"""Tight face crops (issue 12): detection rate with and without the padded-image fallback.

Built from LFW: each image's face box as the default pipeline draws it (MTCNN, score ≥ 0.9,
dlib-style box; the detection nearest the image centre) is grown or shrunk by a fraction of its
width/height on every side (−10 %, −5 %, 0 %, +10 %; clipped to the image), cropped, and resized
so the crop's longer side is 96, 128, 150 or 160 px (area averaging down, bilinear up). On every
crop, in the same run:

* ``plain``: the default pipeline's detection without the fallback (``tight_crop_fallback=False``);
* ``fallback``: the default pipeline (``Pipeline.detect``: the padded image is tried when plain finds
  no face or a face spanning the frame; ``padded`` counts those crops);
* ``dlib_hog``: dlib's HOG detector with the pipeline's options (one upsampling), for comparison.

"found" = at least one face; "centred" = the largest face's box centre lies in the middle half of
the crop (the crop holds one face, at its centre). ``--steps`` also measures each pad step alone
at −10 % (how :data:`faceprint.detect_fallback.DEFAULT_PAD_STEPS` was chosen). ``--lfw-full``
runs plain and fallback on every image of LFW View 1 and View 2 (no-face counts, and every image
whose detections the fallback changes: none, or the pipeline signature would have to change).
``--verify`` embeds View 1 DevTest's images from their −10 % crops (150 px) with and without the
fallback (no face → the evaluation's central box, as ``faceprint eval``) and from the full images:
accuracy at the shipped 1:1 threshold and at the best threshold, ROC AUC.

    PYTHONPATH=src .venv/bin/python benchmarks/tight_crops.py [--n 300 --stride 30] [--steps] [--lfw-full] [--verify]

Prints a table and writes benchmarks/results/tight_crops.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import SHARED, lfw_images, write_result
from faceprint.detect_fallback import DEFAULT_PAD_STEPS, PadStep, detect_padded, needs_padding
from faceprint.io.decode import load_image
from faceprint.models import registry
from faceprint.pipeline import Pipeline, PipelineConfig, central_box, detector_defaults, select_face
from faceprint.types import Box, Detection

FRACTIONS = [-0.10, -0.05, 0.0, 0.10]
SIZES = [96, 128, 150, 160]
STEPS = [PadStep(0.1), PadStep(0.25), PadStep(0.5), PadStep(0.25, "constant"), PadStep(0.5, "constant")]


def nearest_centre(dets: list[Detection], shape: tuple[int, ...]) -> Detection:
    h, w = shape[:2]
    return min(dets, key=lambda d: (d.box.center[0] - w / 2) ** 2 + (d.box.center[1] - h / 2) ** 2)


def tight_crop(image: np.ndarray, box: Box, frac: float, size: int) -> np.ndarray:
    """``box`` grown by ``frac`` of its width/height on every side (negative: shrunk), clipped,
    cropped and resized so the longer side is ``size``."""
    import cv2

    h, w = image.shape[:2]
    dx, dy = frac * box.width, frac * box.height
    x1, y1 = max(0, round(box.x1 - dx)), max(0, round(box.y1 - dy))
    x2, y2 = min(w, round(box.x2 + dx)), min(h, round(box.y2 + dy))
    crop = image[y1:y2, x1:x2]
    s = size / max(crop.shape[:2])
    nw, nh = max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(crop, (nw, nh), interpolation=interp))


def centred(dets: list[Detection], shape: tuple[int, ...]) -> bool:
    if not dets:
        return False
    h, w = shape[:2]
    cx, cy = dets[0].box.center
    return w / 4 <= cx <= 3 * w / 4 and h / 4 <= cy <= 3 * h / 4


def rate(hits: list[bool]) -> dict[str, Any]:
    return {"found": int(sum(hits)), "n": len(hits), "rate": round(sum(hits) / max(1, len(hits)), 4)}


def detection_rates(paths: list[Path], plain: Pipeline, fb: Pipeline, hog: Any, do_steps: bool) -> dict[str, Any]:
    boxes: list[tuple[np.ndarray, Box]] = []
    for p in paths:
        img = load_image(str(p))
        dets = plain.detect(img)
        if dets:
            boxes.append((img, nearest_centre(dets, img.shape).box))
    out: dict[str, Any] = {"images": len(paths), "images_with_a_face": len(boxes), "table": []}
    for frac in FRACTIONS:
        for size in SIZES:
            crops = [tight_crop(img, b, frac, size) for img, b in boxes]
            row: dict[str, Any] = {"crop": f"{frac:+.0%}", "size": size}
            t = time.perf_counter()
            pl = [plain.detect(c) for c in crops]
            t_plain = time.perf_counter() - t
            t = time.perf_counter()
            fbd = [fb.detect(c) for c in crops]
            t_fb = time.perf_counter() - t
            hd = [hog.detect(c) for c in crops]
            row["padded"] = int(sum(needs_padding(d, c.shape[1], c.shape[0]) for d, c in zip(pl, crops, strict=True)))
            for name, ds in (("plain", pl), ("fallback", fbd), ("dlib_hog", hd)):
                r = rate([bool(d) for d in ds])
                r["centred"] = int(sum(centred(d, c.shape) for d, c in zip(ds, crops, strict=True)))
                row[name] = r
            row["ms_per_crop"] = {"plain": round(1000 * t_plain / len(crops), 2), "fallback": round(1000 * t_fb / len(crops), 2)}
            if do_steps and frac == FRACTIONS[0]:
                row["steps"] = {}
                for st in STEPS:
                    hits = [bool(d) or bool(detect_padded(fb.detector, c, [st])) for d, c in zip(pl, crops, strict=True)]
                    row["steps"][f"{st.mode}:{st.ratio:g}"] = rate(hits)
            out["table"].append(row)
            print(
                f"{row['crop']:>5} {size:4d}px  plain {row['plain']['found']:4d}  fallback {row['fallback']['found']:4d} "
                f"(centred {row['fallback']['centred']}, padded {row['padded']})  "
                f"hog {row['dlib_hog']['found']:4d}  / {len(crops)}  "
                f"ms/crop {row['ms_per_crop']['plain']:.1f} / {row['ms_per_crop']['fallback']:.1f}"
                + ("  steps " + " ".join(f"{k}={v['found']}" for k, v in row["steps"].items()) if "steps" in row else ""),
                flush=True,
            )
    return out


def view_images() -> list[Path]:
    from faceprint.eval.protocols.pairs import read_lfw_pairs

    root = SHARED / "lfw"
    seen: dict[Path, None] = {}
    for f in ("pairsDevTrain.txt", "pairsDevTest.txt", "pairs.txt"):
        for im in read_lfw_pairs(root / f, root).images:
            seen.setdefault(im)
    return list(seen)


def lfw_full(plain: Pipeline, fb: Pipeline) -> dict[str, Any]:
    paths = view_images()
    none_plain, spans, changed = [], [], []
    t = time.perf_counter()
    for p in paths:
        img = load_image(str(p))
        dets = plain.detect(img)
        name = str(p.relative_to(SHARED))
        if not dets:
            none_plain.append(name)
        if needs_padding(dets, img.shape[1], img.shape[0]):  # the only case in which fb.detect differs
            if dets:
                spans.append(name)
            if fb.detect(img) != dets:
                changed.append(name)
    res = {
        "images": len(paths),
        "no_face_plain": none_plain,
        "face_spans_frame": spans,
        "changed_by_fallback": changed,
        "seconds": round(time.perf_counter() - t, 1),
    }
    print(
        f"LFW View 1 + View 2, {len(paths)} images: no face {len(none_plain)} plain, a face spanning the frame "
        f"{len(spans)}; detections changed by the fallback: {len(changed)} {changed}"
    )
    return res


def verify(plain: Pipeline, fb: Pipeline, frac: float = -0.10, size: int = 150) -> dict[str, Any]:
    from faceprint.eval import metrics
    from faceprint.eval.protocols.pairs import read_lfw_pairs
    from faceprint.matching.thresholds import shipped_calibration

    root = SHARED / "lfw"
    ps = read_lfw_pairs(root / "pairsDevTest.txt", root)
    cal = shipped_calibration(plain.embedder.card.name)
    thr = cal.threshold_ if cal is not None else None

    def embed(pipe: Pipeline, img: np.ndarray) -> tuple[np.ndarray, bool]:
        faces = pipe.process(img)
        if faces:
            return select_face(faces, "center", img.shape).embedding.vector, True  # type: ignore[union-attr]
        return pipe.process(img, boxes=[central_box(img.shape)])[0].embedding.vector, False  # type: ignore[union-attr]

    vecs: dict[str, dict[Path, np.ndarray]] = {"full": {}, "crop_plain": {}, "crop_fallback": {}}
    no_face = {k: 0 for k in vecs}
    t = time.perf_counter()
    for p in ps.images:
        img = load_image(str(p))
        dets = plain.detect(img)
        for key, pipe, im in (("full", plain, img),):
            vecs[key][p], ok = embed(pipe, im)
            no_face[key] += not ok
        crop = tight_crop(img, nearest_centre(dets, img.shape).box, frac, size) if dets else img
        for key, pipe in (("crop_plain", plain), ("crop_fallback", fb)):
            vecs[key][p], ok = embed(pipe, crop)
            no_face[key] += not ok
    labels = np.array([q.same for q in ps.pairs])
    out: dict[str, Any] = {"pairs": len(ps.pairs), "crop": f"{frac:+.0%}", "size": size, "threshold": thr, "seconds": 0.0}
    for key, v in vecs.items():
        scores = np.array([float(np.dot(v[q.a], v[q.b])) for q in ps.pairs])
        bt, bacc = metrics.best_threshold(scores, labels)
        out[key] = {
            "no_face": no_face[key],
            "accuracy_at_shipped_threshold": None if thr is None else round(metrics.accuracy_at(scores, labels, thr), 4),
            "best_accuracy": round(bacc, 4),
            "best_threshold": round(bt, 4),
            "roc_auc": round(metrics.roc_auc(scores, labels), 5),
        }
        print(
            f"DevTest {key:14s} no face {no_face[key]:4d}  acc@shipped {out[key]['accuracy_at_shipped_threshold']}  "
            f"best {bacc:.4f}  AUC {out[key]['roc_auc']}"
        )
    out["seconds"] = round(time.perf_counter() - t, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="LFW images (sorted path order, every --stride-th)")
    ap.add_argument("--stride", type=int, default=30)
    ap.add_argument("--steps", action="store_true", help="each pad step alone at -10 %%")
    ap.add_argument("--lfw-full", action="store_true", help="no-face counts on every View 1 + View 2 image")
    ap.add_argument("--verify", action="store_true", help="View 1 DevTest accuracy from -10 %% crops")
    args = ap.parse_args()

    fb = Pipeline.from_config(PipelineConfig())
    plain = Pipeline.from_config(PipelineConfig(tight_crop_fallback=False))
    plain.detector = fb.detector  # one model, loaded once
    plain.embedder = fb.embedder
    hog = registry.create("dlib_hog", **detector_defaults("dlib_hog"))
    result: dict[str, Any] = {
        "pipeline": fb.config.signature() if fb.config else "",
        "pad_steps": [f"{s.mode}:{s.ratio:g}" for s in DEFAULT_PAD_STEPS],
        "dlib_hog_options": detector_defaults("dlib_hog"),
        "sample": {"n": args.n, "stride": args.stride},
    }
    result["detection"] = detection_rates(lfw_images(args.n, stride=args.stride), plain, fb, hog, args.steps)
    if args.lfw_full:
        result["lfw_full"] = lfw_full(plain, fb)
    if args.verify:
        result["verify_devtest"] = verify(plain, fb)
    write_result("tight_crops", result)


if __name__ == "__main__":
    main()
