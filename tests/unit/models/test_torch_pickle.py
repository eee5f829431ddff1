"""The torch-free state-dict reader against torch itself (skipped where torch is not installed)."""

from __future__ import annotations

import collections
import pickle

import numpy as np
import pytest

from faceprint.errors import ModelIntegrityError
from faceprint.models.convert.torch_pickle import load_state_dict, load_torch_file

torch = pytest.importorskip("torch")


def _state_dict() -> collections.OrderedDict:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.PReLU(5), torch.nn.BatchNorm2d(5))
    sd = net.state_dict()  # OrderedDict with a _metadata attribute, int64 num_batches_tracked
    sd["f64"] = torch.randn(3, 2, dtype=torch.float64, generator=g)
    sd["f16"] = torch.randn(7, generator=g).half()
    sd["i32"] = torch.arange(-5, 5, dtype=torch.int32)
    sd["u8"] = torch.arange(0, 250, 7, dtype=torch.uint8)
    sd["i8"] = torch.arange(-100, 100, 9, dtype=torch.int8)
    sd["flag"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.25)
    sd["empty"] = torch.zeros(0, 4)
    sd["transposed"] = base.t()  # non-contiguous view: saved as the storage + strides
    sd["row_view"] = base[1:3]  # shares the storage of `transposed`, non-zero offset
    sd["strided"] = base[:, ::2]
    return sd


def _check_equal(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for k, v in want.items():
        ref = v.numpy()
        assert isinstance(got[k], np.ndarray), k
        assert got[k].dtype == ref.dtype, k
        assert got[k].shape == ref.shape, k
        assert np.array_equal(got[k], ref), k
        assert got[k].flags["C_CONTIGUOUS"] and got[k].flags["OWNDATA"], k


@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_round_trip_is_exact(tmp_path, zip_format):
    sd = _state_dict()
    path = tmp_path / "sd.pt"
    torch.save(sd, path, _use_new_zipfile_serialization=zip_format)
    assert (path.read_bytes()[:2] == b"PK") == zip_format
    got = load_state_dict(path)
    _check_equal(got, sd)


@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_nested_containers(tmp_path, zip_format):
    obj = {"a": [torch.ones(2), (torch.arange(3), 7)], "b": {"c": torch.full((2, 2), 2.5)}, "s": "text"}
    path = tmp_path / "nested.pt"
    torch.save(obj, path, _use_new_zipfile_serialization=zip_format)
    got = load_torch_file(path)
    assert got["s"] == "text" and got["a"][1][1] == 7
    assert np.array_equal(got["a"][0], np.ones(2, np.float32))
    assert np.array_equal(got["a"][1][0], np.arange(3))
    assert np.array_equal(got["b"]["c"], np.full((2, 2), 2.5, np.float32))


def test_refuses_arbitrary_globals(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(part, f, protocol=2)
        pickle.dump({"x": Evil()}, f, protocol=2)
        pickle.dump([], f, protocol=2)
    with pytest.raises(ModelIntegrityError, match="refusing"):
        load_torch_file(path)


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\x00\x01 definitely not a pickle")
    with pytest.raises(ModelIntegrityError):
        load_torch_file(path)
    path.write_bytes(pickle.dumps(12345))
    with pytest.raises(ModelIntegrityError, match="magic"):
        load_torch_file(path)


def test_truncated_legacy_file(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save({"w": torch.randn(100)}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    with pytest.raises(ModelIntegrityError, match="truncated"):
        load_torch_file(path)


def test_size_and_stride_must_have_the_same_rank(tmp_path, monkeypatch):
    # A corrupt file whose tensor lists fewer strides than dimensions is refused with the package's error.
    reduce = torch.Tensor._reduce_ex_internal

    def fewer_strides(self, proto):
        fn, (storage, offset, size, stride, *rest) = reduce(self, proto)
        return fn, (storage, offset, size, stride[:1], *rest)

    monkeypatch.setattr(torch.Tensor, "_reduce_ex_internal", fewer_strides)
    path = tmp_path / "sd.pt"
    torch.save({"w": torch.ones(2, 3)}, path)
    monkeypatch.undo()
    with pytest.raises(ModelIntegrityError, match="strides"):
        load_torch_file(path)


def test_state_dict_requires_tensors(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save({"w": torch.ones(1), "n": 3}, path)
    with pytest.raises(ModelIntegrityError, match="not a tensor"):
        load_state_dict(path)


@pytest.mark.parametrize("net", ["pnet", "rnet", "onet"])
def test_facenet_pytorch_weights_match_torch_load(net):
    from faceprint.errors import ModelUnavailable
    from faceprint.models.sources import package_file

    try:
        path = package_file("facenet_pytorch", f"data/{net}.pt")
    except ModelUnavailable:
        pytest.skip("facenet-pytorch weights not installed")
    got = load_state_dict(path)
    want = torch.load(path, weights_only=True)
    _check_equal(got, want)
