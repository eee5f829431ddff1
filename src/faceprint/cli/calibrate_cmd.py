"""faceprint calibrate PAIRS --target-far 1e-3 [--root DIR] [--out FILE]

Fits a decision threshold on labelled pairs and saves it where `verify` and `identify` find it
(``$FACEPRINT_HOME/calibration/<model>.json``), or to ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faceprint.cli._common import add_output_args, add_pipeline_args, pipeline_from_args, print_json, progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit a verification threshold on your labelled pairs")
    p.add_argument("pairs", help="pairs file: LFW format (header 'n' or 'k n') or CSV path_a,path_b,same")
    p.add_argument("--root", help="image root (LFW folder, or base of relative CSV paths)")
    p.add_argument("--target-far", type=float, default=1e-3, help="false-accept rate to allow (default 1e-3)")
    p.add_argument("--max-accuracy", action="store_true", help="choose the threshold of best accuracy instead")
    p.add_argument("--out", help="where to save (default: the user calibration used by verify/identify)")
    p.add_argument("--home", help="faceprint home (default $FACEPRINT_HOME or the user data dir)")
    p.add_argument("--select", default=None, help="face selection: center (LFW default) or largest (CSV default)")
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceprint.errors import InvalidInput
    from faceprint.eval.embedding_cache import EmbeddingCache
    from faceprint.eval.protocols.pairs import embed_images, read_pairs_file
    from faceprint.matching.calibration import ThresholdCalibrator
    from faceprint.matching.thresholds import user_calibration_path

    pairset, default_sel = read_pairs_file(args.pairs, args.root)
    pipeline = pipeline_from_args(args)
    embs, errors = embed_images(
        pairset.images, pipeline, select=args.select or default_sel, cache=EmbeddingCache(),
        progress=lambda it, n: progress(it, n, args, "embed"),
    )
    keep = [p for p in pairset.pairs if p.a in embs and p.b in embs]
    if len(keep) < len(pairset.pairs):
        raise InvalidInput(f"{len(pairset.pairs) - len(keep)} pair(s) name unreadable images, e.g. {next(iter(errors.items()))}")
    scores = np.array([float(np.dot(embs[p.a].vector, embs[p.b].vector)) for p in keep])
    labels = np.array([p.same for p in keep])
    cal = ThresholdCalibrator(target_far=None if args.max_accuracy else args.target_far, model=pipeline.model_tag)
    sig = pipeline.config.signature() if pipeline.config is not None else pipeline.model_tag
    cal.fit(scores, labels, source=f"{len(keep)} pairs of {args.pairs}, pipeline {sig}")
    out = Path(args.out) if args.out else user_calibration_path(pipeline.model_tag.split("@")[0], args.home)
    cal.save(out)
    d = {k: v for k, v in cal.to_dict().items() if k != "impostor_scores"}
    d["saved"] = str(out)
    if args.json:
        print_json(d)
    else:
        target = "best accuracy" if args.max_accuracy else f"FAR <= {args.target_far:g}"
        print(f"threshold {cal.threshold_:.4f} for {target} on {cal.n_genuine_} genuine / {cal.n_impostor_} impostor pairs")
        print(f"  TAR {cal.tar_at_far_:.4f}, FAR {cal.far_:.5f}, accuracy {cal.accuracy_:.4f}")
        if not cal.resolvable_:
            print(f"  warning: {cal.n_impostor_} impostors cannot resolve FAR {args.target_far:g}; "
                  "the threshold is the strictest seen")
        print(f"saved to {out}")
    return 0
