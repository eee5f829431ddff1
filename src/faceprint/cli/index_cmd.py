"""faceprint index DIR... [--library FILE | --store URL] [--jobs N] [--engine ray [--address A] [--workers N]] [--json]

Indexes a photo collection into the library (``library.sqlite`` in the faceprint home): every
face with its box, landmarks, embedding, quality and thumbnail, clustered into people as photos
arrive. Unchanged files are skipped; a run that is stopped (Ctrl-C, ``kill -9``) resumes where it
stopped. Bad files are reported and counted, never stop the run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from faceprint.cli._common import add_jobs_arg, add_output_args, add_pipeline_args, jobs_of, pipeline_from_args, print_json


def add_library_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library", default=None, metavar="FILE",
                   help="the library file (default: library.sqlite in --home)")
    p.add_argument("--store", dest="library", metavar="URL|FILE",
                   help="the library's store: a postgresql://... URL (PostgreSQL + pgvector) or an SQLite file")
    p.add_argument("--home", default=None, help="data directory (default $FACEPRINT_HOME, else the user data dir)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index",
        help="index a photo collection into the library (resumable)",
        description="Walk DIR... recursively, detect and embed every face of every photo, store them in the "
        "library and cluster them into people. Unchanged files are skipped (moved or renamed ones are "
        "recognised by content); an interrupted run resumes where it stopped.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="folders (or photos) to index")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="where to run (default local)")
    p.add_argument("--address", default=None,
                   help="--engine ray: a running Ray cluster (auto, HOST:6379 or ray://HOST:10001; default: a local Ray)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="--engine ray: actors, one pipeline each (default: --jobs, else every core)")
    p.add_argument("--threshold", type=float, default=None,
                   help="cosine similarity linking two faces (default: the model's calibrated clustering "
                   "threshold for the library's size)")
    p.add_argument("--pool", choices=["threads", "processes", "auto"], default="auto",
                   help="local engine: threads sharing one pipeline, worker processes with one pipeline each "
                   "(~0.65 GB each), or auto (default): processes when --jobs > 1, there are at least 64 photos to "
                   "process and memory allows, else threads (docs/library.md)")
    add_library_args(p)
    add_jobs_arg(p)
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceprint.library.api import index

    bar: Any = None

    def on_total(n: int) -> None:
        nonlocal bar
        if not args.no_progress and n > 1:
            from tqdm import tqdm

            bar = tqdm(total=n, desc="indexing", unit="photo", file=sys.stderr, dynamic_ncols=True, leave=False)

    def on_progress(path: str, result: Any) -> None:
        if bar is not None:
            bar.update(1)

    if args.engine != "ray" and (args.address is not None or args.workers is not None):
        print("note: --address and --workers are for --engine ray; ignored", file=sys.stderr)
    pipe = pipeline_from_args(args)
    jobs = jobs_of(args) if args.engine != "ray" or args.jobs is not None else None  # ray: the cluster's CPUs
    try:
        report = index(args.dirs, library=args.library, home=args.home, pipeline=pipe, jobs=jobs,
                       threshold=args.threshold, engine=args.engine, on_progress=on_progress, on_total=on_total,
                       pool=args.pool, **({"address": args.address, "workers": args.workers} if args.engine == "ray" else {}))
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print_json(report.to_dict())
        return 0
    for e in report.error_list:
        print(f"  skipped {e.path}: {e.message}", file=sys.stderr)
    rate = report.indexed / report.elapsed_s if report.elapsed_s > 0 else 0.0
    print(f"{report.files} photo file(s): {report.indexed} indexed ({rate:.1f}/s), {report.unchanged} unchanged, "
          f"{report.known} already known (moved/copied), {report.errors} bad, {report.unreadable_dirs} unreadable "
          f"folder(s), {report.removed} removed; {report.faces} face(s) added; {report.clusters} cluster(s) "
          f"in {report.elapsed_s:.1f} s")
    return 0
