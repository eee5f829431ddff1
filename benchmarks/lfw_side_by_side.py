"""LFW View 2 through one protocol runner: every candidate pipeline of issue 12 (the named presets
and YuNet + SFace int8) and face_recognition 1.3.0 (its documented defaults: HOG detector upsampled
once, 5-point landmarks, one jitter, Euclidean distance), in one run. Prints one row each and writes
benchmarks/results/lfw_side_by_side.json.

Every row uses the same no-face policy (:func:`faceprint.eval.protocols.pairs.embed_images`) and the
same face selection (nearest the centre), so the rows differ only by the pipelines. The default
was chosen on View 1 before this was run (``benchmarks/lfw_view1_candidates.py --new-models``):
View 2 is run once, for the report.

    scripts/bootstrap.sh && .venv/bin/python benchmarks/lfw_side_by_side.py [--pairs pairs.txt] [--only default,fast]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _common import SHARED, write_result
from faceprint.eval.embedding_cache import EmbeddingCache
from faceprint.eval.protocols.pairs import public_report, read_lfw_pairs, run_pairs
from faceprint.types import Box, Detection, Embedding, Face


class FaceRecognitionPeer:
    """face_recognition 1.3.0 behind the interface the protocol runner uses (process → faces)."""

    model_tag = "face_recognition@1.3.0"
    config = None

    def __init__(self) -> None:
        import face_recognition

        self.fr = face_recognition

    def process(self, image, *, boxes=None, embed=True):
        # face_recognition's defaults (1 upsample, hog), or the given boxes in its css order
        locs = (
            self.fr.face_locations(image) if boxes is None else [(int(b.y1), int(b.x2), int(b.y2), int(b.x1)) for b in boxes]
        )
        encs = self.fr.face_encodings(image, known_face_locations=locs)  # defaults: 1 jitter, small
        faces = []
        for (top, right, bottom, left), enc in zip(locs, encs, strict=True):
            v = np.asarray(enc, np.float32)
            det = Detection(Box(left, top, right, bottom), 1.0, detector="face_recognition")
            faces.append(Face(detection=det, embedding=Embedding(v, self.model_tag, norm=float(np.linalg.norm(v)))))
        return faces


def row(name, rep):
    far = {op["target_far"]: op for op in rep["tar_at_far"]}
    return (f"{name:<28}{rep['accuracy']:.4f} ± {rep['std_error']:.4f}  AUC {rep['roc_auc']:.5f}  EER {rep['eer']:.4f}  "
            f"TAR@1e-2 {far[0.01]['tar']:.4f}  TAR@1e-3 {far[0.001]['tar']:.4f}  no-face {rep['no_face']['count']}")


def candidates():
    """Candidate name -> PipelineConfig: the distinct presets, plus YuNet's points with SFace int8."""
    from faceprint.pipeline import PRESETS, PipelineConfig

    out = {}
    seen = {}
    for name, cfg in PRESETS.items():
        sig = cfg.signature()
        if sig in seen:  # e.g. accurate = default, dlib = fast
            continue
        seen[sig] = name
        out[name] = cfg
    out["yunet_sface_int8"] = PipelineConfig(detector="yunet", embedder="sface_int8", landmarker=None, flip_average=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default="pairs.txt")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated candidate names (default: all)")
    args = ap.parse_args()
    from faceprint.pipeline import Pipeline

    root = SHARED / "lfw"
    pairset = read_lfw_pairs(root / args.pairs, root)
    cache = EmbeddingCache()
    rows = {}
    cands = candidates()
    if args.only:
        cands = {k: v for k, v in cands.items() if k in args.only.split(",")}
    for name, cfg in cands.items():
        t = time.perf_counter()
        rows[name] = public_report(run_pairs(pairset, Pipeline.from_config(cfg), cache=cache))
        rows[name]["seconds"] = time.perf_counter() - t
        print(row(name, rows[name]), flush=True)
    if not args.skip_peer:
        t = time.perf_counter()
        peer = FaceRecognitionPeer()
        rows["face_recognition"] = public_report(run_pairs(pairset, peer, cache=cache, metric="euclidean"))
        rows["face_recognition"]["seconds"] = time.perf_counter() - t
    print()
    print(f"LFW {args.pairs}: {len(pairset.pairs)} pairs, {pairset.n_folds}-fold protocol (mean ± standard error)")
    for name, rep in rows.items():
        print(row(name, rep))
    verdict = {}
    if "default" in rows:
        d = rows["default"]
        far = {op["target_far"]: op["tar"] for op in d["tar_at_far"]}
        verdict = {"target_accuracy": 0.996, "target_tar_at_1e-3": 0.99, "accuracy": d["accuracy"], "tar_at_1e-3": far[0.001],
                   "meets_target": d["accuracy"] >= 0.996 and far[0.001] >= 0.99}
        if "face_recognition" in rows:
            verdict["above_peer"] = d["accuracy"] > rows["face_recognition"]["accuracy"]
    print(verdict)
    out = "lfw_side_by_side" if not args.only else "lfw_side_by_side_" + "_".join(sorted(cands))
    write_result(out, {"pairs": args.pairs, "rows": rows, "verdict": verdict})


if __name__ == "__main__":
    sys.exit(main())
