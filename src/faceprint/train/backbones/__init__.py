"""Face-embedding backbones (112×112 RGB input, normalised as ``(x − 127.5)/127.5``), and the
expression classifier ``fer_vgg`` (48×48 grey input, class logits out; its first argument is the
number of classes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from faceprint.errors import InvalidInput
from faceprint.train.backbones.fer_vgg import FerVGG, fer_vgg, fer_vgg_tiny
from faceprint.train.backbones.iresnet import IResNet, iresnet18, iresnet_tiny
from faceprint.train.backbones.mobilefacenet import MobileFaceNet, mobilefacenet, mobilefacenet_tiny

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "iresnet18": iresnet18,
    "iresnet_tiny": iresnet_tiny,
    "mobilefacenet": mobilefacenet,
    "mobilefacenet_tiny": mobilefacenet_tiny,
    "fer_vgg": fer_vgg,
    "fer_vgg_tiny": fer_vgg_tiny,
}


def build_backbone(name: str, embedding_dim: int = 128, **kwargs: Any) -> nn.Module:
    try:
        factory = BACKBONES[name]
    except KeyError:
        raise InvalidInput(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}") from None
    return factory(embedding_dim, **kwargs)


__all__ = [
    "BACKBONES",
    "FerVGG",
    "IResNet",
    "MobileFaceNet",
    "build_backbone",
    "fer_vgg",
    "fer_vgg_tiny",
    "iresnet18",
    "iresnet_tiny",
    "mobilefacenet",
    "mobilefacenet_tiny",
]
