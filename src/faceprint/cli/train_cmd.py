"""``faceprint train CONFIG [--resume]``: train a face embedder — or, with ``task =
"classification"``, an expression classifier (``configs/fer_vgg.toml``) — from a TOML (or YAML)
config.

Needs the ``faceprint[train]`` extra (torch). See :mod:`faceprint.train.loop` for the config format.
``--data-root``, ``--val-root``, ``--output-dir``, ``--epochs``, ``--device`` and ``--amp`` override the
file's values.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a face embedder or an expression classifier (needs faceprint[train])",
        description="Train a face embedder (or, with task = \"classification\", an expression classifier) from a "
        "TOML/YAML config; writes checkpoints, metrics and model.onnx into the config's output_dir.",
    )
    p.add_argument("config", help="training config (.toml, or .yaml with PyYAML installed)")
    p.add_argument("--resume", action="store_true", help="continue from output_dir/checkpoint_last.pt")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in total (checkpointed)")
    p.add_argument("--data-root", help="override data.root (training images)")
    p.add_argument("--val-root", help="override data.val_root (classification: validation images)")
    p.add_argument("--output-dir", help="override output_dir (checkpoints, metrics, model.onnx)")
    p.add_argument("--epochs", type=int, help="override epochs (the learning-rate schedule spans them)")
    p.add_argument("--device", help="override device: auto (CUDA when present), cpu, cuda or cuda:N")
    p.add_argument(
        "--amp",
        choices=("auto", "on", "off", "float16", "bfloat16"),
        help="override amp: auto (float16 + gradient scaling on CUDA), on, off, or on with this dtype",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401  (availability check)
    except ModuleNotFoundError:
        from faceprint.errors import ModelUnavailable

        raise ModelUnavailable("training needs PyTorch: pip install 'faceprint[train]'") from None
    from faceprint.train.loop import TrainConfig, train

    config = TrainConfig.load(args.config)
    if args.data_root:
        config.data.root = str(Path(args.data_root).resolve())
    if args.val_root:
        config.data.val_root = str(Path(args.val_root).resolve())
    if args.output_dir:
        config.output_dir = str(Path(args.output_dir).resolve())
    if args.epochs is not None:
        config.epochs = args.epochs
    if args.device:
        config.device = args.device
    if args.amp in ("float16", "bfloat16"):
        config.amp, config.amp_dtype = "on", args.amp
    elif args.amp:
        config.amp = args.amp
    config.validate()
    if args.no_progress:
        config.progress = False
    result = train(config, resume=args.resume, max_steps=args.max_steps)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        state = "stopped early" if result.stopped_early else "done"
        print(
            f"{state}: {result.steps} steps, {result.epochs_completed} epochs, final loss {result.final_loss:.4f}\n"
            f"checkpoint: {result.checkpoint}\nmetrics: {result.output_dir}/metrics.csv"
            + (f"\nonnx: {result.onnx}" if result.onnx else "")
        )
        if result.best:
            b = result.best
            print(
                f"best epoch {int(b['epoch'])}: validation accuracy {100 * b['accuracy']:.2f}%, "
                f"macro F1 {100 * b['macro_f1']:.2f}%"
                + (f" (flip-TTA {100 * b['accuracy_flip']:.2f}% / {100 * b['macro_f1_flip']:.2f}%)"
                   if "accuracy_flip" in b else "")
            )
    return 0
