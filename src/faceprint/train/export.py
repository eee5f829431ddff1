"""Export a trained backbone to ONNX as an ArcFace-style embedder.

The file takes ``input`` (N, 3, S, S) float32 RGB normalised ``(x − 127.5)/127.5`` and returns
``embedding`` (N, D) float32 (not normalised) — the convention of faceprint's ONNX ArcFace-style
embedder, which loads any such user file. A sidecar ``<file>.json`` records the preprocessing
(input size, mean, std, colour order, embedding size) so the embedder need not guess it.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from faceprint.errors import ModelIntegrityError
from faceprint.models.sources import atomic_write_bytes
from faceprint.train.data import MEAN, STD

logger = logging.getLogger(__name__)


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    input_size: int | None = None,
    opset: int = 17,
    check: bool = True,
    atol: float = 1e-3,
    name: str | None = None,
    version: str = "1",
) -> Path:
    """Write ``model`` (eval mode, CPU, float32) to ``path`` as ONNX with a dynamic batch axis.

    With ``check``, the file is run in onnxruntime on a random batch and compared with torch
    (max abs difference ≤ ``atol``, else :class:`ModelIntegrityError`). Returns the path.
    """
    path = Path(path)
    size = int(input_size or getattr(model, "input_size", 112))
    net = copy.deepcopy(model).float().cpu().eval()
    dummy = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        dim = int(net(dummy).shape[1])
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (dummy,),
            buf,
            dynamo=False,
            input_names=["input"],
            output_names=["embedding"],
            dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
        )
    data = buf.getvalue()
    if check:
        from faceprint.models.runtime.onnx import create_session

        sess = create_session(data, threads=1)
        x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ref = net(x).numpy()
        got = sess.run(None, {"input": x.numpy()})[0]
        err = float(np.abs(got - ref).max())
        if err > atol:
            raise ModelIntegrityError(f"ONNX export differs from torch by {err:.3g} (> {atol})")
        logger.info("ONNX export checked: max |onnx − torch| = %.3g", err)
    atomic_write_bytes(path, data)
    meta = {
        "format": "arcface_onnx",
        "input_name": "input",
        "output_name": "embedding",
        "input_size": [size, size],
        "color_order": "RGB",
        "layout": "NCHW",
        "mean": [MEAN] * 3,
        "std": [STD] * 3,
        "embedding_dim": dim,
        "normalized_output": False,
    }
    atomic_write_bytes(path.with_name(path.name + ".json"), json.dumps(meta, indent=2).encode())
    # A model card that `faceprint.models.embedders.onnx_arcface.register_from_card_file` reads, so
    # the exported network can be named in a pipeline like any built-in embedder.
    from faceprint.models.sources import sha256_file

    card = {
        "name": name or path.stem,
        "path": path.name,
        "version": version,
        "input_size": [size, size],
        "mean": [MEAN] * 3,
        "std": [STD] * 3,
        "color_order": "RGB",
        "layout": "NCHW",
        "template": "arcface_112",
        "embedding_dim": dim,
        "sha256": sha256_file(path),
        "license": "trained with faceprint; the licence of its training data applies",
    }
    atomic_write_bytes(card_path(path), json.dumps(card, indent=2).encode())
    return path


def card_path(onnx_path: str | Path) -> Path:
    """Where :func:`export_onnx` writes the model card of an exported file."""
    p = Path(onnx_path)
    return p.with_name(p.stem + ".card.json")


def register_exported(onnx_path: str | Path):
    """Register an exported model as an embedder (by the name in its card); returns the card."""
    from faceprint.models.embedders.onnx_arcface import register_from_card_file

    return register_from_card_file(card_path(onnx_path))
