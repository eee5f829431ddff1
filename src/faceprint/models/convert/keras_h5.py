"""Read a Keras 2.x HDF5 model with h5py and rebuild it as an ONNX graph (numpy + onnx only).

No TensorFlow: the architecture comes from the JSON in ``attrs["model_config"]`` and the weights
from ``model_weights/<layer>/...`` (the order given by each layer group's ``weight_names``).

Supported layers (what small image CNNs such as mini-Xception use): ``InputLayer``, ``Conv2D``,
``SeparableConv2D``, ``DepthwiseConv2D``, ``BatchNormalization``, ``Activation`` (and the
``activation`` argument of conv/dense layers: linear, relu, sigmoid, tanh, softmax),
``MaxPooling2D``, ``AveragePooling2D``, ``Add``, ``GlobalAveragePooling2D``,
``GlobalMaxPooling2D``, ``Flatten``, ``Dense`` and ``Dropout`` (identity at inference). Keras
layouts are channels-last; the ONNX graph is computed in NCHW, with the input layout chosen by
:class:`InputSpec`.

Padding: Keras/TensorFlow ``"same"`` puts the extra pixel of an odd total padding at the bottom /
right (see :func:`same_padding`); ``"valid"`` pads nothing. Pooling with ``"same"`` ignores padded
positions (max: they never win; average: they are not counted), which is what ONNX's
``MaxPool`` and ``AveragePool(count_include_pad=0)`` do.

    >>> model = read_keras_h5("emotion_model.hdf5")                       # doctest: +SKIP
    >>> onnx_bytes = to_onnx(model, InputSpec(layout="NHW", dtype="uint8",
    ...                                        scale=2 / 255, offset=-1.0)).SerializeToString()
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from faceprint.errors import InvalidInput

logger = logging.getLogger(__name__)

#: ONNX opset of the graphs built here.
OPSET = 17

_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras functional graph.

    ``inbound`` names the layers whose outputs feed this one (in order); ``weights`` maps the short
    weight name (``kernel``, ``bias``, ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``,
    ``depthwise_kernel``, ``pointwise_kernel``) to a float32 array in Keras' own layout.
    """

    name: str
    class_name: str
    config: dict[str, Any]
    inbound: tuple[str, ...]
    weights: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class KerasModel:
    """A Keras model as read from HDF5: layers in file order, graph inputs and outputs."""

    name: str
    layers: tuple[KerasLayer, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    keras_version: str = ""
    backend: str = ""

    def layer(self, name: str) -> KerasLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """The first input's ``batch_input_shape`` without the batch axis (channels-last)."""
        cfg = self.layer(self.inputs[0]).config
        shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
        if shape is None:
            raise InvalidInput(f"input layer {self.inputs[0]!r} has no batch_input_shape")
        return tuple(None if s is None else int(s) for s in shape[1:])

    @property
    def num_parameters(self) -> int:
        return int(sum(w.size for layer in self.layers for w in layer.weights.values()))


def _as_str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _short_weight_name(full: str) -> str:
    # "conv2d_1_1/kernel:0" -> "kernel"
    return full.rsplit("/", 1)[-1].split(":", 1)[0]


def _inbound_names(layer_cfg: dict[str, Any]) -> tuple[str, ...]:
    nodes = layer_cfg.get("inbound_nodes") or []
    if not nodes:
        return ()
    if len(nodes) > 1:
        raise InvalidInput(f"layer {layer_cfg.get('name')!r} is called more than once (shared layers are not supported)")
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3 style {"args": ..., "kwargs": ...}
        raise InvalidInput("Keras 3 model configs are not supported (expected Keras 2.x HDF5)")
    return tuple(str(entry[0]) for entry in node)


def read_keras_h5(path: str | os.PathLike[str]) -> KerasModel:
    """Read the architecture and weights of a Keras 2.x ``model.save()`` HDF5 file.

    Raises :class:`InvalidInput` when the file is not such a model.
    """
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InvalidInput(f"cannot open {path} as HDF5: {e}") from e
    with f:
        if "model_config" not in f.attrs:
            raise InvalidInput(f"{path}: no model_config attribute (not a Keras model file)")
        try:
            config = json.loads(_as_str(f.attrs["model_config"]))
        except json.JSONDecodeError as e:
            raise InvalidInput(f"{path}: model_config is not valid JSON: {e}") from e
        weights_root = f.get("model_weights", f)
        keras_version = _as_str(f.attrs.get("keras_version", weights_root.attrs.get("keras_version", "")))
        backend = _as_str(f.attrs.get("backend", weights_root.attrs.get("backend", "")))

        class_name = config.get("class_name")
        cfg = config.get("config")
        if class_name == "Sequential":
            layer_cfgs = cfg if isinstance(cfg, list) else cfg.get("layers", [])
            model_name = "sequential" if isinstance(cfg, list) else cfg.get("name", "sequential")
            layer_cfgs, inputs, outputs = _sequential_to_graph(layer_cfgs)
        elif class_name in ("Model", "Functional"):
            layer_cfgs = cfg["layers"]
            model_name = cfg.get("name", "model")
            inputs = tuple(str(e[0]) for e in cfg["input_layers"])
            outputs = tuple(str(e[0]) for e in cfg["output_layers"])
        else:
            raise InvalidInput(f"{path}: unsupported model class {class_name!r}")

        layers = []
        for lc in layer_cfgs:
            name = lc.get("name") or lc["config"]["name"]
            weights: dict[str, np.ndarray] = {}
            if name in weights_root:
                group = weights_root[name]
                for full in group.attrs.get("weight_names", []):
                    full = _as_str(full)
                    short = _short_weight_name(full)
                    if short in weights:
                        raise InvalidInput(f"{path}: layer {name!r} has two weights named {short!r}")
                    weights[short] = np.asarray(group[full], dtype=np.float32)
            layers.append(
                KerasLayer(
                    name=name,
                    class_name=lc["class_name"],
                    config=dict(lc.get("config", {})),
                    inbound=lc.get("_inbound", _inbound_names(lc)),
                    weights=weights,
                )
            )
    model = KerasModel(
        name=model_name,
        layers=tuple(layers),
        inputs=inputs,
        outputs=outputs,
        keras_version=keras_version,
        backend=backend,
    )
    logger.debug("read Keras %s model %s: %d layers, %d parameters", keras_version, path, len(layers), model.num_parameters)
    return model


def _sequential_to_graph(layer_cfgs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], tuple[str, ...], tuple[str, ...]]:
    """A Sequential config as a chain graph (an InputLayer is added when the first layer lacks one)."""
    out: list[dict[str, Any]] = []
    if not layer_cfgs:
        raise InvalidInput("empty Sequential model")
    first = layer_cfgs[0]
    if first["class_name"] != "InputLayer":
        shape = first["config"].get("batch_input_shape")
        if shape is None:
            raise InvalidInput("Sequential model without an input shape")
        out.append({"class_name": "InputLayer", "name": "input", "config": {"batch_input_shape": shape}, "_inbound": ()})
    prev = out[0]["name"] if out else None
    for lc in layer_cfgs:
        lc = dict(lc)
        lc["name"] = lc.get("name") or lc["config"]["name"]
        lc["_inbound"] = () if prev is None else (prev,)
        out.append(lc)
        prev = lc["name"]
    return out, (out[0]["name"],), (out[-1]["name"],)


# --------------------------------------------------------------------------------------------------
# Padding arithmetic
# --------------------------------------------------------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output length along one axis for Keras padding ``"valid"`` or ``"same"``."""
    if padding == "same":
        return -(-size // stride)  # ceil
    if padding == "valid":
        eff = (kernel - 1) * dilation + 1
        return (size - eff) // stride + 1
    raise InvalidInput(f"unsupported padding {padding!r}")


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Keras/TensorFlow ``"same"`` padding ``(before, after)`` along one axis.

    The output has ``ceil(size / stride)`` positions; the total padding is what the last window
    needs, split with the odd pixel **after** (bottom / right): e.g. size 30, kernel 3, stride 2 →
    15 outputs, total 1 → ``(0, 1)``.
    """
    out = -(-size // stride)
    eff = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


# --------------------------------------------------------------------------------------------------
# ONNX building
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    """How the ONNX graph's input looks and how it is normalised before the first layer.

    ``layout``: ``"NHWC"`` (Keras' own), ``"NCHW"``, or ``"NHW"`` (single-channel images without a
    channel axis). ``dtype``: ``"float32"`` or ``"uint8"``. The network sees
    ``x * scale + offset`` (computed in float32), e.g. ``scale=2/255, offset=-1`` for
    ``(x / 255 − 0.5) · 2``.
    """

    layout: Literal["NHWC", "NCHW", "NHW"] = "NHWC"
    dtype: Literal["float32", "uint8"] = "float32"
    scale: float = 1.0
    offset: float = 0.0
    name: str = "input"


@dataclass
class _Tensor:
    name: str
    shape: tuple[int | None, ...]  # without batch: (C, H, W) or (C,)


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def const(self, base: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.unique(base)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], base: str, **attrs: Any) -> str:
        from onnx import helper

        out = self.unique(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _keras_pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return int(a), int(b)


def _conv_pads(
    shape: tuple[int | None, ...], kernel: tuple[int, int], strides: tuple[int, int], dilation: tuple[int, int], padding: str
) -> tuple[dict[str, Any], tuple[int | None, int | None]]:
    """ONNX pad attributes and output (H, W) for a Keras conv/pool on an NCHW tensor of ``shape``."""
    h, w = shape[1], shape[2]
    if padding == "valid":
        attrs: dict[str, Any] = {"pads": [0, 0, 0, 0]}
    elif padding == "same":
        if h is None or w is None:
            attrs = {"auto_pad": "SAME_UPPER"}  # ONNX's SAME_UPPER = TensorFlow's "same"
        else:
            top, bottom = same_padding(h, kernel[0], strides[0], dilation[0])
            left, right = same_padding(w, kernel[1], strides[1], dilation[1])
            attrs = {"pads": [top, left, bottom, right]}
    else:
        raise InvalidInput(f"unsupported padding {padding!r}")
    oh = None if h is None else conv_output_size(h, kernel[0], strides[0], padding, dilation[0])
    ow = None if w is None else conv_output_size(w, kernel[1], strides[1], padding, dilation[1])
    if (oh is not None and oh < 1) or (ow is not None and ow < 1):
        raise InvalidInput(f"layer input {shape} is too small for kernel {kernel} with {padding!r} padding")
    return attrs, (oh, ow)


def _bn_scale_shift(layer: KerasLayer) -> tuple[np.ndarray, np.ndarray]:
    """Inference-time BatchNormalization as ``y = x * scale + shift`` (float64)."""
    cfg = layer.config
    axis = cfg.get("axis", -1)
    if isinstance(axis, list):
        axis = axis[0] if len(axis) == 1 else axis
    if axis not in (-1, 3, 1):
        raise InvalidInput(f"BatchNormalization {layer.name!r}: unsupported axis {axis} (channels-last expected)")
    eps = float(cfg.get("epsilon", 1e-3))
    w = layer.weights
    mean = w["moving_mean"].astype(np.float64)
    var = w["moving_variance"].astype(np.float64)
    gamma = w["gamma"].astype(np.float64) if cfg.get("scale", True) else np.ones_like(mean)
    beta = w["beta"].astype(np.float64) if cfg.get("center", True) else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


def _check_channels_last(layer: KerasLayer) -> None:
    fmt = layer.config.get("data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise InvalidInput(f"layer {layer.name!r}: data_format {fmt!r} is not supported (channels_last only)")


def to_onnx(
    model: KerasModel, input_spec: InputSpec | None = None, *, fold_batchnorm: bool = True, output_name: str = "output"
) -> Any:
    """Build an ``onnx.ModelProto`` computing ``model`` (single input, single output).

    BatchNormalization layers whose input is a linear conv/dense output used by nothing else are
    folded into that layer's weights; the others become ONNX ``BatchNormalization`` nodes.
    """
    import onnx
    from onnx import TensorProto, helper

    spec = input_spec or InputSpec()
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InvalidInput("only single-input, single-output models are supported")
    in_shape = model.input_shape  # (H, W, C) channels-last
    if len(in_shape) != 3:
        raise InvalidInput(f"expected an image input (H, W, C), got {in_shape}")
    H, W, C = in_shape
    if spec.layout == "NHW" and C != 1:
        raise InvalidInput(f"layout 'NHW' needs a single-channel model, this one has {C} channels")

    g = _GraphBuilder()
    g.unique(spec.name)
    elem = {"float32": TensorProto.FLOAT, "uint8": TensorProto.UINT8}[spec.dtype]
    dims: list[Any] = {"NHWC": ["N", H, W, C], "NCHW": ["N", C, H, W], "NHW": ["N", H, W]}[spec.layout]
    graph_input = helper.make_tensor_value_info(spec.name, elem, dims)

    x = spec.name
    if spec.dtype != "float32":
        x = g.node("Cast", [x], "input_float", to=TensorProto.FLOAT)
    if spec.layout == "NHWC":
        x = g.node("Transpose", [x], "input_nchw", perm=[0, 3, 1, 2])
    elif spec.layout == "NHW":
        x = g.node("Unsqueeze", [x, g.const("axis1", np.array([1], np.int64))], "input_nchw")
    if spec.scale != 1.0:
        x = g.node("Mul", [x, g.const("input_scale", np.array(spec.scale, np.float32))], "input_scaled")
    if spec.offset != 0.0:
        x = g.node("Add", [x, g.const("input_offset", np.array(spec.offset, np.float32))], "input_shifted")

    # consumers count, for BN folding
    consumers: dict[str, int] = {}
    for layer in model.layers:
        for src in layer.inbound:
            consumers[src] = consumers.get(src, 0) + 1

    tensors: dict[str, _Tensor] = {model.inputs[0]: _Tensor(x, (C, H, W))}
    # layers whose conv output is pending a BN fold: layer name -> (weight OIHW, bias, inputs, attrs, shape, activation)
    pending: dict[str, dict[str, Any]] = {}

    def emit_pending(name: str) -> None:
        p = pending.pop(name)
        w_name = g.const(f"{name}_W", p["W"].astype(np.float32))
        inputs = [p["input"], w_name]
        if p["B"] is not None:
            inputs.append(g.const(f"{name}_B", p["B"].astype(np.float32)))
        y = g.node(p["op"], inputs, name, **p["attrs"])
        tensors[name] = _Tensor(_activation(g, y, p["activation"], name), p["shape"])

    def get(name: str) -> _Tensor:
        if name in pending:
            emit_pending(name)
        return tensors[name]

    for layer in model.layers:
        cls, cfg = layer.class_name, layer.config
        if cls == "InputLayer":
            continue
        if not layer.inbound:
            raise InvalidInput(f"layer {layer.name!r} has no input")

        if cls == "BatchNormalization":
            src = layer.inbound[0]
            scale, shift = _bn_scale_shift(layer)
            if fold_batchnorm and src in pending and consumers.get(src, 0) == 1 and pending[src]["activation"] == "linear":
                p = pending.pop(src)
                Wt = p["W"].astype(np.float64)
                B = p["B"].astype(np.float64) if p["B"] is not None else np.zeros(Wt.shape[0])
                # a Gemm weight is (in, out), a Conv weight (out, in, kh, kw)
                Wt = Wt * scale[None, :] if p["op"] == "Gemm" else Wt * scale.reshape(-1, *([1] * (Wt.ndim - 1)))
                p.update(W=Wt, B=B * scale + shift)
                pending[layer.name] = p  # the folded layer now produces this BN's output
                continue
            t = get(src)
            y = g.node(
                "BatchNormalization",
                [
                    t.name,
                    g.const(f"{layer.name}_scale", scale.astype(np.float32)),
                    g.const(f"{layer.name}_shift", shift.astype(np.float32)),
                    g.const(f"{layer.name}_zero_mean", np.zeros_like(scale, np.float32)),
                    g.const(f"{layer.name}_unit_var", np.ones_like(scale, np.float32)),
                ],
                layer.name,
                epsilon=0.0,
            )
            tensors[layer.name] = _Tensor(y, t.shape)
            continue

        if cls in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D"):
            _check_channels_last(layer)
            t = get(layer.inbound[0])
            if len(t.shape) != 3:
                raise InvalidInput(f"layer {layer.name!r} needs an image tensor, got shape {t.shape}")
            kernel = _keras_pair(cfg["kernel_size"])
            strides = _keras_pair(cfg.get("strides", 1))
            dil = _keras_pair(cfg.get("dilation_rate", 1))
            if dil != (1, 1) and strides != (1, 1):
                raise InvalidInput(f"layer {layer.name!r}: dilation with stride is not supported")
            attrs, (oh, ow) = _conv_pads(t.shape, kernel, strides, dil, cfg.get("padding", "valid"))
            attrs.update(kernel_shape=list(kernel), strides=list(strides), dilations=list(dil))
            act = cfg.get("activation", "linear")
            if act not in _ACTIVATIONS:
                raise InvalidInput(f"layer {layer.name!r}: unsupported activation {act!r}")
            bias = layer.weights.get("bias") if cfg.get("use_bias", True) else None
            cin = t.shape[0]
            if cin is None:
                raise InvalidInput(f"layer {layer.name!r}: unknown number of input channels")
            if cls == "Conv2D":
                Wk = layer.weights["kernel"]  # (kh, kw, in, out)
                Wt = np.transpose(Wk, (3, 2, 0, 1))
                cout = Wt.shape[0]
                pending[layer.name] = dict(
                    op="Conv", input=t.name, W=Wt, B=bias, attrs=attrs, shape=(cout, oh, ow), activation=act
                )
            else:
                Dk = layer.weights["depthwise_kernel"]  # (kh, kw, in, multiplier)
                mult = Dk.shape[3]
                # output channel c*mult + m uses input channel c (Keras' and ONNX's grouped order)
                Dt = np.transpose(Dk, (2, 3, 0, 1)).reshape(cin * mult, 1, kernel[0], kernel[1])
                dw_attrs = dict(attrs, group=int(cin))
                if cls == "DepthwiseConv2D":
                    pending[layer.name] = dict(
                        op="Conv", input=t.name, W=Dt, B=bias, attrs=dw_attrs, shape=(cin * mult, oh, ow), activation=act
                    )
                else:
                    dw = g.node(
                        "Conv",
                        [t.name, g.const(f"{layer.name}_depthwise_W", Dt.astype(np.float32))],
                        f"{layer.name}_depthwise",
                        **dw_attrs,
                    )
                    Pk = layer.weights["pointwise_kernel"]  # (1, 1, in*mult, out)
                    Pt = np.transpose(Pk, (3, 2, 0, 1))
                    pw_attrs = {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0]}
                    pending[layer.name] = dict(
                        op="Conv", input=dw, W=Pt, B=bias, attrs=pw_attrs, shape=(Pt.shape[0], oh, ow), activation=act
                    )
            if consumers.get(layer.name, 0) != 1 or act != "linear" or not fold_batchnorm:
                emit_pending(layer.name)
            continue

        if cls == "Dense":
            t = get(layer.inbound[0])
            if len(t.shape) != 1:
                raise InvalidInput(f"Dense layer {layer.name!r} on a {len(t.shape) + 1}-D tensor is not supported")
            act = cfg.get("activation", "linear")
            if act not in _ACTIVATIONS:
                raise InvalidInput(f"layer {layer.name!r}: unsupported activation {act!r}")
            Wk = layer.weights["kernel"]  # (in, out)
            bias = layer.weights.get("bias") if cfg.get("use_bias", True) else None
            pending[layer.name] = dict(op="Gemm", input=t.name, W=Wk, B=bias, attrs={}, shape=(Wk.shape[1],), activation=act)
            if consumers.get(layer.name, 0) != 1 or act != "linear" or not fold_batchnorm:
                emit_pending(layer.name)
            continue

        t = get(layer.inbound[0])
        if cls == "Activation":
            act = cfg.get("activation", "linear")
            if act not in _ACTIVATIONS:
                raise InvalidInput(f"layer {layer.name!r}: unsupported activation {act!r}")
            tensors[layer.name] = _Tensor(_activation(g, t.name, act, layer.name), t.shape)
        elif cls == "Dropout":
            tensors[layer.name] = t
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            _check_channels_last(layer)
            pool = _keras_pair(cfg.get("pool_size", 2))
            strides = _keras_pair(cfg.get("strides") or pool)
            attrs, (oh, ow) = _conv_pads(t.shape, pool, strides, (1, 1), cfg.get("padding", "valid"))
            attrs.update(kernel_shape=list(pool), strides=list(strides))
            if cls == "AveragePooling2D":
                attrs["count_include_pad"] = 0
            op = "MaxPool" if cls == "MaxPooling2D" else "AveragePool"
            tensors[layer.name] = _Tensor(g.node(op, [t.name], layer.name, **attrs), (t.shape[0], oh, ow))
        elif cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            _check_channels_last(layer)
            op = "GlobalAveragePool" if cls == "GlobalAveragePooling2D" else "GlobalMaxPool"
            y = g.node(op, [t.name], f"{layer.name}_pool")
            tensors[layer.name] = _Tensor(g.node("Flatten", [y], layer.name, axis=1), (t.shape[0],))
        elif cls == "Flatten":
            if len(t.shape) == 3:  # Keras flattens channels-last: go back to NHWC first
                y = g.node("Transpose", [t.name], f"{layer.name}_nhwc", perm=[0, 2, 3, 1])
                known = [d for d in t.shape if d is not None]
                size = int(np.prod(known)) if len(known) == len(t.shape) else None
                tensors[layer.name] = _Tensor(g.node("Flatten", [y], layer.name, axis=1), (size,))
            else:
                tensors[layer.name] = t
        elif cls == "Add":
            srcs = [t] + [get(n) for n in layer.inbound[1:]]
            shapes = {s.shape for s in srcs}
            if len(shapes) != 1:
                raise InvalidInput(f"Add layer {layer.name!r}: input shapes differ {sorted(map(str, shapes))}")
            y = srcs[0].name
            for i, s in enumerate(srcs[1:], start=1):
                y = g.node("Add", [y, s.name], layer.name if i == len(srcs) - 1 else f"{layer.name}_{i}")
            tensors[layer.name] = _Tensor(y, srcs[0].shape)
        else:
            raise InvalidInput(f"unsupported Keras layer {cls} ({layer.name!r})")

    out = get(model.outputs[0])
    final = g.node("Identity", [out.name], output_name)
    out_dims: list[Any] = ["N", *out.shape]
    graph = helper.make_graph(
        g.nodes,
        model.name,
        [graph_input],
        [helper.make_tensor_value_info(final, TensorProto.FLOAT, out_dims)],
        initializer=g.initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="faceprint.keras_h5")
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    return proto


def _activation(g: _GraphBuilder, x: str, act: str, base: str) -> str:
    if act == "linear":
        return x
    op = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}[act]
    attrs = {"axis": 1} if act == "softmax" else {}
    return g.node(op, [x], f"{base}_{act}", **attrs)


__all__ = [
    "OPSET",
    "InputSpec",
    "KerasLayer",
    "KerasModel",
    "conv_output_size",
    "read_keras_h5",
    "same_padding",
    "to_onnx",
]
