"""MobileFaceNet-style backbone, 112×112 input.

Chen, Liu, Gao & Han, "MobileFaceNets: Efficient CNNs for Accurate Real-Time Face Verification on
Mobile Devices", CCBR 2018: conv3×3/2 (64) → depthwise conv3×3 (64) → inverted-residual
bottlenecks (expansion t, channels c, repeats n, stride s) ``(2,64,5,2) (4,128,1,2) (2,128,6,1)
(4,128,1,2) (2,128,2,1)`` → conv1×1 (512) → *global depthwise conv* 7×7 (linear, replaces global
average pooling so that the centre of the face weighs more) → linear conv1×1 to the embedding →
BN. PReLU everywhere a non-linearity is used; the bottleneck projection is linear.

* :func:`mobilefacenet` — the paper's configuration (≈1M parameters, 128-d).
* :func:`mobilefacenet_tiny` — fewer blocks and half width, for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

#: (expansion t, output channels c, repeats n, first stride s)
MOBILEFACENET_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (2, 64, 5, 2),
    (4, 128, 1, 2),
    (2, 128, 6, 1),
    (4, 128, 1, 2),
    (2, 128, 2, 1),
)


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 1, s: int = 1, p: int = 0, groups: int = 1, act: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.PReLU(cout))
        super().__init__(*layers)


class Bottleneck(nn.Module):
    """Inverted residual: 1×1 expand → 3×3 depthwise (stride) → linear 1×1 project (+ identity)."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            ConvBN(cin, hidden),
            ConvBN(hidden, hidden, 3, stride, 1, groups=hidden),
            ConvBN(hidden, cout, act=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.residual else out


class MobileFaceNet(nn.Module):
    """(N, 3, 112, 112) float → (N, embedding_dim) embeddings (not normalised)."""

    def __init__(
        self,
        embedding_dim: int = 128,
        *,
        setting: Sequence[tuple[int, int, int, int]] = MOBILEFACENET_SETTING,
        width: float = 1.0,
        stem_channels: int = 64,
        last_channels: int = 512,
        input_size: int = 112,
    ) -> None:
        super().__init__()
        self.embedding_dim, self.input_size = int(embedding_dim), int(input_size)
        c0 = max(8, int(stem_channels * width))
        self.stem = nn.Sequential(ConvBN(3, c0, 3, 2, 1), ConvBN(c0, c0, 3, 1, 1, groups=c0))
        blocks: list[nn.Module] = []
        cin = c0
        for t, c, n, s in setting:
            cout = max(8, int(c * width))
            for i in range(n):
                blocks.append(Bottleneck(cin, cout, s if i == 0 else 1, t))
                cin = cout
        self.body = nn.Sequential(*blocks)
        last = max(16, int(last_channels * width))
        self.conv_last = ConvBN(cin, last)
        side = input_size // 16
        self.gdconv = ConvBN(last, last, side, 1, 0, groups=last, act=False)  # global depthwise conv
        self.linear = nn.Conv2d(last, embedding_dim, 1, bias=False)
        self.bn = nn.BatchNorm1d(embedding_dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()  # channels-last input crashes torch 2.13.0's CPU strided 1×1 conv backward
        x = self.gdconv(self.conv_last(self.body(self.stem(x))))
        return self.bn(torch.flatten(self.linear(x), 1))


def mobilefacenet(embedding_dim: int = 128, **kwargs: Any) -> MobileFaceNet:
    return MobileFaceNet(embedding_dim, **kwargs)


def mobilefacenet_tiny(embedding_dim: int = 128, **kwargs: Any) -> MobileFaceNet:
    setting = ((2, 32, 1, 2), (2, 64, 1, 2), (2, 64, 1, 1), (2, 64, 1, 2))
    return MobileFaceNet(embedding_dim, setting=setting, width=0.5, last_channels=256, **kwargs)
