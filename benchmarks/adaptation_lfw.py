"""The adaptation run on real embeddings (e.g. dlib's 128-d descriptors of LFW).

Learns a small head (linear 128→128, identity-initialised) on frozen embeddings with ArcFace,
CosFace and triplet (batch-hard), plus Joint Bayesian, on one half of the **identities**, and
reports verification on pairs of the other half (all positive pairs + as many negatives) against
the frozen baseline: ROC AUC, TAR@FAR 1e-3/1e-2, best and 10-fold accuracy. See
faceprint.train.adapt. Prints the table and writes benchmarks/results/adaptation_lfw.json.

    python benchmarks/adaptation_lfw.py --embeddings lfw_dlib.npz   # X (N,128) float32, y, names
    python benchmarks/adaptation_lfw.py --lfw    # embed ../shared/data/lfw with the default pipeline first

``--lfw`` embeds every LFW image with faceprint's default pipeline (dlib ResNet; the face nearest
the centre; cached in the evaluation embedding cache, see benchmarks/gallery_lfw.py) and saves
the .npz outside the repository (``--save-npz``, default ``$FACEPRINT_CACHE/lfw_embeddings.npz``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from _common import RESULTS, machine
from faceprint.errors import InvalidInput
from faceprint.train import adapt


def build_lfw_npz(path: Path) -> Path:
    """Embed LFW with the default pipeline and save ``X``, ``y`` (identity index), ``names``."""
    import numpy as np

    from gallery_lfw import lfw_embeddings

    paths, names, vecs, model = lfw_embeddings()
    ids, y = np.unique(np.asarray(names), return_inverse=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=vecs.astype(np.float32), y=y, names=np.asarray(names), model=np.asarray(model))
    print(f"{len(paths)} LFW embeddings of {len(ids)} identities ({model}) saved to {path}", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = adapt.build_arg_parser()
    for action in parser._actions:
        if action.dest == "embeddings":
            action.required = False
    parser.add_argument("--lfw", action="store_true", help="embed ../shared/data/lfw with the default pipeline first")
    parser.add_argument("--save-npz", default=None, help="where --lfw writes its .npz (outside the repo)")
    parser.set_defaults(json_out=str(RESULTS / "adaptation_lfw.json"))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if args.lfw:
        from faceprint.config import cache_dir

        args.embeddings = str(build_lfw_npz(Path(args.save_npz) if args.save_npz else cache_dir() / "lfw_embeddings.npz"))
    if not args.embeddings:
        parser.error("give --embeddings FILE.npz or --lfw")
    try:
        result = adapt.result_from_args(args)
    except InvalidInput as e:
        print(f"adaptation_lfw: {e}", file=sys.stderr)
        return 2
    print(result.table())
    out = {
        "benchmark": "adaptation_lfw",
        "embeddings": str(Path(args.embeddings).resolve()),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seconds": time.perf_counter() - t0,
        "machine": machine(),
        **result.to_dict(),
    }
    path = Path(args.json_out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
