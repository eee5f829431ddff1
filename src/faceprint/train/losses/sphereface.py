"""SphereFace (A-Softmax): multiplicative angular margin.

Liu et al., "SphereFace: Deep Hypersphere Embedding for Face Recognition", CVPR 2017. Class
weights are normalised (‖W_j‖ = 1, no bias), features are not; the target angle is multiplied by
an integer ``m``:

    L = −log( exp(‖x‖·ψ(θ_y)) / (exp(‖x‖·ψ(θ_y)) + Σ_{j≠y} exp(‖x‖·cos θ_j)) ),
    ψ(θ) = (−1)^k cos(mθ) − 2k,   θ ∈ [kπ/m, (k+1)π/m],  k ∈ {0, …, m−1},

which is monotonically decreasing on [0, π] (``cos(mθ)`` alone is not). ``cos(mθ)`` is the
Chebyshev polynomial ``T_m(cos θ)``, as in the paper's implementation.

Training starts from plain (normalised-weight) softmax and anneals towards A-Softmax: the target
logit is ``‖x‖·(λ·cos θ_y + ψ(θ_y)) / (1 + λ)`` with ``λ = max(λ_min, base·(1 + γ·it)^(−power))``,
``it`` counting training forward passes (the paper's Caffe setting: base 1000, γ 0.12, power 1,
λ_min 5). Set ``lambda_base=0`` to train with pure A-Softmax. With m = 1, ψ(θ) = cos θ and it is
the normalised-weight softmax ``x·W_j/‖W_j‖``.
"""

from __future__ import annotations

import math

import torch

from faceprint.errors import InvalidInput
from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss, safe_acos


def chebyshev_cos_m(cos: torch.Tensor, m: int) -> torch.Tensor:
    """``cos(mθ)`` as the Chebyshev polynomial ``T_m(cos θ)``."""
    prev, cur = torch.ones_like(cos), cos
    if m == 0:
        return prev
    for _ in range(m - 1):
        prev, cur = cur, 2.0 * cos * cur - prev
    return cur


def psi(cos: torch.Tensor, m: int) -> torch.Tensor:
    """SphereFace's ψ(θ) = (−1)^k cos(mθ) − 2k from cos θ (k is piecewise constant, no gradient)."""
    with torch.no_grad():
        k = torch.floor(m * safe_acos(cos) / math.pi).clamp(0, m - 1)
        sign = 1.0 - 2.0 * torch.remainder(k, 2.0)
    return sign * chebyshev_cos_m(cos, m) - 2.0 * k


class SphereFaceLoss(MarginSoftmaxLoss):
    """A-Softmax with integer margin ``m`` and the λ annealing of the paper."""

    paper = "Liu et al., SphereFace, CVPR 2017"
    iteration: torch.Tensor  # buffer: training iterations seen (λ annealing)

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        margin: int = 4,
        *,
        lambda_base: float = 1000.0,
        lambda_gamma: float = 0.12,
        lambda_power: float = 1.0,
        lambda_min: float = 5.0,
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale=1.0)
        if int(margin) != margin or margin < 1:
            raise InvalidInput(f"SphereFace's margin must be a positive integer, got {margin}")
        self.margin = int(margin)
        self.lambda_base, self.lambda_gamma = float(lambda_base), float(lambda_gamma)
        self.lambda_power, self.lambda_min = float(lambda_power), float(lambda_min)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    @property
    def lam(self) -> float:
        """The current annealing weight λ (0 when annealing is off)."""
        if self.lambda_base <= 0:
            return 0.0
        it = float(self.iteration)
        return max(self.lambda_min, self.lambda_base * (1.0 + self.lambda_gamma * it) ** (-self.lambda_power))

    def update_statistics(self, ctx: MarginContext) -> None:
        ctx.cache["lambda"] = self.lam  # λ of this iteration, then count it
        self.iteration += 1

    def target_logit(self, cos_t: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        lam = ctx.cache.get("lambda", self.lam)
        return (lam * cos_t + psi(cos_t, self.margin)) / (1.0 + lam)

    def logit_scale(self, ctx: MarginContext) -> torch.Tensor:
        return ctx.norms[:, None]

    @torch.no_grad()
    def predict_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return embeddings @ torch.nn.functional.normalize(self.weight, dim=1).T

    def extra_repr(self) -> str:
        return super().extra_repr() + f", margin={self.margin}, lambda={self.lam:.4g}"
