"""A tiny training set and config shared by the loop tests: 4 classes × 6 noisy copies of random
112×112 prototypes, the tiny IR-ResNet and CosFace."""

from __future__ import annotations

import numpy as np
import torch

from faceprint.train.data import TensorData
from faceprint.train.loop import LossConfig, ModelConfig, OptimConfig, TrainConfig


def synthetic_data(n_classes: int = 4, per: int = 6, seed: int = 0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    protos = torch.rand(n_classes, 3, 112, 112, generator=g) * 2 - 1
    images = protos.repeat_interleave(per, 0) + 0.3 * torch.randn(n_classes * per, 3, 112, 112, generator=g)
    return TensorData(images, np.repeat(np.arange(n_classes), per))


def tiny_config(tmp_path, **kw) -> TrainConfig:
    base = dict(
        epochs=2,
        batch_size=8,
        output_dir=str(tmp_path / "run"),
        progress=False,
        export_onnx=False,
        model=ModelConfig(backbone="iresnet_tiny", embedding_dim=32),
        loss=LossConfig(name="cosface", params={"scale": 16.0, "margin": 0.2}),
        optim=OptimConfig(lr=0.05),
    )
    base.update(kw)
    return TrainConfig(**base)
