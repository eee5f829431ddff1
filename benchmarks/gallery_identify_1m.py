"""End-to-end identification against a gallery of one million faces: real LFW photos in, names out.

    python benchmarks/gallery_identify_1m.py [--faces 1000000] [--mated 300] [--nonmated 100] [--dir DIR]

Gallery: a real :class:`~faceprint.matching.gallery.Gallery` (SQLite store on disk, FAISS HNSW index,
default ``combine="mean"`` templates, default open-set threshold) holding ``--faces`` faces: the first
LFW photo of every LFW person except 100 held-out people (real embeddings from the default pipeline,
cached), planted among synthetic distractor faces drawn from a Gaussian model fitted to the real
embeddings (``benchmarks/gallery_scale.py``: synthetic identities of ~3 faces each).

Queries: LFW *photos* (files), identified with ``Gallery.identify(path)`` exactly as a user would:
read + decode, detect + align + embed (the default pipeline), search + decision. Mated queries are
other photos of planted people; non-mated queries are photos of the held-out people. Per query the
latency is split into ``pipeline`` (detect/align/embed, measured inside the gallery's pipeline),
``search`` (``identify_embeddings``: index search, template re-scoring, names, threshold) and the
rest (file read, hash, decode). The first query, which builds the index from the store, is
timed separately and excluded from the percentiles.

Accuracy: for the central face of each query (LFW names the person at the centre), recall@1 =
whether the gallery's top identity equals the exact answer of the same rule (normalised mean
template of every identity, brute force over all of them); also face-level recall@1 of the HNSW
index against brute force, rank-1 / accepted (DIR) for mated queries, and the FPIR of non-mated
queries (against mostly synthetic distractors: indicative only).

Memory: peak RSS is reported. Time: building the 1M-face HNSW index dominates a first run (minutes
on 2 shared cores). ``--dir DIR`` keeps the filled store *and* the gallery's persisted index in DIR,
so a re-run skips both (its "open" is loading the index file, as a user's second session would).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import rss_mb, write_result  # noqa: E402
from gallery_lfw import lfw_embeddings  # noqa: E402
from gallery_scale import fit_generator, synth  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TimedPipeline:
    """The gallery's pipeline, timing every ``process`` call."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self.model_tag = pipe.model_tag
        self.config = getattr(pipe, "config", None)
        self.last = 0.0

    def process(self, image: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        out = self._pipe.process(image, **kw)
        self.last = time.perf_counter() - t0
        return out

    def process_many(self, images: Any, **kw: Any) -> Any:
        return self._pipe.process_many(images, **kw)


def build_gallery_contents(n_faces: int, seed: int = 0) -> dict[str, Any]:
    paths, names, vecs, model = lfw_embeddings(verbose=False)
    names_a = np.array(names)
    uniq, first, inv = np.unique(names_a, return_index=True, return_inverse=True)
    counts = np.bincount(inv)
    rng = np.random.default_rng(seed)
    multi = np.nonzero(counts >= 2)[0]
    held = set(rng.choice(multi, 100, replace=False).tolist())
    planted = np.array([u for u in range(uniq.size) if u not in held])
    real = vecs[first[planted]]
    gen = fit_generator(vecs, inv)
    n_syn = n_faces - planted.size
    syn, owner, _ = synth(n_syn, gen, np.random.default_rng(seed + 1))
    return {"paths": paths, "names": names_a, "vecs": vecs, "model": model, "uniq": uniq, "first": first, "inv": inv,
            "held": held, "planted": planted, "real": real, "syn": syn, "syn_owner": owner}


def fill_store(store: Any, c: dict[str, Any], chunk: int = 50_000) -> float:
    from faceprint.matching.store.base import NewFace
    from faceprint.types import Embedding

    model = c["model"]
    t0 = time.perf_counter()
    items = [
        (str(c["uniq"][u]), [NewFace(Embedding(v, model=model), f"lfw-{u}")])
        for u, v in zip(c["planted"], c["real"], strict=True)
    ]
    store.add_faces_bulk(items)
    syn, owner = c["syn"], c["syn_owner"]
    for s in range(0, len(syn), chunk):
        groups: dict[int, list[Any]] = {}
        for k in range(s, min(len(syn), s + chunk)):
            groups.setdefault(int(owner[k]), []).append(NewFace(Embedding(syn[k], model=model), f"syn-{k}"))
        store.add_faces_bulk([(f"synthetic-{o}", f) for o, f in groups.items()])
    return time.perf_counter() - t0


def exact_templates(c: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    """Normalised mean template of every identity (brute-force reference of the mean rule)."""
    real_names = [str(c["uniq"][u]) for u in c["planted"]]
    owner = c["syn_owner"]
    order = np.argsort(owner, kind="stable")
    o = owner[order]
    u, start = np.unique(o, return_index=True)
    sums = np.add.reduceat(c["syn"][order].astype(np.float64), start, axis=0)
    t = np.concatenate([c["real"].astype(np.float64), sums])
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    return t.astype(np.float32), real_names + [f"synthetic-{x}" for x in u.tolist()]


def central(faces: list[Any], shape: tuple[int, ...]) -> Any:
    h, w = shape[:2]
    return min(faces, key=lambda f: (f.box.center[0] - w / 2) ** 2 + (f.box.center[1] - h / 2) ** 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=1_000_000)
    ap.add_argument("--mated", type=int, default=300)
    ap.add_argument("--nonmated", type=int, default=100)
    ap.add_argument("--dir", default=None, help="keep the filled store here and reuse it on the next run")
    ap.add_argument("--name", default="gallery_identify_1m")
    args = ap.parse_args()

    from faceprint.api import default_pipeline
    from faceprint.io import load_image
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.store.sqlite import SqliteStore

    t_all = time.perf_counter()
    c = build_gallery_contents(args.faces)
    print(f"contents: {len(c['planted'])} real LFW people + {len(c['syn'])} synthetic faces "
          f"({int(c['syn_owner'].max()) + 1} synthetic people); RSS {rss_mb():.0f} MiB")

    work = (
        Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="faceprint-1m-", dir=os.environ.get("FACEPRINT_BENCH_TMP")))
    )
    work.mkdir(parents=True, exist_ok=True)
    spec = {"faces": args.faces, "seed": 0, "model": c["model"], "n_real": int(len(c["planted"]))}
    spec_file = work / "spec.json"
    store_path = work / "gallery.sqlite"
    reuse = store_path.is_file() and spec_file.is_file() and json.loads(spec_file.read_text()) == spec
    result: dict[str, Any] = {"n_faces": args.faces, "n_real_people": int(len(c["planted"])),
                              "n_synthetic_faces": int(len(c["syn"])), "model": c["model"]}
    try:
        if not reuse:
            for p in work.glob("gallery.sqlite*"):  # the store, its WAL and its persisted index
                p.unlink()
            store = SqliteStore(store_path)
            t_fill = fill_store(store, c)
            store.close()
            spec_file.write_text(json.dumps(spec))
            result["store_fill_seconds"] = t_fill
            print(f"store filled in {t_fill:.0f} s ({args.faces / t_fill:.0f} faces/s bulk)")
        else:
            print(f"reusing the filled store in {work}")
        result["store_bytes"] = sum(p.stat().st_size for p in work.glob("gallery.sqlite*") if not p.name.endswith(".npz"))
        result["reused_store"] = reuse
        gc.collect()

        pipe = TimedPipeline(default_pipeline())
        sig = pipe.config.signature() if pipe.config else pipe.model_tag
        result["pipeline"] = sig
        g = Gallery(home=work, pipeline=pipe, persist_index=bool(args.dir))
        ni, nf = g.count()
        assert nf == args.faces, (nf, args.faces)
        result["n_identities"] = ni

        rng = np.random.default_rng(7)
        names, inv, first = c["names"], c["inv"], c["first"]
        planted = set(c["planted"].tolist())
        firsts = set(first.tolist())
        mated_pool = [i for i in range(len(names)) if inv[i] in planted and i not in firsts]
        non_pool = [i for i in range(len(names)) if inv[i] in c["held"]]
        mated = rng.choice(mated_pool, min(args.mated, len(mated_pool)), replace=False).tolist()
        non = rng.choice(non_pool, min(args.nonmated, len(non_pool)), replace=False).tolist()

        # the first query opens the gallery: index built from the store (HNSW) + templates
        rss0 = rss_mb()
        t0 = time.perf_counter()
        g.identify(c["paths"][mated[0]])
        t_open = time.perf_counter() - t0
        idx = g.sync_index()
        result["open"] = {"first_query_seconds": t_open, "index": idx.kind if idx is not None else None,
                          "index_loaded_from_disk": bool(reuse and args.dir and g.index_path and g.index_path.is_file()),
                          "rss_mb_before": rss0, "rss_mb_after": rss_mb()}
        how = "loads the saved" if result["open"]["index_loaded_from_disk"] else "builds the"
        print(f"first query ({how} {result['open']['index']} index of {nf} faces + templates): {t_open:.0f} s; "
              f"RSS {rss0:.0f} -> {rss_mb():.0f} MiB")

        search_t = [0.0]
        seen: list[Any] = [None]
        inner = g.identify_embeddings

        def timed_identify_embeddings(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            out = inner(*a, **kw)
            search_t[0] = time.perf_counter() - t
            seen[0] = [e.vector for e in a[0]]  # the query embeddings, in the order of the results
            return out

        g.identify_embeddings = timed_identify_embeddings  # type: ignore[method-assign]
        rows = []
        for qi in mated + non:
            path = c["paths"][qi]
            search_t[0] = 0.0
            seen[0] = None
            pipe.last = 0.0
            t0 = time.perf_counter()
            faces = g.identify(path, k=5)
            total = time.perf_counter() - t0
            rows.append({"i": qi, "mated": qi in mated, "total": total, "pipeline": pipe.last, "search": search_t[0],
                         "faces": faces, "embs": seen[0]})
        g.identify_embeddings = inner  # type: ignore[method-assign]

        # accuracy of the central face against brute force (same rule), from the pipeline's own embeddings
        tmpl, tnames = exact_templates(c)
        allv = np.concatenate([c["real"], c["syn"]])
        checked = []
        for r in rows:
            if not r["faces"]:
                continue
            img = load_image(c["paths"][r["i"]])
            f = central(r["faces"], img.shape)
            emb = np.asarray(r["embs"][r["faces"].index(f)], np.float32)
            exact_id = tnames[int(np.argmax(tmpl @ emb))]
            hn_score = float(idx.search(emb[None], 1)[0][0, 0]) if idx is not None else -np.inf
            exact_score = float(np.max(allv @ emb))
            checked.append({"mated": r["mated"], "top": f.candidates[0].identity if f.candidates else None,
                            "exact": exact_id, "identity": f.identity, "truth": str(names[r["i"]]),
                            "face_recall": hn_score >= exact_score - 1e-6, "score": f.score, "threshold": f.threshold,
                            "source": f.threshold_source})
        del allv
        m = [x for x in checked if x["mated"]]
        n = [x for x in checked if not x["mated"]]
        tot = np.array([r["total"] for r in rows[:]]) * 1e3
        pl = np.array([r["pipeline"] for r in rows]) * 1e3
        se = np.array([r["search"] for r in rows]) * 1e3
        other = tot - pl - se

        def pct(a: np.ndarray) -> dict[str, float]:
            return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean())}

        result["queries"] = {"n": len(rows), "mated": len(mated), "nonmated": len(non),
                             "no_face_found": sum(1 for r in rows if not r["faces"]),
                             "faces_per_query_mean": float(np.mean([len(r["faces"]) for r in rows]))}
        result["latency"] = {"total": pct(tot), "pipeline": pct(pl), "search": pct(se), "read_decode_other": pct(other)}
        result["accuracy"] = {
            "recall_at_1_vs_exact": float(np.mean([x["top"] == x["exact"] for x in checked])),
            "hnsw_face_recall_at_1_vs_exact": float(np.mean([x["face_recall"] for x in checked])),
            "mated_rank1": float(np.mean([x["top"] == x["truth"] for x in m])),
            "mated_exact_rank1": float(np.mean([x["exact"] == x["truth"] for x in m])),
            "mated_identified_at_threshold": float(np.mean([x["identity"] == x["truth"] for x in m])),
            "nonmated_fpir_at_threshold": float(np.mean([x["identity"] is not None for x in n])) if n else None,
            "n_checked": len(checked),
            "threshold": checked[0]["threshold"] if checked else None,
            "threshold_source": checked[0]["source"] if checked else None,
        }
        result["memory"] = {"peak_rss_mb": peak_rss_mb(), "rss_mb_end": rss_mb()}
        result["threads"] = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count()))
        result["wall_seconds"] = time.perf_counter() - t_all
        L, A = result["latency"], result["accuracy"]
        print(
            f"{len(rows)} photo queries: total p50 {L['total']['p50_ms']:.1f} ms p99 {L['total']['p99_ms']:.1f} ms = "
            f"pipeline p50 {L['pipeline']['p50_ms']:.1f} / p99 {L['pipeline']['p99_ms']:.1f} ms + search p50 "
            f"{L['search']['p50_ms']:.2f} / p99 {L['search']['p99_ms']:.2f} ms + read/decode p50 "
            f"{L['read_decode_other']['p50_ms']:.1f} ms"
        )
        print(f"recall@1 vs exact (identity, mean rule) {A['recall_at_1_vs_exact']:.4f}; HNSW face recall@1 "
              f"{A['hnsw_face_recall_at_1_vs_exact']:.4f}; mated rank-1 {A['mated_rank1']:.4f} (exact search "
              f"{A['mated_exact_rank1']:.4f}), identified at threshold {A['mated_identified_at_threshold']:.4f}; "
              f"non-mated FPIR {A['nonmated_fpir_at_threshold']}; threshold {A['threshold']:.4f} ({A['threshold_source']})")
        print(f"peak RSS {result['memory']['peak_rss_mb']:.0f} MiB; wall {result['wall_seconds']:.0f} s")
        g.close()
        write_result(args.name, result)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
