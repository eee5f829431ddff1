"""Model selection for the default pipeline on LFW View 1 only (View 2 stays untouched for the final run).

Every candidate pipeline embeds the 4,992 images of ``pairsDevTrain.txt`` + ``pairsDevTest.txt``
(one face per image: the detection nearest the centre; the central-box fallback when there is
none, as in the protocol runner) and is scored by cosine similarity:

* DevTrain (1,100 + 1,100 pairs; used for choosing): accuracy at the best threshold (optimistic by
  construction), ROC AUC, EER, TAR at FAR 1e-2 / 1e-3;
* DevTest (500 + 500 pairs; used to confirm): accuracy at DevTrain's threshold and at its own best
  threshold, ROC AUC.

Detection runs once per image (dlib HOG upsample 1; MTCNN at O-net threshold 0.7, keeping every
score, so a higher floor is a filter — exactly what the cascade does with a higher O-net threshold,
since a lower-scored box never suppresses a higher-scored one). Candidates differ in detector, the
box given to the shape predictor (MTCNN's own or :func:`~faceprint.models.detectors.mtcnn.dlib_style_box`),
landmarks (dlib 5-point, dlib 68-point, MTCNN's own points with the derived template) and chip
test-time augmentation (mirror, several deterministic chips, or dlib's random ``jitter_image``).
The last row runs the shipped default (``PipelineConfig()``) through :func:`run_pairs` itself.

    .venv/bin/python benchmarks/lfw_view1_candidates.py [--skip-jitter]

Prints a table and writes benchmarks/results/lfw_view1_candidates.json (~10 min on 2 cores).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from _common import SHARED, write_result
from faceprint.align import align_face
from faceprint.eval import metrics
from faceprint.eval.embedding_cache import EmbeddingCache
from faceprint.eval.protocols.pairs import read_lfw_pairs, run_pairs
from faceprint.io import load_image
from faceprint.models import registry
from faceprint.models.detectors.mtcnn import dlib_style_box
from faceprint.pipeline import Pipeline, PipelineConfig, central_box, prominence_order
from faceprint.types import Face, Landmarks

FILES = ("pairsDevTrain.txt", "pairsDevTest.txt")

# name: (detector, MTCNN floor, box for the landmarker, landmarks, chips)
CANDIDATES: dict[str, tuple[str, float, str, str, str]] = {
    "HOG up1 + dlib 5-pt (old default)": ("hog", 0, "-", "shape5", "one"),
    "MTCNN own 5 pts + template": ("mtcnn", 0.7, "-", "own", "one"),
    "MTCNN box -> dlib 5-pt": ("mtcnn", 0.7, "mtcnn", "shape5", "one"),
    "MTCNN dlib-style box -> dlib 5-pt": ("mtcnn", 0.7, "dlib", "shape5", "one"),
    "  same, score floor 0.9": ("mtcnn", 0.9, "dlib", "shape5", "one"),
    "  same, score floor 0.95": ("mtcnn", 0.95, "dlib", "shape5", "one"),
    "HOG, else MTCNN dlib-style box": ("hog+mtcnn", 0.9, "dlib", "shape5", "one"),
    "MTCNN dlib-style box -> dlib 68-pt": ("mtcnn", 0.9, "dlib", "shape68", "one"),
    "HOG up1 + dlib 5-pt, + mirror": ("hog", 0, "-", "shape5", "flip"),
    "MTCNN dlib-box 5-pt, + mirror": ("mtcnn", 0.9, "dlib", "shape5", "flip"),
    "  + own-points chip, both mirrored (4)": ("mtcnn", 0.9, "dlib", "shape5", "own4"),
    "  + scales 0.95/1.05, all mirrored (6)": ("mtcnn", 0.9, "dlib", "shape5", "scale6"),
    "  dlib jitter_image x10 (random)": ("mtcnn", 0.9, "dlib", "shape5", "jitter10"),
}


def nearest_centre(dets: list, shape: tuple[int, ...]):
    if not dets:
        return None
    h, w = shape[:2]
    faces = prominence_order([Face(d) for d in dets])  # the pipeline's order, then select 'center'
    return min(faces, key=lambda f: (f.box.center[0] - w / 2) ** 2 + (f.box.center[1] - h / 2) ** 2).detection


def scaled(lm: Landmarks, s: float) -> Landmarks:
    c = lm.points.mean(axis=0)
    return Landmarks((lm.points - c) * s + c, lm.scheme)


class Candidates:
    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.hog = registry.create("dlib_hog", upsample=1)
        self.mtcnn = registry.create("mtcnn")  # O-net 0.7, MTCNN's own boxes; floors applied here
        self.shape = {"shape5": registry.create("dlib_shape5"), "shape68": registry.create("dlib_shape68")}
        self.embedder = registry.create("dlib_resnet_v1")
        self.template = self.embedder.card.template
        t = time.perf_counter()
        self.dets = {}
        for p in paths:
            img = load_image(p)
            self.dets[p] = (img.shape, self.hog.detect(img), self.mtcnn.detect(img))
        self.detect_s = time.perf_counter() - t

    def embed(self, spec: tuple[str, float, str, str, str]) -> tuple[dict[str, np.ndarray], int]:
        det_kind, floor, box_kind, lm_kind, chips_kind = spec
        vecs, fallback = {}, 0
        for p in self.paths:
            img = load_image(p)
            shape, hog, mt = self.dets[p]
            det = nearest_centre(hog, shape) if det_kind.startswith("hog") else None
            box = det.box if det is not None else None
            if det is None and "mtcnn" in det_kind:
                det = nearest_centre([d for d in mt if d.score > floor], shape)
                if det is not None:
                    box = dlib_style_box(det.box).clip(shape[1], shape[0]) if box_kind == "dlib" else det.box
            if det is None:
                fallback += 1
                box = central_box(shape)
            if lm_kind == "own" and det is not None and det.landmarks is not None:
                lm = det.landmarks
            else:
                lm = self.shape["shape68" if lm_kind == "shape68" else "shape5"].landmarks(img, [box])[0]
            chip = align_face(img, lm, self.template).chip
            if chips_kind == "one":
                chips = [chip]
            elif chips_kind == "flip":
                chips = [chip, chip[:, ::-1]]
            elif chips_kind == "own4":
                own = det.landmarks if det is not None and det.landmarks is not None else lm
                c2 = align_face(img, own, self.template).chip
                chips = [chip, chip[:, ::-1], c2, c2[:, ::-1]]
            elif chips_kind == "scale6":
                chips = [chip]
                for s in (0.95, 1.05):
                    chips.append(align_face(img, scaled(lm, s), self.template).chip)
                chips += [c[:, ::-1] for c in chips]
            else:  # jitterN: dlib's random crops/flips of the chip (its published LFW figure used 100)
                import dlib

                chips = dlib.jitter_image(np.ascontiguousarray(chip), num_jitters=int(chips_kind[6:]))
            raw = self.embedder.embed_chips(np.ascontiguousarray(np.stack(chips))).mean(axis=0)
            vecs[p] = raw / np.linalg.norm(raw)
        return vecs, fallback


def evaluate(scores_labels: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    s1, y1 = scores_labels[FILES[0]]
    s2, y2 = scores_labels[FILES[1]]
    thr, acc1 = metrics.best_threshold(s1, y1)
    return {
        "devtrain": {
            "accuracy": acc1, "threshold": thr, "roc_auc": metrics.roc_auc(s1, y1), "eer": metrics.eer(s1, y1)[0],
            "tar_at_far_1e-2": metrics.tar_at_far(s1, y1, 1e-2).tar, "tar_at_far_1e-3": metrics.tar_at_far(s1, y1, 1e-3).tar,
        },
        "devtest": {
            "accuracy_at_devtrain_threshold": metrics.accuracy_at(s2, y2, thr),
            "accuracy_best": metrics.best_threshold(s2, y2)[1], "roc_auc": metrics.roc_auc(s2, y2),
        },
    }


def line(name: str, r: dict[str, Any]) -> str:
    a, b = r["devtrain"], r["devtest"]
    return (f"{name:<42}{a['accuracy'] * 100:7.2f}{a['roc_auc']:9.5f}{a['tar_at_far_1e-3']:7.3f}  "
            f"{b['accuracy_at_devtrain_threshold'] * 100:7.2f}{b['accuracy_best'] * 100:7.2f}{b['roc_auc']:9.5f}"
            f"{r['chips_per_face']:4d}{r['no_face']:4d}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-jitter", action="store_true", help="leave out the dlib jitter row (the slowest)")
    args = ap.parse_args()
    root = SHARED / "lfw"
    sets = {f: read_lfw_pairs(root / f, root) for f in FILES}
    paths = list(dict.fromkeys(str(p) for ps in sets.values() for p in ps.images))
    print(f"LFW View 1: {len(paths)} images; detecting once ...", flush=True)
    cands = Candidates(paths)
    print("DevTrain: accuracy (best threshold), AUC, TAR@FAR=1e-3 | DevTest: accuracy at DevTrain's threshold, "
          "at its own best, AUC | chips per face, no-face images")
    print(f"{'candidate':<42}{'acc':>7}{'AUC':>9}{'TAR':>7}  {'acc@thr':>7}{'best':>7}{'AUC':>9}{'k':>4}{'nf':>4}")
    rows: dict[str, Any] = {}
    n_chips = {"one": 1, "flip": 2, "own4": 4, "scale6": 6}
    for name, spec in CANDIDATES.items():
        if args.skip_jitter and spec[4].startswith("jitter"):
            continue
        t = time.perf_counter()
        vecs, fallback = cands.embed(spec)
        sl = {}
        for f, ps in sets.items():
            s = np.array([float(vecs[str(p.a)] @ vecs[str(p.b)]) for p in ps.pairs])
            sl[f] = (s, np.array([p.same for p in ps.pairs]))
        r = evaluate(sl)
        r.update(spec=dict(zip(("detector", "mtcnn_floor", "landmarker_box", "landmarks", "chips"), spec)),
                 chips_per_face=n_chips.get(spec[4], int(spec[4][6:]) if spec[4].startswith("jitter") else 1),
                 no_face=fallback, seconds=time.perf_counter() - t)
        rows[name] = r
        print(line(name, r), flush=True)

    # the shipped default, end to end through the protocol runner (embedding cache)
    pipe = Pipeline.from_config(PipelineConfig())
    reps = {f: run_pairs(ps, pipe, cache=EmbeddingCache()) for f, ps in sets.items()}
    r = evaluate({f: (rep["_scores"], rep["_labels"]) for f, rep in reps.items()})
    r.update(spec={"pipeline": pipe.config.signature()}, chips_per_face=2, no_face=sum(rep["no_face"]["count"] for rep in reps.values()))
    name = "shipped default via run_pairs"
    rows[name] = r
    print(line(name, r))
    write_result("lfw_view1_candidates", {"n_images": len(paths), "detect_seconds": cands.detect_s, "rows": rows})


if __name__ == "__main__":
    main()
