"""The training loop on a classification task (expression recognition): a smoke run on real FER2013
faces where the loss falls, per-epoch validation with best-model selection, exact resumption with
random augmentation, and the exported ONNX analyzer (registered, 7 probabilities summing to 1)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.models.analyzers.expression import LABELS  # noqa: E402
from faceprint.train.fer_data import FerAugment, FerFolderData  # noqa: E402
from faceprint.train.loop import TrainConfig, Trainer  # noqa: E402

from ._fer_tree import make_fer_tree  # noqa: E402


def _config(tmp_path, **kw) -> TrainConfig:
    raw = {
        "task": "classification",
        "epochs": 2,
        "batch_size": 7,
        "output_dir": str(tmp_path / "run"),
        "progress": False,
        "threads": 1,
        "data": {"kind": "fer", "root": str(tmp_path / "fer"), "augment": {"crop": 40, "erase_p": 0.5}},
        "model": {"backbone": "fer_vgg_tiny", "params": {"crop": 40}},
        "loss": {"name": "cross_entropy", "params": {"label_smoothing": 0.1}},
        "optim": {"lr": 0.05, "warmup_steps": 2},
        "export_onnx": False,
    }
    for k, v in kw.items():
        if isinstance(v, dict) and isinstance(raw.get(k), dict):
            raw[k] = {**raw[k], **v}
        else:
            raw[k] = v
    return TrainConfig.from_dict(raw)


def test_smoke_run_on_real_fer_faces_loss_falls_and_exports(shared_data, tmp_path):
    """140 real FER2013 faces (20 per class from the validation folder — this is a test of the
    machinery, not model selection), a tiny network, no augmentation: the loss must fall, every
    epoch is validated, the best weights are exported and register as an analyzer."""
    root = shared_data / "fer2013" / "validation"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    from faceprint.models import registry
    from faceprint.train.export import register_exported

    data = FerFolderData(root, max_per_class=20, augment=FerAugment.none())
    assert len(data) == 140 and data.class_counts() == {name: 20 for name in LABELS}
    cfg = _config(
        tmp_path,
        epochs=30,
        batch_size=35,
        export_onnx=True,
        export_name="unit_fer_smoke",
        data={"root": str(root), "val_root": str(root), "augment": {}},
        model={"params": {"dropout": 0.0}},
        loss={"params": {"label_smoothing": 0.0}},
        optim={"name": "adamw", "lr": 0.01, "warmup_steps": 0, "weight_decay": 0.0},
    )
    trainer = Trainer(cfg, data=data, val_data=data)
    trainer.data.random_augment = False  # plain faces (instance attribute; the class keeps augmenting)
    result = trainer.fit()
    losses = [r["loss"] for r in result.history]
    assert result.steps == 120 and not result.stopped_early
    assert np.mean(losses[-8:]) < 0.75 * np.mean(losses[:4]), losses
    run = tmp_path / "run"
    with open(run / "val_metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 31))
    accs = [float(r["accuracy"]) for r in rows]
    best = int(np.argmax(accs))  # the first epoch reaching the maximum is the selected one
    assert [float(r["best"]) for r in rows].count(1.0) >= 1 and float(rows[best]["best"]) == 1.0
    assert result.best["epoch"] == best + 1 and result.best["accuracy"] == pytest.approx(accs[best])
    assert max(accs) > 0.4  # 7 classes: chance is 1/7
    assert all(0 <= float(r["accuracy_flip"]) <= 1 for r in rows)
    # the exported analyzer is the best epoch's network
    card = json.loads((run / "model.card.json").read_text())
    assert card["task"] == "analyzer" and card["labels"] == list(LABELS) and card["input_size"] == [48, 48]
    assert card["color_order"] == "GRAY" and card["extra"]["selected_epoch"] == best + 1
    registered = register_exported(run / "model.onnx")
    assert registered.name == "unit_fer_smoke" and registered.labels == LABELS
    analyzer = registry.create("unit_fer_smoke", threads=1)
    crops = data.images[::10]
    probs = analyzer.predict_crops(crops)
    assert probs.shape == (14, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)
    state = torch.load(run / "model_best.pt", weights_only=True)
    net = trainer.model
    net.load_state_dict(state["model"])
    net.eval()
    with torch.no_grad():
        want = torch.softmax(net(data.tensor(np.arange(0, 140, 10))), 1).numpy()
    assert np.abs(probs - want).max() < 1e-4
    assert float(np.mean(probs.argmax(1) == data.labels[::10])) * 14 == pytest.approx(
        float(np.sum(want.argmax(1) == data.labels[::10]))
    )


def test_resume_mid_epoch_with_augmentation_is_exact(tmp_path):
    make_fer_tree(tmp_path / "fer", per_class=3)
    straight = Trainer(_config(tmp_path, output_dir=str(tmp_path / "a")))
    full = straight.fit()
    assert full.steps == 6  # 21 faces / 7 = 3 steps × 2 epochs

    first = Trainer(_config(tmp_path, output_dir=str(tmp_path / "b")))
    first.fit(max_steps=4)  # stops inside epoch 2, checkpointed
    resumed = Trainer(_config(tmp_path, output_dir=str(tmp_path / "b")))
    resumed.load_checkpoint()
    assert resumed.step == 4 and resumed.epoch == 1
    res = resumed.fit()
    assert res.steps == 6
    for (k, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=k)
    assert [r["loss"] for r in res.history] == [r["loss"] for r in full.history]


def test_validation_rows_survive_resumption(tmp_path):
    make_fer_tree(tmp_path / "fer", per_class=2)
    cfg = _config(tmp_path, epochs=3, data={"val_root": str(tmp_path / "fer")})
    t = Trainer(cfg)
    t.fit(max_steps=5)  # 14 faces / 7 = 2 steps per epoch: epochs 1 and 2 validated
    assert [r["epoch"] for r in t.val_history] == [1, 2]
    again = Trainer(cfg)
    again.load_checkpoint()
    assert [r["epoch"] for r in again.val_history] == [1, 2] and again.best == t.best
    again.fit()
    with open(tmp_path / "run" / "val_metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert (tmp_path / "run" / "model_best.pt").is_file()


@pytest.mark.parametrize(
    "patch",
    [
        {"task": "nope"},
        {"loss": {"name": "arcface"}},
        {"data": {"kind": "tensors"}},
        {"select_metric": "loss"},
        {"tta_flip": False, "select_metric": "accuracy_flip"},
    ],
)
def test_bad_classification_configs(tmp_path, patch):
    with pytest.raises(InvalidInput):
        _config(tmp_path, **patch)


def test_example_config_file_parses():
    from pathlib import Path

    cfg = TrainConfig.load(Path(__file__).resolve().parents[3] / "configs" / "fer_vgg.toml")
    assert cfg.task == "classification" and cfg.data.kind == "fer" and cfg.loss.name == "cross_entropy"
    assert cfg.model.backbone == "fer_vgg" and cfg.export_name == "fer_vgg"
    assert cfg.data.val_root.endswith("fer2013/validation")
    FerAugment.from_dict(cfg.data.augment)  # valid options
