"""A compact VGG-style classifier for 48×48 greyscale expression crops (FER2013), sized for CPU.

Stages of ``conv3×3 → BatchNorm → ReLU`` (``convs[i]`` of them, ``widths[i]`` channels), each
followed by 2×2 max-pooling except the last; then global average pooling, dropout and a linear
layer to the class logits. Only stride-1 3×3 convolutions, NCHW throughout (torch 2.13's CPU
backward of a stride-2 1×1 convolution on channels-last tensors is broken; nothing here needs
either). Because of the global pooling the network takes any input size ≥ 8 pixels.

``crop``: inputs larger than ``crop`` pixels are centre-cropped to ``crop``×``crop`` first. Trained
on random 40×40 windows of the 48×48 faces with ``crop = 40``, the network then sees a whole 48×48
face as its central 40×40 window (the usual FER2013 recipe: random crops for training, the centre
crop for testing), and the exported ONNX graph does the same.

* :func:`fer_vgg` — widths (32, 64, 128, 256), two convolutions per stage: 1.17 M parameters,
  ≈ 117 M multiply-adds per 48×48 face, 81 M per 40×40 training crop (``faceprint_fer_cnn``
  version 2). With ``widths = (64, 128, 256, 512)``: 4.69 M parameters, ≈ 325 M multiply-adds per
  40×40 crop (version 3, the shipped one; ``configs/fer_vgg_wide.toml``).
* :func:`fer_vgg_tiny` — widths (8, 16, 16, 32), for tests.

The input is ``(N, 1, S, S)`` float32, normalised ``(x − 127.5)/127.5`` (see
:mod:`faceprint.train.fer_data`); the output ``(N, num_classes)`` logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from faceprint.errors import InvalidInput


class FerVGG(nn.Module):
    """VGG-style expression classifier (module docstring)."""

    def __init__(
        self,
        num_classes: int = 7,
        *,
        widths: Sequence[int] = (32, 64, 128, 256),
        convs: Sequence[int] = (2, 2, 2, 2),
        in_channels: int = 1,
        dropout: float = 0.3,
        input_size: int = 48,
        crop: int | None = None,
    ) -> None:
        super().__init__()
        widths, convs = tuple(int(w) for w in widths), tuple(int(c) for c in convs)
        if not widths or len(widths) != len(convs) or min(widths) < 1 or min(convs) < 1:
            raise InvalidInput(f"widths and convs must be equally long lists of positive ints, got {widths}, {convs}")
        if num_classes < 2:
            raise InvalidInput(f"num_classes must be >= 2, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise InvalidInput(f"dropout must lie in [0, 1), got {dropout}")
        self.num_classes = int(num_classes)
        self.input_size = int(input_size)
        self.in_channels = int(in_channels)
        if crop is not None and not 8 <= int(crop) <= self.input_size:
            raise InvalidInput(f"crop must lie in [8, {self.input_size}], got {crop}")
        self.crop = int(crop) if crop is not None else None
        layers: list[nn.Module] = []
        c = self.in_channels
        for i, (w, n) in enumerate(zip(widths, convs, strict=True)):
            for _ in range(n):
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                c = w
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c, self.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.crop
        if c is not None and (x.shape[-1] > c or x.shape[-2] > c):
            top, left = (x.shape[-2] - c) // 2, (x.shape[-1] - c) // 2
            x = x[..., top : top + c, left : left + c]
        x = self.features(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(self.dropout(x))


def fer_vgg(num_classes: int = 7, **kwargs: Any) -> FerVGG:
    """The shipped configuration (module docstring); ``kwargs`` override ``FerVGG``'s."""
    return FerVGG(num_classes, **kwargs)


def fer_vgg_tiny(num_classes: int = 7, **kwargs: Any) -> FerVGG:
    """A very small variant for tests."""
    kwargs.setdefault("widths", (8, 16, 16, 32))
    kwargs.setdefault("convs", (1, 1, 1, 1))
    return FerVGG(num_classes, **kwargs)


__all__ = ["FerVGG", "fer_vgg", "fer_vgg_tiny"]
