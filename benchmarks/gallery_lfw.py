"""Identification and clustering accuracy on LFW *through the gallery* (store + index + decision).

    python benchmarks/gallery_lfw.py            # writes benchmarks/results/gallery_lfw.json

* Embeddings: every LFW image, one face per image (the central face; the documented central-box
  fallback when nothing is detected), through the default pipeline, cached in the evaluation
  embedding cache ($FACEPRINT_CACHE) so re-runs are fast.
* Threshold: the calibrated one (:func:`resolve_threshold`); if the model has none yet, one is
  calibrated here on LFW View 1 (pairsDevTrain, FAR ≤ 1e-3, the ``faceprint calibrate`` default)
  and the source says so. View 2 / the identification probes are never used to pick it.
* Closed/open-set identification: the split of :mod:`faceprint.eval.protocols.identification`
  (first image of each identity with ≥ 2 images enrolled, the rest probes, single-image identities
  enrolled as distractors; open set holds out half of the multi-image identities), but the
  enrollment goes into a real Gallery (SQLite store in a temp dir) and probes are identified with
  ``Gallery.identify_embeddings`` — rank-1 and DIR@FPIR=1e-2 are measured on what the gallery
  returns.
* Template rule: identities with ≥ 4 images enroll their first 3; the rest are probes. ``max``
  (best enrolled face) vs ``mean`` (normalised mean embedding) — rank-1 and DIR@FPIR=1e-2.
* Clustering: all images of identities with ≥ 2 images, Chinese whispers and cosine DBSCAN at the
  threshold; pairwise precision/recall/F1 and BCubed F.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, write_result  # noqa: E402

LFW = SHARED / "lfw"


def lfw_embeddings(verbose: bool = True) -> tuple[list[Path], list[str], np.ndarray, str]:
    """(paths, identity names, unit vectors (n, d), model tag) for every LFW image, cached."""
    from faceprint.api import default_pipeline
    from faceprint.eval.embedding_cache import EmbeddingCache
    from faceprint.eval.protocols.pairs import embed_images

    paths = sorted((LFW / "images").glob("*/*.jpg"))
    if not paths:
        sys.exit(f"needs {LFW}/images (../shared/data beside the repo)")
    pipe = default_pipeline()
    t0 = time.perf_counter()

    def progress(it: Any, n: int) -> Any:
        for i, x in enumerate(it):
            if verbose and i % 500 == 0:
                print(f"  embedding {i}/{n} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
            yield x

    embs, errors = embed_images(paths, pipe, select="center", cache=EmbeddingCache(), progress=progress)
    if errors:
        print(f"  {len(errors)} unreadable images skipped", file=sys.stderr)
    keep = [p for p in paths if p in embs]
    vecs = np.stack([embs[p].vector for p in keep]).astype(np.float32)
    return keep, [p.parent.name for p in keep], vecs, pipe.model_tag


def threshold_for(model: str, paths: list[Path], vecs: np.ndarray) -> tuple[float, str]:
    from faceprint.errors import ModelUnavailable
    from faceprint.eval.protocols.pairs import read_lfw_pairs
    from faceprint.matching.calibration import ThresholdCalibrator
    from faceprint.matching.thresholds import resolve_threshold

    try:
        t = resolve_threshold(model)
        return t.value, t.source
    except ModelUnavailable:
        pass
    pos = {p: i for i, p in enumerate(paths)}
    ps = read_lfw_pairs(LFW / "pairsDevTrain.txt", LFW)
    ok = [p for p in ps.pairs if p.a in pos and p.b in pos]
    s = np.array([float(vecs[pos[p.a]] @ vecs[pos[p.b]]) for p in ok])
    y = np.array([p.same for p in ok])
    cal = ThresholdCalibrator(target_far=1e-3, model=model).fit(s, y)
    return cal.threshold_, f"calibrated here on LFW View 1 pairsDevTrain ({len(ok)} pairs, FAR<=1e-3)"


def _through_gallery(enroll: list[tuple[str, np.ndarray]], probes: np.ndarray, model: str, thr: float, combine: str, k: int = 5) -> tuple[list[Any], float, float]:
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.store.base import NewFace
    from faceprint.types import Embedding

    with tempfile.TemporaryDirectory() as d:
        g = Gallery(home=d, pipeline=None, threshold=thr, combine=combine)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        by_name: dict[str, list[NewFace]] = {}
        for name, v in enroll:
            e = Embedding(v, model=model)
            by_name.setdefault(name, []).append(NewFace(e, f"{name}/{len(by_name.get(name, []))}"))
        for name, faces in by_name.items():
            g.store.add_faces(name, faces)
        t_enroll = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = []
        for i in range(0, len(probes), 256):
            res += g.identify_embeddings(probes[i : i + 256], k)
        t_id = (time.perf_counter() - t0) / max(1, len(probes))
        g.close()
    return res, t_enroll, t_id


def identification(names: list[str], vecs: np.ndarray, model: str, thr: float, combine: str = "max", seed: int = 0) -> dict[str, Any]:
    from faceprint.eval import metrics

    by: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        by.setdefault(n, []).append(i)
    multi = sorted(n for n, ix in by.items() if len(ix) >= 2)
    single = sorted(n for n, ix in by.items() if len(ix) == 1)
    # closed set
    enroll = [(n, vecs[by[n][0]]) for n in multi + single]
    probe_ix = [i for n in multi for i in by[n][1:]]
    res, t_enroll, t_id = _through_gallery(enroll, vecs[probe_ix], model, thr, combine)
    truth = [names[i] for i in probe_ix]
    rank1 = float(np.mean([r.candidates[0].identity == t for r, t in zip(res, truth)]))
    rank5 = float(np.mean([t in [c.identity for c in r.candidates[:5]] for r, t in zip(res, truth)]))
    accepted_right = float(np.mean([r.identity == t for r, t in zip(res, truth)]))
    # open set
    rng = np.random.default_rng(seed)
    order = list(multi)
    rng.shuffle(order)
    held = set(order[: len(order) // 2])
    enrolled = [n for n in multi if n not in held]
    enroll = [(n, vecs[by[n][0]]) for n in enrolled + single]
    mated_ix = [i for n in enrolled for i in by[n][1:]]
    non_ix = [i for n in sorted(held) for i in by[n]]
    res_m, _, _ = _through_gallery(enroll, vecs[mated_ix], model, thr, combine)
    res_n, _, _ = _through_gallery(enroll, vecs[non_ix], model, thr, combine)
    ms = np.array([r.score for r in res_m])
    mc = np.array([r.candidates[0].identity == names[i] for r, i in zip(res_m, mated_ix)])
    ns = np.array([r.score for r in res_n])
    op = metrics.dir_at_fpir(ms, mc, ns, 1e-2)
    op10 = metrics.dir_at_fpir(ms, mc, ns, 1e-1)
    at_thr_dir = float(np.mean(mc & (ms >= thr)))
    at_thr_fpir = float(np.mean(ns >= thr))
    return {
        "combine": combine,
        "closed_set": {"n_enrolled": len(multi) + len(single), "n_probes": len(probe_ix), "rank1": rank1, "rank5": rank5,
                       "identified_correctly_at_threshold": accepted_right},
        "open_set": {"n_enrolled": len(enroll), "n_mated": len(mated_ix), "n_nonmated": len(non_ix),
                     "dir_at_fpir_1e-2": op.dir, "threshold_at_fpir_1e-2": op.threshold, "dir_at_fpir_1e-1": op10.dir,
                     "at_calibrated_threshold": {"dir": at_thr_dir, "fpir": at_thr_fpir}},
        "enroll_seconds": t_enroll,
        "identify_ms_per_probe": t_id * 1e3,
    }


def templates(names: list[str], vecs: np.ndarray, model: str, thr: float) -> dict[str, Any]:
    """max vs mean with 3 enrolled images per person."""
    from faceprint.eval import metrics

    by: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        by.setdefault(n, []).append(i)
    rich = sorted(n for n, ix in by.items() if len(ix) >= 4)
    single = sorted(n for n, ix in by.items() if len(ix) == 1)
    rng = np.random.default_rng(1)
    order = list(rich)
    rng.shuffle(order)
    held = set(order[: len(order) // 3])
    enrolled = [n for n in rich if n not in held]
    enroll = [(n, vecs[i]) for n in enrolled for i in by[n][:3]] + [(n, vecs[by[n][0]]) for n in single]
    mated = [i for n in enrolled for i in by[n][3:]]
    non = [i for n in sorted(held) for i in by[n]]
    out: dict[str, Any] = {"n_identities_with_3_enrolled": len(enrolled), "n_mated": len(mated), "n_nonmated": len(non)}
    for combine in ("max", "mean"):
        rm, _, _ = _through_gallery(enroll, vecs[mated], model, thr, combine)
        rn, _, _ = _through_gallery(enroll, vecs[non], model, thr, combine)
        ms = np.array([r.score for r in rm])
        mc = np.array([r.candidates[0].identity == names[i] for r, i in zip(rm, mated)])
        ns = np.array([r.score for r in rn])
        out[combine] = {"rank1": float(mc.mean()), "dir_at_fpir_1e-2": metrics.dir_at_fpir(ms, mc, ns, 1e-2).dir,
                        "dir_at_fpir_1e-1": metrics.dir_at_fpir(ms, mc, ns, 1e-1).dir}
    return out


def clustering(names: list[str], vecs: np.ndarray, thr: float) -> dict[str, Any]:
    from faceprint.cluster import ChineseWhispers, CosineDBSCAN, cluster_scores

    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    ix = [i for i, n in enumerate(names) if counts[n] >= 2]
    x, y = vecs[ix], np.array([names[i] for i in ix])
    out: dict[str, Any] = {"n_faces": len(ix), "n_identities": int(len(set(y.tolist())))}
    for label, est in (("chinese_whispers", ChineseWhispers(threshold=thr)), ("dbscan", CosineDBSCAN(threshold=thr, min_samples=2))):
        t0 = time.perf_counter()
        labels = est.fit(x).labels_
        out[label] = {**cluster_scores(labels, y).to_dict(), "seconds": time.perf_counter() - t0}
    # the 1:1 threshold is lax for thousands of faces (each face meets ~n·FAR impostors above it):
    # record how both methods fare at stricter thresholds
    sweep = []
    for t in sorted({round(thr, 4), 0.935, 0.94, 0.945, 0.95, 0.955, 0.96}):
        cw = cluster_scores(ChineseWhispers(threshold=t).fit(x).labels_, y)
        db = cluster_scores(CosineDBSCAN(threshold=t).fit(x).labels_, y)
        sweep.append({"threshold": t, "chinese_whispers": {"pairwise_f1": cw.pairwise_f1, "bcubed_f": cw.bcubed_f, "pairwise_precision": cw.pairwise_precision},
                      "dbscan": {"pairwise_f1": db.pairwise_f1, "bcubed_f": db.bcubed_f, "pairwise_precision": db.pairwise_precision}})
    out["threshold_sweep"] = sweep
    return out


def main() -> None:
    t0 = time.perf_counter()
    paths, names, vecs, model = lfw_embeddings()
    print(f"{len(paths)} LFW embeddings ({model}) in {time.perf_counter() - t0:.0f} s")
    thr, src = threshold_for(model, paths, vecs)
    print(f"threshold {thr:.4f} ({src})")
    result: dict[str, Any] = {"model": model, "n_images": len(paths), "threshold": thr, "threshold_source": src}
    for combine in ("mean", "max"):  # one photo enrolled per person: the two rules must agree
        r = identification(names, vecs, model, thr, combine)
        result["identification" if combine == "mean" else "identification_max_rule"] = r
        print(f"[{combine}] closed set rank-1 {r['closed_set']['rank1']:.4f} rank-5 {r['closed_set']['rank5']:.4f} "
              f"({r['closed_set']['n_probes']} probes vs {r['closed_set']['n_enrolled']} people); "
              f"open set DIR@FPIR=1e-2 {r['open_set']['dir_at_fpir_1e-2']:.4f}, at the calibrated threshold "
              f"DIR {r['open_set']['at_calibrated_threshold']['dir']:.4f} FPIR {r['open_set']['at_calibrated_threshold']['fpir']:.4f}")
    t = templates(names, vecs, model, thr)
    result["templates"] = t
    print(f"templates (3 enrolled/person): max rank-1 {t['max']['rank1']:.4f} DIR@1e-2 {t['max']['dir_at_fpir_1e-2']:.4f}; "
          f"mean rank-1 {t['mean']['rank1']:.4f} DIR@1e-2 {t['mean']['dir_at_fpir_1e-2']:.4f}")
    c = clustering(names, vecs, thr)
    result["clustering"] = c
    for k in ("chinese_whispers", "dbscan"):
        print(f"clustering {k}: pairwise P {c[k]['pairwise_precision']:.4f} R {c[k]['pairwise_recall']:.4f} "
              f"F1 {c[k]['pairwise_f1']:.4f}; BCubed F {c[k]['bcubed_f']:.4f} ({c[k]['n_clusters']} clusters, {c[k]['seconds']:.1f} s)")
    for row in c["threshold_sweep"]:
        print(f"  threshold {row['threshold']:.4f}: whispers F1 {row['chinese_whispers']['pairwise_f1']:.3f} "
              f"BCubed {row['chinese_whispers']['bcubed_f']:.3f}; dbscan F1 {row['dbscan']['pairwise_f1']:.3f} "
              f"BCubed {row['dbscan']['bcubed_f']:.3f}")
    write_result("gallery_lfw", result)


if __name__ == "__main__":
    main()
