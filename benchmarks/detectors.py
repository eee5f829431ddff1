"""Face detectors side by side: recall/precision, LFW misses, speed, smallest face found.

For dlib_hog (upsample 0 and 1), mtcnn and dlib_mmod (upsample 0; slow, so only on testing.xml,
the 512x512 photo and the face-size scan):

* recall / precision at IoU 0.5 on dlib's ``detection_dlib/testing.xml`` (5 PASCAL VOC images,
  25 faces of 37–53 px), plus recall at IoU 0.3 (MTCNN draws taller boxes than these dlib-style
  annotations, which IoU 0.5 penalises);
* on the first N LFW images (sorted path order; 250x250): how many give no face at all, in how
  many the largest detection covers the image centre (LFW's named person is the centre face),
  and ms per image (``detect`` one image at a time; for mtcnn also ``detect_batch``);
* ms per image on a ~512x512 photo (obama.jpg, centre square resized to 512x512, one face);
* the smallest face each finds: obama.jpg rescaled so dlib's face box is W px wide, for W from
  120 down to 16, cut out in a (3W, min 100) px window.

The host is shared (2 cores) and its load drifts, so the LFW timing runs the detectors in turn on
chunks of 100 images and reports the median per-chunk rate (and the minimum); the 512 photo is
timed the same way in rounds. The load average is recorded before and after.

    python benchmarks/detectors.py [--lfw 1000] [--rounds 7]

Prints a table and writes benchmarks/results/detectors.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _common import SHARED, lfw_images, write_result

from faceprint.eval.protocols.detection import evaluate_detector
from faceprint.io.decode import load_image
from faceprint.models import registry

CONFIGS = {
    "dlib_hog(up=0)": ("dlib_hog", {"upsample": 0}),
    "dlib_hog(up=1)": ("dlib_hog", {"upsample": 1}),
    "mtcnn": ("mtcnn", {}),
    "dlib_mmod(up=0)": ("dlib_mmod", {"upsample": 0}),
}
SLOW = {"dlib_mmod(up=0)"}
FACE_WIDTHS = [120, 100, 80, 70, 60, 50, 44, 40, 36, 32, 28, 24, 20, 16, 14, 12]


def photo_512() -> np.ndarray:
    import cv2

    img = load_image(SHARED / "face_recognition_examples" / "examples" / "obama.jpg")
    h, w = img.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return cv2.resize(img[y0 : y0 + s, x0 : x0 + s], (512, 512), interpolation=cv2.INTER_AREA)


def face_size_scan(detectors: dict) -> dict:
    """Smallest face width (dlib-box px) each detector still finds."""
    import cv2

    img = load_image(SHARED / "face_recognition_examples" / "examples" / "obama.jpg")
    ref = registry.create("dlib_hog", upsample=0).detect(img)[0].box
    found: dict[str, dict[int, bool]] = {k: {} for k in detectors}
    for width in FACE_WIDTHS:
        s = width / ref.width
        small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        cx, cy = ref.center[0] * s, ref.center[1] * s
        half = max(50, int(1.5 * width))
        pad = cv2.copyMakeBorder(small, half, half, half, half, cv2.BORDER_REPLICATE)
        x0, y0 = int(round(cx)), int(round(cy))  # centre in padded coords = centre + half - half
        crop = np.ascontiguousarray(pad[y0 : y0 + 2 * half, x0 : x0 + 2 * half])
        for name, det in detectors.items():
            dets = det.detect(crop)
            found[name][width] = any(d.box.x1 <= half <= d.box.x2 and d.box.y1 <= half <= d.box.y2 for d in dets)
    out = {}
    for name, f in found.items():
        ok = [w for w in FACE_WIDTHS if f[w]]
        # smallest width such that every larger tested width was also found
        smallest = None
        for w in FACE_WIDTHS:
            if not f[w]:
                break
            smallest = w
        out[name] = {"smallest_found_consecutive": smallest, "found_widths": ok}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", type=int, default=1000, help="first N LFW images (sorted paths)")
    ap.add_argument("--rounds", type=int, default=7, help="timing rounds on the 512x512 photo")
    ap.add_argument("--chunk", type=int, default=100, help="LFW images per timing chunk")
    args = ap.parse_args()

    xml = SHARED / "detection_dlib" / "testing.xml"
    if not xml.is_file():
        sys.exit(f"benchmark needs {xml}")
    load_before = os.getloadavg()
    t_start = time.perf_counter()

    detectors = {}
    for label, (name, kw) in CONFIGS.items():
        detectors[label] = registry.create(name, **kw).load()
    photo = photo_512()
    for det in detectors.values():  # warm-up (MTCNN converts its graphs once into the cache)
        det.detect(photo)

    results: dict[str, dict] = {k: {} for k in detectors}

    # 1. testing.xml
    for label, det in detectors.items():
        r = evaluate_detector(det, xml, iou_threshold=0.5, loose_iou=0.3)
        results[label]["testing_xml"] = {
            k: r[k] for k in ("ground_truth", "detections", "tp", "fp", "fn", "recall", "precision", "recall_loose", "ms_per_image")
        }
        results[label]["testing_xml"]["per_image"] = [
            {k: p[k] for k in ("file", "ground_truth", "tp", "fp", "fn", "mean_iou")} for p in r["per_image"]
        ]

    # 2. LFW: misses and speed, detectors interleaved chunk by chunk
    paths = lfw_images(args.lfw)
    imgs = [load_image(p) for p in paths]
    fast = [k for k in detectors if k not in SLOW]
    misses: dict[str, list[str]] = {k: [] for k in fast}
    faces_found: dict[str, list[int]] = {k: [] for k in fast}
    centre_largest: dict[str, int] = {k: 0 for k in fast}
    chunk_ms: dict[str, list[float]] = {k: [] for k in fast}
    batch_ms: list[float] = []
    for c0 in range(0, len(imgs), args.chunk):
        chunk, chunk_paths = imgs[c0 : c0 + args.chunk], paths[c0 : c0 + args.chunk]
        for label in fast:
            det = detectors[label]
            t0 = time.perf_counter()
            out = [det.detect(im) for im in chunk]
            chunk_ms[label].append(1000 * (time.perf_counter() - t0) / len(chunk))
            for p, im, dets in zip(chunk_paths, chunk, out):
                faces_found[label].append(len(dets))
                cx, cy = im.shape[1] / 2, im.shape[0] / 2
                if dets and dets[0].box.x1 <= cx <= dets[0].box.x2 and dets[0].box.y1 <= cy <= dets[0].box.y2:
                    centre_largest[label] += 1
                if not dets:
                    misses[label].append(str(p.relative_to(p.parents[1])))
        t0 = time.perf_counter()
        batch_out = detectors["mtcnn"].detect_batch(chunk)
        batch_ms.append(1000 * (time.perf_counter() - t0) / len(chunk))
        assert [len(d) for d in batch_out] == faces_found["mtcnn"][-len(chunk) :]
    for label in fast:
        counts = faces_found[label]
        results[label]["lfw"] = {
            "images": len(imgs),
            "no_face": len(misses[label]),
            "no_face_examples": misses[label][:15],
            "more_than_one_face": sum(c > 1 for c in counts),
            "largest_face_covers_centre": centre_largest[label],
            "ms_per_image_median": statistics.median(chunk_ms[label]),
            "ms_per_image_min": min(chunk_ms[label]),
        }
    results["mtcnn"]["lfw"]["detect_batch_ms_per_image_median"] = statistics.median(batch_ms)
    results["mtcnn"]["lfw"]["detect_batch_ms_per_image_min"] = min(batch_ms)

    # 3. the 512x512 photo, in rounds
    photo_ms: dict[str, list[float]] = {k: [] for k in detectors}
    for rnd in range(args.rounds):
        for label, det in detectors.items():
            if label in SLOW and rnd >= 3:
                continue
            reps = 1 if label in SLOW else 5
            t0 = time.perf_counter()
            for _ in range(reps):
                n_faces = len(det.detect(photo))
            photo_ms[label].append(1000 * (time.perf_counter() - t0) / reps)
            results[label]["photo_512_faces"] = n_faces
    for label in detectors:
        results[label]["photo_512_ms_median"] = statistics.median(photo_ms[label])
        results[label]["photo_512_ms_min"] = min(photo_ms[label])

    # 4. smallest face found
    scan = face_size_scan(detectors)
    for label in detectors:
        results[label]["face_size_scan"] = scan[label]

    load_after = os.getloadavg()
    elapsed = time.perf_counter() - t_start

    # ---- table
    hdr = (
        f"{'detector':<17} {'recall@.5':>9} {'prec@.5':>8} {'recall@.3':>9} "
        f"{'LFW no-face':>11} {'LFW centre':>10} {'LFW ms/img':>10} {'512px ms':>9} {'min face px':>11}"
    )
    print(hdr)
    print("-" * len(hdr))
    for label, r in results.items():
        tx = r["testing_xml"]
        lfw = r.get("lfw")
        no_face = f"{lfw['no_face']}/{lfw['images']}" if lfw else "n/a"
        lfw_ms = f"{lfw['ms_per_image_median']:.1f}" if lfw else "n/a"
        centre = f"{lfw['largest_face_covers_centre']}" if lfw else "n/a"
        print(
            f"{label:<17} {tx['tp']:>3}/{tx['ground_truth']:<3}={tx['recall']:.2f} {tx['precision']:>8.2f} "
            f"{tx['recall_loose']:>9.2f} {no_face:>11} {centre:>10} {lfw_ms:>10} {r['photo_512_ms_median']:>9.1f} "
            f"{str(r['face_size_scan']['smallest_found_consecutive']):>11}"
        )
    print(
        f"mtcnn detect_batch on LFW: {results['mtcnn']['lfw']['detect_batch_ms_per_image_median']:.1f} ms/img (median of chunks)"
    )
    print(f"load average before {load_before}, after {load_after}; {elapsed:.0f} s")

    write_result(
        "detectors",
        {
            "data": {
                "testing_xml": str(xml.relative_to(SHARED)),
                "lfw_images": len(imgs),
                "lfw_selection": "first N images in sorted path order under lfw/images",
                "photo_512": "face_recognition_examples/examples/obama.jpg, centre square resized to 512x512 (INTER_AREA)",
                "face_size_scan": "obama.jpg rescaled so dlib's HOG box is W px wide, centred window of 3W (min 100) px",
            },
            "timing": {
                "threads": "onnxruntime: FACEPRINT_THREADS or all cores; dlib HOG: 1 thread",
                "lfw": f"detect() per image, detectors interleaved on chunks of {args.chunk}; median and min of chunk means",
                "photo_512": f"{args.rounds} rounds (mmod: 3 rounds x 1), 5 calls per round; median and min",
                "load_average_before": load_before,
                "load_average_after": load_after,
                "seconds": round(elapsed, 1),
            },
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
