#!/usr/bin/env python
"""Derive the ``eyes_nose_mouth5`` targets of the ``dlib_150_pad025`` alignment template.

MTCNN-style landmarks (eye centres, nose tip, mouth corners) mean different things from dlib's 5 points
(eye corners, nose base), so dlib's template cannot be used for them directly. This script measures where
those five points fall in dlib's own chip:

1. take the first ``--n`` LFW images in sorted path order;
2. detect faces with dlib's HOG detector (upsampled ``--upsample`` times); skip images without exactly
   one face, or whose face box is narrower than ``--min-size`` pixels;
3. fit dlib's 5-point shape (shape_predictor_5_face_landmarks.dat) and the 68-point shape
   (shape_predictor_68_face_landmarks.dat) in the same box;
4. MTCNN-style points from the 68: eye centres = mean of points 36–41 and 42–47, nose tip = 30, mouth
   corners = 48 and 54;
5. map them through the inverse of the face's dlib 5-point template fit (template chip coordinates →
   image, see faceprint.align.dlib_chip) and take the per-coordinate median over all faces.

It prints the constants (paste them into src/faceprint/align/templates.py, DLIB150_EYES_NOSE_MOUTH5) and
how well the derived template reproduces the dlib 5-point chips (chip-corner displacement).

Run:  python scripts/derive_templates.py [--lfw ../shared/data/lfw] [--n 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    ap.add_argument("--n", type=int, default=400, help="number of LFW images to scan (sorted order)")
    ap.add_argument("--upsample", type=int, default=1)
    ap.add_argument("--min-size", type=float, default=80.0, help="minimum face box width in pixels")
    args = ap.parse_args(argv)

    import dlib

    from faceprint.align.dlib_chip import (
        DLIB5_MEAN_FACE,
        DLIB68_MEAN_FACE,
        chip_details_from_points,
        mapping_to_chip,
        padded_template_points,
    )
    from faceprint.align.similarity import apply_affine, estimate_similarity, invert_affine
    from faceprint.io import load_image
    from faceprint.models.sources import package_file

    images = sorted((args.lfw / "images").glob("*/*.jpg"))[: args.n]
    if not images:
        print(f"no LFW images under {args.lfw}/images", file=sys.stderr)
        return 2
    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(
        str(package_file("face_recognition_models", "models/shape_predictor_5_face_landmarks.dat"))
    )
    sp68 = dlib.shape_predictor(
        str(package_file("face_recognition_models", "models/shape_predictor_68_face_landmarks.dat"))
    )
    size, padding = 150, 0.25
    tmpl5 = padded_template_points(DLIB5_MEAN_FACE, size, padding)
    idx68 = [i for i, _, _ in DLIB68_MEAN_FACE]
    tmpl68 = padded_template_points(np.array([(x, y) for _, x, y in DLIB68_MEAN_FACE]), size, padding)

    t0 = time.perf_counter()
    pts_tmpl: list[np.ndarray] = []
    pts_img: list[np.ndarray] = []
    details5 = []
    details68 = []
    skipped = {"faces!=1": 0, "small": 0}
    for path in images:
        img = load_image(path)
        dets = detector(img, args.upsample)
        if len(dets) != 1:
            skipped["faces!=1"] += 1
            continue
        rect = dets[0]
        if rect.width() < args.min_size:
            skipped["small"] += 1
            continue
        s5 = np.array([(p.x, p.y) for p in sp5(img, rect).parts()], dtype=np.float64)
        s68 = np.array([(p.x, p.y) for p in sp68(img, rect).parts()], dtype=np.float64)
        enm = np.stack([s68[36:42].mean(0), s68[42:48].mean(0), s68[30], s68[48], s68[54]])
        t = estimate_similarity(tmpl5, s5)  # dlib's fit: template chip coords -> image
        pts_tmpl.append(apply_affine(invert_affine(t), enm))
        pts_img.append(enm)
        details5.append(chip_details_from_points(tmpl5, s5, (size, size)))
        details68.append(chip_details_from_points(tmpl68, s68[idx68], (size, size)))
    elapsed = time.perf_counter() - t0
    n = len(pts_tmpl)
    if n == 0:
        print("no usable faces", file=sys.stderr)
        return 1
    stack = np.stack(pts_tmpl)  # (n, 5, 2)
    med = np.median(stack, axis=0)
    mad = np.median(np.abs(stack - med), axis=0)

    names = ("eye_left", "eye_right", "nose_tip", "mouth_left", "mouth_right")
    print(f"scanned {len(images)} LFW images in {elapsed:.1f} s; used {n} faces; skipped {skipped}")
    print("per-point median (chip px, 150x150, padding 0.25) and median absolute deviation:")
    for name, (x, y), (mx, my) in zip(names, med, mad, strict=True):
        print(f"  {name:12s} x={x:9.4f} y={y:9.4f}   MAD x={mx:.3f} y={my:.3f}")

    # How closely does the derived template reproduce each face's dlib 5-point chip? For scale, the same
    # figures for dlib's own 68-point chip (what dlib.get_face_chip gives for a 68-point shape).
    corners = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], dtype=np.float64)

    def compare(m_other: np.ndarray, m5: np.ndarray) -> tuple[float, float, float, float]:
        to_img = invert_affine(m5)
        moved = apply_affine(m_other, apply_affine(to_img, corners))  # dlib5 chip corners in the other chip
        corner = float(np.linalg.norm(moved - corners, axis=1).max())
        centre = float(np.linalg.norm(moved.mean(0) - corners.mean(0)))
        rel = m_other[:, :2] @ to_img[:, :2]  # rotation·scale of the other chip relative to dlib5's
        return corner, centre, float(np.degrees(np.arctan2(rel[1, 0], rel[0, 0]))), float(np.hypot(*rel[:, 0]))

    for label, others in (
        ("derived eyes_nose_mouth5 template", [chip_details_from_points(med, e, (size, size)) for e in pts_img]),
        ("dlib's own 68-point chip (reference)", details68),
    ):
        stats = np.array([compare(mapping_to_chip(o), mapping_to_chip(d)) for o, d in zip(others, details5, strict=True)])
        corner, centre = stats[:, 0], stats[:, 1]
        rot, dscale = np.abs(stats[:, 2]), np.abs(stats[:, 3] - 1) * 100

        def fmt(a: np.ndarray) -> str:
            return f"{np.median(a):.2f} [{np.percentile(a, 90):.2f}]"

        print(f"{label} vs the dlib 5-point chip, median [90th percentile]:")
        print(
            f"  worst chip-corner displacement {fmt(corner)} px, centre shift {fmt(centre)} px, "
            f"|rotation| {fmt(rot)} deg, |scale - 1| {fmt(dscale)} %"
        )
    print("\nDLIB150_EYES_NOSE_MOUTH5: tuple[tuple[float, float], ...] = (")
    for x, y in med:
        print(f"    ({x:.4f}, {y:.4f}),")
    print(")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
