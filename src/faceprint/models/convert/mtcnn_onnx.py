"""Build ONNX graphs of MTCNN's P-, R- and O-nets from facenet-pytorch's state dicts (numpy only).

The graphs compute exactly what facenet-pytorch's ``PNet``/``RNet``/``ONet`` modules compute, with
three equivalent rewrites that save work at run time:

* **Input** is the raw pixel value (0–255, float32, NCHW, RGB): the normalisation
  ``(x − 127.5) · 0.0078125`` is folded into the first convolution (``W·s`` and
  ``b − 127.5·s·ΣW``; the first convolutions have no padding, so this is exact up to rounding).
* **Face probability**: the two-way softmax's second output equals ``sigmoid(z₁ − z₀)``, so the
  classification head becomes one row ``w₁ − w₀`` and a Sigmoid.
* **PReLU** is written as ``a·x + (1 − a)·relu(x)`` (faster in onnxruntime than its ``PRelu``).
* **Flatten order**: facenet-pytorch's R/O-nets permute ``(N, C, H, W) → (N, W, H, C)`` before
  flattening into their first dense layer (a trace of the original Caffe model, which saw
  transposed images). Instead of transposing activations, the dense layer's columns are
  reordered once so that a plain NCHW flatten feeds it.

Max-pools use ``ceil_mode=1`` as facenet-pytorch's ``nn.MaxPool2d(..., ceil_mode=True)`` do.

Outputs (all float32):

* PNet ``(N, 3, H, W)`` (H, W ≥ 12, dynamic) → ``reg (N, 4, h, w)``, ``prob (N, h, w)`` with
  ``h = ceil((H − 2) / 2) − 4``.
* RNet ``(N, 3, 24, 24)`` → ``reg (N, 4)``, ``prob (N,)``.
* ONet ``(N, 3, 48, 48)`` → ``reg (N, 4)``, ``points (N, 10)`` (five x then five y, relative to
  the crop), ``prob (N,)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from faceprint.errors import ModelIntegrityError

#: Bumped whenever the generated graphs change (part of the cache file name).
CONVERTER_VERSION = 2

INPUT_SCALE = 0.0078125
INPUT_MEAN = 127.5

_OPSET = 17
_IR_VERSION = 8


class _GraphBuilder:
    def __init__(self, sd: Mapping[str, np.ndarray], name: str) -> None:
        self.sd = sd
        self.name = name
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def w(self, key: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        try:
            arr = np.asarray(self.sd[key], dtype=np.float32)
        except KeyError:
            raise ModelIntegrityError(f"{self.name}: weight {key!r} missing from the state dict") from None
        if shape is not None and arr.shape != shape:
            raise ModelIntegrityError(f"{self.name}: {key} has shape {arr.shape}, expected {shape}")
        return arr

    def const(self, arr: np.ndarray, hint: str) -> str:
        from onnx import numpy_helper

        self._n += 1
        name = f"{hint}_{self._n}"
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, n_out: int = 1, **attrs: Any) -> list[str]:
        from onnx import helper

        self._n += 1
        outs = [f"{hint}_{self._n}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=f"{hint}_{self._n}", **attrs))
        return outs

    def conv(self, x: str, w: np.ndarray, b: np.ndarray, hint: str) -> str:
        k = w.shape[2:]
        return self.node(
            "Conv", [x, self.const(w, hint + "_w"), self.const(b, hint + "_b")], hint, kernel_shape=list(k)
        )[0]

    def prelu(self, x: str, slope: np.ndarray, hint: str, spatial: bool) -> str:
        """PReLU as ``a·x + (1 − a)·relu(x)``.

        Same function as ONNX ``PRelu`` (the slopes here are per channel and some are negative or
        above 1, so no max/pool reordering applies), but onnxruntime's PRelu kernel with a
        per-channel slope is slow and breaks its blocked-layout convolution chain; these four
        element-wise ops run the whole P-net ~1.7x faster (measured on 2 cores).
        """
        s = (slope.reshape(-1, 1, 1) if spatial else slope.reshape(-1)).astype(np.float64)
        r = self.node("Relu", [x], hint + "_relu")[0]
        ax = self.node("Mul", [x, self.const(s.astype(np.float32), hint + "_a")], hint + "_ax")[0]
        br = self.node("Mul", [r, self.const((1.0 - s).astype(np.float32), hint + "_1ma")], hint + "_br")[0]
        return self.node("Add", [ax, br], hint + "_add")[0]

    def maxpool(self, x: str, k: int, s: int, hint: str) -> str:
        return self.node("MaxPool", [x], hint, kernel_shape=[k, k], strides=[s, s], ceil_mode=1)[0]

    def gemm(self, x: str, w: np.ndarray, b: np.ndarray, hint: str) -> str:
        return self.node(
            "Gemm", [x, self.const(w, hint + "_w"), self.const(b, hint + "_b")], hint, transB=1
        )[0]

    def first_conv(self, x: str, prefix: str, shape: tuple[int, ...]) -> str:
        """conv on normalised input, with the normalisation folded into the weights."""
        w = self.w(prefix + ".weight", shape).astype(np.float64)
        b = self.w(prefix + ".bias", (shape[0],)).astype(np.float64)
        w_f = w * INPUT_SCALE
        b_f = b - INPUT_MEAN * INPUT_SCALE * w.sum(axis=(1, 2, 3))
        return self.conv(x, w_f.astype(np.float32), b_f.astype(np.float32), prefix)

    def conv_sd(self, x: str, prefix: str, shape: tuple[int, ...]) -> str:
        return self.conv(x, self.w(prefix + ".weight", shape), self.w(prefix + ".bias", (shape[0],)), prefix)

    def model(self, inp: Any, outputs: list[Any]) -> Any:
        from onnx import checker, helper

        graph = helper.make_graph(self.nodes, self.name, [inp], outputs, initializer=self.inits)
        m = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", _OPSET)],
            producer_name="faceprint",
            producer_version=str(CONVERTER_VERSION),
        )
        m.ir_version = _IR_VERSION
        checker.check_model(m)
        return m


def _prob_head(g: _GraphBuilder, x: str, prefix: str, n_in: int, spatial: bool) -> str:
    """softmax(.)[1] of a 2-way head == sigmoid(z1 - z0)."""
    w = g.w(prefix + ".weight").astype(np.float64)
    b = g.w(prefix + ".bias", (2,)).astype(np.float64)
    wd = (w[1] - w[0])[None].astype(np.float32)
    bd = np.array([b[1] - b[0]], dtype=np.float32)
    if spatial:
        wd = wd.reshape(1, n_in, 1, 1)
        z = g.conv(x, wd, bd, prefix)
    else:
        z = g.gemm(x, wd.reshape(1, n_in), bd, prefix)
    return g.node("Sigmoid", [z], prefix + "_sigmoid")[0]


def _reorder_dense(w: np.ndarray, c: int, h: int, wd: int) -> np.ndarray:
    """Columns of a dense layer fed by ``permute(0, 3, 2, 1).flatten`` → fed by a plain NCHW flatten."""
    out_f = w.shape[0]
    # original column index = ((x * h) + y) * c + ch   (order W, H, C)
    w4 = w.reshape(out_f, wd, h, c)  # [o, x, y, ch]
    return np.ascontiguousarray(w4.transpose(0, 3, 2, 1).reshape(out_f, c * h * wd))  # [o, ch, y, x]


def build_pnet(sd: Mapping[str, np.ndarray]) -> Any:
    g = _GraphBuilder(sd, "mtcnn_pnet")
    x = g.first_conv("input", "conv1", (10, 3, 3, 3))
    x = g.prelu(x, g.w("prelu1.weight", (10,)), "prelu1", True)
    x = g.maxpool(x, 2, 2, "pool1")
    x = g.conv_sd(x, "conv2", (16, 10, 3, 3))
    x = g.prelu(x, g.w("prelu2.weight", (16,)), "prelu2", True)
    x = g.conv_sd(x, "conv3", (32, 16, 3, 3))
    x = g.prelu(x, g.w("prelu3.weight", (32,)), "prelu3", True)
    # Both heads in one 1x1 conv: 4 regression channels + the (z1 - z0) logit.
    w_reg = g.w("conv4_2.weight", (4, 32, 1, 1))
    b_reg = g.w("conv4_2.bias", (4,))
    w_cls = g.w("conv4_1.weight", (2, 32, 1, 1)).astype(np.float64)
    b_cls = g.w("conv4_1.bias", (2,)).astype(np.float64)
    w_all = np.concatenate([w_reg, (w_cls[1] - w_cls[0])[None].astype(np.float32)], axis=0)
    b_all = np.concatenate([b_reg, np.array([b_cls[1] - b_cls[0]], dtype=np.float32)])
    heads = g.conv(x, w_all, b_all, "heads")
    reg, logit = g.node("Split", [heads, g.const(np.array([4, 1], dtype=np.int64), "split")], "split", 2, axis=1)
    prob = g.node("Sigmoid", [logit], "sigmoid")[0]
    prob = g.node("Squeeze", [prob, g.const(np.array([1], dtype=np.int64), "axes")], "squeeze")[0]
    return _finish(g, {reg: "reg", prob: "prob"}, None, {"reg": ["N", 4, "h", "w"], "prob": ["N", "h", "w"]})


def build_rnet(sd: Mapping[str, np.ndarray]) -> Any:
    g = _GraphBuilder(sd, "mtcnn_rnet")
    x = g.first_conv("input", "conv1", (28, 3, 3, 3))
    x = g.prelu(x, g.w("prelu1.weight", (28,)), "prelu1", True)
    x = g.maxpool(x, 3, 2, "pool1")
    x = g.conv_sd(x, "conv2", (48, 28, 3, 3))
    x = g.prelu(x, g.w("prelu2.weight", (48,)), "prelu2", True)
    x = g.maxpool(x, 3, 2, "pool2")
    x = g.conv_sd(x, "conv3", (64, 48, 2, 2))
    x = g.prelu(x, g.w("prelu3.weight", (64,)), "prelu3", True)
    x = g.node("Flatten", [x], "flatten", axis=1)[0]
    x = g.gemm(x, _reorder_dense(g.w("dense4.weight", (128, 576)), 64, 3, 3), g.w("dense4.bias", (128,)), "dense4")
    x = g.prelu(x, g.w("prelu4.weight", (128,)), "prelu4", False)
    reg = g.gemm(x, g.w("dense5_2.weight", (4, 128)), g.w("dense5_2.bias", (4,)), "dense5_2")
    prob = _prob_head(g, x, "dense5_1", 128, False)
    prob = g.node("Squeeze", [prob, g.const(np.array([1], dtype=np.int64), "axes")], "squeeze")[0]
    return _finish(g, {reg: "reg", prob: "prob"}, 24, {"reg": ["N", 4], "prob": ["N"]})


def build_onet(sd: Mapping[str, np.ndarray]) -> Any:
    g = _GraphBuilder(sd, "mtcnn_onet")
    x = g.first_conv("input", "conv1", (32, 3, 3, 3))
    x = g.prelu(x, g.w("prelu1.weight", (32,)), "prelu1", True)
    x = g.maxpool(x, 3, 2, "pool1")
    x = g.conv_sd(x, "conv2", (64, 32, 3, 3))
    x = g.prelu(x, g.w("prelu2.weight", (64,)), "prelu2", True)
    x = g.maxpool(x, 3, 2, "pool2")
    x = g.conv_sd(x, "conv3", (64, 64, 3, 3))
    x = g.prelu(x, g.w("prelu3.weight", (64,)), "prelu3", True)
    x = g.maxpool(x, 2, 2, "pool3")
    x = g.conv_sd(x, "conv4", (128, 64, 2, 2))
    x = g.prelu(x, g.w("prelu4.weight", (128,)), "prelu4", True)
    x = g.node("Flatten", [x], "flatten", axis=1)[0]
    x = g.gemm(x, _reorder_dense(g.w("dense5.weight", (256, 1152)), 128, 3, 3), g.w("dense5.bias", (256,)), "dense5")
    x = g.prelu(x, g.w("prelu5.weight", (256,)), "prelu5", False)
    reg = g.gemm(x, g.w("dense6_2.weight", (4, 256)), g.w("dense6_2.bias", (4,)), "dense6_2")
    pts = g.gemm(x, g.w("dense6_3.weight", (10, 256)), g.w("dense6_3.bias", (10,)), "dense6_3")
    prob = _prob_head(g, x, "dense6_1", 256, False)
    prob = g.node("Squeeze", [prob, g.const(np.array([1], dtype=np.int64), "axes")], "squeeze")[0]
    return _finish(g, {reg: "reg", pts: "points", prob: "prob"}, 48, {"reg": ["N", 4], "points": ["N", 10], "prob": ["N"]})


def _finish(g: _GraphBuilder, rename: dict[str, str], size: int | None, shapes: dict[str, list]) -> Any:
    from onnx import TensorProto, helper

    for node in g.nodes:
        for i, o in enumerate(node.output):
            if o in rename:
                node.output[i] = rename[o]
        for i, o in enumerate(node.input):
            if o in rename:
                node.input[i] = rename[o]
    dims: list[str | int | None] = ["N", 3, size, size] if size else ["N", 3, "H", "W"]
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()]
    return g.model(inp, outs)


BUILDERS = {"pnet": build_pnet, "rnet": build_rnet, "onet": build_onet}
