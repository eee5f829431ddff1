"""faceprint models [--task T] [--json]"""

from __future__ import annotations

import argparse

from faceprint.cli._common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models and their cards")
    p.add_argument("--task", choices=["detector", "landmarker", "embedder", "analyzer"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceprint.errors import ModelUnavailable
    from faceprint.models import registry
    from faceprint.models.sources import package_file

    cards = registry.list_models(args.task)
    rows = []
    for c in cards:
        try:
            if c.source.package:
                package_file(c.source.package, c.source.path, pip_name=c.source.pip_name)
            installed = True
        except ModelUnavailable:
            installed = False
        rows.append({**c.to_dict(), "installed": installed})
    if args.json:
        print_json({"models": rows})
        return 0
    for r in rows:
        thr = f" threshold={r['default_threshold']:.4f}" if r["default_threshold"] is not None else ""
        size = f" input={r['input_size'][0]}x{r['input_size'][1]}" if r["input_size"] else ""
        state = "" if r["installed"] else "  [NOT INSTALLED: pip install " + (r["source"]["pip_name"] or "?") + "]"
        print(f"{r['name']:<18} {r['task']:<10} v{r['version']:<4}{size}{thr}  licence: {r['license']}{state}")
    return 0
