"""onnxruntime sessions with explicit, predictable thread settings (CPU by default)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from faceprint.errors import ModelUnavailable

logger = logging.getLogger(__name__)


def default_threads() -> int:
    """Intra-op threads: ``$FACEPRINT_THREADS``, else the number of usable CPU cores."""
    env = os.environ.get("FACEPRINT_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def create_session(model: str | Path | bytes, *, threads: int | None = None, providers: list[str] | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``model`` (path or serialized bytes).

    Providers default to CPU only: faceprint never silently falls back from a requested GPU — if a
    caller asks for CUDA and it is not available, this raises :class:`ModelUnavailable`.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Do not busy-spin worker threads between calls (matters when torch or other sessions share cores).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    # No CPU memory arena: with it, every session keeps the peak of the largest input it ever saw
    # (a 40-MP upload left a server ~600 MB larger for good; tests/integration/service/test_service_memory.py).
    opts.enable_cpu_mem_arena = False
    wanted = providers or ["CPUExecutionProvider"]
    available = set(ort.get_available_providers())
    missing = [p for p in wanted if p not in available]
    if missing:
        raise ModelUnavailable(f"onnxruntime providers {missing} are not available (have {sorted(available)})")
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, sess_options=opts, providers=wanted)
