"""Read PyTorch-saved state dicts into numpy arrays, without importing torch.

Two on-disk formats exist:

* **Legacy** (``torch.save(..., _use_new_zipfile_serialization=False)`` and every file written by
  torch < 1.6): a plain stream of pickles — the magic number, the protocol version, a ``sys_info``
  dict (endianness, C type sizes), then the pickled object, then a pickled (sorted) list of storage
  keys, then for each key, in that order, the storage's raw bytes preceded by a little-endian int64
  element count. Inside the object, every storage is a *persistent id*
  ``("storage", storage_type, key, location, numel, view_metadata)`` and every tensor is
  ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``.
* **Zip** (the default since torch 1.6): a zip archive ``<name>/data.pkl`` (the object, with
  persistent ids ``("storage", storage_type, key, location, numel)``), ``<name>/data/<key>`` (each
  storage's raw bytes) and ``<name>/byteorder``.

The unpickler here is restricted: it resolves only the handful of globals a state dict needs
(``collections.OrderedDict``, torch's tensor/parameter rebuild functions, storage classes, dtypes)
and refuses everything else, so reading a file never executes arbitrary code.

    >>> sd = load_state_dict("pnet.pt")          # doctest: +SKIP
    >>> sd["conv1.weight"].shape                  # doctest: +SKIP
    (10, 3, 3, 3)
"""

from __future__ import annotations

import collections
import io
import logging
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from typing import IO, Any, Literal

import numpy as np

from faceprint.errors import ModelIntegrityError

logger = logging.getLogger(__name__)

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

#: torch storage class name -> numpy dtype
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
    "UntypedStorage": np.dtype("u1"),
}

#: torch dtype attribute name -> numpy dtype (for ``_rebuild_tensor_v3``)
_TORCH_DTYPES: dict[str, np.dtype] = {
    "float64": np.dtype("<f8"),
    "double": np.dtype("<f8"),
    "float32": np.dtype("<f4"),
    "float": np.dtype("<f4"),
    "float16": np.dtype("<f2"),
    "half": np.dtype("<f2"),
    "int64": np.dtype("<i8"),
    "long": np.dtype("<i8"),
    "int32": np.dtype("<i4"),
    "int": np.dtype("<i4"),
    "int16": np.dtype("<i2"),
    "short": np.dtype("<i2"),
    "int8": np.dtype("i1"),
    "uint8": np.dtype("u1"),
    "bool": np.dtype("?"),
}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass(frozen=True)
class _TorchDtype:
    dtype: np.dtype


@dataclass
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None  # 1-D array of `dtype`, filled once the bytes are read


@dataclass
class _LazyTensor:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: np.dtype | None = None  # None: the storage's dtype

    def materialize(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise ModelIntegrityError(f"storage {self.storage.key!r} has no data")
        if self.dtype is not None and self.dtype != data.dtype:
            data = data.view(self.dtype)
        n_needed = self.offset + 1 + sum((s - 1) * st for s, st in zip(self.size, self.stride, strict=True) if s > 0)
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, dtype=data.dtype)
        if n_needed > data.shape[0] or self.offset < 0 or any(st < 0 for st in self.stride):
            raise ModelIntegrityError(
                f"tensor of size {self.size}, stride {self.stride}, offset {self.offset} "
                f"does not fit its storage of {data.shape[0]} elements"
            )
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.size, strides=tuple(st * item for st in self.stride)
        )
        out = np.empty(self.size, dtype=data.dtype.newbyteorder("="))
        out[...] = view
        return out


def _rebuild_tensor_v2(storage: Any, offset: int, size: Any, stride: Any, *_args: Any) -> _LazyTensor:
    if not isinstance(storage, _StorageRef):
        raise ModelIntegrityError("tensor does not reference a storage")
    shape, strides = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(shape) != len(strides):
        raise ModelIntegrityError(f"tensor of size {shape} has {len(strides)} strides")
    return _LazyTensor(storage, int(offset), shape, strides)


def _rebuild_tensor_v3(
    storage: Any, offset: int, size: Any, stride: Any, requires_grad: Any, hooks: Any, dtype: Any, *_: Any
) -> _LazyTensor:
    t = _rebuild_tensor_v2(storage, offset, size, stride)
    if isinstance(dtype, _TorchDtype):
        t.dtype = dtype.dtype
    return t


def _rebuild_parameter(data: Any, *_args: Any) -> Any:
    return data


def _torch_size(*args: Any) -> tuple[int, ...]:
    return tuple(args[0]) if args else ()


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _StorageRef]) -> None:
        super().__init__(file, encoding="latin1")
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils":
            if name == "_rebuild_tensor_v2":
                return _rebuild_tensor_v2
            if name == "_rebuild_tensor_v3":
                return _rebuild_tensor_v3
            if name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
                return _rebuild_parameter
        if module in ("torch", "torch.storage", "torch.cuda"):
            if name in _STORAGE_DTYPES:
                return _StorageType(_STORAGE_DTYPES[name])
            if name in _TORCH_DTYPES:
                return _TorchDtype(_TORCH_DTYPES[name])
            if name == "Size":
                return _torch_size
        raise ModelIntegrityError(f"refusing to unpickle global {module}.{name} from a torch file")

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise ModelIntegrityError(f"unsupported persistent id in torch file: {pid!r:.80}")
        storage_type, key, _location, numel = pid[1], str(pid[2]), pid[3], int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise ModelIntegrityError(f"unsupported storage type in torch file: {storage_type!r}")
        view_metadata = pid[5] if len(pid) > 5 else None
        if view_metadata is not None:
            raise ModelIntegrityError("storage views (pre-1.0 torch files) are not supported")
        ref = self._storages.get(key)
        if ref is None:
            ref = _StorageRef(key, storage_type.dtype, numel)
            self._storages[key] = ref
        return ref


def _materialize(obj: Any) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.materialize()
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialize(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialize(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialize(v) for v in obj)
    return obj


def _load_legacy(f: IO[bytes]) -> Any:
    magic = pickle.load(f)
    if magic != _LEGACY_MAGIC:
        raise ModelIntegrityError("not a torch file (bad magic number)")
    protocol = pickle.load(f)
    if protocol != _LEGACY_PROTOCOL:
        raise ModelIntegrityError(f"unsupported torch legacy protocol {protocol}")
    sys_info = pickle.load(f)
    little = bool(sys_info.get("little_endian", True)) if isinstance(sys_info, dict) else True
    storages: dict[str, _StorageRef] = {}
    obj = _RestrictedUnpickler(f, storages).load()
    keys = pickle.load(f)
    if not isinstance(keys, list):
        raise ModelIntegrityError("torch file: storage key list missing")
    order: Literal["<", ">"] = "<" if little else ">"
    for key in keys:
        key = str(key)
        ref = storages.get(key)
        if ref is None:
            raise ModelIntegrityError(f"torch file: storage {key!r} listed but never referenced")
        header = f.read(8)
        if len(header) != 8:
            raise ModelIntegrityError("torch file truncated (storage header)")
        (count,) = struct.unpack(order + "q", header)
        dtype = ref.dtype.newbyteorder(order) if ref.dtype.itemsize > 1 else ref.dtype
        nbytes = count * dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise ModelIntegrityError(f"torch file truncated (storage {key!r})")
        ref.data = np.frombuffer(raw, dtype=dtype)
    return _materialize(obj)


def _load_zip(zf: zipfile.ZipFile) -> Any:
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pkl:
        raise ModelIntegrityError("torch zip file without data.pkl")
    prefix = pkl[0][: -len("data.pkl")]
    order: Literal["<", ">"] = "<"
    if prefix + "byteorder" in names and zf.read(prefix + "byteorder").strip() == b"big":
        order = ">"
    storages: dict[str, _StorageRef] = {}
    obj = _RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), storages).load()
    for key, ref in storages.items():
        name = f"{prefix}data/{key}"
        try:
            raw = zf.read(name)
        except KeyError:
            raise ModelIntegrityError(f"torch zip file lacks {name}") from None
        dtype = ref.dtype.newbyteorder(order) if ref.dtype.itemsize > 1 else ref.dtype
        if len(raw) % dtype.itemsize:
            raise ModelIntegrityError(f"torch zip record {name} has a partial element")
        ref.data = np.frombuffer(raw, dtype=dtype)
    return _materialize(obj)


def load_torch_file(path: str | os.PathLike[str]) -> Any:
    """Load a torch-saved object (legacy or zip format) with tensors as numpy arrays.

    Raises :class:`ModelIntegrityError` for a file that is not a torch file, is truncated, or
    holds anything beyond plain containers and tensors.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return _load_zip(zf)
        with open(path, "rb") as f:
            return _load_legacy(f)
    except ModelIntegrityError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, zipfile.BadZipFile) as e:
        raise ModelIntegrityError(f"cannot read torch file {os.fspath(path)}: {e}") from e


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """A torch ``state_dict`` file as an ordered ``{name: numpy array}`` dict."""
    obj = load_torch_file(path)
    if not isinstance(obj, dict):
        raise ModelIntegrityError(f"{os.fspath(path)} does not hold a state dict (got {type(obj).__name__})")
    out: dict[str, np.ndarray] = collections.OrderedDict()
    for k, v in obj.items():
        if not isinstance(v, np.ndarray):
            raise ModelIntegrityError(f"{os.fspath(path)}: entry {k!r} is not a tensor")
        out[str(k)] = v
    return out
