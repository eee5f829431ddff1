"""``faceprint train CONFIG [--resume]`` on a tiny folder of generated face chips."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from faceprint.cli.main import main  # noqa: E402


@pytest.fixture
def tiny_faces(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "faces"
    for ident in range(3):
        base = rng.integers(0, 256, size=(112, 112, 3))
        (root / f"person{ident}").mkdir(parents=True)
        for k in range(4):
            img = np.clip(base + rng.normal(0, 20, size=base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / f"person{ident}" / f"{k}.png")
    return root


def _write_config(path, root, epochs):
    path.write_text(
        f'epochs = {epochs}\nbatch_size = 4\noutput_dir = "run"\n[data]\nroot = "{root}"\n'
        '[model]\nbackbone = "iresnet_tiny"\nembedding_dim = 32\n'
        '[loss]\nname = "arcface"\nparams = { scale = 16.0, margin = 0.3 }\n'
    )


def test_train_then_resume_and_use_the_onnx_embedder(tmp_path, tiny_faces, capsys):
    cfg = tmp_path / "train.toml"
    _write_config(cfg, tiny_faces, 1)
    assert main(["train", str(cfg), "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 3 and out["epochs_completed"] == 1 and out["onnx"]
    _write_config(cfg, tiny_faces, 2)
    assert main(["train", str(cfg), "--resume", "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 6 and out["epochs_completed"] == 2

    from faceprint.models.runtime.onnx import create_session

    sess = create_session(tmp_path / "run" / "model.onnx", threads=1)
    emb = sess.run(None, {"input": np.zeros((2, 3, 112, 112), np.float32)})[0]
    assert emb.shape == (2, 32)


def test_bad_config_exits_2(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("epochz = 1\n")
    assert main(["train", str(cfg)]) == 2
    assert "epochz" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.toml")]) == 2


@pytest.mark.parametrize(("flag", "amp"), [("bfloat16", "bfloat16"), ("float16", "float16+scaler"), ("off", "off")])
def test_device_and_amp_overrides(tmp_path, tiny_faces, capsys, flag, amp):
    cfg = tmp_path / "train.toml"
    _write_config(cfg, tiny_faces, 1)
    argv = ["train", str(cfg), "--device", "cpu", "--amp", flag, "--max-steps", "2", "--no-progress", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == "cpu" and out["amp"] == amp and out["steps"] == 2


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, tiny_faces, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    cfg = tmp_path / "train.toml"
    _write_config(cfg, tiny_faces, 1)
    assert main(["train", str(cfg), "--device", "cuda", "--no-progress"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
