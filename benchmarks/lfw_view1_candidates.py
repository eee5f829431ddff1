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

``--new-models`` runs the issue-12 candidates instead (SFace fp32/int8, YuNet, score fusion with the
dlib ResNet; :func:`new_models`) and writes benchmarks/results/lfw_view1_new_models.json, plus the
per-pair scores (``--scores-out``, outside the repository) from which the fusion statistics and
the thresholds in ``faceprint/models/cards/`` are fitted on DevTrain.
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


def _zfused(rows: dict[str, Any], parts: tuple[str, ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean z-score of the parts' cosine scores, statistics (all DevTrain pairs) from DevTrain only."""
    stats = {}
    for part in parts:
        s = rows[part]["_scores"][FILES[0]][0]
        stats[part] = (float(s.mean()), float(s.std()))
    out = {}
    for f in FILES:
        z = [(rows[part]["_scores"][f][0] - stats[part][0]) / stats[part][1] for part in parts]
        out[f] = (np.mean(z, axis=0), rows[parts[0]]["_scores"][f][1])
    return out, stats


def new_models(sets: dict[str, Any], paths: list[str], scores_out: str | None) -> None:
    """Issue 12's candidates on View 1: detectors MTCNN (O-net ≥ 0.9) and YuNet (score ≥ 0.5, own 5
    points), embedders dlib ResNet (the default's chips: dlib-style MTCNN box → dlib 5-point → dlib chip,
    mirror-averaged), SFace fp32 / int8 (ArcFace-template chip from the detector's 5 points, no mirror),
    and the z-score fusion of dlib + SFace. ms/face = embedding time per face (network passes included)."""
    import json

    from faceprint.align import align_face
    from faceprint.models.detectors.yunet import YuNetDetector

    mt = registry.create("mtcnn", thresholds=(0.6, 0.7, 0.9))
    yn = registry.create("yunet", score_threshold=0.5)
    assert isinstance(yn, YuNetDetector)
    shape5 = registry.create("dlib_shape5")
    dlib = registry.create("dlib_resnet_v1")
    sface = {"sface": registry.create("sface"), "sface_int8": registry.create("sface_int8")}
    det_s = {"mtcnn": 0.0, "yunet": 0.0}
    chips: dict[str, dict[str, np.ndarray]] = {k: {} for k in ("dlib_mtcnn", "arc_mtcnn", "arc_yunet", "dlib_yunet")}
    no_face = {"mtcnn": 0, "yunet": 0}
    warm = load_image(paths[0])
    mt.detect(warm), yn.detect(warm)
    for p in paths:
        img = load_image(p)
        for name, det in (("mtcnn", mt), ("yunet", yn)):
            t = time.perf_counter()
            d = nearest_centre(det.detect(img), img.shape)
            det_s[name] += time.perf_counter() - t
            if d is None:
                no_face[name] += 1
                box = central_box(img.shape)
                lm5 = shape5.landmarks(img, [box])[0]
                own = None
            else:
                box = dlib_style_box(d.box).clip(img.shape[1], img.shape[0]) if name == "mtcnn" else d.box
                lm5 = shape5.landmarks(img, [box])[0]
                own = d.landmarks
            dchip = align_face(img, lm5, dlib.card.template).chip
            if own is None:  # fallback: the dlib chip's geometry has no ArcFace points; use dlib 5 -> none
                own = Landmarks(_arcface_points_from_dlib5(lm5), "eyes_nose_mouth5")
            chips[f"dlib_{name}"][p] = dchip
            chips[f"arc_{name}"][p] = align_face(img, own, "arcface_112").chip
    print(f"detection: MTCNN {det_s['mtcnn'] / len(paths) * 1e3:.1f} ms/image, YuNet {det_s['yunet'] / len(paths) * 1e3:.1f}"
          f" ms/image; no-face images MTCNN {no_face['mtcnn']}, YuNet {no_face['yunet']}", flush=True)

    def run(emb: Any, key: str, flip: bool) -> tuple[dict[str, np.ndarray], float]:
        arr = np.stack([chips[key][p] for p in paths])
        emb.embed_chips(arr[:2])  # load / warm up outside the timing
        t = time.perf_counter()
        raw = np.concatenate([emb.embed_chips(arr[i : i + 32]) for i in range(0, len(arr), 32)])
        if flip:
            raw = (raw + np.concatenate([emb.embed_chips(np.ascontiguousarray(arr[i : i + 32, :, ::-1]))
                                         for i in range(0, len(arr), 32)])) / 2
        ms = (time.perf_counter() - t) / len(arr) * 1e3
        raw = raw / np.linalg.norm(raw, axis=1, keepdims=True)
        return dict(zip(paths, raw, strict=True)), ms

    specs = {
        "dlib (default: MTCNN dlib-box 5-pt, mirror)": (dlib, "dlib_mtcnn", True, "mtcnn"),
        "dlib, YuNet box -> dlib 5-pt, mirror": (dlib, "dlib_yunet", True, "yunet"),
        "SFace fp32, MTCNN 5 pts": (sface["sface"], "arc_mtcnn", False, "mtcnn"),
        "SFace int8, MTCNN 5 pts": (sface["sface_int8"], "arc_mtcnn", False, "mtcnn"),
        "SFace fp32, YuNet 5 pts": (sface["sface"], "arc_yunet", False, "yunet"),
        "SFace int8, YuNet 5 pts": (sface["sface_int8"], "arc_yunet", False, "yunet"),
    }
    rows: dict[str, Any] = {}
    print(f"{'candidate':<42}{'acc':>7}{'AUC':>9}{'TAR':>7}  {'acc@thr':>7}{'best':>7}{'AUC':>9}  ms/face")
    for name, (emb, key, flip, detname) in specs.items():
        vecs, ms = run(emb, key, flip)
        sl = {}
        for f, ps in sets.items():
            sc = np.array([float(vecs[str(pr.a)] @ vecs[str(pr.b)]) for pr in ps.pairs])
            sl[f] = (sc, np.array([pr.same for pr in ps.pairs]))
        r = evaluate(sl)
        r.update(chips_per_face=2 if flip else 1, no_face=no_face[detname], ms_per_face=ms,
                 detect_ms_per_image=det_s[detname] / len(paths) * 1e3, _scores=sl)
        rows[name] = r
        print(line(name, r) + f"  {ms:6.1f}", flush=True)
    fusions = {
        "fusion dlib+SFace fp32 (MTCNN)": ("dlib (default: MTCNN dlib-box 5-pt, mirror)", "SFace fp32, MTCNN 5 pts"),
        "fusion dlib+SFace int8 (MTCNN)": ("dlib (default: MTCNN dlib-box 5-pt, mirror)", "SFace int8, MTCNN 5 pts"),
        "fusion dlib+SFace fp32 (YuNet)": ("dlib, YuNet box -> dlib 5-pt, mirror", "SFace fp32, YuNet 5 pts"),
        "fusion dlib+SFace int8 (YuNet)": ("dlib, YuNet box -> dlib 5-pt, mirror", "SFace int8, YuNet 5 pts"),
    }
    for name, parts in fusions.items():
        sl, stats = _zfused(rows, parts)
        r = evaluate(sl)
        r.update(chips_per_face=3, no_face=rows[parts[0]]["no_face"], ms_per_face=sum(rows[q]["ms_per_face"] for q in parts),
                 detect_ms_per_image=rows[parts[0]]["detect_ms_per_image"], fusion_stats=stats, _scores=sl)
        rows[name] = r
        print(line(name, r) + f"  {r['ms_per_face']:6.1f}", flush=True)
    if scores_out:
        dump = {n: {f: {"scores": [float(x) for x in r["_scores"][f][0]], "labels": [bool(x) for x in r["_scores"][f][1]]}
                    for f in FILES} for n, r in rows.items()}
        with open(scores_out, "w") as fh:
            json.dump(dump, fh)
    for r in rows.values():
        r.pop("_scores")
    write_result("lfw_view1_new_models", {"n_images": len(paths), "rows": rows})


#: shipped calibrations fitted from --new-models scores: model -> (candidate row, pipeline signature)
_OWN5 = "det=mtcnn@1[thresholds=(0.6, 0.7, 0.9)] own 5 points;lm=-;emb={}@1[];align=arcface_112"
CALIBRATED = {
    "sface": ("SFace fp32, MTCNN 5 pts", _OWN5.format("sface")),
    "sface_int8": ("SFace int8, MTCNN 5 pts", _OWN5.format("sface_int8")),
}


def write_calibrations(scores_json: str) -> None:
    """Fit each :data:`CALIBRATED` model's threshold of best accuracy on DevTrain scores only and
    write ``faceprint/models/cards/<model>.calibration.json``."""
    import json
    from pathlib import Path

    from faceprint.matching.calibration import ThresholdCalibrator

    cards = Path(registry.__file__).resolve().parent / "cards"
    with open(scores_json) as fh:
        data = json.load(fh)
    for model, (row, pipeline) in CALIBRATED.items():
        d = data[row][FILES[0]]
        source = (f"LFW View 1 pairsDevTrain.txt (1100 genuine / 1100 impostor pairs), pipeline {pipeline}, threshold of "
                  "best accuracy; made by `benchmarks/lfw_view1_candidates.py --new-models --scores-out S` "
                  "then `--calibrate-from S`")
        cal = ThresholdCalibrator(target_far=None, model=registry.get_card(model).tag)
        cal.fit(np.array(d["scores"]), np.array(d["labels"]), source=source)
        (cards / f"{model}.calibration.json").write_text(json.dumps(cal.to_dict(), indent=1) + "\n")
        print(f"{model}: threshold {cal.threshold_:.6f}, DevTrain accuracy {cal.accuracy_ * 100:.2f} %")


def _arcface_points_from_dlib5(lm5: Landmarks) -> np.ndarray:
    """Rough ArcFace 5 points from dlib's 5 (eye centres from the corners; nose base for the tip;
    mouth corners below the eyes): only for images where the detector found nothing."""
    p = lm5.points.astype(np.float64)
    eye_img_left = (p[2] + p[3]) / 2  # the subject's right eye (image left)
    eye_img_right = (p[0] + p[1]) / 2
    nose = p[4]
    down = nose - (eye_img_left + eye_img_right) / 2
    return np.stack([eye_img_left, eye_img_right, nose, eye_img_left + 1.6 * down, eye_img_right + 1.6 * down])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-jitter", action="store_true", help="leave out the dlib jitter row (the slowest)")
    ap.add_argument("--new-models", action="store_true", help="run the SFace / YuNet / fusion candidates (issue 12)")
    ap.add_argument("--scores-out", help="with --new-models: write every candidate's per-pair scores to this JSON file")
    ap.add_argument("--calibrate-from", help="write the SFace calibration cards from a --scores-out file, and stop")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N pairs of each file (smoke runs)")
    args = ap.parse_args()
    if args.calibrate_from:
        write_calibrations(args.calibrate_from)
        return
    if args.new_models:
        root = SHARED / "lfw"
        sets = {f: read_lfw_pairs(root / f, root) for f in FILES}
        if args.limit:
            from dataclasses import replace

            sets = {f: replace(ps, pairs=ps.pairs[: args.limit] + ps.pairs[-args.limit :]) for f, ps in sets.items()}
        paths = list(dict.fromkeys(str(q) for ps in sets.values() for pr in ps.pairs for q in (pr.a, pr.b)))
        print(f"LFW View 1: {len(paths)} images", flush=True)
        new_models(sets, paths, args.scores_out)
        return
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
        r.update(spec=dict(zip(("detector", "mtcnn_floor", "landmarker_box", "landmarks", "chips"), spec, strict=True)),
                 chips_per_face=n_chips.get(spec[4], int(spec[4][6:]) if spec[4].startswith("jitter") else 1),
                 no_face=fallback, seconds=time.perf_counter() - t)
        rows[name] = r
        print(line(name, r), flush=True)

    # the shipped default, end to end through the protocol runner (embedding cache)
    pipe = Pipeline.from_config(PipelineConfig())
    reps = {f: run_pairs(ps, pipe, cache=EmbeddingCache()) for f, ps in sets.items()}
    r = evaluate({f: (rep["_scores"], rep["_labels"]) for f, rep in reps.items()})
    r.update(spec={"pipeline": pipe.config.signature()}, chips_per_face=2,
             no_face=sum(rep["no_face"]["count"] for rep in reps.values()))
    name = "shipped default via run_pairs"
    rows[name] = r
    print(line(name, r))
    write_result("lfw_view1_candidates", {"n_images": len(paths), "detect_seconds": cands.detect_s, "rows": rows})


if __name__ == "__main__":
    main()
