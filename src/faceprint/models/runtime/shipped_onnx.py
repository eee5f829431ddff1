"""Load an ONNX file shipped inside an installed package: locate it (without importing the
package), check its sha256, apply a deterministic rewrite once into the model cache, and open an
onnxruntime session on the cached file.

The cached file is named after the source's sha256 and the rewrite's version, and carries a
sidecar (``<file>.json``) with its own sha256: a cached file that changed on disk is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faceprint.errors import ModelIntegrityError, ModelUnavailable
from faceprint.models.card import WeightSource
from faceprint.models.sources import atomic_write_bytes, cached_artifact, package_file, verify_sha256

logger = logging.getLogger(__name__)


def source_path(source: WeightSource) -> Path:
    """The checked weight file of ``source`` (package file or user path)."""
    if source.package is None:
        path = Path(source.path)
        if not path.is_file():
            raise ModelUnavailable(f"weight file {path} does not exist")
    else:
        path = package_file(source.package, source.path, pip_name=source.pip_name)
    verify_sha256(path, source.sha256)
    return path


def cached_rewrite(name: str, source: WeightSource, rewrite: Callable[[bytes], bytes], version: str) -> Path:
    """Path of ``rewrite(source bytes)`` in the model cache, built on first use."""
    src = source_path(source)
    sha = (source.sha256 or hashlib.sha256(src.read_bytes()).hexdigest())[:16]
    out = cached_artifact(f"{name}-{sha}-r{version}.onnx")
    sidecar = out.with_name(out.name + ".json")
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        data = out.read_bytes()
        if isinstance(record, dict) and record.get("onnx_sha256") == hashlib.sha256(data).hexdigest():
            return out
        logger.warning("%s: cached %s changed on disk; rebuilding", name, out)
    except (OSError, ValueError):
        pass
    logger.info("%s: rewriting %s into %s", name, src, out)
    data = rewrite(src.read_bytes())
    atomic_write_bytes(out, data)
    record = {"model": name, "source": str(src), "source_sha256": source.sha256, "rewrite_version": version,
              "onnx_sha256": hashlib.sha256(data).hexdigest()}
    atomic_write_bytes(sidecar, json.dumps(record, indent=1).encode("utf-8"))
    return out


def open_session(path: Path, *, threads: int | None = None, providers: list[str] | None = None) -> Any:
    from faceprint.models.runtime.onnx import create_session

    try:
        return create_session(path, threads=threads, providers=providers)
    except ModelUnavailable:
        raise
    except Exception as e:  # onnxruntime's own exception types
        raise ModelIntegrityError(f"onnxruntime cannot load {path}: {e}") from None


def load_shipped_session(
    holder: Any, rewrite: Callable[[bytes], bytes], version: str, *, providers: list[str] | None = None
) -> Any:
    """The session of ``holder`` (a model with ``card``, ``threads``, ``_lock`` and ``_session``),
    opened once from the cached rewrite of its card's shipped file (double-checked under the lock)."""
    if holder._session is None:
        with holder._lock:
            if holder._session is None:
                path = cached_rewrite(holder.card.name, holder.card.source, rewrite, version)
                holder._session = open_session(path, threads=holder.threads, providers=providers)
    return holder._session
