"""``faceprint eval <protocol>``: evaluation protocols, one sub-subcommand each.

Each protocol registers itself in its own ``_register_<name>(eval_sub)`` function, so adding one
(``eval lfw``, ``eval pairs``...) is one more function and one line in :func:`register`.

    faceprint eval fer --root ../shared/data/fer2013/validation [--json] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from faceprint import config
from faceprint.models.analyzers.base import TTA_MODES

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate models on standard protocols", description="Evaluate models on standard protocols."
    )
    eval_sub = parser.add_subparsers(dest="eval_target", metavar="PROTOCOL")
    parser.set_defaults(func=lambda args: _missing_target(parser))
    _register_verification(eval_sub)
    _register_fer(eval_sub)
    __import__("faceprint.cli.video_cmd", fromlist=["register_eval"]).register_eval(eval_sub)  # eval video


def _register_verification(eval_sub: Any) -> None:
    """``eval lfw``, ``eval pairs``, ``eval identification`` (in :mod:`faceprint.cli._eval_pairs`),
    when that module is part of this build."""
    try:
        from faceprint.cli import _eval_pairs
    except ModuleNotFoundError as e:
        if e.name == "faceprint.cli._eval_pairs":
            return
        raise
    for name in ("register_lfw", "register_pairs", "register_identification"):
        fn = getattr(_eval_pairs, name, None)
        if fn is not None:
            fn(eval_sub)


def _missing_target(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_BAD_INPUT


# ---------------------------------------------------------------------------------------------- fer
def _register_fer(eval_sub: Any) -> None:
    p = eval_sub.add_parser(
        "fer",
        help="expression classifier on a folder-per-class tree (FER2013 layout)",
        description=(
            "Classify every image under ROOT/<class>/ (greyscale, resized bilinearly to the model's input) "
            "and report accuracy, per-class precision/recall/F1, macro F1 and the confusion matrix."
        ),
    )
    p.add_argument("--root", required=True, type=Path, help="folder with one sub-folder per class")
    p.add_argument("--model", default=config.DEFAULT_EXPRESSION_MODEL, help="registered analyzer (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (with a top-level 'accuracy')")
    p.add_argument("--out", type=Path, help="write report.json and confusion.png into this folder")
    p.add_argument("--batch-size", type=int, default=64, help="images per model call (default: %(default)s)")
    p.add_argument("--limit-per-class", type=int, help="evaluate only the first N images of each class (sorted)")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FOLDER=LABEL",
        help="map a folder name to a model label (repeatable); default: the FER2013 folder names",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--threads", type=int, help="inference threads (default: all cores)")
    p.add_argument(
        "--tta",
        choices=TTA_MODES,
        help="test-time augmentation: flip averages each face with its mirror, tencrop ten shifted/mirrored views "
        "(default: the model card's)",
    )
    p.set_defaults(func=run_fer)


def _folder_map(items: list[str]) -> dict[str, str] | None:
    from faceprint.errors import InvalidInput
    from faceprint.eval.protocols.fer import FER2013_FOLDERS

    if not items:
        return None
    fmap = dict(FER2013_FOLDERS)
    for item in items:
        folder, sep, label = item.partition("=")
        if not sep or not folder or not label:
            raise InvalidInput(f"--map expects FOLDER=LABEL, got {item!r}")
        fmap[folder] = label
    return fmap


def run_fer(args: argparse.Namespace) -> int:
    from faceprint.errors import InvalidInput
    from faceprint.eval.protocols.fer import evaluate_folder, format_report, write_report
    from faceprint.models import registry

    if args.batch_size < 1:
        raise InvalidInput("--batch-size must be >= 1")
    if args.limit_per_class is not None and args.limit_per_class < 1:
        raise InvalidInput("--limit-per-class must be >= 1")
    card = registry.get_card(args.model)
    if card.task != "analyzer" or not card.labels:
        raise InvalidInput(f"model {args.model!r} is not a classifier with labels (task {card.task!r})")
    kwargs: dict[str, Any] = {"threads": args.threads} if args.threads else {}
    if args.tta:
        kwargs["tta"] = args.tta
    classifier = registry.create(args.model, **kwargs)
    report = evaluate_folder(
        classifier,
        args.root,
        folder_map=_folder_map(args.map),
        batch_size=args.batch_size,
        limit_per_class=args.limit_per_class,
        progress=not args.no_progress,
    )
    written = write_report(report, args.out) if args.out else {}
    if args.json:
        d = report.to_dict()
        if written:
            d["files"] = {k: str(v) for k, v in written.items()}
        print(json.dumps(d, indent=2))
    else:
        tta = f" ({report.tta} TTA)" if report.tta != "none" else ""
        print(format_report(report.metrics, title=f"{report.model}{tta} on {report.dataset.root}"))
        for kind, path in written.items():
            print(f"wrote {kind}: {path}")
    return EXIT_OK
