"""Fit the score fusion ``dlib_resnet_v1+sface`` on LFW View 1 DevTrain and confirm it on DevTest.

Runs the fusion pipeline's own chips (MTCNN, O-net ≥ 0.9, its five points → ``fusion_canvas`` →
each member's chip cut from the canvas; dlib mirror-averaged) over the 4,992 View 1 images, then:

1. per-member cosine statistics (mean, std) over all DevTrain pairs → ``cards/<name>.fusion.json``;
2. the fused embedding's cosine of best DevTrain accuracy → ``cards/<name>.calibration.json``;
3. DevTrain / DevTest figures of each member and of the fusion → benchmarks/results/fusion_calibrate.json.

Images where MTCNN finds no face at 0.9 use its best box at 0.7, else the central box with rough
points from dlib's 5-point predictor (View 1: 1 image).

    PYTHONPATH=src .venv/bin/python benchmarks/fusion_calibrate.py [--write-cards]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _common import SHARED, write_result
from faceprint.align import align_face
from faceprint.eval.protocols.pairs import read_lfw_pairs
from faceprint.io import load_image
from faceprint.matching.calibration import ThresholdCalibrator
from faceprint.models import registry
from faceprint.models.embedders import fusion
from faceprint.pipeline import central_box
from faceprint.types import Landmarks
from lfw_view1_candidates import FILES, _arcface_points_from_dlib5, evaluate, nearest_centre

CARDS = Path(fusion.__file__).resolve().parents[1] / "cards"


def canvases(paths: list[str]) -> tuple[np.ndarray, int]:
    mt = registry.create("mtcnn", thresholds=(0.6, 0.7, 0.7))
    shape5 = registry.create("dlib_shape5")
    fusion.ensure_canvas_template()
    out, fallback = [], 0
    for p in paths:
        img = load_image(p)
        dets = mt.detect(img)
        d = nearest_centre([x for x in dets if x.score >= 0.9], img.shape) or nearest_centre(dets, img.shape)
        if d is None or d.landmarks is None:
            fallback += 1
            lm = Landmarks(_arcface_points_from_dlib5(shape5.landmarks(img, [central_box(img.shape)])[0]), "eyes_nose_mouth5")
        else:
            fallback += int(d.score < 0.9)
            lm = d.landmarks
        out.append(align_face(img, lm, fusion.CANVAS_TEMPLATE).chip)
    return np.stack(out), fallback


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-cards", action="store_true", help="write the .fusion.json and .calibration.json cards")
    args = ap.parse_args()
    root = SHARED / "lfw"
    sets = {f: read_lfw_pairs(root / f, root) for f in FILES}
    paths = list(dict.fromkeys(str(q) for ps in sets.values() for pr in ps.pairs for q in (pr.a, pr.b)))
    t = time.perf_counter()
    canv, fallback = canvases(paths)
    print(f"{len(paths)} canvases in {time.perf_counter() - t:.0f} s ({fallback} below the 0.9 floor or none)", flush=True)
    dummy = {m: {"mean": 0.0, "std": 1.0} for m in fusion.MEMBERS}
    emb = fusion.FusionEmbedder(statistics=dummy)
    emb.unit_vectors(canv[:2])  # warm up
    t = time.perf_counter()
    units = {m: [] for m in fusion.MEMBERS}
    for i in range(0, len(canv), 32):
        for m, u in emb.unit_vectors(canv[i : i + 32]).items():
            units[m].append(u)
    ms = (time.perf_counter() - t) / len(canv) * 1e3
    idx = {p: i for i, p in enumerate(paths)}
    u = {m: np.concatenate(v) for m, v in units.items()}
    scores = {f: {m: np.array([float(u[m][idx[str(pr.a)]] @ u[m][idx[str(pr.b)]]) for pr in ps.pairs]) for m in fusion.MEMBERS}
              for f, ps in sets.items()}
    labels = {f: np.array([pr.same for pr in ps.pairs]) for f, ps in sets.items()}
    stats = fusion.fit_statistics(scores[FILES[0]])
    w = fusion.combine(u, stats, fusion.MEMBERS)
    fused = {f: np.array([float(w[idx[str(pr.a)]] @ w[idx[str(pr.b)]]) for pr in ps.pairs]) for f, ps in sets.items()}
    # the closed form, checked on the real scores
    z = {f: fusion.fused_z(scores[f], stats, fusion.MEMBERS) for f in FILES}
    gap = max(float(np.max(np.abs(fusion.z_to_cosine(z[f], stats, fusion.MEMBERS) - fused[f]))) for f in FILES)
    rows = {m: evaluate({f: (scores[f][m], labels[f]) for f in FILES}) for m in fusion.MEMBERS}
    rows[fusion.NAME] = evaluate({f: (fused[f], labels[f]) for f in FILES})
    for name, r in rows.items():
        a, b = r["devtrain"], r["devtest"]
        print(f"{name:<24} DevTrain {a['accuracy'] * 100:.2f} AUC {a['roc_auc']:.5f} TAR@1e-3 {a['tar_at_far_1e-3']:.3f} | "
              "DevTest"
              f"  {b['accuracy_at_devtrain_threshold'] * 100:.2f} (best {b['accuracy_best'] * 100:.2f}) AUC {b['roc_auc']:.5f}")
    print(f"fusion ms/face (both members, dlib mirrored) {ms:.1f}; closed-form max |cos - z_to_cosine(z)| {gap:.2e}")
    source = (
        "LFW View 1 pairsDevTrain.txt (1100 genuine / 1100 impostor pairs); pipeline det=mtcnn@1[thresholds=(0.6, 0.7, 0.9)] "
        f"own 5 points -> {fusion.CANVAS_TEMPLATE} -> members {', '.join(fusion.MEMBERS)} (dlib mirrored); "
        "threshold of best accuracy; made by `benchmarks/fusion_calibrate.py --write-cards`"
    )
    if args.write_cards:
        cal = ThresholdCalibrator(target_far=None, model=f"{fusion.NAME}@1").fit(fused[FILES[0]], labels[FILES[0]], source=source)
        (CARDS / f"{fusion.NAME}.calibration.json").write_text(json.dumps(cal.to_dict(), indent=1) + "\n")
        doc = {"format": fusion.FORMAT, "model": f"{fusion.NAME}@1", "members": list(fusion.MEMBERS), "flip": ["dlib_resnet_v1"],
               "statistics": stats, "z_threshold": float(fusion.cosine_to_z(cal.threshold_, stats, fusion.MEMBERS)),
               "source": source.replace("threshold of best accuracy; ", "mean and std of each member's cosine over all pairs; ")}
        (CARDS / f"{fusion.NAME}.fusion.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {fusion.NAME}.fusion.json and .calibration.json (threshold {cal.threshold_:.6f})")
    write_result("fusion_calibrate", {"n_images": len(paths), "fallback": fallback, "ms_per_face": ms, "statistics": stats,
                                      "closed_form_gap": gap, "rows": rows})


if __name__ == "__main__":
    main()
