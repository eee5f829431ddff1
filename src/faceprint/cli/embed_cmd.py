"""faceprint embed IMG... [--json] [--out FILE.npz]"""

from __future__ import annotations

import argparse

import numpy as np

from faceprint.cli._common import add_output_args, add_pipeline_args, pipeline_from_args, print_json, progress
from faceprint.errors import FaceprintError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="face embeddings of images", description="Embed every face of each image.")
    p.add_argument("images", nargs="+")
    p.add_argument("--out", metavar="FILE.npz", help="also save embeddings (and image index, box) to an .npz file")
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceprint.io import load_image

    pipeline = pipeline_from_args(args)
    results, vecs, owners, boxes, bad = [], [], [], [], False
    for i, path in enumerate(progress(args.images, len(args.images), args, "embed")):
        try:
            faces = pipeline.process(load_image(path))
        except FaceprintError as e:
            results.append({"image": path, "error": {"code": e.code, "message": str(e)}})
            bad = True
            continue
        results.append({"image": path, "faces": [f.to_dict(include_embedding=True) for f in faces]})
        for f in faces:
            vecs.append(f.embedding.vector)
            owners.append(i)
            boxes.append(f.box.as_tuple())
    if args.out:
        np.savez(
            args.out,
            embeddings=np.asarray(vecs, np.float32).reshape(len(vecs), -1),
            image_index=np.asarray(owners, np.int64),
            boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
            images=np.asarray(args.images),
            model=np.asarray(pipeline.model_tag),
        )
    if args.json:
        print_json({"model": pipeline.model_tag, "results": results})
    else:
        for r in results:
            if "error" in r:
                print(f"{r['image']}: error: {r['error']['message']}")
                continue
            print(f"{r['image']}: {len(r['faces'])} face(s)")
            for j, f in enumerate(r["faces"]):
                v = f["embedding"]["vector"]
                print(f"  #{j} {f['embedding']['model']} [{', '.join(f'{x:+.3f}' for x in v[:4])}, ...] ({len(v)}-d)")
        if args.out:
            print(f"saved {len(vecs)} embedding(s) to {args.out}")
    if bad:
        return 2
    return 0 if vecs else 1
