"""Closed-form checks of the verification/identification metrics on hand-made score sets."""

import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.eval import metrics

# 4 genuine, 6 impostor pairs; all scores distinct
SCORES = np.array([0.9, 0.8, 0.6, 0.4, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05])
LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)


def test_roc_points_by_hand():
    roc = metrics.roc_curve(SCORES, LABELS)
    # sorted desc: .9G .8G .7I .6G .5I .4G .3I .2I .1I .05I
    np.testing.assert_allclose(roc.tar, [0, .25, .5, .5, .75, .75, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(roc.far, [0, 0, 0, 1 / 6, 1 / 6, 2 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1])
    assert roc.n_genuine == 4 and roc.n_impostor == 6


def test_auc_equals_mann_whitney():
    # pairs (g, i) with g > i: g=.9:6, .8:6, .6:5, .4:4 -> 21 of 24
    assert metrics.roc_auc(SCORES, LABELS) == pytest.approx(21 / 24)


def test_auc_ties_count_half():
    s = np.array([0.5, 0.5])
    y = np.array([True, False])
    assert metrics.roc_auc(s, y) == pytest.approx(0.5)


def test_best_threshold_and_accuracy():
    thr, acc = metrics.best_threshold(SCORES, LABELS)
    # best: accept >= 0.55..0.65 or 0.35..0.45 -> 8/10 correct
    assert acc == pytest.approx(0.8)
    assert metrics.accuracy_at(SCORES, LABELS, thr) == pytest.approx(0.8)
    assert 0.35 < thr < 0.65


def test_eer_by_hand():
    e, thr = metrics.eer(SCORES, LABELS)
    # accept >= .6: FAR 1/6, FRR 1/4 ; accept >= .5: FAR 2/6, FRR 1/4. FAR - FRR changes sign
    # between them, halfway: EER = FAR = FRR = 1/4, threshold halfway between 0.6 and 0.5.
    assert e == pytest.approx(0.25)
    assert thr == pytest.approx(0.55)


def test_eer_exact_crossing():
    s = np.array([0.9, 0.4, 0.6, 0.1])
    y = np.array([True, True, False, False])
    e, _ = metrics.eer(s, y)
    assert e == pytest.approx(0.5)


def test_tar_at_far():
    op = metrics.tar_at_far(SCORES, LABELS, 0.2)
    # FAR <= 0.2 allows one impostor (1/6): threshold 0.6, TAR 3/4
    assert op.threshold == pytest.approx(0.6)
    assert op.tar == pytest.approx(0.75)
    assert op.far == pytest.approx(1 / 6)
    assert op.n_impostor == 6 and op.resolvable
    op0 = metrics.tar_at_far(SCORES, LABELS, 1e-3)
    assert op0.far == 0 and op0.tar == pytest.approx(0.5) and not op0.resolvable
    assert op0.threshold == pytest.approx(0.8)


def test_tar_at_far_no_admissible_score():
    s = np.array([0.1, 0.9])
    y = np.array([True, False])
    op = metrics.tar_at_far(s, y, 0.5)
    assert op.tar == 0 and op.far == 0 and op.threshold > 0.9


def test_kfold_never_uses_own_fold():
    # fold 0's own data would pick threshold ~0.5; the other folds are shifted so their threshold is ~0.85
    s = np.array([0.6, 0.4, 0.95, 0.75, 0.96, 0.74])
    y = np.array([1, 0, 1, 0, 1, 0], bool)
    f = np.array([0, 0, 1, 1, 2, 2])
    kf = metrics.kfold_accuracy(s, y, f)
    # fold 0 threshold from folds 1,2: midpoint region between 0.75 and 0.95 -> 0.6 rejected -> acc 0.5
    assert kf.fold_thresholds[0] > 0.75
    assert kf.fold_accuracies[0] == pytest.approx(0.5)
    assert kf.fold_accuracies[1] == pytest.approx(1.0)
    assert kf.mean == pytest.approx((0.5 + 1 + 1) / 3)
    assert kf.standard_error == pytest.approx(np.std([0.5, 1, 1], ddof=1) / np.sqrt(3))


def test_kfold_threshold_from_other_folds_exactly(monkeypatch):
    seen = []
    real = metrics.best_threshold

    def spy(s, y):
        seen.append(len(s))
        return real(s, y)

    monkeypatch.setattr(metrics, "best_threshold", spy)
    rng = np.random.default_rng(1)
    s = rng.normal(size=100)
    y = rng.random(100) > 0.5
    f = np.repeat(np.arange(10), 10)
    metrics.kfold_accuracy(s, y, f)
    assert seen == [90] * 10


def test_bad_inputs():
    with pytest.raises(InvalidInput):
        metrics.roc_curve([0.1, 0.2], [True])
    with pytest.raises(InvalidInput):
        metrics.roc_curve([0.1, 0.2], [True, True])
    with pytest.raises(InvalidInput):
        metrics.roc_curve([np.nan, 0.2], [True, False])
    with pytest.raises(InvalidInput):
        metrics.tar_at_far(SCORES, LABELS, 0)


def test_cmc_by_hand():
    sim = np.array([
        [0.9, 0.1, 0.2],  # true A rank 1
        [0.8, 0.5, 0.1],  # true B rank 2
        [0.3, 0.2, 0.1],  # true C rank 3
        [0.5, 0.5, 0.1],  # true B tie with A -> counted rank 2
    ])
    c = metrics.cmc(sim, ["A", "B", "C", "B"], ["A", "B", "C"], max_rank=3)
    np.testing.assert_allclose(c, [0.25, 0.75, 1.0])
    with pytest.raises(InvalidInput):
        metrics.cmc(sim, ["A", "B", "C", "Z"], ["A", "B", "C"])


def test_dir_at_fpir_by_hand():
    nonmated = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    mated = np.array([0.99, 0.92, 0.85, 0.97])
    correct = np.array([True, True, True, False])
    op = metrics.dir_at_fpir(mated, correct, nonmated, 0.1)
    # one non-mated allowed at/above threshold: threshold just above 0.9 -> FPIR 0.1
    assert op.fpir == pytest.approx(0.1)
    assert op.threshold > 0.9 and op.threshold < 0.91
    # mated correct and >= thr: 0.99, 0.92 -> 2/4
    assert op.dir == pytest.approx(0.5)
    op0 = metrics.dir_at_fpir(mated, correct, nonmated, 0.0)
    assert op0.fpir == 0 and op0.dir == pytest.approx(0.25)


def test_det_curve_by_hand_and_against_sklearn():
    far, frr, thr = metrics.det_curve(SCORES, LABELS)
    np.testing.assert_allclose(far, [0, 0, 0, 1 / 6, 1 / 6, 2 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1])
    np.testing.assert_allclose(frr, [1, .75, .5, .5, .25, .25, 0, 0, 0, 0, 0])
    assert np.isinf(thr[0]) and np.all(np.diff(thr) < 0)
    from sklearn.metrics import det_curve as sk_det

    # scikit-learn's DET: the same points, reversed, trimmed to [last FAR = 0, first FRR = 0]
    a, b, c = sk_det(LABELS, SCORES)
    keep = np.isin(thr, c)
    np.testing.assert_allclose(a, far[keep][::-1])
    np.testing.assert_allclose(b, frr[keep][::-1])
    np.testing.assert_array_equal(c, thr[keep][::-1])


def test_roc_and_auc_with_ties_match_rank_statistic():
    rng = np.random.default_rng(3)
    s = rng.integers(0, 20, 400) / 20.0  # many ties
    y = rng.random(400) > 0.4
    g, i = s[y][:, None], s[~y][None, :]
    mw = ((g > i).sum() + 0.5 * (g == i).sum()) / (g.size * i.size)
    assert metrics.roc_auc(s, y) == pytest.approx(mw, abs=1e-12)
    roc = metrics.roc_curve(s, y)
    assert roc.thresholds.size == np.unique(s).size + 1
    assert float(np.trapezoid(roc.tar, roc.far)) == pytest.approx(mw, abs=1e-12)
