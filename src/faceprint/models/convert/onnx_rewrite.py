"""Small, deterministic rewrites of shipped ONNX files before onnxruntime runs them.

* :func:`fold_input_initializers` — some exporters (OpenCV Zoo's block-quantised ``*_int8bq``
  files) list every weight both as an initializer and as a graph input. onnxruntime then treats the
  weights as overridable inputs: it warns for each and cannot constant-fold them. Removing those
  inputs makes them plain initializers (the values are untouched).
* :func:`drop_unused_inputs` — the same int8 files also declare each original float weight
  (``conv_1_conv2d_weight`` ...) as a graph input that no node reads (the convolutions read the
  ``*_reshaped`` outputs of the DequantizeLinear → Reshape chains fed by int8 initializers);
  onnxruntime would demand values for them. They are removed.
* :func:`fold_dequantize` — replace every ``DequantizeLinear`` of constant initializers by the float
  initializer it computes, ``(q − zero_point) · scale`` per tensor, per axis or per block (ONNX
  opset 21 ``block_size``). The int8 YuNet file carries ``block_size`` on per-tensor biases, which
  onnxruntime rejects; folded, the file holds float weights that were int8-rounded.
* :func:`set_dim_params` — replace fixed input/output dimensions by symbols, e.g. SFace's batch
  dimension (fixed at 1 in the file) so chips run in batches, or YuNet's height/width.

Every function returns a new ``ModelProto``; the source file is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faceprint.errors import ModelIntegrityError

#: Bumped whenever a rewrite changes the bytes it produces (cached files are keyed on it).
REWRITE_VERSION = "1"


def fold_input_initializers(model):
    """A copy of ``model`` whose graph inputs no longer include its initializers."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {i.name for i in out.graph.initializer}
    keep = [i for i in out.graph.input if i.name not in inits]
    del out.graph.input[:]
    out.graph.input.extend(keep)
    return out


def _dequantize(q, scale, zero_point, axis: int, block_size: int):
    import numpy as np

    qf = q.astype(np.float64)
    zp = np.zeros((), np.float64) if zero_point is None else zero_point.astype(np.float64)
    sc = scale.astype(np.float64)
    if sc.size == 1:
        out = (qf - zp.reshape(())) * sc.reshape(())
    else:
        ax = axis % q.ndim
        if block_size:
            sc = np.repeat(sc, block_size, axis=ax).take(np.arange(q.shape[ax]), axis=ax)
            zp = np.repeat(zp, block_size, axis=ax).take(np.arange(q.shape[ax]), axis=ax) if zp.ndim else zp
        else:
            shape = [1] * q.ndim
            shape[ax] = q.shape[ax]
            sc = sc.reshape(shape)
            zp = zp.reshape(shape) if zp.ndim else zp
        out = (qf - zp) * sc
    return out.astype(scale.dtype)


def fold_dequantize(model):
    """A copy of ``model`` with each DequantizeLinear on initializers replaced by its float result."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {i.name: i for i in g.initializer}
    keep_nodes: list[Any] = []
    new_inits: list[Any] = []
    used: set[str] = set()
    for node in g.node:
        if node.op_type == "DequantizeLinear" and all(not n or n in inits for n in node.input):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            arrays = [numpy_helper.to_array(inits[n]) if n else None for n in node.input]
            q, scale = arrays[0], arrays[1]
            zp = arrays[2] if len(arrays) > 2 else None
            value = _dequantize(q, scale, zp, int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)))
            new_inits.append(numpy_helper.from_array(value, node.output[0]))
            used.update(n for n in node.input if n)
            continue
        keep_nodes.append(node)
    del g.node[:]
    g.node.extend(keep_nodes)
    still = {n for node in keep_nodes for n in node.input} | {o.name for o in g.output}
    kept_inits = [i for i in g.initializer if i.name not in used or i.name in still]
    del g.initializer[:]
    g.initializer.extend(kept_inits + new_inits)
    return out


def drop_unused_inputs(model, keep: tuple[str, ...] = ()):
    """A copy of ``model`` without graph inputs that no node consumes (except names in ``keep``)."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    used = {name for node in out.graph.node for name in node.input}
    used |= {o.name for o in out.graph.output}
    kept = [i for i in out.graph.input if i.name in used or i.name in keep]
    del out.graph.input[:]
    out.graph.input.extend(kept)
    return out


def set_dim_params(model, inputs: Mapping[str, Mapping[int, str]], outputs: Mapping[str, Mapping[int, str]] | None = None):
    """A copy of ``model`` with the given dimensions of named inputs/outputs made symbolic.

    ``inputs`` / ``outputs``: tensor name → {axis: symbol}. Raises :class:`ModelIntegrityError`
    when a named tensor or axis does not exist (the file is not the one the caller expects).
    """
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    for values, spec in ((out.graph.input, inputs), (out.graph.output, outputs or {})):
        by_name = {v.name: v for v in values}
        for name, axes in spec.items():
            if name not in by_name:
                raise ModelIntegrityError(f"ONNX model has no tensor {name!r} (has {sorted(by_name)})")
            dims = by_name[name].type.tensor_type.shape.dim
            for axis, symbol in axes.items():
                if not 0 <= axis < len(dims):
                    raise ModelIntegrityError(f"tensor {name!r} has {len(dims)} dimensions, no axis {axis}")
                dims[axis].ClearField("dim_value")
                dims[axis].dim_param = symbol
    return out


def load_model(data: bytes):
    """Parse serialized ONNX bytes (a :class:`ModelIntegrityError` when they are not ONNX)."""
    import onnx

    try:
        return onnx.load_from_string(data)
    except Exception as e:  # protobuf's DecodeError and friends
        raise ModelIntegrityError(f"not a readable ONNX model: {e}") from None
