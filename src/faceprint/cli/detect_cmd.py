"""faceprint detect IMG_OR_DIR... [--draw OUT] [--jobs N] [--json]"""

from __future__ import annotations

import argparse
from pathlib import Path

from faceprint.cli._common import (
    add_jobs_arg,
    add_output_args,
    add_pipeline_args,
    box_text,
    expand_images,
    for_each_image,
    images_exit_code,
    pipeline_from_args,
    print_face_results,
    print_json,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="find faces: boxes, scores, landmarks", description="Find every face in each image.")
    p.add_argument("images", nargs="+", help="image files or folders (searched recursively for images)")
    p.add_argument("--draw", metavar="OUT",
                   help="write the image with numbered boxes and landmarks drawn (a folder when several images)")
    add_jobs_arg(p)
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceprint.io.draw import draw_faces, save_image

    pipeline = pipeline_from_args(args)
    images = expand_images(args.images)

    def one(index: int, path: str, img) -> dict:
        faces = pipeline.process(img, embed=False)
        r = {"width": img.shape[1], "height": img.shape[0], "faces": [f.to_dict() for f in faces]}
        if args.draw:
            out = Path(args.draw)
            if len(images) > 1 or Path(args.images[0]).is_dir():
                out.mkdir(parents=True, exist_ok=True)
                out = out / (Path(path).stem + "_faces.jpg")
            save_image(draw_faces(img, faces, [f"#{i}" for i in range(len(faces))]), out)  # numbers as printed
            r["drawn"] = str(out)
        return r

    results, bad = for_each_image(args, images, "detect", one)
    if args.json:
        print_json({"results": results})
    else:
        print_face_results(results, lambda i, f: f"{box_text(f)} score={f['score']:.3f}")
        for r in results:
            if "drawn" in r:
                print(f"{r['image']}: drawn to {r['drawn']}")
    return images_exit_code(results, bad)
