"""Helpers shared by the CLI subcommands (argument groups, output, progress bars)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from faceprint.parallel import map_ordered

T = TypeVar("T")

#: File name endings taken as images when a folder is given.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp", ".gif"})


def expand_images(paths: Iterable[str]) -> list[str]:
    """Files as given, folders replaced by the images under them (recursively, sorted, hidden
    entries skipped). A path that does not exist is kept, so that it is reported per image.
    Raises InvalidInput for a folder without any image."""
    from faceprint.errors import InvalidInput

    out: list[str] = []
    for p in paths:
        root = Path(p)
        if not root.is_dir():
            out.append(p)
            continue
        found = sorted(
            f for f in root.rglob("*")
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
            and not any(part.startswith(".") for part in f.relative_to(root).parts)
        )
        if not found:
            raise InvalidInput(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {p}")
        out += [str(f) for f in found]
    return out


def add_jobs_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help=f"images processed at once (default: every core, {os.cpu_count() or 1} here)")


def jobs_of(args: argparse.Namespace) -> int:
    """``--jobs``, defaulting to every core."""
    from faceprint.errors import InvalidInput

    n = getattr(args, "jobs", None)
    if n is None:
        return os.cpu_count() or 1
    if n < 1:
        raise InvalidInput(f"--jobs must be >= 1, got {n}")
    return int(n)


def add_pipeline_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pipeline")
    g.add_argument("--preset", default=None,
                   help="named pipeline to start from (default, fast, accurate, ...: `faceprint models`); "
                        "the options below change it")
    g.add_argument("--detector", default=None, help="detector model (see `faceprint models`)")
    g.add_argument("--upsample", type=int, default=None, help="detector upsampling (dlib detectors only)")
    g.add_argument("--min-face", type=int, default=None, help="minimum face size in pixels")
    g.add_argument("--landmarker", default=None, help="landmark model, or 'none' to use the detector's own")
    g.add_argument("--embedder", default=None, help="embedding model")


def pipeline_from_args(args: argparse.Namespace):
    """A Pipeline from the pipeline arguments, or the shared default when none is given."""
    from faceprint.api import default_pipeline
    from faceprint.errors import InvalidInput
    from faceprint.pipeline import Pipeline, PipelineConfig, detector_defaults, preset_config

    preset = getattr(args, "preset", None)
    if preset is None and not any(
        getattr(args, k, None) is not None for k in ("detector", "upsample", "min_face", "landmarker", "embedder")
    ):
        return default_pipeline()
    cfg = preset_config(preset) if preset is not None else PipelineConfig()
    detector = args.detector or cfg.detector
    changes: dict[str, Any] = {"detector": detector}
    # the preset's options for its own detector, else the pipeline's measured options for this one
    opts = dict(cfg.detector_options or {}) if detector == cfg.detector else detector_defaults(detector)
    if args.upsample is not None:
        if detector == "mtcnn":
            raise InvalidInput("--upsample applies to the dlib detectors; for mtcnn use --min-face")
        opts["upsample"] = args.upsample
    if args.min_face is not None:
        opts["min_face_size" if detector == "mtcnn" else "min_size"] = args.min_face
    changes["detector_options"] = opts
    if args.landmarker:
        changes["landmarker"] = None if args.landmarker.lower() == "none" else args.landmarker
    if args.embedder:
        changes["embedder"] = args.embedder
    return Pipeline.from_config(cfg, **changes)


class JobsPipeline:
    """A pipeline whose ``process_many`` spreads its images over ``jobs`` threads (contiguous
    shares, each still embedded in shared batches; results in input order). Everything else is
    the wrapped pipeline's: give it where a pipeline is injected (e.g. a Gallery that enrols)."""

    def __init__(self, pipeline: Any, jobs: int) -> None:
        self._pipeline = pipeline
        self._jobs = max(1, int(jobs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)

    def process_many(self, images: Iterable[Any], *, boxes: Any = None, embed: bool = True) -> Iterator[Any]:
        imgs = list(images)
        n = min(self._jobs, len(imgs))
        if n <= 1 or boxes is not None:
            yield from self._pipeline.process_many(imgs, boxes=boxes, embed=embed)
            return
        size = -(-len(imgs) // n)
        shares = [imgs[i:i + size] for i in range(0, len(imgs), size)]
        for faces in map_ordered(lambda share: list(self._pipeline.process_many(share, embed=embed)), shares, len(shares)):
            yield from faces


def add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def progress(items: Iterable[T], total: int | None, args: argparse.Namespace, desc: str = "") -> Iterator[T]:
    """A tqdm progress bar on stderr for multi-item work (rate and ETA), unless disabled."""
    if getattr(args, "no_progress", False) or (total is not None and total < 2):
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit="img", file=sys.stderr, dynamic_ncols=True, leave=False)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=_default)
    sys.stdout.write("\n")


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def for_each_image(args: argparse.Namespace, paths: list[str], desc: str, fn: Any) -> tuple[list[dict[str, Any]], bool]:
    """Decode each image and call ``fn(index, path, image) -> dict`` on it, with a progress bar,
    on ``--jobs`` threads (``fn`` must be thread-safe; results come back in input order).

    An image that cannot be read (or that ``fn`` rejects with a FaceprintError) becomes an
    ``{"image", "error": {"code", "message"}}`` entry instead of stopping the run. Returns the
    results in order and whether any image failed.
    """
    from faceprint.errors import FaceprintError
    from faceprint.io import load_image

    def one(item: tuple[int, str]) -> dict[str, Any]:
        i, path = item
        try:
            return {"image": path, **fn(i, path, load_image(path))}
        except FaceprintError as e:
            return {"image": path, "error": {"code": e.code, "message": str(e)}}

    results = list(progress(map_ordered(one, enumerate(paths), jobs_of(args)), len(paths), args, desc))
    return results, any("error" in r for r in results)


def print_face_results(results: list[dict[str, Any]], face_line: Any) -> None:
    """Human output: per image a header (or its error), then ``face_line(i, face)`` per face."""
    for r in results:
        if "error" in r:
            print(f"{r['image']}: error: {r['error']['message']}")
            continue
        print(f"{r['image']}: {len(r['faces'])} face(s)")
        for i, f in enumerate(r["faces"]):
            print(f"  #{i} {face_line(i, f)}")


def images_exit_code(results: list[dict[str, Any]], bad: bool) -> int:
    """2 when an image could not be read, else 1 when no image held a face, else 0."""
    if bad:
        return 2
    return 0 if any(r.get("faces") for r in results) else 1


def box_text(face: dict[str, Any]) -> str:
    x1, y1, x2, y2 = face["box"]
    return f"box=({x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f})"
