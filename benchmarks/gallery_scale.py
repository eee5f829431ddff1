"""Gallery search at scale: latency, recall against exact search, enrollment throughput, memory.

    python benchmarks/gallery_scale.py [--sizes 10000 100000 1000000] [--probes 1000]

Gallery contents: real LFW embeddings (the first image of every LFW identity, from the default
pipeline, see ``gallery_lfw.py``) planted among synthetic distractor faces. Distractors are not
uniform noise (which real embeddings would trivially stand out from): they are drawn to look like
the real ones — synthetic identities sampled from a Gaussian fitted to the real identities' mean
embeddings, each with ~3 faces sampled with the real within-identity covariance — then
L2-normalised. Probes are the *other* images of the planted identities (real queries whose mate is
in the gallery); a second set of synthetic probes (new synthetic faces of enrolled synthetic
identities) checks recall on the distractor population too.

Measured per size: exact search (FlatIndex, numpy/BLAS) and HNSW (FAISS) single-query latency
p50/p99 on the caller's thread count, recall@1 of HNSW against exact (same top-1 face), rank-1
identity accuracy of the real probes; HNSW build throughput; index memory (bytes per face);
store enrollment throughput (SQLite, per-image transactions with fsync, and bulk). Results:
``benchmarks/results/gallery_scale.json``.

When the LFW embeddings cannot be computed (no pipeline / no data) it falls back to synthetic
clustered vectors only and says so in the result (``"real_embeddings": false``).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import rss_mb, write_result  # noqa: E402


def real_embeddings() -> tuple[np.ndarray, np.ndarray, str] | None:
    try:
        from gallery_lfw import lfw_embeddings

        _, names, vecs, model = lfw_embeddings(verbose=False)
    except (Exception, SystemExit) as e:  # noqa: BLE001
        print(f"no real embeddings ({e}); using synthetic clustered vectors only", file=sys.stderr)
        return None
    _, ids = np.unique(np.array(names), return_inverse=True)
    return vecs, ids, model


def fit_generator(vecs: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, between-identity Cholesky factor, within-identity Cholesky factor)."""
    d = vecs.shape[1]
    uniq = np.unique(ids)
    means = np.stack([vecs[ids == u].mean(axis=0) for u in uniq])
    mu = means.mean(axis=0)
    cb = np.cov(means.T) + 1e-6 * np.eye(d)
    resid = np.concatenate([vecs[ids == u] - vecs[ids == u].mean(axis=0) for u in uniq if (ids == u).sum() >= 2])
    cw = np.cov(resid.T) + 1e-6 * np.eye(d)
    return mu, np.linalg.cholesky(cb), np.linalg.cholesky(cw)


def synth(
    n: int, gen: tuple[np.ndarray, np.ndarray, np.ndarray], rng: np.random.Generator, per: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n synthetic faces of ~n/per synthetic identities; also returns the identity centres."""
    mu, lb, lw = gen
    d = mu.size
    n_id = max(1, n // per)
    centres = mu + rng.standard_normal((n_id, d)).astype(np.float32) @ lb.T.astype(np.float32)
    owner = np.repeat(np.arange(n_id), per)[:n]
    if owner.size < n:
        owner = np.concatenate([owner, rng.integers(0, n_id, n - owner.size)])
    out = np.empty((n, d), np.float32)
    for s in range(0, n, 100_000):
        o = owner[s : s + 100_000]
        x = centres[o] + rng.standard_normal((o.size, d)).astype(np.float32) @ lw.T.astype(np.float32)
        out[s : s + 100_000] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out, owner, centres


def latency(search, queries: np.ndarray, k: int = 10) -> tuple[float, float, np.ndarray]:
    ts, top = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, f, _ = search(q[None], k)
        ts.append(time.perf_counter() - t0)
        top.append(f[0, 0])
    t = np.array(ts) * 1e3
    return float(np.percentile(t, 50)), float(np.percentile(t, 99)), np.array(top)


def store_throughput(vecs: np.ndarray, model: str, n_single: int = 300, n_bulk: int = 20000) -> dict[str, Any]:
    from faceprint.matching.store.base import NewFace
    from faceprint.matching.store.sqlite import SqliteStore
    from faceprint.types import Embedding

    with tempfile.TemporaryDirectory(dir=os.environ.get("FACEPRINT_BENCH_TMP")) as d:
        s = SqliteStore(Path(d) / "g.sqlite")
        embs = [Embedding(v, model=model) for v in vecs[: max(n_single, n_bulk)]]
        t0 = time.perf_counter()
        for i in range(n_single):
            s.add_faces(f"p{i // 3}", [NewFace(embs[i], f"s{i}")])
        t_single = time.perf_counter() - t0
        groups = [(f"b{i // 3}", [NewFace(embs[i], f"b{i}")]) for i in range(n_bulk)]
        t0 = time.perf_counter()
        s.add_faces_bulk(groups)
        t_bulk = time.perf_counter() - t0
        s.close()
    return {
        "per_image_transactions_per_s": n_single / t_single,
        "bulk_faces_per_s": n_bulk / t_bulk,
        "note": "per-image = one BEGIN IMMEDIATE..COMMIT with synchronous=FULL per face (what bulk enrollment does)",
    }


def gallery_level(
    gallery: np.ndarray, owners: np.ndarray, probes: np.ndarray, probe_ids: np.ndarray, model: str
) -> dict[str, Any]:
    """End to end through Gallery.identify_embeddings (SQLite store, auto index, name lookup,
    change-log check), per single probe, for both template rules."""
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.store.base import NewFace
    from faceprint.matching.store.sqlite import SqliteStore
    from faceprint.types import Embedding

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("FACEPRINT_BENCH_TMP")) as d:
        store = SqliteStore(Path(d) / "g.sqlite")
        t0 = time.perf_counter()
        groups: dict[int, list[NewFace]] = {}
        for i, (v, o) in enumerate(zip(gallery, owners.tolist(), strict=True)):
            groups.setdefault(o, []).append(NewFace(Embedding(v, model=model), f"h{i}"))
        items = [(f"id{o}", f) for o, f in groups.items()]
        for s in range(0, len(items), 50_000):
            store.add_faces_bulk(items[s : s + 50_000])
        out["store_fill_seconds"] = time.perf_counter() - t0
        for combine in ("mean", "max"):
            g = Gallery(home=d, pipeline=None, store=store, threshold=0.5, combine=combine, persist_index=False)
            t0 = time.perf_counter()
            g.identify_embeddings(probes[:1], 5)  # builds the index (and templates) from the store
            t_open = time.perf_counter() - t0
            ts, right = [], []
            for q, pid in zip(probes[:300], probe_ids[:300], strict=True):
                t0 = time.perf_counter()
                r = g.identify_embeddings(q[None], 5)[0]
                ts.append(time.perf_counter() - t0)
                right.append(r.candidates[0].identity == f"id{pid}")
            t = np.array(ts) * 1e3
            out[combine] = {"p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99)),
                            "rank1": float(np.mean(right)), "first_query_builds_index_s": t_open, "index": g.sync_index().kind}
            print(f"  gallery [{combine}]: p50 {out[combine]['p50_ms']:.3f} ms p99 {out[combine]['p99_ms']:.3f} ms "
                  f"rank-1 {out[combine]['rank1']:.4f} (index {out[combine]['index']}, built in {t_open:.1f} s)")
        store.close()
    return out


def main() -> None:
    from faceprint.matching.index.faiss_index import DEFAULT_EF_CONSTRUCTION, DEFAULT_M

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--probes", type=int, default=1000)
    ap.add_argument("--ef", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--m", type=int, default=DEFAULT_M)
    ap.add_argument("--ef-construction", type=int, default=DEFAULT_EF_CONSTRUCTION)
    ap.add_argument("--gallery-max", type=int, default=100_000, help="end-to-end Gallery timing up to this size")
    ap.add_argument("--name", default="gallery_scale", help="result file name (benchmarks/results/NAME.json)")
    args = ap.parse_args()

    from faceprint.matching.index.faiss_index import FaissIndex
    from faceprint.matching.index.flat import FlatIndex

    rng = np.random.default_rng(0)
    real = real_embeddings()
    result: dict[str, Any] = {
        "real_embeddings": real is not None,
        "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
    }
    if real is not None:
        vecs, ids, model = real
        gen = fit_generator(vecs, ids)
        # gallery: the first image of every identity; probes: later images of identities with >= 2
        first = np.unique(ids, return_index=True)[1]
        g_real, g_real_ids = vecs[first], ids[first]
        rest = np.setdiff1d(np.arange(len(ids)), first)
        pick = rng.choice(rest, size=min(args.probes, rest.size), replace=False)
        probes, probe_ids = vecs[pick], ids[pick]
        result["model"] = model
        result["n_real_gallery"] = int(len(first))
    else:
        d = 128
        mu = np.zeros(d)
        gen = (mu, np.eye(d) * 0.6, np.eye(d) * 0.25)
        x, owner, _ = synth(4000, gen, rng, per=2)
        g_real, g_real_ids = x[0::2], owner[0::2]
        probes, probe_ids = x[1::2][: args.probes], owner[1::2][: args.probes]
        model = "synthetic"
    d = g_real.shape[1]
    result["dim"] = d
    print(f"real gallery faces {len(g_real)}, probes {len(probes)}, dim {d}")

    result["store_enrollment"] = store_throughput(
        g_real if len(g_real) >= 20000 else np.concatenate([g_real, synth(20000, gen, rng)[0]]), model
    )
    print(f"store: {result['store_enrollment']['per_image_transactions_per_s']:.0f} per-image commits/s, "
          f"{result['store_enrollment']['bulk_faces_per_s']:.0f} faces/s bulk")

    sizes = []
    for n in args.sizes:
        gc.collect()
        n_syn = max(0, n - len(g_real))
        syn, syn_owner, _ = synth(n_syn, gen, np.random.default_rng(n))
        gallery = np.concatenate([g_real, syn])[:n]
        owners = np.concatenate([g_real_ids, syn_owner + 10_000_000])[:n]
        fids = np.arange(n, dtype=np.int64)
        # synthetic probes: new faces of enrolled synthetic identities
        sp, sp_owner, _ = synth(min(300, max(1, n_syn)), gen, np.random.default_rng(n + 1))
        entry: dict[str, Any] = {"n_faces": n}

        flat = FlatIndex(d)
        flat.add(fids, owners, gallery)
        p50, p99, exact_top = latency(flat.search, probes)
        _, _, exact_top_syn = latency(flat.search, sp[:100])
        entry["flat"] = {
            "p50_ms": p50,
            "p99_ms": p99,
            "rank1": float(np.mean(owners[exact_top] == probe_ids)),
            "bytes_per_face": flat.nbytes() / n,
        }
        print(f"n={n}: exact p50 {p50:.2f} ms p99 {p99:.2f} ms rank-1 {entry['flat']['rank1']:.4f}")
        del flat
        gc.collect()

        rss0 = rss_mb()
        hn = FaissIndex(d, m=args.m, ef_construction=args.ef_construction)
        t0 = time.perf_counter()
        hn.add(fids, owners, gallery)
        t_build = time.perf_counter() - t0
        mem = (rss_mb() - rss0) * 2**20
        blob = hn.state()["faiss"].size
        entry["hnsw_build"] = {
            "m": args.m,
            "ef_construction": args.ef_construction,
            "seconds": t_build,
            "faces_per_s": n / t_build,
            "rss_delta_bytes_per_face": mem / n,
            "serialized_bytes_per_face": blob / n,
        }
        print(f"  hnsw M={args.m} efC={args.ef_construction}: built in {t_build:.1f} s ({n / t_build:.0f} faces/s), "
              f"{blob / n:.0f} B/face serialized, RSS +{mem / 2**20:.0f} MiB")
        entry["hnsw"] = []
        for ef in args.ef:
            hn.ef_search = ef
            p50, p99, top = latency(hn.search, probes)
            _, _, top_syn = latency(hn.search, sp[:100])
            row = {"ef_search": ef, "p50_ms": p50, "p99_ms": p99,
                   "recall_at_1_real": float(np.mean(top == exact_top)),
                   "recall_at_1_synthetic": float(np.mean(top_syn == exact_top_syn)),
                   "rank1": float(np.mean(owners[top] == probe_ids))}
            entry["hnsw"].append(row)
            print(f"  ef_search {ef:>3}: p50 {p50:.3f} ms p99 {p99:.3f} ms recall@1 {row['recall_at_1_real']:.4f} "
                  f"(synthetic probes {row['recall_at_1_synthetic']:.3f}) rank-1 {row['rank1']:.4f}")
        del hn
        gc.collect()
        if n <= args.gallery_max:
            entry["gallery"] = gallery_level(gallery, owners, probes, probe_ids, model)
        sizes.append(entry)
        del gallery, syn
        gc.collect()
        result["sizes"] = sizes
        result["args"] = vars(args)
        write_result(args.name, result)


if __name__ == "__main__":
    main()
