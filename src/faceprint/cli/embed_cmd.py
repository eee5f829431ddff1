"""faceprint embed IMG_OR_DIR... [--jobs N] [--json] [--out FILE.npz]"""

from __future__ import annotations

import argparse

import numpy as np

from faceprint.cli._common import (
    add_jobs_arg,
    add_output_args,
    add_pipeline_args,
    expand_images,
    for_each_image,
    images_exit_code,
    pipeline_from_args,
    print_face_results,
    print_json,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="face embeddings of images", description="Embed every face of each image.")
    p.add_argument("images", nargs="+", help="image files or folders (searched recursively for images)")
    p.add_argument("--out", metavar="FILE.npz", help="also save embeddings (and image index, box) to an .npz file")
    add_jobs_arg(p)
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    pipeline = pipeline_from_args(args)
    images = expand_images(args.images)

    def one(index: int, path: str, img) -> dict:
        return {"faces": [f.to_dict(include_embedding=True) for f in pipeline.process(img)]}

    results, bad = for_each_image(args, images, "embed", one)
    vecs, owners, boxes = [], [], []
    for index, r in enumerate(results):  # in input order, whatever --jobs is
        for f in r.get("faces", []):
            vecs.append(f["embedding"]["vector"])
            owners.append(index)
            boxes.append(f["box"])
    if args.out:
        np.savez(
            args.out,
            embeddings=np.asarray(vecs, np.float32).reshape(len(vecs), -1),
            image_index=np.asarray(owners, np.int64),
            boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
            images=np.asarray(images),
            model=np.asarray(pipeline.model_tag),
        )
    if args.json:
        print_json({"model": pipeline.model_tag, "results": results})
    else:
        def line(i: int, f: dict) -> str:
            v = f["embedding"]["vector"]
            return f"{f['embedding']['model']} [{', '.join(f'{x:+.3f}' for x in v[:4])}, ...] ({len(v)}-d)"

        print_face_results(results, line)
        if args.out:
            print(f"saved {len(vecs)} embedding(s) to {args.out}")
    return images_exit_code(results, bad)
