"""TFJS (TensorFlow NodeDef) ops → ONNX nodes, one handler per op (see :mod:`.tfjs_graph`).

Tensors stay NHWC; :func:`_to_nchw` / :func:`_to_nhwc` wrap the layout-bound ONNX ops (Conv,
MaxPool, AveragePool). TensorFlow's ``SAME`` padding puts the extra pixel of an odd total at the
bottom/right, which is ONNX's ``auto_pad="SAME_UPPER"``; ``SAME`` average pooling does not count
padded positions, which is ONNX's ``count_include_pad=0``.

Supported: Identity, StopGradient, Snapshot; Conv2D, DepthwiseConv2dNative, _FusedConv2D,
FusedDepthwiseConv2dNative (fused BiasAdd then Relu, Relu6, Elu, Sigmoid, Tanh, LeakyRelu or
Prelu); MatMul, _FusedMatMul (the same fusions); MaxPool, AvgPool; FusedBatchNorm(V2, V3);
elementwise Add, AddV2, BiasAdd, Sub, Mul, RealDiv, Div, Minimum, Maximum, Pow,
SquaredDifference; unary Relu, Relu6, Elu, Selu, Sigmoid, Tanh, Abs, Neg, Exp, Log, Sqrt, Rsqrt,
Square, Reciprocal, Floor, Ceil, Softplus, LeakyRelu, Prelu; Softmax; Mean, Max, Min, Sum, Prod;
Reshape, Squeeze, ExpandDims, ConcatV2, Pack, Transpose, Pad, PadV2, MirrorPad (REFLECT),
StridedSlice (begin/end/shrink-axis masks), Slice, Cast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.models.convert.tfjs_graph import GraphBuilder, TfjsNode

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min

Handler = Callable[[GraphBuilder, TfjsNode], None]
HANDLERS: dict[str, Handler] = {}


def _op(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for n in names:
            HANDLERS[n] = fn
        return fn

    return deco


def _i64(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _check_nhwc(node: TfjsNode) -> None:
    fmt = node.attr.get("data_format", "NHWC")
    if fmt not in ("NHWC", ""):
        raise InvalidInput(f"{node.op} {node.name!r}: data_format {fmt!r} is not supported (NHWC only)")


def _to_nchw(b: GraphBuilder, x: str) -> str:
    return b.add("Transpose", [x], hint="nchw", perm=[0, 3, 1, 2])


def _to_nhwc(b: GraphBuilder, x: str) -> str:
    return b.add("Transpose", [x], hint="nhwc", perm=[0, 2, 3, 1])


def _padding_attrs(node: TfjsNode) -> dict[str, Any]:
    padding = node.attr.get("padding", "VALID")
    if padding == "SAME":
        return {"auto_pad": "SAME_UPPER"}
    if padding == "VALID":
        return {"auto_pad": "VALID"}
    if padding == "EXPLICIT":
        p = [int(v) for v in node.attr.get("explicit_paddings", [])]
        if len(p) != 8:
            raise InvalidInput(f"{node.op} {node.name!r}: explicit_paddings must have 8 values, got {p}")
        return {"pads": [p[2], p[4], p[3], p[5]]}
    raise InvalidInput(f"{node.op} {node.name!r}: padding {padding!r} is not supported")


def _hw(values: list[int], node: TfjsNode, what: str) -> list[int]:
    if len(values) != 4 or values[0] != 1 or values[3] != 1:
        raise InvalidInput(f"{node.op} {node.name!r}: {what} {values} must be [1, h, w, 1]")
    return [int(values[1]), int(values[2])]


# -------------------------------------------------------------------------------- activations

_UNARY = {
    "Relu": "Relu",
    "Elu": "Elu",
    "Selu": "Selu",
    "Sigmoid": "Sigmoid",
    "Tanh": "Tanh",
    "Abs": "Abs",
    "Neg": "Neg",
    "Exp": "Exp",
    "Log": "Log",
    "Sqrt": "Sqrt",
    "Reciprocal": "Reciprocal",
    "Floor": "Floor",
    "Ceil": "Ceil",
    "Softplus": "Softplus",
    "Identity": "Identity",
    "StopGradient": "Identity",
    "Snapshot": "Identity",
}


def _activation(b: GraphBuilder, x: str, act: str, node: TfjsNode, arg: str | None = None) -> str:
    """``act`` (a TF op name) applied to ``x``; ``arg`` is Prelu's alpha value name."""
    if act in _UNARY:
        return b.add(_UNARY[act], [x], hint=act.lower())
    if act == "Relu6":
        return b.add("Clip", [x, b.const(np.asarray(0.0, np.float32)), b.const(np.asarray(6.0, np.float32))], hint="relu6")
    if act == "LeakyRelu":
        alpha = float(node.attr.get("leakyrelu_alpha", node.attr.get("alpha", 0.2)))
        return b.add("LeakyRelu", [x], hint="leakyrelu", alpha=alpha)
    if act == "Prelu":
        if arg is None:
            raise InvalidInput(f"{node.op} {node.name!r}: Prelu needs its alpha")
        return b.add("PRelu", [x, arg], hint="prelu")
    if act == "Rsqrt":
        return b.add("Reciprocal", [b.add("Sqrt", [x])], hint="rsqrt")
    if act == "Square":
        return b.add("Mul", [x, x], hint="square")
    raise InvalidInput(f"{node.op} {node.name!r}: activation {act!r} is not supported")


@_op(*_UNARY, "Relu6", "LeakyRelu", "Rsqrt", "Square")
def _unary(b: GraphBuilder, n: TfjsNode) -> None:
    b.set_output(n, _activation(b, b.inp(n, 0), n.op, n))


@_op("Prelu")
def _prelu(b: GraphBuilder, n: TfjsNode) -> None:
    b.set_output(n, _activation(b, b.inp(n, 0), "Prelu", n, b.inp(n, 1)))


def _fused_tail(b: GraphBuilder, n: TfjsNode, y: str, bias_in_op: bool) -> str:
    """Apply a fused node's ``fused_ops`` after its main op: BiasAdd (unless already folded into
    the ONNX op, ``bias_in_op``), then at most one activation."""
    fused = [str(f) for f in n.attr.get("fused_ops", [])]
    args = list(range(2, len(n.inputs)))
    if fused and fused[0] == "BiasAdd":
        if not bias_in_op:
            y = b.add("Add", [y, b.inp(n, args[0])], hint="bias")
        fused, args = fused[1:], args[1:]
    elif fused and fused[0] == "FusedBatchNorm":
        raise InvalidInput(f"{n.op} {n.name!r}: fused FusedBatchNorm is not supported (tfjs does not run it either)")
    if len(fused) > 1:
        raise InvalidInput(f"{n.op} {n.name!r}: fused ops {fused} are not supported")
    if fused:
        y = _activation(b, y, fused[0], n, b.inp(n, args[0]) if fused[0] == "Prelu" else None)
    return y


# -------------------------------------------------------------------------------- convolutions


@_op("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
def _conv(b: GraphBuilder, n: TfjsNode) -> None:
    _check_nhwc(n)
    w = b.const_value(n, 1).astype(np.float32)
    if w.ndim != 4:
        raise InvalidInput(f"{n.op} {n.name!r}: filter must be 4-D, got {w.shape}")
    depthwise = "Depthwise" in n.op
    kh, kw, cin, cm = w.shape
    if depthwise:  # [H, W, C, M] -> [C*M, 1, H, W], one group per input channel
        weight = w.transpose(2, 3, 0, 1).reshape(cin * cm, 1, kh, kw)
        group = cin
    else:  # HWIO -> OIHW
        weight = w.transpose(3, 2, 0, 1)
        group = 1
    inputs = [_to_nchw(b, b.inp(n, 0)), b.const(np.ascontiguousarray(weight), hint="W")]
    fused = [str(f) for f in n.attr.get("fused_ops", [])]
    bias_in_op = bool(fused) and fused[0] == "BiasAdd" and b.is_const(n.inputs[2])
    if bias_in_op:
        inputs.append(b.const(b.const_value(n, 2).astype(np.float32).reshape(-1), hint="B"))
    dil = [int(v) for v in n.attr.get("dilations", [1, 1, 1, 1])]
    y = b.add(
        "Conv",
        inputs,
        hint="conv",
        kernel_shape=[kh, kw],
        strides=_hw([int(v) for v in n.attr.get("strides", [1, 1, 1, 1])], n, "strides"),
        dilations=_hw(dil, n, "dilations"),
        group=group,
        **_padding_attrs(n),
    )
    b.set_output(n, _fused_tail(b, n, _to_nhwc(b, y), bias_in_op))


@_op("MaxPool", "AvgPool")
def _pool(b: GraphBuilder, n: TfjsNode) -> None:
    _check_nhwc(n)
    attrs: dict[str, Any] = {
        "kernel_shape": _hw([int(v) for v in n.attr["ksize"]], n, "ksize"),
        "strides": _hw([int(v) for v in n.attr.get("strides", [1, 1, 1, 1])], n, "strides"),
        **_padding_attrs(n),
    }
    if n.op == "AvgPool":
        attrs["count_include_pad"] = 0
    y = b.add("MaxPool" if n.op == "MaxPool" else "AveragePool", [_to_nchw(b, b.inp(n, 0))], hint="pool", **attrs)
    b.set_output(n, _to_nhwc(b, y))


@_op("MatMul", "_FusedMatMul")
def _matmul(b: GraphBuilder, n: TfjsNode) -> None:
    a, w = b.inp(n, 0), b.inp(n, 1)
    if n.attr.get("transpose_a"):
        a = b.add("Transpose", [a], perm=[1, 0])
    if n.attr.get("transpose_b"):
        w = b.add("Transpose", [w], perm=[1, 0])
    b.set_output(n, _fused_tail(b, n, b.add("MatMul", [a, w], hint="matmul"), False))


@_op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def _batchnorm(b: GraphBuilder, n: TfjsNode) -> None:
    _check_nhwc(n)
    scale, offset, mean, var = (b.const_value(n, i).astype(np.float64) for i in range(1, 5))
    k = scale / np.sqrt(var + float(n.attr.get("epsilon", 1e-3)))
    y = b.add("Mul", [b.inp(n, 0), b.const(k.astype(np.float32))], hint="bn")
    b.set_output(n, b.add("Add", [y, b.const((offset - mean * k).astype(np.float32))], hint="bn"))


# -------------------------------------------------------------------------------- elementwise

_BINARY = {
    "Add": "Add",
    "AddV2": "Add",
    "BiasAdd": "Add",
    "Sub": "Sub",
    "Mul": "Mul",
    "RealDiv": "Div",
    "Div": "Div",
    "Minimum": "Min",
    "Maximum": "Max",
    "Pow": "Pow",
}


@_op(*_BINARY)
def _binary(b: GraphBuilder, n: TfjsNode) -> None:
    if n.op == "BiasAdd":
        _check_nhwc(n)
    b.set_output(n, b.add(_BINARY[n.op], [b.inp(n, 0), b.inp(n, 1)], hint=n.op.lower()))


@_op("SquaredDifference")
def _sqdiff(b: GraphBuilder, n: TfjsNode) -> None:
    d = b.add("Sub", [b.inp(n, 0), b.inp(n, 1)])
    b.set_output(n, b.add("Mul", [d, d], hint="sqdiff"))


@_op("Softmax")
def _softmax(b: GraphBuilder, n: TfjsNode) -> None:
    b.set_output(n, b.add("Softmax", [b.inp(n, 0)], hint="softmax", axis=-1))


@_op("Cast")
def _cast(b: GraphBuilder, n: TfjsNode) -> None:
    from onnx import TensorProto

    to = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT32, "DT_BOOL": TensorProto.BOOL}.get(str(n.attr.get("DstT")))
    if to is None:
        raise InvalidInput(f"Cast {n.name!r}: to {n.attr.get('DstT')!r} is not supported")
    b.set_output(n, b.add("Cast", [b.inp(n, 0)], hint="cast", to=to))


# -------------------------------------------------------------------------------- reductions


@_op("Mean", "Max", "Min", "Sum", "Prod")
def _reduce(b: GraphBuilder, n: TfjsNode) -> None:
    axes = [int(a) for a in _i64(b.const_value(n, 1))]
    keep = int(bool(n.attr.get("keep_dims", False)))
    op = {"Mean": "ReduceMean", "Max": "ReduceMax", "Min": "ReduceMin", "Sum": "ReduceSum", "Prod": "ReduceProd"}[n.op]
    if op == "ReduceSum":  # opset 13+: axes is an input
        y = b.add(op, [b.inp(n, 0), b.const(_i64(axes))], hint="reduce", keepdims=keep)
    else:
        y = b.add(op, [b.inp(n, 0)], hint="reduce", axes=axes, keepdims=keep)
    b.set_output(n, y)


# -------------------------------------------------------------------------------- shapes


@_op("Reshape")
def _reshape(b: GraphBuilder, n: TfjsNode) -> None:
    if b.is_const(n.inputs[1]):
        shape = _i64(b.const_value(n, 1))
        if (shape == 0).any():
            raise InvalidInput(f"Reshape {n.name!r}: a 0 in the target shape is not supported")
        target = b.const(shape)
    else:
        from onnx import TensorProto

        target = b.add("Cast", [b.inp(n, 1)], to=TensorProto.INT64)
    b.set_output(n, b.add("Reshape", [b.inp(n, 0), target], hint="reshape"))


@_op("Squeeze")
def _squeeze(b: GraphBuilder, n: TfjsNode) -> None:
    axes = [int(a) for a in n.attr.get("squeeze_dims", n.attr.get("axis", []))]
    ins = [b.inp(n, 0)] + ([b.const(_i64(axes))] if axes else [])
    b.set_output(n, b.add("Squeeze", ins, hint="squeeze"))


@_op("ExpandDims")
def _expand_dims(b: GraphBuilder, n: TfjsNode) -> None:
    b.set_output(n, b.add("Unsqueeze", [b.inp(n, 0), b.const(_i64(b.const_value(n, 1)))], hint="unsqueeze"))


@_op("ConcatV2", "Concat")
def _concat(b: GraphBuilder, n: TfjsNode) -> None:
    if n.op == "Concat":  # axis first
        axis, idx = int(_i64(b.const_value(n, 0))[0]), range(1, len(n.inputs))
    else:
        axis, idx = int(_i64(b.const_value(n, len(n.inputs) - 1))[0]), range(len(n.inputs) - 1)
    b.set_output(n, b.add("Concat", [b.inp(n, i) for i in idx], hint="concat", axis=axis))


@_op("Pack")
def _pack(b: GraphBuilder, n: TfjsNode) -> None:
    axis = int(n.attr.get("axis", 0))
    parts = [b.add("Unsqueeze", [b.inp(n, i), b.const(_i64([axis]))]) for i in range(len(n.inputs))]
    b.set_output(n, b.add("Concat", parts, hint="pack", axis=axis))


@_op("Transpose")
def _transpose(b: GraphBuilder, n: TfjsNode) -> None:
    perm = [int(p) for p in _i64(b.const_value(n, 1))]
    b.set_output(n, b.add("Transpose", [b.inp(n, 0)], hint="transpose", perm=perm))


@_op("Pad", "PadV2", "MirrorPad")
def _pad(b: GraphBuilder, n: TfjsNode) -> None:
    p = np.asarray(b.const_value(n, 1), dtype=np.int64).reshape(-1, 2)
    pads = b.const(np.concatenate([p[:, 0], p[:, 1]]))
    if n.op == "MirrorPad":
        mode = str(n.attr.get("mode", "REFLECT"))
        if mode != "REFLECT":
            raise InvalidInput(f"MirrorPad {n.name!r}: mode {mode!r} is not supported")
        y = b.add("Pad", [b.inp(n, 0), pads], hint="pad", mode="reflect")
    else:
        ins = [b.inp(n, 0), pads]
        if n.op == "PadV2":
            ins.append(b.const(np.asarray(b.const_value(n, 2), np.float32).reshape(())))
        y = b.add("Pad", ins, hint="pad", mode="constant")
    b.set_output(n, y)


@_op("StridedSlice")
def _strided_slice(b: GraphBuilder, n: TfjsNode) -> None:
    if int(n.attr.get("ellipsis_mask", 0)) or int(n.attr.get("new_axis_mask", 0)):
        raise InvalidInput(f"StridedSlice {n.name!r}: ellipsis and new-axis masks are not supported")
    begin, end, strides = (_i64(b.const_value(n, i)) for i in (1, 2, 3))
    bmask, emask, smask = (int(n.attr.get(k, 0)) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
    starts, ends, steps, shrink = [], [], [], []
    for j, (s0, e0, st) in enumerate(zip(begin, end, strides, strict=True)):
        st = int(st)
        if st == 0:
            raise InvalidInput(f"StridedSlice {n.name!r}: stride 0")
        if smask >> j & 1:
            starts.append(int(s0))
            ends.append(_INT64_MAX if int(s0) == -1 else int(s0) + 1)
            steps.append(1)
            shrink.append(j)
            continue
        starts.append((0 if st > 0 else _INT64_MAX) if bmask >> j & 1 else int(s0))
        ends.append((_INT64_MAX if st > 0 else _INT64_MIN) if emask >> j & 1 else int(e0))
        steps.append(st)
    axes = list(range(len(starts)))
    y = b.add("Slice", [b.inp(n, 0), b.const(_i64(starts)), b.const(_i64(ends)), b.const(_i64(axes)), b.const(_i64(steps))])
    if shrink:
        y = b.add("Squeeze", [y, b.const(_i64(shrink))], hint="shrink")
    b.set_output(n, y)


@_op("Slice")
def _slice(b: GraphBuilder, n: TfjsNode) -> None:
    begin, size = _i64(b.const_value(n, 1)), _i64(b.const_value(n, 2))
    ends = np.where(size < 0, _INT64_MAX, begin + size)
    axes = _i64(range(len(begin)))
    b.set_output(n, b.add("Slice", [b.inp(n, 0), b.const(begin), b.const(_i64(ends)), b.const(axes)], hint="slice"))


__all__ = ["HANDLERS"]
