"""faceprint detect IMG... [--draw OUT] [--json]"""

from __future__ import annotations

import argparse
from pathlib import Path

from faceprint.cli._common import add_output_args, add_pipeline_args, pipeline_from_args, print_json, progress
from faceprint.errors import FaceprintError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="find faces: boxes, scores, landmarks", description="Find every face in each image.")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--draw", metavar="OUT", help="write the image with boxes and landmarks drawn (a folder when several images)")
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceprint.io import load_image
    from faceprint.io.draw import draw_faces, save_image

    pipeline = pipeline_from_args(args)
    results, any_face, bad = [], False, False
    for path in progress(args.images, len(args.images), args, "detect"):
        try:
            img = load_image(path)
            faces = pipeline.process(img, embed=False)
        except FaceprintError as e:
            results.append({"image": path, "error": {"code": e.code, "message": str(e)}})
            bad = True
            continue
        any_face |= bool(faces)
        results.append({"image": path, "width": img.shape[1], "height": img.shape[0], "faces": [f.to_dict() for f in faces]})
        if args.draw:
            out = Path(args.draw)
            if len(args.images) > 1:
                out.mkdir(parents=True, exist_ok=True)
                out = out / (Path(path).stem + "_faces.jpg")
            save_image(draw_faces(img, faces), out)
            results[-1]["drawn"] = str(out)
    if args.json:
        print_json({"results": results})
    else:
        for r in results:
            if "error" in r:
                print(f"{r['image']}: error: {r['error']['message']}")
                continue
            print(f"{r['image']}: {len(r['faces'])} face(s)")
            for i, f in enumerate(r["faces"]):
                x1, y1, x2, y2 = f["box"]
                print(f"  #{i} box=({x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}) score={f['score']:.3f}")
            if "drawn" in r:
                print(f"  drawn: {r['drawn']}")
    if bad:
        return 2
    return 0 if any_face else 1
