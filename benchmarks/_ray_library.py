"""The Ray engine's runs of benchmarks/index_library.py (kept apart so the local runs stay readable).

After the local runs, in the same process: the same library indexed by the Ray engine on a local
Ray (``num_cpus`` = the cores, started once before these runs by ``ray_engine.start_local_ray``: no
dashboard, no memory monitor), once per worker count of ``--ray-workers`` (default 1 and 2), each
into a fresh SQLite file written by the driver; with ``--ray-postgres`` once more with the most
workers into PostgreSQL + pgvector (a pgserver server on this machine, the store a cluster uses).
Each run's time includes starting the actors and loading their models. Recorded: photos/s (and its
ratio to the single-image rate × workers), the clustering scores (the benchmark's ``scores``), the
peak summed RSS of the actor processes (sampled every 0.5 s), and how many Ray runs it took.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path


class ActorMemory:
    """Peak of the summed RSS of the Ray actor processes below this one, sampled in a thread."""

    def __init__(self, period_s: float = 0.5) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period_s,), daemon=True)

    def _run(self, period_s: float) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(period_s):
            total = 0
            for p in me.children(recursive=True):
                try:
                    if "MapWorker" in " ".join(p.cmdline()):
                        total += p.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, total / 2**20)

    def __enter__(self) -> ActorMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def pg_server(tmp: Path):
    """A PostgreSQL + pgvector server from the pgserver wheel (the tests' server), in ``tmp``; its URL."""
    import pgserver

    d = tmp / "pg"
    d.mkdir()
    srv = pgserver.get_server(str(d), cleanup_mode="stop")
    srv.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    return srv, srv.get_uri()


def ray_runs(coll: Path, tmp: Path, pipe, workers: list[int], cores: int, single: float,
             scores: Callable[[Path | str], dict], postgres: bool = False) -> list[dict]:
    """The Ray engine on a local Ray, once per worker count, into SQLite files; with ``postgres``
    once more with the most workers into PostgreSQL (see the module docstring)."""
    from faceprint.library.backends import open_store
    from faceprint.library.ray_engine import RayEngine, start_local_ray

    here = str(Path(__file__).resolve().parents[1] / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join([here, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    t0 = time.perf_counter()
    ray = start_local_ray(cores)
    start_s = time.perf_counter() - t0
    print(f"local Ray started with {cores} CPUs in {start_s:.1f} s")
    out = []
    srv = None
    plan: list[tuple[int, Path | str]] = [(w, tmp / f"library-ray{w}.sqlite") for w in workers]
    if postgres:
        srv, url = pg_server(tmp)
        plan.append((max(workers), url))
    try:
        for w, lib in plan:
            store_kind = "sqlite" if isinstance(lib, Path) else "postgresql"
            with open_store(lib) as store, ActorMemory() as mem:
                engine = RayEngine(store, pipe, workers=w)
                t0 = time.perf_counter()
                report = engine.index([str(coll)])
                dt = time.perf_counter() - t0
            rate = report.indexed / dt
            sc = scores(lib)
            m = sc["people_with_2plus_scores"]
            print(f"Ray, {w} worker(s), {store_kind}: {report.indexed} photos ({report.faces} faces) in {dt:.1f} s: "
                  f"{rate:.2f} photos/s = {rate / (single * w):.3f} x single rate x workers; pairwise F1 {m['pairwise_f1']:.4f}, "
                  f"BCubed F {m['bcubed_f']:.4f}; actors' peak RSS {mem.peak_mb:.0f} MB; Ray runs {engine.last_attempts}")
            out.append({"workers": w, "store": store_kind, **report.to_dict(), "seconds": dt, "photos_per_s": rate,
                        "ratio_to_single_x_workers": rate / (single * w), "ray_runs": engine.last_attempts,
                        "actors_peak_rss_mb": mem.peak_mb, "clustering": sc})
    finally:
        ray.shutdown()
        if srv is not None:
            srv.cleanup()
    return [{"ray_start_s": start_s, "num_cpus": cores}, *out]
