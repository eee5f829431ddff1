import numpy as np
import pytest

from faceprint.errors import InvalidInput, NotFitted
from faceprint.eval.metrics import roc_auc
from faceprint.train.joint_bayesian import JointBayesian


def test_closed_form_score_one_dimension():
    a, b = 2.0, 0.5  # S_mu, S_eps
    jb = JointBayesian.from_covariances([[a]], [[b]])
    x1, x2 = 0.7, -0.2
    t = a + b
    # same: [[t, a], [a, t]]; different: diag(t, t)
    det_i = t * t - a * a
    quad_i = (t * x1 * x1 - 2 * a * x1 * x2 + t * x2 * x2) / det_i
    quad_e = (x1 * x1 + x2 * x2) / t
    want = -0.5 * quad_i - 0.5 * np.log(det_i) + 0.5 * quad_e + 0.5 * np.log(t * t)
    assert jb.score(np.array([x1]), np.array([x2])) == pytest.approx(want, rel=1e-12)


def test_score_is_the_gaussian_log_likelihood_ratio():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    d = 4
    A, B = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    S_mu, S_eps = A @ A.T + np.eye(d), B @ B.T + 0.5 * np.eye(d)
    mean = rng.normal(size=d)
    jb = JointBayesian.from_covariances(S_mu, S_eps, mean)
    T = S_mu + S_eps
    same = np.block([[T, S_mu], [S_mu, T]])
    diff = np.block([[T, np.zeros_like(T)], [np.zeros_like(T), T]])
    X1, X2 = rng.normal(size=(5, d)), rng.normal(size=(5, d))
    for x1, x2, got in zip(X1, X2, jb.score(X1, X2), strict=True):
        z = np.r_[x1 - mean, x2 - mean]
        want = stats.multivariate_normal(np.zeros(2 * d), same).logpdf(z) - stats.multivariate_normal(
            np.zeros(2 * d), diff
        ).logpdf(z)
        assert got == pytest.approx(want, rel=1e-9)
        assert jb.score(x1, x2) == pytest.approx(want, rel=1e-9)


def _sample(rng, n_id, per, s_mu, s_eps):
    mu = rng.normal(size=(n_id, len(s_mu))) * np.sqrt(s_mu)
    X = np.repeat(mu, per, 0) + rng.normal(size=(n_id * per, len(s_eps))) * np.sqrt(s_eps)
    return X, np.repeat(np.arange(n_id), per)


def test_fit_recovers_the_model_and_beats_cosine_on_its_own_data():
    rng = np.random.default_rng(0)
    # identity lives in 4 dims; 6 dims carry large intra-personal variation (pose, light)
    s_mu = np.r_[np.full(4, 4.0), np.full(12, 0.05)]
    s_eps = np.r_[np.full(4, 0.3), np.full(6, 6.0), np.full(6, 0.5)]
    X, y = _sample(rng, 300, 5, s_mu, s_eps)
    jb = JointBayesian().fit(X, y)
    assert jb is not None and jb.n_classes_ == 300 and jb.n_iter_ >= 1
    assert np.allclose(np.diag(jb.S_mu_)[:4], 4.0, rtol=0.25)
    assert np.allclose(np.diag(jb.S_eps_)[4:10], 6.0, rtol=0.15)
    Xt, yt = _sample(rng, 200, 2, s_mu, s_eps)
    i, j = np.arange(0, 400, 2), np.arange(1, 400, 2)  # positive pairs
    k = rng.permutation(400)[:200]
    neg_i, neg_j = k, (k + 2 * rng.integers(1, 199, 200)) % 400  # other identities
    a, b = np.r_[i, neg_i], np.r_[j, neg_j]
    same = yt[a] == yt[b]
    cos = np.einsum("nd,nd->n", Xt[a], Xt[b]) / (np.linalg.norm(Xt[a], axis=1) * np.linalg.norm(Xt[b], axis=1))
    auc_cos, auc_jb = roc_auc(cos, same), roc_auc(jb.score(Xt[a], Xt[b]), same)
    assert auc_jb > auc_cos + 0.1, (auc_cos, auc_jb)
    assert auc_jb > 0.95


def test_sklearn_conventions_and_errors():
    jb = JointBayesian()
    with pytest.raises(NotFitted):
        jb.score(np.zeros(3), np.zeros(3))
    assert set(jb.get_params()) == {"n_iter", "tol", "reg", "min_images"}
    with pytest.raises(InvalidInput):
        jb.fit(np.zeros((4, 2)), np.array([0, 1, 2, 3]))  # no class with two images
    X = np.random.default_rng(0).normal(size=(8, 3))
    jb.fit(X, np.array([0, 0, 1, 1, 2, 2, 3, 3]))
    assert all(hasattr(jb, a) for a in ("mean_", "S_mu_", "S_eps_", "A_", "G_", "const_"))
    with pytest.raises(InvalidInput):
        jb.score(np.zeros(4), np.zeros(4))
