"""faceprint verify A B [--threshold T | --calibration FILE] [--json]"""

from __future__ import annotations

import argparse

from faceprint.cli._common import add_output_args, add_pipeline_args, pipeline_from_args, print_json


def _selection(value: str):
    return int(value) if value.lstrip("-").isdigit() else value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="are two photos the same person?", description="Compare the most prominent face of two images.")
    p.add_argument("image_a")
    p.add_argument("image_b")
    p.add_argument("--threshold", type=float, help="cosine-similarity threshold (overrides calibrations)")
    p.add_argument("--calibration", help="a calibration file saved by `faceprint calibrate`")
    p.add_argument("--select", type=_selection, default="largest",
                   help="which face of each image: largest (default), center, score, or an index")
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceprint.api import verify

    res = verify(args.image_a, args.image_b, threshold=args.threshold, calibration=args.calibration,
                 select=args.select, pipeline=pipeline_from_args(args))
    if args.json:
        print_json({"image_a": args.image_a, "image_b": args.image_b, **res.to_dict()})
    else:
        verdict = "SAME person" if res.is_match else "DIFFERENT people"
        far = ""
        if res.far_estimate is not None:
            far = f"; calibration impostors scoring this high: {res.far_estimate:.2%}"
        print(f"{verdict}: similarity {res.score:.4f} vs threshold {res.threshold:.4f} ({res.threshold_source}{far})")
    return 0 if res.is_match else 1
