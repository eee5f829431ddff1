"""Exact (flat) and HNSW indexes: correctness against brute force, removal, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.matching.index import HNSW_MIN_SIZE, FlatIndex, choose_kind, load_index, new_index, save_index
from faceprint.matching.index.faiss_index import FaissIndex


def unit(rng: np.random.Generator, n: int, d: int = 32) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(q: np.ndarray, x: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    s = q @ x.T
    o = np.argsort(-s, axis=1)[:, :k]
    return np.take_along_axis(s, o, axis=1), ids[o]


@pytest.fixture(params=["flat", "hnsw"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_search_matches_brute_force(kind: str, rng: np.random.Generator) -> None:
    x = unit(rng, 600)
    ids = np.arange(100, 700, dtype=np.int64)
    idx = new_index(kind)
    idx.add(ids, ids // 10, x)
    q = unit(rng, 20)
    s, f, i = idx.search(q, 5)
    bs, bf = brute(q, x, ids, 5)
    assert s.shape == f.shape == i.shape == (20, 5)
    if kind == "flat":
        np.testing.assert_array_equal(f, bf)
        np.testing.assert_allclose(s, bs, rtol=0, atol=1e-5)
    else:
        assert (f[:, 0] == bf[:, 0]).mean() >= 0.95
    np.testing.assert_array_equal(i, f // 10)
    # a stored vector finds itself first with score 1
    s1, f1, _ = idx.search(x[[7, 300]], 1)
    assert f1[:, 0].tolist() == [107, 400]
    np.testing.assert_allclose(s1[:, 0], 1.0, atol=1e-5)


def test_remove_is_immediate_and_padding(kind: str, rng: np.random.Generator) -> None:
    x = unit(rng, 50)
    ids = np.arange(50, dtype=np.int64)
    idx = new_index(kind)
    idx.add(ids, np.zeros(50, np.int64), x)
    gone = list(range(0, 50, 3))
    assert idx.remove(gone + [999]) == len(gone)
    assert len(idx) == 50 - len(gone)
    _, f, _ = idx.search(x, 50)
    assert not set(f.ravel().tolist()) & set(gone)
    # k larger than the index: padded with -1 / -inf
    s, f, i = idx.search(x[:1], 60)
    assert (f[0] >= 0).sum() == len(idx) and np.isneginf(s[0, len(idx):]).all() and (i[0, len(idx):] == -1).all()
    assert sorted(idx.face_ids().tolist()) == [j for j in range(50) if j not in gone]


def test_re_adding_an_id_replaces_it(kind: str, rng: np.random.Generator) -> None:
    x = unit(rng, 10)
    idx = new_index(kind)
    idx.add(np.arange(10), np.arange(10), x)
    idx.add(np.array([3]), np.array([42]), x[7:8])
    assert len(idx) == 10
    iid, vec = idx.get([3])
    assert iid.tolist() == [42]
    np.testing.assert_allclose(vec[0], x[7], atol=1e-6)


def test_save_and_load_roundtrip(kind: str, rng: np.random.Generator, tmp_path: Path) -> None:
    x = unit(rng, 200)
    idx = new_index(kind)
    idx.add(np.arange(200), np.arange(200) % 7, x)
    idx.remove([5, 6])
    p = save_index(idx, tmp_path / "i.npz", stamp=("abc", 17), model="fake@1")
    loaded, meta = load_index(p)  # type: ignore[misc]
    assert meta["stamp"] == ["abc", 17] and meta["model"] == "fake@1" and meta["kind"] == kind
    assert type(loaded) is type(idx) and len(loaded) == 198
    q = unit(rng, 5)
    for a, b in zip(idx.search(q, 4), loaded.search(q, 4), strict=True):
        np.testing.assert_array_equal(a, b)
    _, f, _ = loaded.search(x[5:7], 198)
    assert not {5, 6} & set(f.ravel().tolist())


def test_an_index_saved_with_a_sparser_graph_is_rebuilt(rng: np.random.Generator, tmp_path: Path) -> None:
    """Indexes saved by earlier versions (M=32, efConstruction=80: recall 0.93 on SFace at 1M) are not reused."""
    pytest.importorskip("faiss")
    from faceprint.matching.index.faiss_index import DEFAULT_EF_CONSTRUCTION, DEFAULT_M, FaissIndex

    assert (DEFAULT_M, DEFAULT_EF_CONSTRUCTION) == (48, 200)
    x = unit(rng, 100)
    old = FaissIndex(m=32, ef_construction=80)
    old.add(np.arange(100), np.arange(100), x)
    assert old.sparser_than_defaults and load_index(save_index(old, tmp_path / "old.npz", stamp=("a", 1), model="m@1")) is None
    new = FaissIndex()
    new.add(np.arange(100), np.arange(100), x)
    found = load_index(save_index(new, tmp_path / "new.npz", stamp=("a", 1), model="m@1"))
    assert not new.sparser_than_defaults and found is not None and len(found[0]) == 100


def test_unreadable_index_file_means_rebuild(tmp_path: Path) -> None:
    p = tmp_path / "bad.npz"
    p.write_bytes(b"garbage")
    assert load_index(p) is None
    assert load_index(tmp_path / "missing.npz") is None


def test_hnsw_compacts_after_many_deletions(rng: np.random.Generator) -> None:
    x = unit(rng, 400)
    idx = FaissIndex()
    idx.add(np.arange(400), np.arange(400), x)
    idx.remove(list(range(50)))
    assert idx.n_dead == 50  # below the compaction fraction: filtered, not rebuilt
    idx.remove(list(range(50, 150)))
    assert idx.n_dead == 0 and len(idx) == 250  # rebuilt from the live rows
    s, f, _ = idx.search(x[200:210], 1)
    assert f[:, 0].tolist() == list(range(200, 210))
    _, f, _ = idx.search(x[:5], 250)
    assert f.min() >= 150


def test_input_checks() -> None:
    idx = FlatIndex(4)
    with pytest.raises(InvalidInput):
        idx.add(np.arange(2), np.arange(2), np.ones((2, 3), np.float32))
    with pytest.raises(InvalidInput):
        idx.add(np.array([1, 1]), np.arange(2), np.ones((2, 4), np.float32))
    with pytest.raises(InvalidInput):
        idx.search(np.ones((1, 5), np.float32), 1)
    s, f, _ = FlatIndex().search(np.ones((2, 4), np.float32), 3)
    assert (f == -1).all() and np.isneginf(s).all()
    with pytest.raises(InvalidInput):
        new_index("ivf")


def test_choose_kind() -> None:
    assert choose_kind(0) == "flat"
    assert choose_kind(HNSW_MIN_SIZE - 1) == "flat"
    assert choose_kind(HNSW_MIN_SIZE) == "hnsw"
