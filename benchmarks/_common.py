"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACEPRINT_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"


def lfw_root() -> Path:
    """``../shared/data/lfw/images``, or exit saying it is needed."""
    root = SHARED / "lfw" / "images"
    if not root.is_dir():
        sys.exit(f"benchmark needs {root} (../shared/data beside the repo)")
    return root


def add_analyzer_args(ap: Any, analyzers: tuple[str, ...]) -> None:
    """``--threads`` and ``--analyzers`` of the analysis benchmarks."""
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: $FACEPRINT_THREADS or all cores)")
    ap.add_argument("--analyzers", default=",".join(analyzers))


def lfw_images(n: int | None = None, stride: int = 1) -> list[Path]:
    root = lfw_root()
    paths = sorted(root.glob("*/*.jpg"))[::stride]
    return paths[:n] if n else paths


def machine() -> dict:
    info = {"python": platform.python_version(), "cpus": len(os.sched_getaffinity(0)), "platform": platform.platform()}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(), **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return path
