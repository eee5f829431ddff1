"""Where a face detector's box lies inside FER2013's 48×48 frames — the crop that makes a real
photo's face look like a FER2013 face to ``faceprint_fer_cnn``.

FER2013 faces were cropped by the dataset's authors (an automatic detector, then manual
correction) and rescaled to 48×48; nothing records that crop. We measure it: each FER2013
*Training* image is padded by ``--pad`` of its side on every edge (edge replication, so the
detector sees a whole face), upsampled ×``--upsample`` (bilinear), converted to RGB and run
through the detector with the pipeline's options; the most central detection, mapped back to the
48×48 frame, gives the box's size ``s = (w + h)/2`` and centre in FER pixels. The medians give the
crop for a box of size ``S`` in a photo: side ``48/s̃ · S``, centred at the box centre plus
``(24 − c̃x, 24 − c̃y)/s̃ · S`` (:data:`faceprint.models.analyzers.fer_cnn.FER2013_CROP`).

    python benchmarks/fer_crop_geometry.py [--root DIR] [--per-class 150] [--detector mtcnn]

Prints the figures and writes benchmarks/results/fer_crop_geometry.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2] / "data" / "fer2013_train" / "train")
    ap.add_argument("--include", default=r"Training_\d+\.jpg", help="file-name pattern (FER2013's own files)")
    ap.add_argument("--per-class", type=int, default=150, help="images per class (the first N, sorted)")
    ap.add_argument("--detector", default="mtcnn", help="registry detector (pipeline options)")
    ap.add_argument("--pad", type=float, default=0.5, help="padding on each side, fraction of 48")
    ap.add_argument("--upsample", type=int, default=4)
    args = ap.parse_args()
    if not args.root.is_dir():
        sys.exit(f"needs FER2013's Training split at {args.root} (see docs/training.md)")

    import cv2

    from faceprint.models import registry
    from faceprint.models.analyzers.expression import LABELS
    from faceprint.pipeline import detector_defaults
    from faceprint.train.fer_data import scan_fer_folder

    paths, targets = scan_fer_folder(args.root, LABELS, include=args.include, max_per_class=args.per_class)
    det = registry.create(args.detector, **detector_defaults(args.detector))
    pad = int(round(args.pad * 48))
    up = args.upsample
    rows = []
    for p in paths:
        g = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if g is None or g.shape != (48, 48):
            continue
        big = cv2.resize(
            cv2.copyMakeBorder(g, pad, pad, pad, pad, cv2.BORDER_REPLICATE), None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR
        )
        found = det.detect(np.ascontiguousarray(np.repeat(big[:, :, None], 3, axis=2)))
        if not found:
            continue
        centre = big.shape[0] / 2
        b = min(found, key=lambda d: np.hypot((d.box.x1 + d.box.x2) / 2 - centre, (d.box.y1 + d.box.y2) / 2 - centre)).box
        x1, y1, x2, y2 = (v / up - pad for v in (b.x1, b.y1, b.x2, b.y2))
        rows.append(((x2 - x1 + y2 - y1) / 2, (x1 + x2) / 2, (y1 + y2) / 2))
    a = np.asarray(rows)
    s, cx, cy = np.median(a, axis=0)
    side = 48.0 / s
    dx, dy = (24.0 - cx) / s, (24.0 - cy) / s
    q = lambda v: [round(float(t), 3) for t in np.percentile(v, [10, 25, 50, 75, 90])]  # noqa: E731
    print(f"{args.detector}: {len(a)}/{len(paths)} FER2013 training faces detected")
    print(f"box size in the 48x48 frame: median {s:.2f} px (p10..p90 {q(a[:, 0])})")
    print(f"box centre: x {cx:.2f}, y {cy:.2f} (frame centre 24, 24)")
    print(f"=> crop side {side:.3f} x box size, centre offset ({dx:+.3f}, {dy:+.3f}) x box size")
    write_result(
        f"fer_crop_geometry_{args.detector}",
        {
            "detector": args.detector,
            "detector_options": {k: list(v) if isinstance(v, tuple) else v for k, v in detector_defaults(args.detector).items()},
            "images": len(paths),
            "detected": len(a),
            "box_size_px": {"median": round(float(s), 3), "p10_25_50_75_90": q(a[:, 0])},
            "box_centre_px": {"x": round(float(cx), 3), "y": round(float(cy), 3)},
            "crop_side_over_box": round(float(side), 4),
            "crop_centre_offset_over_box": [round(float(dx), 4), round(float(dy), 4)],
            "pad": args.pad,
            "upsample": up,
            "command": f"python benchmarks/fer_crop_geometry.py --detector {args.detector} --per-class {args.per_class}",
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
