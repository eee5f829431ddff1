"""faceprint cluster DIR [--method chinese_whispers|dbscan] [--threshold T] [--out DIR] [--json]

Groups every face found in the images under DIR by person and writes ``clusters.json`` and an
HTML contact sheet (``index.html``: one row of thumbnails per cluster, thumbnails as small JPEG
files in ``thumbs/``) into the output folder.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.cli._common import add_output_args, add_pipeline_args, pipeline_from_args, print_json

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp", ".gif"}
THUMB = 96


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cluster",
        help="group a photo collection by person",
        description="Detect and embed every face under DIR, group them by person, and write clusters.json "
        "and an HTML contact sheet (one row per cluster).",
    )
    p.add_argument("dir", help="folder of images (searched recursively)")
    p.add_argument("--method", choices=["chinese_whispers", "cw", "dbscan"], default="chinese_whispers",
                   help="chinese_whispers (graph, default) or dbscan (density)")
    p.add_argument("--threshold", type=float, default=None,
                   help="cosine similarity linking two faces (default: calibrated for the method and the number "
                   "of faces: stricter for larger collections)")
    p.add_argument("--min-samples", type=int, default=2, help="dbscan: faces within reach for a core face (default 2)")
    p.add_argument("--min-size", type=int, default=1, help="clusters smaller than this are listed as unclustered")
    p.add_argument("--out", default="faceprint-clusters", help="output folder (default ./faceprint-clusters)")
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def _images(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        from faceprint.errors import InvalidInput

        raise InvalidInput(f"not a folder: {root}")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _thumb(image: np.ndarray, box: Any, path: Path) -> None:
    from PIL import Image

    h, w = image.shape[:2]
    cx, cy = box.center
    side = max(box.width, box.height) * 1.3
    x1, y1 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x2, y2 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    crop = image[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
    im = Image.fromarray(np.ascontiguousarray(crop))
    im.thumbnail((THUMB, THUMB))
    im.save(path, format="JPEG", quality=85)


def run(args: argparse.Namespace) -> int:
    from faceprint.cli._common import progress
    from faceprint.cluster import METHODS
    from faceprint.errors import FaceprintError, InvalidInput
    from faceprint.io import load_image

    root = Path(args.dir)
    paths = _images(root)
    if not paths:
        raise InvalidInput(f"no images under {root}")
    out = Path(args.out)
    thumbs = out / "thumbs"
    thumbs.mkdir(parents=True, exist_ok=True)
    pipe = pipeline_from_args(args)

    items: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []
    errors: list[dict[str, str]] = []
    model = None
    for path in progress(paths, len(paths), args, desc="embedding"):
        try:
            img = load_image(path)
            faces = pipe.process(img)
        except FaceprintError as e:
            errors.append({"image": str(path), "error": str(e)})
            continue
        for k, f in enumerate(faces):
            if f.embedding is None:
                continue
            model = f.embedding.model
            tname = f"{len(items):05d}.jpg"
            _thumb(img, f.box, thumbs / tname)
            rel = str(path.relative_to(root)) if root.is_dir() else path.name
            items.append({"image": rel, "face": k, "box": [round(v, 1) for v in f.box.as_tuple()], "thumb": f"thumbs/{tname}"})
            vectors.append(f.embedding.vector)
    if not items:
        print(f"faceprint: no face found in {len(paths)} image(s)", file=sys.stderr)
        return 1

    cls = METHODS[args.method]
    if cls.__name__ == "CosineDBSCAN":
        est = cls(threshold=args.threshold, min_samples=args.min_samples, model=model)
    else:
        est = cls(threshold=args.threshold, model=model, min_cluster_size=args.min_size)
    labels = est.fit(np.stack(vectors)).labels_
    if args.min_size > 1 and cls.__name__ == "CosineDBSCAN":
        from faceprint.cluster.base import relabel_by_size

        labels = relabel_by_size(labels, args.min_size)
    thr = getattr(est, "threshold_", None)
    if thr is None:
        thr = 1.0 - est.eps_
    clusters: list[dict[str, Any]] = []
    for c in range(int(labels.max()) + 1 if (labels >= 0).any() else 0):
        members = [items[i] for i in np.nonzero(labels == c)[0]]
        clusters.append({"label": c, "size": len(members), "faces": members})
    noise = [items[i] for i in np.nonzero(labels < 0)[0]]
    result = {
        "method": "chinese_whispers" if args.method == "cw" else args.method,
        "threshold": float(thr),
        "threshold_source": est.threshold_source_,
        "model": model,
        "root": str(root.resolve()),
        "n_images": len(paths),
        "n_faces": len(items),
        "n_clusters": len(clusters),
        "clusters": clusters,
        "unclustered": noise,
        "errors": errors,
    }
    (out / "clusters.json").write_text(json.dumps(result, indent=1))
    (out / "index.html").write_text(_html(result))
    if args.json:
        print_json({**result, "out": str(out)})
    else:
        multi = sum(1 for c in clusters if c["size"] > 1)
        print(f"{len(items)} faces in {len(paths)} images -> {len(clusters)} clusters ({multi} with 2+ faces), "
              f"{len(noise)} unclustered; threshold {thr:.4f} ({est.threshold_source_})")
        print(f"wrote {out / 'clusters.json'} and {out / 'index.html'}")
        for skipped in errors:
            print(f"  skipped {skipped['image']}: {skipped['error']}", file=sys.stderr)
    return 0


def _html(result: dict[str, Any]) -> str:
    e = html.escape
    rows = []

    def cells(faces: list[dict[str, Any]]) -> str:
        return "".join(
            f'<figure><img src="{e(f["thumb"])}" alt="" loading="lazy"><figcaption>{e(f["image"])}</figcaption></figure>'
            for f in faces
        )

    for c in result["clusters"]:
        rows.append(f'<section><h2>cluster {c["label"]} &middot; {c["size"]} face{"s" if c["size"] != 1 else ""}</h2>'
                    f'<div class="row">{cells(c["faces"])}</div></section>')
    if result["unclustered"]:
        rows.append(f'<section><h2>unclustered &middot; {len(result["unclustered"])}</h2>'
                    f'<div class="row">{cells(result["unclustered"])}</div></section>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faceprint clusters</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;background:#fafafa;color:#222}}
h1{{font-size:1.3em}} h2{{font-size:1em;margin:1.2em 0 .4em}}
.row{{display:flex;flex-wrap:nowrap;overflow-x:auto;gap:6px;padding-bottom:4px}}
figure{{margin:0;flex:0 0 auto;width:{THUMB}px}}
img{{width:{THUMB}px;height:{THUMB}px;object-fit:cover;border-radius:4px;background:#ddd}}
figcaption{{font-size:10px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:#666}}
</style></head><body>
<h1>{result["n_faces"]} faces &rarr; {result["n_clusters"]} clusters</h1>
<p>method {e(result["method"])}, threshold {result["threshold"]:.4f} ({e(str(result["threshold_source"]))}),
model {e(str(result["model"]))}; {result["n_images"]} images under {e(result["root"])}</p>
{"".join(rows)}
</body></html>
"""
