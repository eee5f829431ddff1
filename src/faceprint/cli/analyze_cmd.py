"""faceprint analyze IMG... [--json]: facial expression of every detected face.

Exit codes: 0 when every image decoded and at least one face was found, 1 when no image held a
face, 2 when an image could not be read.
"""

from __future__ import annotations

import argparse
from typing import Any

from faceprint.cli._common import (
    add_output_args,
    box_text,
    for_each_image,
    images_exit_code,
    print_face_results,
    print_json,
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="facial expression of each face (angry, disgust, fear, happy, sad, surprise, neutral)",
        description="Detect faces and classify each one's expression.",
    )
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--model", default="fer_mini_xception", help="expression model (default: %(default)s)")
    p.add_argument("--detector", default=None, help="detector model (default: the pipeline's, dlib_hog)")
    p.add_argument("--upsample", type=int, default=None, help="detector upsampling (dlib detectors)")
    add_output_args(p)
    p.set_defaults(func=run)


def _detector(args: argparse.Namespace) -> Any:
    from faceprint.models import registry
    from faceprint.pipeline import PipelineConfig

    cfg = PipelineConfig()
    name = args.detector or cfg.detector
    opts: dict[str, Any] = dict(cfg.detector_options) if name == cfg.detector else {}
    if args.upsample is not None:
        opts["upsample"] = args.upsample
    return registry.create(name, **opts)


def run(args: argparse.Namespace) -> int:
    from faceprint.models import registry

    analyzer = registry.create(args.model)
    detector = _detector(args)

    def one(index: int, path: str, img) -> dict[str, Any]:
        detections = detector.detect(img)
        preds = analyzer.analyze(img, [d.box for d in detections])
        faces = []
        for det, pred in zip(detections, preds):
            d = det.to_dict()
            d.pop("landmarks", None)
            e = pred.to_dict()
            d["expression"] = {"label": e["label"], "probabilities": e["probabilities"]}
            faces.append(d)
        return {"width": int(img.shape[1]), "height": int(img.shape[0]), "faces": faces}

    results, bad = for_each_image(args, args.images, "analyze", one)
    if args.json:
        print_json({"model": analyzer.card.tag, "results": results})
    else:
        def line(i: int, f: dict[str, Any]) -> str:
            ex = f["expression"]
            others = sorted(((p, k) for k, p in ex["probabilities"].items() if k != ex["label"]), reverse=True)[:2]
            rest = ", ".join(f"{k} {p:.2f}" for p, k in others)
            return f"{box_text(f)} {ex['label']} {ex['probabilities'][ex['label']]:.2f} ({rest})"

        print_face_results(results, line)
    return images_exit_code(results, bad)
