"""``faceprint`` command line. Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable ``run(args) -> int``.

Exit codes: 0 ok, 1 no face / no match, 2 bad input (or usage; an unknown identity name is bad
input), 3 internal/model error.
Only the CLI prints; library code logs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from faceprint.errors import FaceprintError, InvalidImage, InvalidInput, ModelRefused, NoFaceFound, UnknownIdentity
from faceprint.logsafe import SafeFormatter

#: Subcommand modules, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "faceprint.cli.detect_cmd",
    "faceprint.cli.embed_cmd",
    "faceprint.cli.verify_cmd",
    "faceprint.cli.models_cmd",
    "faceprint.cli.eval_cmd",
    "faceprint.cli.calibrate_cmd",
    "faceprint.cli.gallery_cmd",
    "faceprint.cli.cluster_cmd",
    "faceprint.cli.index_cmd",
    "faceprint.cli.people_cmd",
    "faceprint.cli.analyze_cmd",
    "faceprint.cli.video_cmd",
    "faceprint.cli.train_cmd",
    "faceprint.cli.serve_cmd",
    "faceprint.cli.keys_cmd",
    "faceprint.cli.demo_cmd",
)

EXIT_OK, EXIT_NO_MATCH, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3


def version() -> str:
    """The installed distribution's version, else the package's own."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("faceprint")
    except PackageNotFoundError:
        import faceprint

        return str(getattr(faceprint, "__version__", "unknown"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faceprint", description="Offline face recognition.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("--version", action="version", version=f"faceprint {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                continue  # subcommand not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))  # user text cannot forge lines
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)], handlers=[handler])
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or 0)
    except (InvalidImage, InvalidInput, ModelRefused, UnknownIdentity) as e:  # the user's input: a typo is not an internal error
        print(f"faceprint: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NoFaceFound as e:
        print(f"faceprint: {e}", file=sys.stderr)
        return EXIT_NO_MATCH
    except FaceprintError as e:
        print(f"faceprint: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("faceprint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (e.g. piped into `head`): stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
