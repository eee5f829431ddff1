import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.eval.protocols.identification import run_identification, scan_identities


def make_tree(tmp_path, counts):
    for name, n in counts.items():
        d = tmp_path / "images" / name
        d.mkdir(parents=True)
        for k in range(n):
            (d / f"{name}_{k + 1:04d}.jpg").write_bytes(b"x")
    return scan_identities(tmp_path)


def test_scan_sorted(tmp_path):
    ids = make_tree(tmp_path, {"b": 2, "a": 3, "c": 1})
    assert ids.names == ("a", "b", "c")
    assert [p.name for p in ids.images[0]] == ["a_0001.jpg", "a_0002.jpg", "a_0003.jpg"]
    with pytest.raises(InvalidInput):
        scan_identities(tmp_path / "nope")


def test_perfect_embeddings_give_rank1_and_full_dir(tmp_path):
    counts = {f"p{i:02d}": 3 for i in range(10)} | {f"s{i:02d}": 1 for i in range(5)}
    ids = make_tree(tmp_path, counts)
    dim = 32
    basis = np.eye(dim, dtype=np.float32)
    vectors = {}
    for i, imgs in enumerate(ids.images):
        for p in imgs:
            vectors[p] = basis[i]
    rep = run_identification(ids, vectors)
    cs = rep["closed_set"]
    assert cs["rank1"] == 1.0 and cs["probes"] == 20 and cs["gallery_identities"] == 15
    os_ = rep["open_set"]
    assert os_["heldout_identities"] == 5 and os_["mated_probes"] == 10 and os_["nonmated_probes"] == 15
    # non-mated probes score 0 against everything, mated score 1: DIR 1 at FPIR 0
    assert os_["points"][0]["dir"] == 1.0 and os_["points"][0]["fpir"] == 0.0


def test_confusable_identities_lower_rank1(tmp_path):
    ids = make_tree(tmp_path, {"a": 2, "b": 2})
    # b's probe is closer to a's gallery image than to b's
    a1, a2 = ids.images[0]
    b1, b2 = ids.images[1]
    v = {a1: np.array([1.0, 0]), a2: np.array([1.0, 0]), b1: np.array([0, 1.0]), b2: np.array([0.8, 0.6])}
    rep = run_identification(ids, v)
    assert rep["closed_set"]["rank1"] == 0.5
    assert rep["closed_set"]["cmc"] == [0.5, 1.0]
