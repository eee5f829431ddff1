"""faceprint analyze IMG_OR_DIR... [--tasks expression,age,gender,liveness,quality] [--jobs N] [--json]:
expression, age, gender, liveness and quality of every detected face.

``--tasks`` defaults to every installed task (one whose weights are missing is skipped with a
warning); a task named in ``--tasks`` whose weights are missing is an error (exit 3), an unknown task
name bad input (exit 2). ``--bias-audit`` adds GEAR's race probabilities, for bias audits only.

Exit codes: 0 when every image decoded and at least one face was found, 1 when no image held a
face, 2 when an image could not be read (or bad input), 3 when a model is missing.
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
        help="expression, age, gender, liveness and quality of each face",
        description="Detect faces and analyse each one: expression, age, gender, liveness, quality.",
    )
    p.add_argument(
        "--tasks",
        default=None,
        help="comma-separated tasks among expression, age, gender, liveness, quality (default: every installed one)",
    )
    p.add_argument(
        "--bias-audit",
        action="store_true",
        help="also report GEAR's race probabilities (for bias audits only; never in the default output)",
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


def _crop_geometries() -> dict[str, Any]:
    from faceprint.models.analyzers.fer_cnn import CROP_BY_DETECTOR

    return CROP_BY_DETECTOR


def _line(i: int, f: dict[str, Any]) -> str:
    parts = []
    ex = f.get("expression")
    if ex is not None:
        others = sorted(((p, k) for k, p in ex["probabilities"].items() if k != ex["label"]), reverse=True)[:2]
        rest = ", ".join(f"{k} {p:.2f}" for p, k in others)
        parts.append(f"{ex['label']} {ex['probabilities'][ex['label']]:.2f} ({rest})")
    if "age" in f:
        parts.append(f"age {f['age']['years']:.0f}")
    if "gender" in f:
        parts.append(f"{f['gender']['label']} {f['gender']['score']:.2f}")
    if "liveness" in f:
        lv = f["liveness"]
        parts.append(f"{'live' if lv['live'] else 'not live'} {lv['score']:.2f} (threshold {lv['threshold']})")
    if "quality" in f:
        parts.append(f"quality {f['quality']['score']:.2f}")
    if "race" in f:
        parts.append(f"[bias audit] {f['race']['label']} {f['race']['probabilities'][f['race']['label']]:.2f}")
    who = ""
    if f.get("identity") is not None:
        ident = f["identity"]
        who = f"  — {ident['identity']} ({ident['score']:.4f})" if ident["identity"] else "  — unknown"
    return f"{box_text(f)} {'; '.join(parts)}{who}"


def run(args: argparse.Namespace) -> int:
    from faceprint.analysis import analyze_faces, load_analyzers
    from faceprint.models import registry
    from faceprint.types import Face

    expression_opts: dict[str, Any] = {"tta": args.tta} if args.tta else {}
    det_name = _detector_config(args)[0]
    if registry.get_card(args.model).extra.get("crop") and det_name in _crop_geometries():
        expression_opts["geometry"] = det_name  # the FER2013 framing measured for this detector's boxes
    analyzers = load_analyzers(
        args.tasks,
        models={"expression": args.model},
        include_race=args.bias_audit,
        options={"expression": expression_opts},
    )
    detector = _detector(args)
    gallery = pipeline = None
    if args.identify:  # one pass: the same detections feed the analyzers and the embedder
        from faceprint.matching.gallery import Gallery
        from faceprint.pipeline import Pipeline, PipelineConfig

        name, opts = _detector_config(args)
        pipeline = Pipeline.from_config(PipelineConfig(detector=name, detector_options=opts))
        detector = pipeline.detector
        gallery = Gallery(home=args.home, pipeline=pipeline)

    def one(index: int, path: str, img) -> dict[str, Any]:
        if gallery is None:
            from faceprint.analysis import FaceAnalysis

            found = [Face(d, landmarks=d.landmarks) for d in detector.detect(img)]
            preds = analyzers.run(img, found)
            faces = [FaceAnalysis(f, **p).to_dict() for f, p in zip(found, preds, strict=True)]
        else:
            faces = [
                a.to_dict() for a in analyze_faces(img, pipeline=pipeline, analyzers=analyzers, gallery=gallery, k=args.k)
            ]
        return {"width": int(img.shape[1]), "height": int(img.shape[0]), "faces": faces}

    results, bad = for_each_image(args, expand_images(args.images), "analyze", one)
    if args.json:
        models = analyzers.models()
        print_json({"model": models.get("expression"), "models": models, "results": results})
    else:
        print_face_results(results, _line)
    return images_exit_code(results, bad)
