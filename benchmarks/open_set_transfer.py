"""Does the open-set calibration transfer to people it never saw? Measured on LFW View 1 DevTrain only.

The shipped open-set thresholds come from impostor tails fitted on the DevTrain identities
(``scripts/calibrate_open_set.py``); ``benchmarks/gallery_lfw.py`` checks them on the other LFW
people. This script asks the same question inside DevTrain, so a choice of tail model can be
made without looking at those people: the DevTrain identities are split at random into halves A
and B (``--reps`` times); tails are fitted on A's images only, with the shape of the generalized
Pareto tail fitted freely (what ships) and floored at ξ = 0 (no lighter than exponential);
galleries of ``N`` one-photo identities are drawn from B, and every image of B's other people is a
non-mated search. A third variant also ends the empirical region where fewer than 200 impostor
pairs (instead of 25) support a FAR, the floored tail taking over. Observed FPIR against the
target, summed over the repetitions, with its binomial standard error.

    python benchmarks/open_set_transfer.py [--reps 10] [--sizes 100,300,600]

Prints the figures and writes benchmarks/results/open_set_transfer.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from _common import SHARED, write_result  # noqa: E402

#: name -> (shape floor, fewest impostor pairs behind an empirical FAR)
MODELS = {"free shape (shipped)": (None, 25), "shape >= 0": (0.0, 25), "shape >= 0, 200 pairs": (0.0, 200)}
TARGETS = (1e-2, 1e-3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--sizes", default="100,300,600")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    lfw = SHARED / "lfw"
    if not (lfw / "pairsDevTrain.txt").is_file():
        sys.exit(f"needs {lfw}/pairsDevTrain.txt and images/ (LFW View 1)")
    from calibrate_open_set import devtrain_embeddings
    from faceprint.matching.open_set import OpenSetCalibration

    t0 = time.perf_counter()
    _, names, vecs, pipe = devtrain_embeddings(lfw)
    sizes = [int(x) for x in args.sizes.split(",")]
    ids = np.unique(names)
    if max(sizes) >= ids.size // 2 - ids.size // 10:
        sys.exit(f"--sizes must leave people to search with: at most {ids.size // 2 - ids.size // 10 - 1} of the "
                 f"{ids.size - ids.size // 2} people in half B")
    rng = np.random.default_rng(args.seed)
    fp = {(m, n, t): 0 for m in MODELS for n in sizes for t in TARGETS}
    searches = dict.fromkeys(sizes, 0)
    thresholds: dict[tuple[str, int, float], list[float]] = {k: [] for k in fp}
    for rep in range(args.reps):
        perm = rng.permutation(ids)
        half_a, half_b = perm[: ids.size // 2], perm[ids.size // 2 :]
        in_a = np.isin(names, half_a)
        cals = {m: OpenSetCalibration.fit(vecs[in_a], names[in_a], template_sizes=(1,), min_shape=s, min_tail_count=c)
                for m, (s, c) in MODELS.items()}
        for n in sizes:
            enrolled = rng.permutation(half_b)[:n]
            gallery = np.stack([vecs[np.nonzero(names == p)[0][0]] for p in enrolled])
            probes = vecs[np.isin(names, half_b) & ~np.isin(names, enrolled)]
            best = (probes @ gallery.T).max(axis=1)
            searches[n] += probes.shape[0]
            for m, cal in cals.items():
                for t in TARGETS:
                    thr = cal.threshold(t, n).value
                    thresholds[(m, n, t)].append(thr)
                    fp[(m, n, t)] += int((best >= thr).sum())
        print(f"rep {rep + 1}/{args.reps} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    rows = []
    for (m, n, t), k in fp.items():
        obs = k / searches[n]
        rows.append({"tail": m, "n_enrolled": n, "target_fpir": t, "observed_fpir": obs,
                     "binomial_se": math.sqrt(obs * (1 - obs) / searches[n]), "false_positives": k,
                     "nonmated_searches": searches[n], "threshold_mean": float(np.mean(thresholds[(m, n, t)])),
                     "ratio_to_target": obs / t})
        print(f"{m:<24} N={n:>4} target {t:g}: observed FPIR {obs:.4f} ± {rows[-1]['binomial_se']:.4f} "
              f"({k}/{searches[n]}; {obs / t:.2f}× target), threshold {rows[-1]['threshold_mean']:.4f}")
    sig = pipe.config.signature() if pipe.config else pipe.model_tag
    write_result("open_set_transfer", {"pipeline": sig, "reps": args.reps, "people": int(ids.size),
                                       "images": int(names.size), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
