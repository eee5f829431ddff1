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
  120 down to 16, cut out in a (3W, min 100) px window;
* MTCNN's score floor (the default pipeline's O-net threshold): for floors 0.7–0.99, recall and
  false positives at IoU 0.5 on both dlib XMLs (43 faces; dlib-style boxes), and detections beyond /
  short of the face counts of face_recognition's example photos and dlib's ``dogs.jpg`` /
  ``bald_guys.jpg`` (counts checked by eye).

"mtcnn(default)" is MTCNN as the default pipeline configures it (``pipeline.detector_defaults``:
O-net score ≥ 0.9, dlib-style boxes).

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

import numpy as np

from _common import SHARED, lfw_images, write_result
from faceprint.eval.protocols.detection import evaluate_detector, match_detections, parse_imglab_xml
from faceprint.io.decode import load_image
from faceprint.models import registry
from faceprint.pipeline import detector_defaults

CONFIGS = {
    "dlib_hog(up=0)": ("dlib_hog", {"upsample": 0}),
    "dlib_hog(up=1)": ("dlib_hog", {"upsample": 1}),
    "mtcnn": ("mtcnn", {}),
    "mtcnn(default)": ("mtcnn", detector_defaults("mtcnn")),
    "dlib_mmod(up=0)": ("dlib_mmod", {"upsample": 0}),
}
SLOW = {"dlib_mmod(up=0)"}
FACE_WIDTHS = [120, 100, 80, 70, 60, 50, 44, 40, 36, 32, 28, 24, 20, 16, 14, 12]
FLOORS = [0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99]
#: Faces in the example photos, counted by eye (paths under ../shared/data).
EXAMPLE_FACES = {
    **{f"face_recognition_examples/examples/{n}": 1 for n in (
        "obama.jpg", "obama2.jpg", "obama_small.jpg", "obama-240p.jpg", "obama-480p.jpg", "obama-720p.jpg",
        "obama-1080p.jpg", "biden.jpg", "alex-lacamoire.png", "lin-manuel-miranda.png")},
    "face_recognition_examples/examples/two_people.jpg": 2,
    "face_recognition_examples/examples/knn_examples/test/alex_lacamoire1.jpg": 1,
    "face_recognition_examples/examples/knn_examples/test/johnsnow_test1.jpg": 1,
    "face_recognition_examples/examples/knn_examples/test/kit_with_rose.jpg": 2,
    "face_recognition_examples/examples/knn_examples/test/obama1.jpg": 1,
    "face_recognition_examples/examples/knn_examples/test/obama_and_biden.jpg": 3,  # and a girl at the right
    **{f"face_recognition_examples/tests/test_images/{n}": 1 for n in (
        "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg",
        "32bit.png")},
    "detection_dlib/dogs.jpg": 0,
    "detection_dlib/bald_guys.jpg": 24,
    "detection_dlib/Tom_Cruise_avp_2014_4.jpg": 1,
}


def floor_scan() -> dict:
    """MTCNN at O-net threshold 0.7 once per image (a higher floor is a filter on the score: a
    lower-scored box never suppresses a higher-scored one), boxes mapped dlib-style."""

    det = registry.create("mtcnn", box_style="dlib")
    xml_dets = []
    for name in ("training.xml", "testing.xml"):
        for g in parse_imglab_xml(SHARED / "detection_dlib" / name):
            xml_dets.append((g, det.detect(load_image(g.path))))
    photo_dets = {rel: det.detect(load_image(SHARED / rel)) for rel in EXAMPLE_FACES}
    out = {}
    for floor in FLOORS:
        tp = fp = fn = 0
        for g, dets in xml_dets:
            r = match_detections(g.boxes, [d for d in dets if d.score > floor], ignore=g.ignore)
            tp, fp, fn = tp + r.tp, fp + r.fp, fn + r.fn
        extra = {rel: len([d for d in d_ if d.score > floor]) - EXAMPLE_FACES[rel] for rel, d_ in photo_dets.items()}
        out[str(floor)] = {
            "xml_faces": tp + fn, "xml_recall": tp / (tp + fn), "xml_false_positives": fp,
            "photos_extra_detections": sum(max(0, e) for e in extra.values()),
            "photos_missing_faces": sum(max(0, -e) for e in extra.values()),
            "photos_with_extra": sorted(k for k, e in extra.items() if e > 0),
        }
    scores = sorted(d.score for _, dets in xml_dets for d in dets)
    return {"floors": out, "lowest_xml_detection_scores": scores[:5],
            "photo_scores": {k: [round(d.score, 3) for d in v] for k, v in photo_dets.items() if len(v) != EXAMPLE_FACES[k]}}


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
            k: r[k]
            for k in ("ground_truth", "detections", "tp", "fp", "fn", "recall", "precision", "recall_loose", "ms_per_image")
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
            for p, im, dets in zip(chunk_paths, chunk, out, strict=True):
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

    # 5. MTCNN's score floor
    floors = floor_scan()

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
    print("MTCNN score floor (dlib-style boxes): XML recall / false positives (43 faces), example photos extra / missing")
    for floor, r in floors["floors"].items():
        print(f"  > {floor:<5} {r['xml_recall']:.3f} / {r['xml_false_positives']}   {r['photos_extra_detections']} / "
              f"{r['photos_missing_faces']}  {' '.join(p.split('/')[-1] for p in r['photos_with_extra'])}")
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
            "mtcnn_score_floor": floors,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
