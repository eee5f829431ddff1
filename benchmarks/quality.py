"""Face-image quality (``faceprint_quality``) checked the way face-quality work checks it: an
error-versus-reject curve on LFW View 2.

Every photo of View 1 (``pairsDevTrain.txt``, ``pairsDevTest.txt``) and View 2 (``pairs.txt``) goes
through the default pipeline (MTCNN → SFace int8, the ``default`` preset); the face nearest the
centre is used (LFW names the person at the centre; no face: the central box, as the LFW protocol
does). Its embedding and quality signals are cached in ``$FACEPRINT_CACHE`` so later runs take
seconds.

``--fit``: least-squares fit of each DevTrain genuine pair's cosine on the features of each of its
two photos (View 1 DevTrain only), printed as the numbers to put in
``faceprint.models.analyzers.quality.FIT``; the sigmoid is centred on the model's shipped threshold
(quality 0.5 = a face predicted to score at the threshold against another photo of the person)
with the fitted scores' standard deviation as its scale.

Evaluation (the packaged weights): the threshold is fixed on all 3,000 View 2 impostor pairs at
FMR 1e-3 (and 1e-2); pair quality is the smaller of its two photos'; the lowest-quality 1, 2, 5, 10
and 20 % of pairs are dropped and FNMR (and FMR) recomputed at the same threshold. Each single
signal is ranked the same way for comparison, and the share of LFW faces under candidate
enrolment floors is reported.

    python benchmarks/quality.py [--fit] [--threads 2]

Prints the figures and writes benchmarks/results/quality.json.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, write_result  # noqa: E402

REJECT = (0.0, 0.01, 0.02, 0.05, 0.10, 0.20)
#: The enrolment floor refuses at most this share of View 1 DevTrain faces (LFW's faces are nearly all
#: recognisable; 2 %, the first rule, gave 0.98 and refused face_recognition's lin-manuel-miranda.png at 0.97).
FLOOR_MAX_REJECT = 0.002
FMRS = (1e-3, 1e-2)


def embed_all(paths: list[Path], threads: int | None) -> dict[str, dict]:
    """Per image: embedding, detection status and quality signals (cached)."""
    from faceprint.config import cache_dir
    from faceprint.models import registry
    from faceprint.models.analyzers.quality import EMBEDDER, QualitySignals, measure
    from faceprint.pipeline import Pipeline, central_box, preset_config, select_face

    if threads:
        os.environ["FACEPRINT_THREADS"] = str(threads)
    cfg = preset_config("default")
    sig = cfg.signature()
    key = hashlib.sha256(f"{sig};quality=2".encode()).hexdigest()[:16]
    cache = cache_dir() / f"bench_quality_{key}.npz"
    out: dict[str, dict] = {}
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            names, emb, fb, sig_rows = [str(n) for n in z["names"]], z["emb"], z["fallback"], z["signals"]
        for i, n in enumerate(names):
            out[n] = {"emb": emb[i], "fallback": bool(fb[i]), "signals": QualitySignals(*map(float, sig_rows[i]))}
    todo = [p for p in paths if str(p) not in out]
    print(f"{len(paths)} images: {len(paths) - len(todo)} cached, {len(todo)} to embed ({sig})", flush=True)
    if todo:
        from faceprint.io import load_image

        pipe = Pipeline.from_config(cfg)
        emb_q = pipe.embedder if pipe.embedder.card.name == EMBEDDER else registry.create(EMBEDDER)
        t0 = time.perf_counter()
        for i, p in enumerate(todo):
            img = load_image(str(p))
            faces = pipe.process(img)
            fallback = not faces
            face = select_face(faces, "center", img.shape) if faces else pipe.process(img, boxes=[central_box(img.shape)])[0]
            assert face.embedding is not None
            out[str(p)] = {"emb": face.embedding.vector, "fallback": fallback, "signals": measure(img, face, emb_q)}
            if (i + 1) % 500 == 0 or i + 1 == len(todo):
                print(f"  {i + 1}/{len(todo)} ({(time.perf_counter() - t0) / (i + 1) * 1000:.0f} ms/image)", flush=True)
                names = sorted(out)
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.savez(
                    cache.with_suffix(".tmp.npz"),
                    names=np.array(names),
                    emb=np.stack([out[n]["emb"] for n in names]).astype(np.float32),
                    fallback=np.array([out[n]["fallback"] for n in names]),
                    signals=np.array([list(asdict(out[n]["signals"]).values()) for n in names], np.float64),
                )
                cache.with_suffix(".tmp.npz").replace(cache)
    return out


def pair_scores(pairs, data) -> tuple[np.ndarray, np.ndarray]:
    s = np.array([float(data[str(p.a)]["emb"] @ data[str(p.b)]["emb"]) for p in pairs])
    y = np.array([p.same for p in pairs])
    return s, y


#: the direction each feature is expected to move quality (FEATURES order): a fitted weight of the
#: other sign is set to 0 and the rest refitted, so no signal counts the wrong way round
EXPECTED_SIGN = (1, 1, 1, -1, -1, -1, -1, 1, -1, 1, 1)


def fit(pairs, data, threshold: float) -> dict:
    """Least squares of each genuine pair's cosine on the features of each of its photos (ridge
    1 on standardised features), signs constrained to :data:`EXPECTED_SIGN`; quality is then
    the logistic approximation of P(cosine >= threshold) under the fit's residual spread."""
    from faceprint.models.analyzers.quality import FEATURES, features

    frontal = float(np.median([d["signals"].pitch for d in data.values() if not d["fallback"]]))
    rows, target = [], []
    for p in pairs:
        if not p.same:
            continue
        s = float(data[str(p.a)]["emb"] @ data[str(p.b)]["emb"])
        for img in (p.a, p.b):
            rows.append(features(data[str(img)]["signals"], frontal))
            target.append(s)
    x, t = np.asarray(rows), np.asarray(target)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    active = np.ones(len(FEATURES), bool)
    for _ in range(len(FEATURES)):
        xs = (x[:, active] - mu[active]) / sd[active]
        a = np.hstack([xs, np.ones((len(xs), 1))])
        ridge = np.eye(a.shape[1])
        ridge[-1, -1] = 0.0
        coef = np.linalg.solve(a.T @ a + ridge, a.T @ t)
        w = np.zeros(len(FEATURES))
        w[active] = coef[:-1] / sd[active]
        wrong = active & (np.sign(w) != np.asarray(EXPECTED_SIGN)) & (w != 0)
        if not wrong.any():
            break
        active &= ~wrong
    b = float(coef[-1] - (coef[:-1] * mu[active] / sd[active]).sum())
    pred = x @ w + b
    resid = float(np.std(t - pred))
    return {
        "weights": tuple(round(float(v), 6) for v in w),
        "bias": round(b - threshold, 6),
        "scale": round(1.702 / resid, 6),
        "frontal_pitch": round(frontal, 6),
        "rows": len(target),
        "dropped_for_sign": [f for f, on in zip(FEATURES, active, strict=True) if not on],
        "r": round(float(np.corrcoef(pred, t)[0, 1]), 4),
        "residual_sd": round(resid, 5),
        "threshold": round(threshold, 6),
    }


def erc(scores: np.ndarray, same: np.ndarray, quality: np.ndarray, fmr: float, seed: int = 0) -> dict:
    """FNMR / FMR at the threshold fixed on every pair, after dropping the lowest-quality pairs."""
    imp = np.sort(scores[~same])[::-1]
    k = max(1, int(math.floor(fmr * len(imp))))
    thr = float(imp[k - 1]) + 1e-9  # at most k impostors at or above it
    order = np.argsort(quality, kind="stable")
    rows = []
    for r in REJECT:
        keep = np.ones(len(scores), bool)
        keep[order[: int(round(r * len(scores)))]] = False
        g, i = keep & same, keep & ~same
        rows.append(
            {
                "reject": r,
                "pairs_kept": int(keep.sum()),
                "fnmr": round(float((scores[g] < thr).mean()), 5),
                "fmr": round(float((scores[i] >= thr).mean()), 5),
                "false_non_matches": int((scores[g] < thr).sum()),
            }
        )
    return {"fmr_target": fmr, "threshold": round(thr, 5), "curve": rows}


def time_quality(paths: list[str]) -> float:
    """Median ms per face of :meth:`QualityAnalyzer.assess` (faces from the default pipeline)."""
    from faceprint.io import load_image
    from faceprint.models.analyzers.quality import QualityAnalyzer
    from faceprint.pipeline import Pipeline, preset_config, select_face

    pipe = Pipeline.from_config(preset_config("default"))
    qa = QualityAnalyzer()
    qa.load()
    times = []
    for p in paths:
        img = load_image(p)
        faces = pipe.process(img, embed=False)
        if not faces:
            continue
        face = select_face(faces, "center", img.shape)
        t0 = time.perf_counter()
        qa.assess(img, [face])
        times.append((time.perf_counter() - t0) * 1000)
    return round(float(np.median(times)), 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", action="store_true", help="fit the weights on View 1 DevTrain and print them")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    from faceprint.eval.protocols.pairs import read_lfw_pairs
    from faceprint.models import registry
    from faceprint.models.analyzers.quality import FEATURES, QualityAnalyzer, features

    root = SHARED / "lfw"
    if not (root / "pairs.txt").is_file():
        sys.exit(f"benchmark needs {root}")
    sets = {n: read_lfw_pairs(root / f, root) for n, f in (("train", "pairsDevTrain.txt"), ("test", "pairsDevTest.txt"),
                                                             ("view2", "pairs.txt"))}
    paths = sorted({p for s in sets.values() for p in s.images})
    data = embed_all(paths, args.threads)
    thr = float(registry.get_card("sface_int8").default_threshold or 0.0)
    if args.fit:
        f = fit(sets["train"].pairs, data, thr)
        print("FIT =", f)
        return 0
    qa = QualityAnalyzer()
    q_img = {n: qa.score(d["signals"]) for n, d in data.items()}
    result: dict = {"pipeline": "default preset (mtcnn -> sface_int8)", "images": len(data),
                    "no_face_fallbacks": int(sum(d["fallback"] for d in data.values())), "fit_on": "View 1 DevTrain",
                    "card_fit": {k: qa.card.extra[k] for k in ("weights", "bias", "scale", "frontal_pitch")}}
    for name in ("test", "view2"):
        pairs = sets[name].pairs
        s, y = pair_scores(pairs, data)
        qmin = np.array([min(q_img[str(p.a)], q_img[str(p.b)]) for p in pairs])
        block = {"pairs": len(pairs), "quality": {f"fmr_{fmr:g}": erc(s, y, qmin, fmr) for fmr in FMRS}}
        singles = {}
        for k, fname in enumerate(FEATURES):
            sign = float(np.sign(qa.card.extra["weights"][k]) or 1.0)
            fi = {n: sign * features(d["signals"], qa._frontal_pitch)[k] for n, d in data.items()}
            qf = np.array([min(fi[str(p.a)], fi[str(p.b)]) for p in pairs])
            singles[fname] = erc(s, y, qf, 1e-3)["curve"]
        block["single_signals_fmr_0.001"] = {k: {str(r["reject"]): r["fnmr"] for r in v} for k, v in singles.items()}
        rng = np.random.default_rng(0)
        block["random_reject_fmr_0.001"] = erc(s, y, rng.random(len(s)), 1e-3)["curve"]
        result[name] = block
    view2_imgs = np.array([q_img[str(p)] for p in sets["view2"].images])
    all_q = np.array(list(q_img.values()))
    train_q = np.array([q_img[str(p)] for p in sets["train"].images])
    floors = (0.5, 0.9, 0.95, 0.96, 0.97, 0.98, 0.985, 0.99)
    result["floors"] = {
        f"{t:g}": {"view1_train": round(float((train_q < t).mean()), 4), "view2": round(float((view2_imgs < t).mean()), 4),
                   "all_lfw_images_used": round(float((all_q < t).mean()), 4)}
        for t in floors
    }
    ok = [t for t in floors if (train_q < t).mean() <= FLOOR_MAX_REJECT and round(t, 2) == t]
    result["floor_rule"] = f"the largest floor on a 0.01 grid that rejects <= {FLOOR_MAX_REJECT:.1%} of View 1 DevTrain faces"
    result["chosen_floor"] = max(ok) if ok else None
    result["view1_train_quantiles"] = {f"{q:g}": round(float(np.quantile(train_q, q)), 4) for q in (0.01, 0.02, 0.05, 0.5)}
    result["view2_quality_quantiles"] = {f"{q:g}": round(float(np.quantile(view2_imgs, q)), 4) for q in (0.01, 0.02, 0.05, 0.5)}
    for name in ("test", "view2"):
        for key, block in result[name]["quality"].items():
            print(f"{name} {key} threshold {block['threshold']}:")
            for r in block["curve"]:
                print(f"  reject {r['reject']:5.0%}: FNMR {r['fnmr']:.4f} ({r['false_non_matches']} FN)  FMR {r['fmr']:.4f}")
    print("single signals (view2, FMR 1e-3):")
    for k, v in result["view2"]["single_signals_fmr_0.001"].items():
        print(f"  {k:15s} " + "  ".join(f"{r}: {f:.4f}" for r, f in v.items()))
    print("floors (share of faces below):", result["floors"], "chosen:", result["chosen_floor"])
    print("View 1 DevTrain quality quantiles:", result["view1_train_quantiles"])
    result["ms_per_face_median"] = time_quality(sorted(data)[:: max(1, len(data) // 200)][:200])
    print(f"quality ms/face (median of 200, signals + SFace int8 on chip and mirror): {result['ms_per_face_median']:.2f}")
    result["command"] = "python benchmarks/quality.py" + (f" --threads {args.threads}" if args.threads else "")
    write_result("quality", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
