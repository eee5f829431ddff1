"""faceprint analyze IMG_OR_DIR... [--jobs N] [--json]: facial expression of every detected face.

Exit codes: 0 when every image decoded and at least one face was found, 1 when no image held a
face, 2 when an image could not be read.
"""

from __future__ import annotations

import argparse
from typing import Any

from faceprint import config
from faceprint.cli._common import (
    add_jobs_arg,
    add_output_args,
    box_text,
    expand_images,
    for_each_image,
    images_exit_code,
    print_face_results,
    print_json,
)
from faceprint.models.analyzers.base import TTA_MODES


def register(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="facial expression of each face (angry, disgust, fear, happy, sad, surprise, neutral)",
        description="Detect faces and classify each one's expression.",
    )
    p.add_argument("images", nargs="+", help="image files or folders (searched recursively for images)")
    add_jobs_arg(p)
    p.add_argument("--model", default=config.DEFAULT_EXPRESSION_MODEL, help="expression model (default: %(default)s)")
    p.add_argument(
        "--tta", choices=TTA_MODES, help="test-time augmentation of the expression model (default: its card's)"
    )
    p.add_argument("--detector", default=None, help="detector model (default: the pipeline's, mtcnn)")
    p.add_argument("--upsample", type=int, default=None, help="detector upsampling (dlib detectors only)")
    p.add_argument("--identify", action="store_true", help="also say who each face is (gallery in --home), in the same pass")
    p.add_argument("-k", type=int, default=3, help="candidates per face with --identify (default 3)")
    p.add_argument("--home", default=None, help="gallery directory for --identify (default: $FACEPRINT_HOME)")
    add_output_args(p)
    p.set_defaults(func=run)


def _detector_config(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The detector's registry name and options: the pipeline default's, changed by the flags."""
    from faceprint.pipeline import PipelineConfig, detector_defaults

    name = args.detector or PipelineConfig().detector
    opts: dict[str, Any] = detector_defaults(name)
    if args.upsample is not None:
        if name == "mtcnn":
            from faceprint.errors import InvalidInput

            raise InvalidInput("--upsample applies to the dlib detectors, not mtcnn")
        opts["upsample"] = args.upsample
    return name, opts


def _detector(args: argparse.Namespace) -> Any:
    from faceprint.models import registry

    name, opts = _detector_config(args)
    return registry.create(name, **opts)


def run(args: argparse.Namespace) -> int:
    from faceprint.analysis import FaceAnalysis, analyze_faces
    from faceprint.models import registry
    from faceprint.types import Face

    analyzer = registry.create(args.model, **({"tta": args.tta} if args.tta else {}))
    detector = _detector(args)
    gallery = pipeline = None
    if args.identify:  # one pass: the same detections feed the expression model and the embedder
        from faceprint.matching.gallery import Gallery
        from faceprint.pipeline import Pipeline, PipelineConfig

        name, opts = _detector_config(args)
        pipeline = Pipeline.from_config(PipelineConfig(detector=name, detector_options=opts))
        detector = pipeline.detector
        gallery = Gallery(home=args.home, pipeline=pipeline)

    def one(index: int, path: str, img) -> dict[str, Any]:
        if gallery is None:
            found = [Face(d) for d in detector.detect(img)]
            preds = analyzer.analyze(img, [f.box for f in found])
            faces = [FaceAnalysis(f, p).to_dict() for f, p in zip(found, preds, strict=True)]
        else:
            faces = [a.to_dict() for a in analyze_faces(img, pipeline=pipeline, analyzer=analyzer, gallery=gallery, k=args.k)]
        return {"width": int(img.shape[1]), "height": int(img.shape[0]), "faces": faces}

    results, bad = for_each_image(args, expand_images(args.images), "analyze", one)
    if args.json:
        print_json({"model": analyzer.card.tag, "results": results})
    else:
        def line(i: int, f: dict[str, Any]) -> str:
            ex = f["expression"]
            others = sorted(((p, k) for k, p in ex["probabilities"].items() if k != ex["label"]), reverse=True)[:2]
            rest = ", ".join(f"{k} {p:.2f}" for p, k in others)
            who = ""
            if f.get("identity") is not None:
                ident = f["identity"]
                who = f"  — {ident['identity']} ({ident['score']:.4f})" if ident["identity"] else "  — unknown"
            return f"{box_text(f)} {ex['label']} {ex['probabilities'][ex['label']]:.2f} ({rest}){who}"

        print_face_results(results, line)
    return images_exit_code(results, bad)
