"""Export a trained backbone to ONNX as an ArcFace-style embedder (:func:`export_onnx`), or a
trained expression classifier as an analyzer (:func:`export_classifier_onnx`).

The embedder file takes ``input`` (N, 3, S, S) float32 RGB normalised ``(x − 127.5)/127.5`` and returns
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
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from faceprint.errors import InvalidInput, ModelIntegrityError
from faceprint.models.sources import atomic_write_bytes
from faceprint.train.data import MEAN, STD

if TYPE_CHECKING:
    from faceprint.models.card import ModelCard

logger = logging.getLogger(__name__)


def _onnx_bytes(net: Any, dummy: Any, output: str, opset: int, check_input: Any, atol: float) -> bytes:
    """``net`` as ONNX bytes (input ``input``, one output, dynamic batch axis). With
    ``check_input``, onnxruntime and torch must agree on it within ``atol``
    (else :class:`ModelIntegrityError`)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (dummy,),
            buf,  # type: ignore[arg-type]  # torch's stub says a path; the TorchScript exporter takes a file object
            dynamo=False,
            input_names=["input"],
            output_names=[output],
            dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
        )
    data = buf.getvalue()
    if check_input is not None:
        _check_onnx(data, net, check_input, atol)
    return data


def _check_onnx(data: bytes, net: Any, check_input: Any, atol: float) -> None:
    """onnxruntime on ``data`` and torch on ``net`` must agree on ``check_input`` within ``atol``."""
    from faceprint.models.runtime.onnx import create_session

    sess = create_session(data, threads=1)
    with torch.no_grad():
        ref = net(check_input).numpy()
    got = sess.run(None, {"input": check_input.numpy()})[0]
    err = float(np.abs(got - ref).max())
    if err > atol:
        raise ModelIntegrityError(f"ONNX export differs from torch by {err:.3g} (> {atol})")
    logger.info("ONNX export checked: max |onnx − torch| = %.3g", err)


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
    size = int(input_size) if input_size else int(getattr(model, "input_size", 112))
    net = copy.deepcopy(model).float().cpu().eval()
    dummy = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        dim = int(net(dummy).shape[1])
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    data = _onnx_bytes(net, dummy, "embedding", opset, x if check else None, atol)
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


#: How :func:`compress_weights` can store the weights, and the check tolerance each needs on probabilities.
WEIGHT_DTYPES = {"float32": 0.0, "float16": 5e-3, "int8": 2e-2}


def compress_weights(data: bytes, dtype: str, *, min_elements: int = 1024) -> bytes:
    """The ONNX model ``data`` with every float32 initializer of at least ``min_elements`` values
    stored smaller and rebuilt as float32 by nodes in front of the graph, which onnxruntime folds
    into constants when it loads the file (the arithmetic stays float32, at no run-time cost):

    * ``"float16"``: the weights rounded to float16 (about 3 significant digits), then ``Cast``;
      half the file.
    * ``"int8"``: symmetric per-output-channel quantisation, ``w ≈ q · s`` with ``q`` int8 in
      [−127, 127] and ``s = max|w| / 127`` per slice of axis 0, then ``Cast`` and ``Mul``; a
      quarter of the file, an error of at most ``s / 2`` per weight.
    * ``"float32"``: unchanged.
    """
    if dtype not in WEIGHT_DTYPES:
        raise InvalidInput(f"weights dtype must be one of {sorted(WEIGHT_DTYPES)}, got {dtype!r}")
    if dtype == "float32":
        return data
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load_from_string(data)
    g = m.graph
    inits, nodes = [], []
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements:
            inits.append(init)
            continue
        w = numpy_helper.to_array(init)
        name = init.name
        if dtype == "float16":
            inits.append(numpy_helper.from_array(w.astype(np.float16), name + "__float16"))
            nodes.append(helper.make_node("Cast", [name + "__float16"], [name], to=TensorProto.FLOAT, name=name + "__cast"))
            continue
        axes = tuple(range(1, w.ndim))
        scale = (np.abs(w).max(axis=axes, keepdims=True) if axes else np.abs(w).max(keepdims=True)) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        inits += [numpy_helper.from_array(q, name + "__int8"), numpy_helper.from_array(scale, name + "__scale")]
        nodes += [
            helper.make_node("Cast", [name + "__int8"], [name + "__dequant"], to=TensorProto.FLOAT, name=name + "__cast"),
            helper.make_node("Mul", [name + "__dequant", name + "__scale"], [name], name=name + "__mul"),
        ]
    graph_nodes = nodes + list(g.node)
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.node[:]
    g.node.extend(graph_nodes)
    onnx.checker.check_model(m)
    return m.SerializeToString()


class _ProbabilityGraph(nn.Module):
    """uint8 ``(N, H, W)`` grey → normalise → ``(N, 1, H, W)`` → classifier → softmax."""

    def __init__(self, net: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.net = net
        self.mean, self.std = float(mean), float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() - self.mean) / self.std
        return torch.softmax(self.net(x.unsqueeze(1)), dim=1)


def export_classifier_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    labels: list[str] | tuple[str, ...],
    input_size: int = 48,
    mean: float = 127.5,
    std: float = 127.5,
    name: str | None = None,
    version: str = "1",
    license: str = "trained with faceprint; the licence of its training data applies",
    notes: str = "",
    extra: dict | None = None,
    opset: int = 17,
    check: bool = True,
    atol: float = 1e-4,
    weights_dtype: str = "float32",
) -> Path:
    """Write a grey-face classifier (``(N, 1, S, S)`` normalised float in, logits out) as an ONNX
    *analyzer*: ``input`` uint8 ``(N, S, S)`` grey faces → ``probabilities`` float32 ``(N, K)``
    (softmax, in ``labels`` order); the graph normalises ``(x − mean)/std`` itself, like the shipped
    FER model. Writes ``<stem>.card.json`` (task ``analyzer``: input size, mean/std, colour order
    ``GRAY``, labels, sha256, licence) beside it, which :func:`register_exported` reads. With
    ``check``, onnxruntime and torch must agree within ``atol`` on random faces.
    ``weights_dtype`` ``"float16"`` or ``"int8"`` stores the weights at half or a quarter of the size
    (:func:`compress_weights`); the check then allows ``max(atol, 5e-3)`` or ``max(atol, 2e-2)``
    on the probabilities. Returns the path.
    """
    path = Path(path)
    size = int(input_size)
    if weights_dtype not in WEIGHT_DTYPES:
        raise InvalidInput(f"weights_dtype must be one of {sorted(WEIGHT_DTYPES)}, got {weights_dtype!r}")
    net = _ProbabilityGraph(copy.deepcopy(model).float().cpu().eval(), mean, std).eval()
    dummy = torch.zeros(1, size, size, dtype=torch.uint8)
    with torch.no_grad():
        k = int(net(dummy).shape[1])
    if k != len(labels):
        raise ModelIntegrityError(f"the classifier has {k} outputs but {len(labels)} labels were given")
    x = torch.randint(0, 256, (5, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    compressed = weights_dtype != "float32"
    data = _onnx_bytes(net, dummy, "probabilities", opset, x if check and not compressed else None, atol)
    if compressed:
        data = compress_weights(data, weights_dtype)
        if check:
            _check_onnx(data, net, x, max(atol, WEIGHT_DTYPES[weights_dtype]))
    atomic_write_bytes(path, data)
    from faceprint.models.sources import sha256_file

    card = {
        "name": name or path.stem,
        "task": "analyzer",
        "path": path.name,
        "version": version,
        "input_size": [size, size],
        "mean": [float(mean)],
        "std": [float(std)],
        "color_order": "GRAY",
        "layout": "NHW uint8 (normalised inside the graph)",
        "labels": list(labels),
        "weights_dtype": weights_dtype,
        "sha256": sha256_file(path),
        "license": license,
        "notes": notes,
        "extra": dict(extra or {}),
    }
    atomic_write_bytes(card_path(path), (json.dumps(card, indent=2) + "\n").encode())
    return path


def card_path(onnx_path: str | Path) -> Path:
    """Where :func:`export_onnx` / :func:`export_classifier_onnx` write the model card of an exported file."""
    p = Path(onnx_path)
    return p.with_name(p.stem + ".card.json")


def register_exported(onnx_path: str | Path) -> ModelCard:
    """Register an exported model by the name in its card — as an expression analyzer when the
    card's ``task`` is ``analyzer`` (:func:`export_classifier_onnx`), else as an embedder; returns
    the card."""
    cp = card_path(onnx_path)
    try:
        task = json.loads(cp.read_text()).get("task", "embedder")
    except (OSError, ValueError):
        task = "embedder"  # the embedder loader reports the unreadable card
    if task == "analyzer":
        from faceprint.models.analyzers.fer_cnn import register_from_card_file as register_analyzer

        return register_analyzer(cp)
    from faceprint.models.embedders.onnx_arcface import register_from_card_file

    return register_from_card_file(cp)
