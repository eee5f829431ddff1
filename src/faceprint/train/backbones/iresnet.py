"""IR-ResNet ("improved residual" ResNet of ArcFace / insightface), 112×112 input.

Deng et al., ArcFace (CVPR 2019) §3 / Han et al. "Deep Pyramidal Residual Networks": a 3×3 stem
at stride 1, then four stages of improved residual blocks BN → conv3×3 → BN → PReLU →
conv3×3(stride) → BN (+ 1×1 conv/BN shortcut when the shape changes), the stride-2 conv in each
stage's first block (112 → 56 → 28 → 14 → 7), and the "E" output: BN → dropout → flatten → FC →
BN1d, giving the embedding.

* :func:`iresnet18` — layers (2, 2, 2, 2), widths (64, 128, 256, 512), 512-d (IR-18).
* :func:`iresnet_tiny` — layers (1, 1, 1, 1), widths (8, 16, 32, 64), 128-d: for tests and
  CPU benchmarks (about 20 MMAC per face).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def _conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class IBasicBlock(nn.Module):
    """BN → conv3×3 → BN → PReLU → conv3×3(stride) → BN, plus the shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1, eps: float = 1e-5) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=eps)
        self.conv1 = _conv3(cin, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=eps)
        self.prelu = nn.PReLU(cout)
        self.conv2 = _conv3(cout, cout, stride)
        self.bn3 = nn.BatchNorm2d(cout, eps=eps)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout, eps=eps))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """IR-ResNet on (N, 3, 112, 112) float input → (N, embedding_dim) embeddings (not normalised)."""

    def __init__(
        self,
        layers: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        embedding_dim: int = 512,
        *,
        input_size: int = 112,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(layers) != 4 or len(widths) != 4:
            raise ValueError("IResNet needs 4 stages")
        self.embedding_dim, self.input_size = int(embedding_dim), int(input_size)
        self.stem = nn.Sequential(_conv3(3, widths[0]), nn.BatchNorm2d(widths[0]), nn.PReLU(widths[0]))
        blocks: list[nn.Module] = []
        cin = widths[0]
        for n, w in zip(layers, widths, strict=True):
            blocks.append(IBasicBlock(cin, w, stride=2))
            blocks.extend(IBasicBlock(w, w) for _ in range(n - 1))
            cin = w
        self.body = nn.Sequential(*blocks)
        side = input_size // 16
        self.bn2 = nn.BatchNorm2d(cin)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin * side * side, embedding_dim)
        self.features = nn.BatchNorm1d(embedding_dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()  # channels-last input crashes torch 2.13.0's CPU strided 1×1 conv backward
        x = self.bn2(self.body(self.stem(x)))
        return self.features(self.fc(self.dropout(torch.flatten(x, 1))))


def iresnet18(embedding_dim: int = 512, **kwargs: Any) -> IResNet:
    return IResNet((2, 2, 2, 2), (64, 128, 256, 512), embedding_dim, **kwargs)


def iresnet_tiny(embedding_dim: int = 128, **kwargs: Any) -> IResNet:
    return IResNet((1, 1, 1, 1), (8, 16, 32, 64), embedding_dim, **kwargs)
