"""Joint Bayesian verification (numpy only).

Chen, Cao, Wang, Wen & Sun, "Bayesian Face Revisited: A Joint Formulation", ECCV 2012; the scorer
DeepID2 (Sun et al., NIPS 2014) puts on top of its features. A (mean-centred) face is the sum of
two independent Gaussians, an identity part and an intra-personal variation,

    x = μ + ε,   μ ~ N(0, S_μ),   ε ~ N(0, S_ε),

so a pair is jointly Gaussian with covariance ``Σ_I = [[S_μ+S_ε, S_μ], [S_μ, S_μ+S_ε]]`` when it is
the same person and ``Σ_E = diag(S_μ+S_ε, S_μ+S_ε)`` otherwise. The verification score is the log
likelihood ratio

    r(x₁, x₂) = log N([x₁; x₂]; 0, Σ_I) − log N([x₁; x₂]; 0, Σ_E)
              = ½ x₁ᵀA x₁ + ½ x₂ᵀA x₂ − x₁ᵀG x₂ + c,

with ``Σ_I⁻¹ = [[P, G], [G, P]]``, ``A = (S_μ+S_ε)⁻¹ − P`` and ``c = ½(log|Σ_E| − log|Σ_I|)``
(Chen et al. drop ½ and ``c``; keeping them makes ``r`` a calibrated log-likelihood ratio).

``fit`` uses the paper's EM-like algorithm: start from the between-class covariance of the class
means and the within-class covariance; E-step: each class's posterior means
``E[μ] = (S_μ⁻¹ + m S_ε⁻¹)⁻¹ S_ε⁻¹ Σ_j x_j`` and ``E[ε_j] = x_j − E[μ]``; M-step:
``S_μ = cov(E[μ])``, ``S_ε = cov(E[ε])``. Only classes with at least ``min_images`` images are used.
"""

from __future__ import annotations

import logging

import numpy as np

from faceprint.errors import InvalidInput, NotFitted

logger = logging.getLogger(__name__)


class JointBayesian:
    """scikit-learn-style Joint Bayesian model: ``fit(X, y)`` then ``score(x1, x2)``.

    Learned attributes: ``mean_`` (D,), ``S_mu_``, ``S_eps_`` (D, D), ``A_``, ``G_`` (D, D),
    ``const_`` (float), ``n_iter_`` (int), ``n_classes_`` (classes used).
    """

    def __init__(self, *, n_iter: int = 50, tol: float = 1e-6, reg: float = 1e-6, min_images: int = 2) -> None:
        self.n_iter, self.tol, self.reg, self.min_images = int(n_iter), float(tol), float(reg), int(min_images)

    def get_params(self, deep: bool = True) -> dict[str, float | int]:
        return {"n_iter": self.n_iter, "tol": self.tol, "reg": self.reg, "min_images": self.min_images}

    # ----------------------------------------------------------------------------------- fitting
    def fit(self, X: np.ndarray, y: np.ndarray) -> JointBayesian:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y):
            raise InvalidInput(f"X must be (N, D) with one label per row, got X {X.shape}, y {y.shape}")
        if not np.all(np.isfinite(X)):
            raise InvalidInput("X must be finite")
        _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        keep = counts[inverse] >= self.min_images
        X, inverse = X[keep], inverse[keep]
        classes, inverse = np.unique(inverse, return_inverse=True)
        if len(classes) < 2:
            raise InvalidInput(f"need at least 2 classes with >= {self.min_images} images, got {len(classes)}")
        d = X.shape[1]
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_
        n_cls = len(classes)
        counts = np.bincount(inverse, minlength=n_cls)
        sums = np.zeros((n_cls, d))
        np.add.at(sums, inverse, Xc)
        means = sums / counts[:, None]
        ridge = self.reg * max(float(np.trace(np.cov(Xc.T, bias=True)).real) / d if d > 1 else float(Xc.var()), 1e-12)
        eye = np.eye(d)
        S_mu = means.T @ means / n_cls + ridge * eye
        resid = Xc - means[inverse]
        S_eps = resid.T @ resid / len(Xc) + ridge * eye
        n_iter = 0
        while n_iter < self.n_iter:
            n_iter += 1
            F = np.linalg.inv(S_eps)
            mu = np.empty_like(sums)
            for m in np.unique(counts):  # classes of the same size share the posterior operator
                sel = counts == m
                post = np.linalg.solve(np.linalg.inv(S_mu) + m * F, F)  # (S_mu⁻¹ + mF)⁻¹ F
                mu[sel] = sums[sel] @ post.T
            eps = Xc - mu[inverse]
            new_mu = mu.T @ mu / n_cls + ridge * eye
            new_eps = eps.T @ eps / len(Xc) + ridge * eye
            change = max(
                np.linalg.norm(new_mu - S_mu) / np.linalg.norm(S_mu), np.linalg.norm(new_eps - S_eps) / np.linalg.norm(S_eps)
            )
            S_mu, S_eps = new_mu, new_eps
            if change < self.tol:
                break
        self.S_mu_, self.S_eps_ = S_mu, S_eps
        self.n_iter_, self.n_classes_ = n_iter, n_cls
        self._derive()
        logger.debug("Joint Bayesian fitted on %d classes in %d iterations", n_cls, n_iter)
        return self

    @classmethod
    def from_covariances(cls, S_mu: np.ndarray, S_eps: np.ndarray, mean: np.ndarray | None = None) -> JointBayesian:
        """A model with given covariances (no fitting)."""
        model = cls()
        model.S_mu_ = np.atleast_2d(np.asarray(S_mu, dtype=np.float64))
        model.S_eps_ = np.atleast_2d(np.asarray(S_eps, dtype=np.float64))
        model.mean_ = np.zeros(len(model.S_mu_)) if mean is None else np.asarray(mean, dtype=np.float64)
        model.n_iter_, model.n_classes_ = 0, 0
        model._derive()
        return model

    def _derive(self) -> None:
        d = len(self.S_mu_)
        T = self.S_mu_ + self.S_eps_
        sigma_i = np.block([[T, self.S_mu_], [self.S_mu_, T]])
        inv_i = np.linalg.inv(sigma_i)
        P, G = inv_i[:d, :d], inv_i[:d, d:]
        self.A_ = np.linalg.inv(T) - P
        self.A_ = (self.A_ + self.A_.T) / 2
        self.G_ = (G + G.T) / 2
        _, logdet_t = np.linalg.slogdet(T)
        _, logdet_i = np.linalg.slogdet(sigma_i)
        self.const_ = float(0.5 * (2.0 * logdet_t - logdet_i))

    # ----------------------------------------------------------------------------------- scoring
    def score(self, x1: np.ndarray, x2: np.ndarray) -> float | np.ndarray:
        """Log-likelihood ratio "same person" vs "different people": a float for two vectors, an
        ``(N,)`` array for two ``(N, D)`` arrays of paired rows. Higher means more alike."""
        if not hasattr(self, "A_"):
            raise NotFitted("JointBayesian.score called before fit")
        a = np.asarray(x1, dtype=np.float64)
        b = np.asarray(x2, dtype=np.float64)
        single = a.ndim == 1
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        d = len(self.mean_)
        if a.shape != b.shape or a.ndim != 2 or a.shape[1] != d:
            raise InvalidInput(f"x1 and x2 must both be ({d},) or (N, {d}), got {np.shape(x1)} and {np.shape(x2)}")
        a, b = a - self.mean_, b - self.mean_
        r = (
            0.5 * np.einsum("nd,de,ne->n", a, self.A_, a)
            + 0.5 * np.einsum("nd,de,ne->n", b, self.A_, b)
            - np.einsum("nd,de,ne->n", a, self.G_, b)
            + self.const_
        )
        return float(r[0]) if single else r
