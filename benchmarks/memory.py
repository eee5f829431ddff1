"""Peak RSS over a long run of the default pipeline, and growth between the first and the last
thousand images (a leak shows as steady growth).

    .venv/bin/python benchmarks/memory.py [--n 5000]
"""

from __future__ import annotations

import argparse
import resource
import time

from _common import lfw_images, rss_mb, write_result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    from faceprint.api import default_pipeline
    from faceprint.io import load_image

    paths = lfw_images()
    paths = (paths * (args.n // len(paths) + 1))[: args.n]
    pipeline = default_pipeline()
    marks = []
    t0 = time.perf_counter()
    rss_start = rss_mb()
    for i, p in enumerate(paths, 1):
        pipeline.process(load_image(p))
        if i % 1000 == 0 or i == 1:
            marks.append({"images": i, "rss_mb": round(rss_mb(), 1), "seconds": round(time.perf_counter() - t0, 1)})
            print(marks[-1], flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first_k = next(m for m in marks if m["images"] == 1000)
    growth = marks[-1]["rss_mb"] - first_k["rss_mb"]
    print(f"peak RSS {peak:.0f} MB; RSS after 1000 images {first_k['rss_mb']} MB, after {args.n} {marks[-1]['rss_mb']} MB "
          f"(growth {growth:+.1f} MB); {args.n / (time.perf_counter() - t0):.1f} img/s")
    write_result("memory", {
        "n_images": args.n, "rss_start_mb": rss_start, "peak_rss_mb": peak, "marks": marks,
        "growth_first_to_last_thousand_mb": growth, "pipeline": pipeline.config.signature(),
    })


if __name__ == "__main__":
    main()
