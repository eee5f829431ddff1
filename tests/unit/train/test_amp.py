"""Mixed precision in the training loop.

No GPU is needed: ``amp = "on"`` autocasts on CPU too, and ``amp_dtype = "float16"`` runs the CUDA
recipe (float16 autocast + gradient scaling, skipped steps on overflow) on CPU, so every branch of
the AMP step is exercised here; on CUDA only the device differs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train.data import TensorData  # noqa: E402
from faceprint.train.errors import TrainingDiverged  # noqa: E402
from faceprint.train.loop import MAX_SKIPPED_AMP_STEPS, TrainConfig, Trainer, resolve_amp  # noqa: E402

from ._tiny_run import synthetic_data, tiny_config  # noqa: E402


def _data() -> TensorData:
    return synthetic_data()


def _config(tmp_path, **kw) -> TrainConfig:
    return tiny_config(tmp_path, **{"device": "cpu", **kw})


@pytest.mark.parametrize(
    ("device", "amp", "dtype", "expected"),
    [
        ("cuda", "auto", "auto", (True, torch.float16, True)),
        ("cpu", "auto", "auto", (False, torch.bfloat16, False)),
        ("cpu", "on", "auto", (True, torch.bfloat16, False)),
        ("cpu", "on", "float16", (True, torch.float16, True)),
        ("cuda", "on", "bfloat16", (True, torch.bfloat16, False)),
        ("cuda", "off", "auto", (False, torch.float16, False)),
        ("cuda", "False", "float16", (False, torch.float16, False)),
    ],
)
def test_resolve_amp(device, amp, dtype, expected):
    plan = resolve_amp(device, amp, dtype)
    assert (plan.enabled, plan.dtype, plan.scaled) == expected


def test_bad_amp_values_are_config_errors(tmp_path):
    with pytest.raises(InvalidInput, match="amp must be"):
        resolve_amp("cpu", "sometimes")
    with pytest.raises(InvalidInput, match="amp_dtype"):
        _config(tmp_path, amp="on", amp_dtype="float8").validate()
    with pytest.raises(InvalidInput, match="amp_dtype"):
        TrainConfig.from_dict({"amp": "on", "amp_dtype": "half"})


def _dtypes_seen(trainer: Trainer) -> list[tuple[torch.dtype, torch.dtype]]:
    """(backbone output dtype, head input dtype) for each step."""
    seen: list[tuple[torch.dtype, torch.dtype]] = []
    backbone: list[torch.dtype] = []
    trainer.model.register_forward_hook(lambda m, i, o: backbone.append(o.dtype))
    trainer.head.register_forward_pre_hook(lambda m, args: seen.append((backbone[-1], args[0].dtype)))
    return seen


@pytest.mark.parametrize(("amp_dtype", "dtype"), [("auto", torch.bfloat16), ("float16", torch.float16)])
def test_amp_on_cpu_autocasts_the_backbone_and_keeps_the_head_in_float32(tmp_path, amp_dtype, dtype):
    trainer = Trainer(_config(tmp_path, amp="on", amp_dtype=amp_dtype, epochs=4), data=_data())
    assert trainer.amp.enabled and trainer.amp.dtype == dtype
    assert trainer.scaler.is_enabled() == (dtype == torch.float16)
    seen = _dtypes_seen(trainer)
    result = trainer.fit()
    assert seen and all(s == (dtype, torch.float32) for s in seen), seen
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # master weights stay float32
    losses = [r["loss"] for r in result.history]
    assert all(np.isfinite(losses)) and np.mean(losses[-3:]) < np.mean(losses[:3]), losses


def test_amp_off_runs_in_float32(tmp_path):
    trainer = Trainer(_config(tmp_path, amp="off"), data=_data())
    seen = _dtypes_seen(trainer)
    trainer.fit(max_steps=1)
    assert seen == [(torch.float32, torch.float32)] and not trainer.scaler.is_enabled()


def _poison_gradients(trainer: Trainer, steps: set[int]):
    """Make the gradient of the first parameter infinite on the given (0-based) steps."""
    first = next(p for p in trainer.model.parameters() if p.requires_grad)
    first.register_hook(lambda g: g * float("inf") if trainer.step in steps else g)


def test_float16_overflow_skips_the_step_and_lowers_the_scale(tmp_path):
    trainer = Trainer(_config(tmp_path, amp="on", amp_dtype="float16"), data=_data())
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=256.0)  # low enough that only poisoned steps overflow
    _poison_gradients(trainer, {1})
    trainer.fit(max_steps=1)
    assert trainer.skipped == 0
    scale = trainer.scaler.get_scale()
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.fit(max_steps=2)  # step 2 overflows: skipped, not fatal
    assert trainer.skipped == 1 and trainer.scaler.get_scale() == scale * 0.5
    for a, b in zip(before, trainer.model.parameters(), strict=True):
        assert torch.equal(a, b)  # the optimiser did not step
    trainer.fit(max_steps=3)  # a good step resets the count and updates the weights
    assert trainer.skipped == 0
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))


def test_float16_overflow_every_step_stops_the_run(tmp_path):
    trainer = Trainer(_config(tmp_path, amp="on", amp_dtype="float16", epochs=20), data=_data())
    _poison_gradients(trainer, set(range(1000)))
    with pytest.raises(TrainingDiverged, match="consecutive AMP steps") as info:
        trainer.fit()
    assert info.value.step == MAX_SKIPPED_AMP_STEPS + 1


def test_bfloat16_has_no_scaler_so_a_non_finite_gradient_is_fatal(tmp_path):
    trainer = Trainer(_config(tmp_path, amp="on"), data=_data())
    _poison_gradients(trainer, {0})
    with pytest.raises(TrainingDiverged, match="gradient norm"):
        trainer.fit()


def test_scaler_state_is_checkpointed_and_resumes_exactly(tmp_path):
    data = _data()
    straight = Trainer(_config(tmp_path / "a", amp="on", amp_dtype="float16"), data=data)
    full = straight.fit()
    first = Trainer(_config(tmp_path / "b", amp="on", amp_dtype="float16"), data=data)
    _poison_gradients(first, {1})  # the scale the resumed run needs differs from the initial one
    first.fit(max_steps=4)
    resumed = Trainer(_config(tmp_path / "b", amp="on", amp_dtype="float16"), data=data)
    resumed.load_checkpoint()
    assert resumed.scaler.get_scale() == first.scaler.get_scale() < 2.0**16  # it moved from the initial scale
    assert resumed.scaler.state_dict() == first.scaler.state_dict()
    resumed.fit()
    assert resumed.step == full.steps


def test_a_float32_checkpoint_resumes_under_amp_with_a_fresh_scaler(tmp_path):
    """Start on CPU in float32, continue with float16 AMP (as a move to a GPU would)."""
    data = _data()
    Trainer(_config(tmp_path, amp="off"), data=data).fit(max_steps=2)
    resumed = Trainer(_config(tmp_path, amp="on", amp_dtype="float16"), data=data)
    resumed.load_checkpoint()
    assert resumed.step == 2 and resumed.scaler.get_scale() == 2.0**16
    result = resumed.fit()
    assert result.steps == 6 and all(np.isfinite(r["loss"]) for r in result.history)
