"""Gallery commands:

* ``faceprint enroll NAME IMG...`` / ``faceprint enroll --folders DIR`` (one sub-folder per person)
* ``faceprint identify IMG... [-k N] [--threshold T | --fpir F] [--json]``
* ``faceprint gallery info|list|show NAME|remove NAME...|export FILE|import FILE|reembed``

All take ``--home DIR`` (else ``$FACEPRINT_HOME``, else the per-user data directory).
Exit codes: 0 ok; 1 no face / nobody identified / some images not enrolled (with --folders: some
person got no photo enrolled); 2 bad input, unknown names included.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from faceprint.cli._common import (
    IMAGE_SUFFIXES,
    JobsPipeline,
    add_jobs_arg,
    add_output_args,
    add_pipeline_args,
    expand_images,
    jobs_of,
    pipeline_from_args,
    print_json,
    progress,
)
from faceprint.parallel import map_ordered


def _selection(value: str) -> Any:
    return int(value) if value.lstrip("-").isdigit() else value


def _add_home(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", default=None,
                   help="data directory holding the gallery (default: $FACEPRINT_HOME or the user data dir)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enroll",
        help="add photos of a person to the gallery",
        description="Enroll photos of one person (NAME IMG...), or a folder-per-person tree (--folders DIR). "
        "Each photo must hold exactly one face unless --select says which to take. Bad images (no face, "
        "several faces, unreadable) are reported and skipped; every image reported enrolled is on disk. "
        "With --folders the exit status is 0 when every person got at least one photo enrolled.",
    )
    p.add_argument("name", nargs="?", help="the person's name (not with --folders)")
    p.add_argument("images", nargs="*", help="image files or folders (searched recursively for images)")
    p.add_argument("--folders", metavar="DIR", help="bulk: DIR/<name>/<images>, one sub-folder per person")
    p.add_argument("--track", metavar="RESULT.json:ID", action="append", default=None,
                   help="enrol a track of `faceprint video` (its best embeddings, stored in the timeline); repeatable")
    add_jobs_arg(p)
    p.add_argument("--select", type=_selection, default=None,
                   help="face to take from photos with several: largest, center, score or an index (default: refuse them)")
    p.add_argument("--min-quality", type=float, default=None, metavar="Q",
                   help="refuse faces whose quality (0..1, faceprint_quality) is below Q; 0 turns the floor off "
                   "(default: faceprint.config.DEFAULT_MIN_QUALITY, chosen on LFW View 1)")
    _add_home(p)
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run_enroll)

    p = sub.add_parser("identify", help="who is in these photos?",
                       description="Identify every face of each image against the gallery.")
    p.add_argument("images", nargs="+", help="image files or folders (searched recursively for images)")
    p.add_argument("-k", type=int, default=5, help="candidates per face (default 5)")
    add_jobs_arg(p)
    p.add_argument("--threshold", type=float, default=None,
                   help="cosine threshold for a match (default: solved for --fpir and the gallery's size)")
    p.add_argument("--fpir", type=float, default=None,
                   help="accepted false-positive identification rate: the chance that someone who is not enrolled "
                   "is reported as someone who is (default 0.01); the threshold rises with the gallery's size")
    _add_home(p)
    add_pipeline_args(p)
    add_output_args(p)
    p.set_defaults(func=run_identify)

    p = sub.add_parser("gallery", help="inspect and manage the gallery", description="Inspect and manage the gallery.")
    gs = p.add_subparsers(dest="gallery_command", metavar="ACTION")
    acts = {
        "info": "where the gallery is, its model, size and threshold",
        "list": "enrolled people",
        "show": "one person's enrolled faces",
        "remove": "delete people and all their faces",
        "export": "write the whole gallery to one portable file",
        "import": "merge a gallery file into this gallery",
        "reembed": "re-compute every embedding with the chosen pipeline (after a model change), "
                   "or add / drop one model of several",
    }
    sp = {name: gs.add_parser(name, help=h, description=h) for name, h in acts.items()}
    sp["show"].add_argument("name")
    sp["remove"].add_argument("names", nargs="+")
    sp["export"].add_argument("path")
    sp["export"].add_argument("--force", action="store_true", help="overwrite an existing file")
    sp["import"].add_argument("path")
    sp["reembed"].add_argument("--roots", nargs="*", default=[], metavar="DIR",
                               help="folders to search for moved source images (by content)")
    sp["reembed"].add_argument("--drop-missing", action="store_true", help="drop faces whose source image cannot be found")
    how = sp["reembed"].add_mutually_exclusive_group()
    how.add_argument("--add-model", action="store_true",
                     help="add the chosen pipeline's model (e.g. --preset accurate) next to the models the gallery holds: "
                          "faces whose photo is gone are kept for the old models and listed as lacking the new one")
    how.add_argument("--drop-model", metavar="MODEL", default=None,
                     help="forget one model (name@version, see `gallery info`) and its embeddings; faces stay")
    _add_home(p)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    for name, q in sp.items():
        # SUPPRESS: an option given before the action (`gallery --home X list`) is not reset
        q.add_argument("--home", default=argparse.SUPPRESS, help="data directory holding the gallery")
        q.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON on stdout")
        if name == "reembed":
            add_pipeline_args(q)
    p.set_defaults(func=run_gallery)


def _gallery(args: argparse.Namespace, with_pipeline: bool = True) -> Any:
    from faceprint.matching.gallery import Gallery

    pipe = pipeline_from_args(args) if with_pipeline and hasattr(args, "embedder") else None
    if pipe is not None and getattr(args, "func", None) is run_enroll:
        pipe = JobsPipeline(pipe, jobs_of(args))  # enrolment batches spread over --jobs threads
    return Gallery(home=args.home, pipeline=pipe, threshold=getattr(args, "threshold", None),
                   target_fpir=getattr(args, "fpir", None), min_quality=getattr(args, "min_quality", None))


# ------------------------------------------------------------------ enroll


def _folder_items(root: Path) -> list[tuple[str, Path]]:
    if not root.is_dir():
        from faceprint.errors import InvalidInput

        raise InvalidInput(f"--folders needs a directory, got {root}")
    items = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(d.rglob("*")):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not any(
                part.startswith(".") for part in f.relative_to(d).parts
            ):
                items.append((d.name, f))
    return items


def run_enroll(args: argparse.Namespace) -> int:
    from faceprint.errors import InvalidInput

    if getattr(args, "track", None):
        from faceprint.video.enrol import enroll_tracks

        return enroll_tracks(args, _gallery)
    if args.folders:
        if args.name or args.images:
            raise InvalidInput("give either NAME IMG... or --folders DIR, not both")
        items: list[tuple[str, Any]] = list(_folder_items(Path(args.folders)))
        if not items:
            raise InvalidInput(f"no images in person folders under {args.folders}")
    else:
        if not args.name or not args.images:
            raise InvalidInput("usage: faceprint enroll NAME IMG... | faceprint enroll --folders DIR")
        from faceprint.matching.names import validate_name

        name = validate_name(args.name)  # a name the gallery refuses is a usage error (exit 2)
        items = [(name, img) for img in expand_images(args.images)]
    counts = {"enrolled": 0, "duplicate": 0, "error": 0}
    outcomes = []
    ok_people: set[str] = set()
    with _gallery(args) as g:
        bar = None
        if not args.no_progress and len(items) > 1 and not args.json:
            from tqdm import tqdm

            bar = tqdm(total=len(items), desc="enrolling", unit="img", file=sys.stderr, dynamic_ncols=True)
        try:
            for o in g.enroll_many(items, select=args.select):
                counts[o.status] += 1
                if o.status != "error":
                    ok_people.add(o.name)
                if args.json:
                    outcomes.append(o.to_dict())
                else:
                    line = f"{o.status:<9} {o.name}  {o.source}" + (f": {o.error}" if o.error else "")
                    (bar.write(line, file=sys.stdout) if bar else print(line, flush=True))
                if bar:
                    bar.update(1)
        finally:
            if bar:
                bar.close()
        people = sorted({n for n, _ in items})
    missing = [n for n in people if n not in ok_people]
    if args.json:
        print_json({"counts": counts, "images": outcomes, "people_without_photo": missing})
    else:
        print(f"{counts['enrolled']} enrolled, {counts['duplicate']} already there, {counts['error']} failed "
              f"({len(items)} images, {len(people)} people)", file=sys.stderr)
        if counts["error"]:
            print(f"faceprint: warning: {counts['error']} photo(s) skipped (see 'error' lines above)", file=sys.stderr)
        if missing:
            print(f"faceprint: warning: no photo enrolled for {', '.join(missing)}", file=sys.stderr)
    if args.folders:  # bulk: bad photos are skipped; a failure is a person left without any photo
        return 0 if not missing else 1
    return 0 if counts["error"] == 0 else 1


# ---------------------------------------------------------------- identify


def run_identify(args: argparse.Namespace) -> int:
    from faceprint.errors import FaceprintError, GalleryError, InvalidInput, ModelUnavailable
    from faceprint.io import load_image

    if args.k < 1:
        raise InvalidInput("-k must be >= 1")
    images = expand_images(args.images)
    results: list[dict[str, Any]] = []
    any_known = False
    bad = False
    with _gallery(args) as g:
        pipeline = g.pipeline

        def faces_of(path: str) -> Any:  # detection and embedding on --jobs threads
            try:
                return [f for f in pipeline.process(load_image(path)) if f.embedding is not None]
            except (GalleryError, ModelUnavailable):
                raise  # not about this image: every other image would fail the same way
            except FaceprintError as e:
                return e

        for path, got in zip(images, progress(map_ordered(faces_of, images, jobs_of(args)), len(images), args, "identify"),
                             strict=True):
            if isinstance(got, FaceprintError):
                bad = True
                results.append({"image": path, "error": str(got), "error_code": got.code})
                if not args.json:
                    print(f"{path}: error: {got}", file=sys.stderr)
                continue
            faces = g.identify_embeddings(  # the search, in this thread
                [f.embedding for f in got], args.k, threshold=args.threshold,
                boxes=[f.box for f in got], detection_scores=[f.detection.score for f in got],
            ) if got else []
            any_known |= any(not f.is_unknown for f in faces)
            results.append({"image": path, "faces": [f.to_dict() for f in faces]})
            if not args.json:
                _print_identified(path, faces)
    if args.json:
        print_json({"results": results})
    if bad and not any_known:
        return 2
    return 0 if any_known else 1


def _print_identified(path: str, faces: list[Any]) -> None:
    print(path)
    if not faces:
        print("  no face found")
        return
    for i, f in enumerate(faces, 1):
        box = "[" + ", ".join(f"{v:.0f}" for v in f.box.as_tuple()) + "]" if f.box is not None else "[]"
        if f.identity is not None:
            print(f"  face {i} {box}: {f.identity}  (score {f.score:.4f} >= {f.threshold:.4f})")
        elif f.candidates:
            best = f.candidates[0]
            print(f"  face {i} {box}: unknown  (closest {best.identity} {best.score:.4f} < {f.threshold:.4f})")
        else:
            print(f"  face {i} {box}: unknown  (gallery is empty)")


# ----------------------------------------------------------------- gallery


def run_gallery(args: argparse.Namespace) -> int:
    act = args.gallery_command or "info"
    handler = {
        "info": _info, "list": _list, "show": _show, "remove": _remove,
        "export": _export, "import": _import, "reembed": _reembed,
    }[act]
    return handler(args)


def _info(args: argparse.Namespace) -> int:
    from faceprint.errors import FaceprintError

    with _gallery(args, with_pipeline=False) as g:
        info: dict[str, Any] = g.info()
        for m in info["models"]:  # each model's own open-set threshold, for the people enrolled with it
            try:
                thr = g.threshold(m["model"])
                m["threshold"], m["threshold_source"] = thr.value, thr.source
                if thr.target_fpir is not None:
                    m["target_fpir"] = thr.target_fpir
            except FaceprintError as e:
                m["threshold"], m["threshold_source"] = None, str(e)
        primary = next((m for m in info["models"] if m["model"] == info["model"]), None)
        if primary is not None:  # the primary model's threshold at the top level, as before
            info["threshold"], info["threshold_source"] = primary["threshold"], primary["threshold_source"]
            if "target_fpir" in primary:
                info["target_fpir"] = primary["target_fpir"]
    if getattr(args, "json", False):
        print_json(info)
        return 0
    for k, v in info.items():
        if k != "models":
            print(f"{k:>17}: {v}")
    for m in info["models"]:
        thr = f"{m['threshold']:.4f} ({m['threshold_source']})" if m["threshold"] is not None else m["threshold_source"]
        print(f"{'model':>17}: {m['model']}{' (primary)' if m['primary'] else ''}, {m['dim']}-D, {m['faces']} faces"
              f"{', ' + str(m['faces_lacking']) + ' lacking it' if m['faces_lacking'] else ''}; threshold {thr}")
        for item in m.get("lacking", []):
            print(f"{'':>19}lacking: {item}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _gallery(args, with_pipeline=False) as g:
        people = g.list()
    if args.json:
        print_json({"identities": [p.to_dict() for p in people]})
        return 0
    if not people:
        print("the gallery is empty", file=sys.stderr)
        return 0
    w = max(len(p.name) for p in people)
    for p in people:
        print(f"{p.name:<{w}}  {p.n_faces} face{'s' if p.n_faces != 1 else ''}")
    print(f"{len(people)} people, {sum(p.n_faces for p in people)} faces", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from faceprint.errors import UnknownIdentity

    with _gallery(args, with_pipeline=False) as g:
        try:
            rec, faces = g.show(args.name)
        except UnknownIdentity:
            raise UnknownIdentity(
                f"no identity named {args.name!r} in the gallery at {g.store.location} "
                "(`faceprint gallery list` shows who is enrolled; --home / FACEPRINT_HOME choose the gallery)"
            ) from None
    if args.json:
        print_json({**rec.to_dict(), "faces": [f.to_dict() for f in faces]})
        return 0
    print(f"{rec.name}: {len(faces)} face(s)" + (f", metadata {rec.metadata}" if rec.metadata else ""))
    for f in faces:
        box = "[" + ", ".join(f"{v:.0f}" for v in f.box.as_tuple()) + "]" if f.box else "[]"
        q = f" quality {f.quality:.3f}" if f.quality is not None else ""
        print(f"  #{f.id} {f.source or '(no file)'} {box}{q} {f.model} sha256 {f.sha256[:12]}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from faceprint.errors import UnknownIdentity

    removed, unknown = {}, []
    with _gallery(args, with_pipeline=False) as g:
        for name in args.names:
            try:
                removed[name] = g.delete(name)
            except UnknownIdentity:
                unknown.append(name)
    if args.json:
        print_json({"removed": removed, "unknown": unknown})
    else:
        for n, k in removed.items():
            print(f"removed {n} ({k} face{'s' if k != 1 else ''})")
        for n in unknown:
            print(f"no identity named {n!r}", file=sys.stderr)
    return 0 if not unknown else 1


def _export(args: argparse.Namespace) -> int:
    with _gallery(args, with_pipeline=False) as g:
        path = g.export(args.path, overwrite=args.force)
        ni, nf = g.count()
    if args.json:
        print_json({"path": str(path), "identities": ni, "faces": nf})
    else:
        print(f"exported {ni} people, {nf} faces to {path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    with _gallery(args, with_pipeline=False) as g:
        stats = g.import_(args.path)
    if args.json:
        print_json(stats)
    else:
        print(f"imported {stats['faces_added']} faces of {stats['identities']} people ({stats['duplicates']} already there)")
    return 0


def _reembed(args: argparse.Namespace) -> int:
    if args.drop_model:
        with _gallery(args, with_pipeline=False) as g:
            n = g.drop_model(args.drop_model)
            left = g.models
        if args.json:
            print_json({"dropped_model": args.drop_model, "embeddings_removed": n, "models": left})
        else:
            print(f"dropped {args.drop_model}: {n} embeddings removed; the gallery holds {', '.join(left) or 'no model'}")
        return 0
    pipe = pipeline_from_args(args)
    with _gallery(args, with_pipeline=False) as g:
        had = str(pipe.model_tag) in g.models
        if args.add_model:
            report = g.add_model(pipe, roots=args.roots)
        else:
            report = g.reembed(pipe, roots=args.roots, drop_missing=args.drop_missing)
    if args.json:
        print_json(report.to_dict())
    elif args.add_model and had and not report.n_reembedded and not report.missing:
        print(f"the gallery already holds {report.model_to}: every face has it, nothing to add")
    elif args.add_model:
        print(f"added {report.model_to}: {report.n_reembedded} faces embedded; "
              f"{report.n_missing} kept without it (photo gone; they keep {report.model_from})")
        for item in report.missing[:20]:
            print(f"  lacking {report.model_to}: {item}", file=sys.stderr)
    else:
        print(f"re-embedded {report.n_reembedded} faces with {report.model_to} (was {report.model_from}); "
              f"dropped {report.n_dropped}")
    return 0
