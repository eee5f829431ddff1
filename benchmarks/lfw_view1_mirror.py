"""Does mirror averaging help SFace? LFW View 1 only, the default pipeline against the same pipeline with
each chip's mirror image embedded too and the two embeddings averaged (``flip_average=True``), for SFace
int8 (the default) and fp32.

The default was chosen by the rule "the most accurate pipeline on View 1 DevTrain (accuracy at its best
threshold) that is still faster end to end than face_recognition" (README); SFace was measured without a
mirror when that choice was made, so this adds the mirror rows the same way. Scores are the cosines of
one embedding per image through the whole pipeline (:func:`faceprint.eval.protocols.pairs.embed_images`,
the same no-face policy and face selection as every LFW figure), cached. Reported per candidate:
DevTrain accuracy at its best threshold, AUC and TAR@FAR=1e-3; DevTest accuracy at the DevTrain
threshold and at its own best; embedding time per image (the whole pipeline, on the images not cached).

    .venv/bin/python benchmarks/lfw_view1_mirror.py

Prints the figures and writes benchmarks/results/lfw_view1_mirror.json. View 2 is not read.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

import numpy as np

from _common import SHARED, write_result
from faceprint.eval import metrics
from faceprint.eval.embedding_cache import EmbeddingCache
from faceprint.eval.protocols.pairs import embed_images, read_lfw_pairs

FILES = ("pairsDevTrain.txt", "pairsDevTest.txt")


def candidates() -> dict[str, Any]:
    from faceprint.pipeline import PRESETS

    out = {}
    for name in ("default", "sface"):
        cfg = PRESETS[name]
        out[name] = cfg
        out[name + " + mirror"] = dataclasses.replace(cfg, flip_average=True)
    return out


def main() -> int:
    from faceprint.pipeline import Pipeline

    lfw = SHARED / "lfw"
    if not (lfw / FILES[0]).is_file():
        sys.exit(f"needs {lfw}/{FILES[0]} and images/ (LFW View 1)")
    sets = {f: read_lfw_pairs(lfw / f, lfw) for f in FILES}
    paths = sorted({p for s in sets.values() for pr in s.pairs for p in (pr.a, pr.b)})
    cache = EmbeddingCache()
    rows: dict[str, Any] = {}
    for name, cfg in candidates().items():
        pipe = Pipeline.from_config(cfg)
        t = time.perf_counter()
        done = {"n": 0}

        def count(it: Any, n: int, done: dict[str, int] = done) -> Any:
            done["n"] = n
            yield from it

        embs, errors = embed_images(paths, pipe, cache=cache, progress=count)
        secs = time.perf_counter() - t
        if errors:
            sys.exit(f"unreadable images: {list(errors)[:3]}")
        sl = {}
        for f, ps in sets.items():
            sc = np.array([float(embs[pr.a].vector @ embs[pr.b].vector) for pr in ps.pairs])
            sl[f] = (sc, np.array([pr.same for pr in ps.pairs]))
        (s1, y1), (s2, y2) = sl[FILES[0]], sl[FILES[1]]
        thr, acc1 = metrics.best_threshold(s1, y1)
        rows[name] = {
            "pipeline": cfg.signature(),
            "devtrain": {"accuracy": acc1, "threshold": thr, "roc_auc": metrics.roc_auc(s1, y1),
                         "tar_at_far_1e-3": metrics.tar_at_far(s1, y1, 1e-3).tar,
                         "errors": int(round((1 - acc1) * y1.size))},
            "devtest": {"accuracy_at_devtrain_threshold": metrics.accuracy_at(s2, y2, thr),
                        "accuracy_best": metrics.best_threshold(s2, y2)[1], "roc_auc": metrics.roc_auc(s2, y2)},
            "no_face": sum(e.status == "fallback" for e in embs.values()),
            "images_embedded_now": done["n"],
            "ms_per_image_embedded_now": secs / done["n"] * 1e3 if done["n"] else None,
        }
        r = rows[name]
        ms = f"{r['ms_per_image_embedded_now']:.1f} ms/image" if done["n"] else "cached"
        a, b = r["devtrain"], r["devtest"]
        print(f"{name:<20} DevTrain {acc1 * 100:.2f} % ({a['errors']} errors) AUC {a['roc_auc']:.5f} "
              f"TAR@1e-3 {a['tar_at_far_1e-3']:.4f} | DevTest {b['accuracy_at_devtrain_threshold'] * 100:.2f}"
              f" / {b['accuracy_best'] * 100:.2f} % | no face {r['no_face']} | {ms}", flush=True)
    write_result("lfw_view1_mirror", {"n_images": len(paths), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
