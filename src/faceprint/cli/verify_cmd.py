"""faceprint verify A B [--select S | --select-a S --select-b S] [--draw DIR] [--threshold T | --calibration FILE] [--json]

The face compared in each image is the most prominent one unless a selection says otherwise
(``--select 1,0`` gives one per image). A photo with several faces draws a warning naming the
face used; ``--draw DIR`` writes both images with the used face marked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from faceprint.cli._common import add_output_args, add_pipeline_args, box_text, pipeline_from_args, print_json

SELECT_HELP = "largest (default), center, score, or an index (0 = most prominent)"


def _selection(value: str) -> Any:
    value = value.strip()
    return int(value) if value.lstrip("-").isdigit() else value


def _selections(args: argparse.Namespace) -> tuple[Any, Any]:
    """(selection for A, selection for B) from --select (one, or two comma-separated) and --select-a/-b."""
    from faceprint.errors import InvalidInput

    parts = [s for s in str(args.select or "largest").split(",")]
    if len(parts) > 2 or any(not p.strip() for p in parts):
        raise InvalidInput(f"--select takes one selection or two separated by a comma (A,B), got {args.select!r}")
    a, b = (parts[0], parts[-1])
    return (_selection(args.select_a if args.select_a is not None else a),
            _selection(args.select_b if args.select_b is not None else b))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="are two photos the same person?",
                       description="Compare one face of each of two images (the most prominent unless --select says otherwise).")
    p.add_argument("image_a")
    p.add_argument("image_b")
    p.add_argument("--threshold", type=float, help="cosine-similarity threshold (overrides calibrations)")
    p.add_argument("--calibration", help="a calibration file saved by `faceprint calibrate`")
    p.add_argument("--select", default=None, metavar="S[,S]",
                   help=f"which face of each image: {SELECT_HELP}; 'A,B' (e.g. 1,0) gives one per image")
    p.add_argument("--select-a", default=None, metavar="S", help="which face of image A (overrides --select)")
    p.add_argument("--select-b", default=None, metavar="S", help="which face of image B (overrides --select)")
    p.add_argument("--draw", metavar="DIR", help="write both images to DIR with the face used marked (others numbered)")
    p.add_argument("--verbose", action="count", default=argparse.SUPPRESS,
                   help="also say where the threshold comes from and the false-match estimate")
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def _face(path: str, how: Any, pipeline: Any, draw: str | None, tag: str) -> tuple[Any, dict[str, Any]]:
    """(embedding, report) of the selected face of one image; warns when it has several faces."""
    from faceprint.errors import InvalidInput, NoFaceFound
    from faceprint.io import load_image
    from faceprint.pipeline import select_face

    img = load_image(path)
    faces = [f for f in pipeline.process(img) if f.embedding is not None]
    if not faces:
        raise NoFaceFound(f"no face found in {path}")
    try:
        face = select_face(faces, how, img.shape)
    except InvalidInput as e:  # e.g. an index that only the other photo has
        raise InvalidInput(f"{path}: {e}; choose this photo's face with --select-{tag} (or --select A,B)") from None
    index = next(i for i, f in enumerate(faces) if f is face)
    info: dict[str, Any] = {"image": path, "faces": len(faces), "used": index, "select": how, "box": list(face.box.as_tuple())}
    if len(faces) > 1:
        print(f"faceprint: warning: {path} has {len(faces)} faces; using #{index} ({box_text(info)}, select={how}); "
              f"choose another with --select-{tag} N (0 = most prominent) and check with --draw DIR", file=sys.stderr)
    if draw:
        from faceprint.io.draw import draw_faces, save_image

        out_dir = Path(draw)
        out_dir.mkdir(parents=True, exist_ok=True)
        others = [f for f in faces if f is not face]
        marked = draw_faces(img, others, [f"#{faces.index(f)}" for f in others], color=(160, 160, 160))
        marked = draw_faces(marked, [face], [f"#{index} used"], color=(0, 255, 0))
        out = out_dir / f"{tag}_{Path(path).stem}_verify.jpg"
        save_image(marked, out)
        info["drawn"] = str(out)
    return face.embedding, info


def run(args: argparse.Namespace) -> int:
    from faceprint.api import verify

    sel_a, sel_b = _selections(args)
    pipeline = pipeline_from_args(args)
    ea, info_a = _face(args.image_a, sel_a, pipeline, args.draw, "a")
    eb, info_b = _face(args.image_b, sel_b, pipeline, args.draw, "b")
    res = verify(ea, eb, threshold=args.threshold, calibration=args.calibration, pipeline=pipeline)
    if args.json:
        print_json({"image_a": args.image_a, "image_b": args.image_b, **res.to_dict(), "face_a": info_a, "face_b": info_b})
    else:
        verdict = "SAME person" if res.is_match else "DIFFERENT people"
        print(f"{verdict}: similarity {res.score:.4f} vs threshold {res.threshold:.4f}")
        if getattr(args, "verbose", 0):
            far = "" if res.far_estimate is None else f"; calibration impostors scoring this high: {res.far_estimate:.2%}"
            print(f"  threshold: {res.threshold_source}{far}")
            for info in (info_a, info_b):
                print(f"  {info['image']}: face #{info['used']} of {info['faces']} {box_text(info)}")
        for info in (info_a, info_b):
            if "drawn" in info:
                print(f"{info['image']}: drawn to {info['drawn']}")
    return 0 if res.is_match else 1
