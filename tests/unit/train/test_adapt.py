"""The adaptation run on synthetic clustered embeddings (the lead runs it on LFW dlib embeddings)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train import adapt  # noqa: E402


def synthetic(n_id: int = 100, per: int = 6, d: int = 128, seed: int = 0):
    """Identity clusters plus a strong nuisance shared by everyone in 8 dims (pose/light-like),
    which hurts cosine similarity and which a learned linear head can project out."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_id, d))
    basis = np.linalg.qr(rng.normal(size=(d, 8)))[0]
    X = np.repeat(centres, per, 0) + 0.6 * rng.normal(size=(n_id * per, d)) + (rng.normal(size=(n_id * per, 8)) * 12) @ basis.T
    return X.astype(np.float32), np.repeat(np.arange(n_id), per)


def test_identity_split_is_disjoint_and_seeded():
    _, y = synthetic()
    tr, te = adapt.split_identities(y, 0.5, seed=3)
    assert not set(y[tr]) & set(y[te]) and (tr | te).all()
    assert len(set(y[te])) == 50
    tr2, _ = adapt.split_identities(y, 0.5, seed=3)
    assert (tr == tr2).all() and not (adapt.split_identities(y, 0.5, seed=4)[0] == tr).all()


def test_pairs_are_all_positives_and_as_many_distinct_negatives():
    y = np.array([0, 0, 0, 1, 1, 2])
    i, j, same = adapt.verification_pairs(y, seed=0)
    assert same.sum() == 3 + 1 and (~same).sum() == 4
    assert all(y[a] == y[b] for a, b in zip(i[same], j[same], strict=True))
    assert all(y[a] != y[b] for a, b in zip(i[~same], j[~same], strict=True))
    assert len({(a, b) for a, b in zip(i[~same], j[~same], strict=True)}) == 4
    i, j, same = adapt.verification_pairs(np.repeat([0, 1, 2], 10), max_pairs_per_identity=5)
    assert same.sum() == 15


def test_metrics_closed_form():
    scores = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2])
    same = np.array([True, True, True, False, False, False])
    m = adapt.verification_metrics(scores, same, folds=3)
    # AUC: positive/negative orderings 0.9>all, 0.8>all, 0.4>0.3,0.2 → 8 of 9
    assert m["auc"] == pytest.approx(8 / 9)
    # at FAR 0 no negative may pass (top negative 0.7): positives above it = 2 of 3
    assert m["tar@far=0.001"] == pytest.approx(2 / 3)
    assert m["best_acc"] == pytest.approx(5 / 6)
    assert 0.0 <= m["acc_10fold"] <= 1.0 and set(m) >= {"auc", "tar@far=0.001", "tar@far=0.01", "acc_10fold_std"}


def test_adapted_heads_beat_the_frozen_baseline_on_held_out_identities():
    X, y = synthetic()
    result = adapt.run_adaptation(X, y, epochs=30, lr=1e-2, seed=0)
    rows = {r["method"]: r for r in result.rows}
    base = rows["frozen (cosine)"]["auc"]
    assert base < 0.7
    for method in ("arcface", "cosface", "triplet", "joint_bayesian"):  # selected by validation AUC
        assert rows[method]["auc"] > base + 0.15, (method, rows[method]["auc"], base)
        assert rows[method]["acc_10fold"] > rows["frozen (cosine)"]["acc_10fold"]
    assert result.split["test_identities"] == 50 and result.split["fit_identities"] + result.split["val_identities"] == 50
    table = result.table()
    assert "arcface" in table and "held-out: 50 identities" in table
    json.dumps(result.to_dict())


def test_script_entry_writes_json(tmp_path, capsys):
    X, y = synthetic(n_id=30, per=4, d=16)
    npz = tmp_path / "emb.npz"
    np.savez(npz, X=X, y=y, names=np.array([f"id{v}" for v in y]))
    out = tmp_path / "res" / "a.json"
    assert adapt.main(["--embeddings", str(npz), "--json", str(out), "--epochs", "3", "--methods", "cosface,joint_bayesian"]) == 0
    data = json.loads(out.read_text())
    methods = [r["method"] for r in data["rows"]]
    assert methods[0] == "frozen (cosine)" and methods[1] == "cosface" and methods[-1] == "joint_bayesian"
    assert set(methods) <= {"frozen (cosine)", "cosface", "cosface (last)", "joint_bayesian"}
    assert "frozen (cosine)" in capsys.readouterr().out
    assert adapt.main(["--embeddings", str(tmp_path / "nope.npz")]) == 2


def test_bad_inputs():
    with pytest.raises(InvalidInput):
        adapt.split_identities(np.zeros(5), 0.5)
    with pytest.raises(InvalidInput):
        adapt.verification_pairs(np.arange(5))
