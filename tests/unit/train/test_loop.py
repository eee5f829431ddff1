"""The training loop: a smoke run on real faces (ORL), exact resumption, the divergence guard,
config files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from faceprint.errors import FaceprintError, InvalidInput  # noqa: E402
from faceprint.train.data import TensorData  # noqa: E402
from faceprint.train.errors import TrainingDiverged  # noqa: E402
from faceprint.train.loop import LossConfig, ModelConfig, OptimConfig, TrainConfig, Trainer  # noqa: E402

from ._tiny_run import synthetic_data, tiny_config  # noqa: E402


def _synthetic(n_classes: int = 4, per: int = 6, seed: int = 0) -> TensorData:
    return synthetic_data(n_classes, per, seed)


def _config(tmp_path, **kw) -> TrainConfig:
    return tiny_config(tmp_path, **kw)


def test_smoke_run_on_orl_loss_falls(shared_data, tmp_path):
    orl = shared_data / "orl"
    if not orl.is_dir():
        pytest.skip(f"{orl} is absent")
    cfg = TrainConfig.from_dict(
        {
            "epochs": 3,
            "batch_size": 40,
            "output_dir": str(tmp_path / "orl"),
            "progress": False,
            "data": {"root": str(orl), "max_identities": 20},
            "model": {"backbone": "iresnet_tiny", "embedding_dim": 128},
            "loss": {"name": "cosface", "params": {"scale": 30.0, "margin": 0.2}},
            "optim": {"lr": 0.05},
        }
    )
    trainer = Trainer(cfg)
    assert len(trainer.data) == 200 and trainer.data.num_classes == 20  # 20 subjects × 10 (92×112 → 112×112 RGB)
    assert trainer.data.batch([0])[0].shape == (1, 3, 112, 112)
    result = trainer.fit()
    losses = [r["loss"] for r in result.history]
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert result.steps == 15 and not result.stopped_early
    assert last < 0.5 * first, losses
    # metrics logs, checkpoint and ONNX export
    with open(tmp_path / "orl" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15 and float(rows[-1]["loss"]) == pytest.approx(losses[-1])
    assert len((tmp_path / "orl" / "metrics.jsonl").read_text().splitlines()) == 15
    assert (tmp_path / "orl" / "checkpoint_last.pt").is_file()
    assert result.onnx and (tmp_path / "orl" / "model.onnx").is_file()


def test_resume_mid_epoch_continues_exactly(tmp_path):
    data = _synthetic()
    straight = Trainer(_config(tmp_path / "a"), data=data)
    full = straight.fit()
    assert full.steps == 6  # 24 images / 8 = 3 steps × 2 epochs

    first = Trainer(_config(tmp_path / "b"), data=data)
    part = first.fit(max_steps=4)  # stops in the middle of epoch 2
    assert part.stopped_early and part.steps == 4
    resumed = Trainer(_config(tmp_path / "b"), data=data)
    resumed.load_checkpoint()
    assert resumed.step == 4 and resumed.epoch == 1
    torch.manual_seed(12345)  # the checkpoint's RNG state must win over anything set since
    rest = resumed.fit()
    assert rest.steps == 6
    assert [r["loss"] for r in rest.history] == [r["loss"] for r in full.history]
    for (k, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert torch.equal(straight.head.weight, resumed.head.weight)
    # the metrics log holds each step once
    with open(tmp_path / "b" / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]


def test_checkpoint_refuses_a_different_model(tmp_path):
    data = _synthetic()
    Trainer(_config(tmp_path), data=data).fit(max_steps=1)
    other = Trainer(_config(tmp_path, model=ModelConfig(backbone="iresnet_tiny", embedding_dim=16)), data=data)
    with pytest.raises(InvalidInput):
        other.load_checkpoint()
    with pytest.raises(InvalidInput):
        Trainer(_config(tmp_path / "empty"), data=data).load_checkpoint()


def test_nan_guard_stops_an_exploding_run(tmp_path):
    cfg = _config(tmp_path, epochs=20, loss=LossConfig(name="softmax"), optim=OptimConfig(lr=1e12, grad_clip=None))
    trainer = Trainer(cfg, data=_synthetic())
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit()
    err = info.value
    assert isinstance(err, FaceprintError) and err.code == "training_diverged"
    assert "diverged" in str(err) and "lr=" in str(err) and "Lower the learning rate" in str(err)
    assert err.step <= 10 and err.lr > 1e11 and not np.isfinite(err.value)


def test_nan_guard_on_a_non_finite_batch(tmp_path):
    data = _synthetic()
    data.images[0, 0, 0, 0] = float("nan")
    trainer = Trainer(_config(tmp_path, loss=LossConfig(name="arcface", params={"scale": 8.0})), data=data)
    with pytest.raises(TrainingDiverged):
        trainer.fit()


def test_pair_losses_get_pk_batches(tmp_path):
    trainer = Trainer(_config(tmp_path, loss=LossConfig(name="triplet"), pk_p=2, pk_k=3), data=_synthetic())
    batch = trainer.sampler.batches(0)[0]
    assert len(batch) == 6 and len(set(trainer.data.labels[batch])) == 2
    assert trainer.fit(max_steps=2).steps == 2


def test_toml_config_with_relative_paths(tmp_path):
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "train.toml"
    path.write_text(
        'epochs = 2\noutput_dir = "out"\n[data]\nroot = "../faces"\n[loss]\nname = "arcface"\n'
        "sample_rate = 0.5\nparams = { scale = 32.0, margin = 0.3 }\n[optim]\nname = \"adamw\"\nlr = 0.001\n"
    )
    cfg = TrainConfig.load(path)
    assert cfg.output_dir == str((tmp_path / "cfg" / "out").resolve())
    assert cfg.data.root == str((tmp_path / "faces").resolve())
    assert cfg.loss.params == {"scale": 32.0, "margin": 0.3} and cfg.loss.sample_rate == 0.5
    assert json.loads(json.dumps(cfg.to_dict()))["optim"]["name"] == "adamw"


@pytest.mark.parametrize(
    "text",
    [
        "epochz = 3\n",
        "export_weights_dtype = 'int4'\n",
        "amp_dtype = 'half'\n",
        "[loss]\nnme = 'arcface'\n",
        "epochs = 0\n",
        "[optim]\nname = 'lbfgs'\n",
        "sampler = 'x'\n",
        "epochs = [\n",
    ],
)
def test_bad_configs_are_invalid_input(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidInput):
        TrainConfig.load(path)


def test_yaml_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\nloss:\n  name: cosface\n")
    try:
        import yaml  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(InvalidInput, match="PyYAML"):
            TrainConfig.load(path)
    else:
        cfg = TrainConfig.load(path)
        assert cfg.epochs == 3 and cfg.loss.name == "cosface"
