"""Identification and clustering accuracy on LFW *through the gallery* (store + index + decision),
and whether the open-set threshold model keeps its promise on people it has never seen.

    python benchmarks/gallery_lfw.py            # writes benchmarks/results/gallery_lfw.json

* Embeddings: every LFW image, one face per image (the central face; the documented central-box
  fallback when nothing is detected), through the default pipeline, cached in the evaluation
  embedding cache ($FACEPRINT_CACHE) so re-runs are fast.
* Calibration/evaluation split: the open-set model (``models/cards/<model>.open_set.json``, made by
  ``scripts/calibrate_open_set.py``) was fitted on the identities of LFW View 1 pairsDevTrain.txt.
  Everything threshold-related here uses only the *other* identities (2,779 people, 4,441 images),
  so the predicted FPIR is tested out of sample.
* Open set (held-out identities): per random split, half of the multi-image people enroll their
  first image and are probed with the others (mated), the other half are never enrolled (all their
  images are non-mated probes); half of the single-image people are enrolled as distractors, half
  are non-mated probes. Probes go through ``Gallery.identify_embeddings`` with **no threshold given**:
  the gallery solves the threshold for FPIR 1e-2 and its own size. Reported: that threshold, the
  FPIR actually observed at it, DIR (right at rank 1 and accepted) at it, and the oracle
  DIR@FPIR=1e-2 / threshold read off these probes' own scores. Repeated for gallery sizes 100 / 300 /
  1,000 / all (~1,390) and several splits, pooled; also at FPIR 1e-3, under templates of 3 photos
  (mean rule), and at the model's shipped 1:1 verification threshold for contrast.
* Closed set (all LFW identities, threshold-free): first image of each person enrolled (4,911), the
  other images of multi-image people probe it: rank-1 / rank-5.
* Clustering: all images of held-out multi-image people (Chinese whispers and DBSCAN at their
  calibrated default for that many faces, plus a threshold sweep to show the best reachable F1);
  and, for comparison with earlier figures, all 5,795 images of LFW multi-image people (this set
  includes DevTrain people).
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


def devtrain_identities() -> set[str]:
    """Names in LFW View 1 pairsDevTrain.txt: the open-set calibration's people (never evaluated on)."""
    from faceprint.eval.protocols.pairs import read_lfw_pairs

    ps = read_lfw_pairs(LFW / "pairsDevTrain.txt", LFW)
    return {p.a.parent.name for p in ps.pairs} | {p.b.parent.name for p in ps.pairs}


def _gallery_with(enroll: list[tuple[str, np.ndarray]], model: str, d: str, combine: str = "mean") -> Any:
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.store.base import NewFace
    from faceprint.types import Embedding

    g = Gallery(home=d, pipeline=None, combine=combine, persist_index=False)  # type: ignore[arg-type]
    by_name: dict[str, list[NewFace]] = {}
    for name, v in enroll:
        by_name.setdefault(name, []).append(NewFace(Embedding(v, model=model), f"{name}/{len(by_name.get(name, []))}"))
    g.store.add_faces_bulk(list(by_name.items()))
    return g


def _identify(g: Any, probes: np.ndarray, target_fpir: float | None = None, k: int = 5) -> list[Any]:
    res = []
    for i in range(0, len(probes), 256):
        res += g.identify_embeddings(probes[i : i + 256], k, target_fpir=target_fpir)
    return res


def open_set_run(by: dict[str, list[int]], names: list[str], vecs: np.ndarray, model: str, seed: int,
                 sizes: tuple[int | None, ...], fpirs: tuple[float, ...] = (1e-2, 1e-3)) -> list[dict[str, Any]]:
    """One random split of the held-out people; one gallery per size (None = all enrollable)."""
    from faceprint.eval import metrics

    rng = np.random.default_rng(seed)
    multi = sorted(n for n, ix in by.items() if len(ix) >= 2)
    single = sorted(n for n, ix in by.items() if len(ix) == 1)
    rng.shuffle(multi)
    rng.shuffle(single)
    enr_m, held_m = multi[: len(multi) // 2], multi[len(multi) // 2 :]
    enr_s, held_s = single[: len(single) // 2], single[len(single) // 2 :]
    non_ix = [i for n in held_m for i in by[n]] + [by[n][0] for n in held_s]
    rows = []
    for size in sizes:
        if size is None:
            em, es = enr_m, enr_s
        else:  # keep the mated/distractor proportion of the full gallery
            n_m = max(1, round(size * len(enr_m) / (len(enr_m) + len(enr_s))))
            em, es = enr_m[:n_m], enr_s[: size - n_m]
        enroll = [(n, vecs[by[n][0]]) for n in em + es]
        mated_ix = [i for n in em for i in by[n][1:]]
        with tempfile.TemporaryDirectory() as d:
            g = _gallery_with(enroll, model, d)
            for fpir in fpirs:
                rm = _identify(g, vecs[mated_ix], fpir)
                rn = _identify(g, vecs[non_ix], fpir)
                thr = rn[0].threshold
                assert all(r.threshold == thr for r in rm + rn)
                ms = np.array([r.score for r in rm])
                mc = np.array([r.candidates[0].identity == names[i] for r, i in zip(rm, mated_ix, strict=True)])
                ns = np.array([r.score for r in rn])
                oracle = metrics.dir_at_fpir(ms, mc, ns, fpir)
                rows.append(
                    {
                        "seed": seed,
                        "n_enrolled": len(enroll),
                        "target_fpir": fpir,
                        "threshold": thr,
                        "threshold_source": rn[0].threshold_source,
                        "n_mated": len(mated_ix),
                        "n_nonmated": len(non_ix),
                        "false_positives": int((ns >= thr).sum()),
                        "observed_fpir": float(np.mean(ns >= thr)),
                        "dir": float(np.mean(mc & (ms >= thr))),
                        "rank1": float(mc.mean()),
                        "oracle_threshold": oracle.threshold,
                        "oracle_dir": oracle.dir,
                        "predicted_fpir_mean": float(
                            np.mean([r.fpir_estimate for r in rn if r.fpir_estimate is not None] or [np.nan])
                        ),
                        "at_verification_threshold": {
                            "threshold": VERIFICATION,
                            "fpir": float(np.mean(ns >= VERIFICATION)),
                            "dir": float(np.mean(mc & (ms >= VERIFICATION))),
                        },
                    }
                )
            g.close()
    return rows


def pooled(rows: list[dict[str, Any]]) -> dict[str, Any]:
    fp = sum(r["false_positives"] for r in rows)
    nn = sum(r["n_nonmated"] for r in rows)
    p = fp / nn
    return {
        "splits": len(rows),
        "n_enrolled": int(np.mean([r["n_enrolled"] for r in rows])),
        "threshold_mean": float(np.mean([r["threshold"] for r in rows])),
        "target_fpir": rows[0]["target_fpir"],
        "observed_fpir": p,
        "observed_fpir_binomial_se": float(np.sqrt(p * (1 - p) / nn)),
        "observed_fpir_per_split": [r["observed_fpir"] for r in rows],
        "false_positives": fp,
        "nonmated_searches": nn,
        "dir_at_model_threshold": float(np.mean([r["dir"] for r in rows])),
        "oracle_dir_at_fpir": float(np.mean([r["oracle_dir"] for r in rows])),
        "oracle_threshold_mean": float(np.mean([r["oracle_threshold"] for r in rows])),
        "rank1": float(np.mean([r["rank1"] for r in rows])),
        "at_verification_threshold": {
            k: float(np.mean([r["at_verification_threshold"][k] for r in rows])) for k in ("fpir", "dir")
        },
        "example_threshold_source": rows[0]["threshold_source"],
    }


def open_set(names: list[str], vecs: np.ndarray, model: str, held: list[int], seeds: int = 5) -> dict[str, Any]:
    by: dict[str, list[int]] = {}
    for i in held:
        by.setdefault(names[i], []).append(i)
    sizes: tuple[int | None, ...] = (100, 300, 1000, None)
    rows = [r for seed in range(seeds) for r in open_set_run(by, names, vecs, model, seed, sizes)]
    out: dict[str, Any] = {"n_people": len(by), "n_images": len(held), "by_size": []}
    for fpir in (1e-2, 1e-3):
        for size in sorted({r["n_enrolled"] for r in rows if r["target_fpir"] == fpir}):
            sel = [r for r in rows if r["target_fpir"] == fpir and r["n_enrolled"] == size]
            out["by_size"].append(pooled(sel))
    out["splits"] = rows
    return out


def templates(names: list[str], vecs: np.ndarray, model: str, held: list[int], seeds: int = 3) -> dict[str, Any]:
    """Mean (default) vs max rule with 3 enrolled photos per person, held-out people only, the
    threshold left to the gallery (mean rule: solved for {3: people, 1: distractors})."""
    from faceprint.eval import metrics

    by: dict[str, list[int]] = {}
    for i in held:
        by.setdefault(names[i], []).append(i)
    out: dict[str, Any] = {}
    acc: dict[str, list[dict[str, Any]]] = {"mean": [], "max": []}
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        rich = sorted(n for n, ix in by.items() if len(ix) >= 4)
        single = sorted(n for n, ix in by.items() if len(ix) == 1)
        rng.shuffle(rich)
        rng.shuffle(single)
        held_r = set(rich[: len(rich) // 3])
        enrolled = [n for n in rich if n not in held_r]
        enroll = [(n, vecs[i]) for n in enrolled for i in by[n][:3]] + [(n, vecs[by[n][0]]) for n in single[: len(single) // 2]]
        mated = [i for n in enrolled for i in by[n][3:]]
        non = [i for n in sorted(held_r) for i in by[n]] + [by[n][0] for n in single[len(single) // 2 :]]
        for combine in ("mean", "max"):
            with tempfile.TemporaryDirectory() as d:
                g = _gallery_with(enroll, model, d, combine)
                rm, rn = _identify(g, vecs[mated]), _identify(g, vecs[non])
                g.close()
            thr = rn[0].threshold
            ms = np.array([r.score for r in rm])
            mc = np.array([r.candidates[0].identity == names[i] for r, i in zip(rm, mated, strict=True)])
            ns = np.array([r.score for r in rn])
            acc[combine].append({"threshold": thr, "source": rn[0].threshold_source, "observed_fpir": float(np.mean(ns >= thr)),
                                 "false_positives": int((ns >= thr).sum()), "n_nonmated": len(non),
                                 "dir": float(np.mean(mc & (ms >= thr))), "rank1": float(mc.mean()),
                                 "oracle_dir_at_fpir_1e-2": metrics.dir_at_fpir(ms, mc, ns, 1e-2).dir})
    for combine, rows in acc.items():
        fp, nn = sum(r["false_positives"] for r in rows), sum(r["n_nonmated"] for r in rows)
        out[combine] = {"splits": len(rows), "threshold_mean": float(np.mean([r["threshold"] for r in rows])),
                        "example_threshold_source": rows[0]["source"], "target_fpir": 1e-2,
                        "observed_fpir": fp / nn, "false_positives": fp, "nonmated_searches": nn,
                        "dir_at_model_threshold": float(np.mean([r["dir"] for r in rows])),
                        "oracle_dir_at_fpir_1e-2": float(np.mean([r["oracle_dir_at_fpir_1e-2"] for r in rows])),
                        "rank1": float(np.mean([r["rank1"] for r in rows]))}
    return out


def closed_set(names: list[str], vecs: np.ndarray, model: str) -> dict[str, Any]:
    by: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        by.setdefault(n, []).append(i)
    multi = sorted(n for n, ix in by.items() if len(ix) >= 2)
    single = sorted(n for n, ix in by.items() if len(ix) == 1)
    enroll = [(n, vecs[by[n][0]]) for n in multi + single]
    probe_ix = [i for n in multi for i in by[n][1:]]
    with tempfile.TemporaryDirectory() as d:
        g = _gallery_with(enroll, model, d)
        t0 = time.perf_counter()
        res = _identify(g, vecs[probe_ix])
        t_id = (time.perf_counter() - t0) / len(probe_ix)
        g.close()
    truth = [names[i] for i in probe_ix]
    return {"n_enrolled": len(enroll), "n_probes": len(probe_ix),
            "rank1": float(np.mean([r.candidates[0].identity == t for r, t in zip(res, truth, strict=True)])),
            "rank5": float(np.mean([t in [c.identity for c in r.candidates[:5]] for r, t in zip(res, truth, strict=True)])),
            "identify_ms_per_probe": t_id * 1e3}


def clustering(names: list[str], vecs: np.ndarray, model: str, ix_pool: list[int]) -> dict[str, Any]:
    from faceprint.cluster import ChineseWhispers, CosineDBSCAN, cluster_scores
    from faceprint.types import Embedding

    counts: dict[str, int] = {}
    for i in ix_pool:
        counts[names[i]] = counts.get(names[i], 0) + 1
    ix = [i for i in ix_pool if counts[names[i]] >= 2]
    x, y = vecs[ix], np.array([names[i] for i in ix])
    embs = [Embedding(v, model=model) for v in x]
    out: dict[str, Any] = {"n_faces": len(ix), "n_identities": int(len(set(y.tolist())))}
    for label, est in (("chinese_whispers", ChineseWhispers()), ("dbscan", CosineDBSCAN(min_samples=2))):
        t0 = time.perf_counter()
        labels = est.fit(embs).labels_
        thr = est.threshold_ if hasattr(est, "threshold_") else 1 - est.eps_
        out[label] = {"threshold": float(thr), "threshold_source": est.threshold_source_,
                      **cluster_scores(labels, y).to_dict(), "seconds": time.perf_counter() - t0}
    sweep = []
    # from the 1:1 threshold up to 60 % of the way to 1 (dlib ResNet: 0.91 -> 0.964; SFace: 0.36 -> 0.74)
    for t in np.round(np.linspace(VERIFICATION, VERIFICATION + 0.6 * (1 - VERIFICATION), 9), 4).tolist():
        cw = cluster_scores(ChineseWhispers(threshold=t).fit(x).labels_, y)
        db = cluster_scores(CosineDBSCAN(threshold=t).fit(x).labels_, y)
        sweep.append({"threshold": t, "chinese_whispers": {"pairwise_f1": cw.pairwise_f1, "bcubed_f": cw.bcubed_f},
                      "dbscan": {"pairwise_f1": db.pairwise_f1, "bcubed_f": db.bcubed_f}})
    out["threshold_sweep"] = sweep
    for label in ("chinese_whispers", "dbscan"):
        best = max(sweep, key=lambda r: r[label]["pairwise_f1"])
        out[label]["best_sweep_pairwise_f1"] = best[label]["pairwise_f1"]
        out[label]["best_sweep_threshold"] = best["threshold"]
    return out


def main() -> None:
    from faceprint.matching.thresholds import open_set_calibration

    t0 = time.perf_counter()
    paths, names, vecs, model = lfw_embeddings()
    print(f"{len(paths)} LFW embeddings ({model}) in {time.perf_counter() - t0:.0f} s")
    found = open_set_calibration(model)
    if found is None:
        sys.exit(f"no open-set calibration for {model}: run scripts/calibrate_open_set.py first")
    cal, where = found
    global VERIFICATION
    from faceprint.matching.thresholds import shipped_calibration

    shipped = shipped_calibration(model.split("@")[0])
    VERIFICATION = float(shipped.threshold_) if shipped is not None else VERIFICATION
    dev = devtrain_identities()
    held = [i for i, n in enumerate(names) if n not in dev]
    print(f"open-set calibration: {where}; evaluating on {len(set(names[i] for i in held))} people "
          f"({len(held)} images) not in pairsDevTrain")
    result: dict[str, Any] = {"model": model, "n_images": len(paths), "open_set_calibration": where,
                              "calibration_pipeline": cal.pipeline, "verification_threshold": VERIFICATION,
                              "devtrain_people_excluded": len(dev)}

    os_ = open_set(names, vecs, model, held)
    result["open_set_heldout"] = os_
    for r in os_["by_size"]:
        print(
            f"[open set, held-out] N={r['n_enrolled']:>5} FPIR target {r['target_fpir']:g}: "
            f"threshold {r['threshold_mean']:.4f} -> observed FPIR {r['observed_fpir']:.4f} ± "
            f"{r['observed_fpir_binomial_se']:.4f} ({r['false_positives']}/{r['nonmated_searches']}), "
            f"DIR {r['dir_at_model_threshold']:.4f} (oracle DIR@FPIR {r['oracle_dir_at_fpir']:.4f} "
            f"at {r['oracle_threshold_mean']:.4f}); "
            f"at {VERIFICATION:.2f}: FPIR {r['at_verification_threshold']['fpir']:.3f}"
        )
    t = templates(names, vecs, model, held)
    result["templates_heldout"] = t
    for k in ("mean", "max"):
        print(f"[3 photos/person, {k} rule] threshold {t[k]['threshold_mean']:.4f}: observed FPIR {t[k]['observed_fpir']:.4f} "
              f"({t[k]['false_positives']}/{t[k]['nonmated_searches']}), DIR {t[k]['dir_at_model_threshold']:.4f}, "
              f"oracle DIR@1e-2 {t[k]['oracle_dir_at_fpir_1e-2']:.4f}, rank-1 {t[k]['rank1']:.4f}")
    cs = closed_set(names, vecs, model)
    result["closed_set_all_lfw"] = cs
    print(
        f"[closed set, all LFW] rank-1 {cs['rank1']:.4f} rank-5 {cs['rank5']:.4f} "
        f"({cs['n_probes']} probes vs {cs['n_enrolled']} people)"
    )
    for label, pool in (("clustering_heldout", held), ("clustering_all_lfw", list(range(len(names))))):
        c = clustering(names, vecs, model, pool)
        result[label] = c
        for k in ("chinese_whispers", "dbscan"):
            print(
                f"[{label}] {k} ({c['n_faces']} faces) at default {c[k]['threshold']:.4f}: pairwise F1 {c[k]['pairwise_f1']:.4f} "
                f"(P {c[k]['pairwise_precision']:.3f} R {c[k]['pairwise_recall']:.3f}), BCubed F {c[k]['bcubed_f']:.4f}; "
                f"best in sweep {c[k]['best_sweep_pairwise_f1']:.4f} at {c[k]['best_sweep_threshold']}"
            )
    write_result("gallery_lfw", result)


#: the model's shipped 1:1 threshold (best accuracy on View 1 DevTrain), for contrast; set in main()
VERIFICATION = 0.910382866859436


if __name__ == "__main__":
    main()
