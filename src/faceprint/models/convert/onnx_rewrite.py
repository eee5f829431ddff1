"""Small, deterministic rewrites of shipped ONNX files before onnxruntime runs them.

* :func:`fold_input_initializers` — some exporters (OpenCV Zoo's block-quantised ``*_int8bq``
  files) list every weight both as an initializer and as a graph input. onnxruntime then treats the
  weights as overridable inputs: it warns for each and cannot constant-fold them. Removing those
  inputs makes them plain initializers (the values are untouched).
* :func:`drop_unused_inputs` — the same int8 files also declare each original float weight
  (``conv_1_conv2d_weight`` ...) as a graph input that no node reads (the convolutions read the
  ``*_reshaped`` outputs of the DequantizeLinear → Reshape chains fed by int8 initializers);
  onnxruntime would demand values for them. They are removed.
* :func:`set_dim_params` — replace fixed input/output dimensions by symbols, e.g. SFace's batch
  dimension (fixed at 1 in the file) so chips run in batches, or YuNet's height/width.

Every function returns a new ``ModelProto``; the source file is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping

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
