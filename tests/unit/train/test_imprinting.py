import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train.imprinting import DynamicWeightImprinting, finetune_with_imprinting, imprint_weights  # noqa: E402
from faceprint.train.losses import CosFaceLoss, TripletLoss  # noqa: E402


def test_imprint_sets_present_classes_to_the_normalised_mean_of_normalised_features():
    W = torch.randn(4, 3, dtype=torch.float64)
    before = W.clone()
    x = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([2, 2, 0])
    classes = imprint_weights(W, x, y)
    assert classes.tolist() == [0, 2]
    mean2 = (torch.tensor([1.0, 0, 0]) + torch.tensor([0, 1.0, 0])) / 2
    assert torch.allclose(W[2], (mean2 / mean2.norm()).double())
    assert torch.allclose(W[0], torch.tensor([1.0, 1, 1], dtype=torch.float64) / 3**0.5)
    assert torch.equal(W[1], before[1]) and torch.equal(W[3], before[3])


def test_imprint_rate_alpha():
    W = F.normalize(torch.tensor([[0.0, 1.0]], dtype=torch.float64), dim=1)
    imprint_weights(W, torch.tensor([[2.0, 0.0]], dtype=torch.float64), torch.tensor([0]), alpha=0.5)
    want = F.normalize(torch.tensor([[0.5, 0.5]], dtype=torch.float64), dim=1)
    assert torch.allclose(W, want)


def test_dwi_loss_uses_current_weights_then_imprints_and_weights_get_no_gradient():
    torch.manual_seed(0)
    loss = CosFaceLoss(3, 5, scale=4.0, margin=0.2).double()
    head = DynamicWeightImprinting(loss).train()
    assert not loss.weight.requires_grad
    W0 = loss.weight.detach().clone()
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 4, 4])
    want = CosFaceLoss(3, 5, scale=4.0, margin=0.2).double()
    with torch.no_grad():
        want.weight.copy_(W0)
    value = head(x, y)
    assert float(value) == pytest.approx(float(want(x, y)), rel=1e-12)
    value.backward()
    assert x.grad is not None and loss.weight.grad is None
    for c in (0, 1, 4):
        m = F.normalize(x.detach()[y == c], dim=1).mean(0)
        assert torch.allclose(loss.weight[c], m / m.norm())
    assert torch.equal(loss.weight[2], W0[2])
    head.eval()
    W1 = loss.weight.clone()
    head(x, y)
    assert torch.equal(loss.weight, W1)  # no imprinting in eval


def test_rejects_non_margin_losses():
    with pytest.raises(InvalidInput):
        DynamicWeightImprinting(TripletLoss())


def _domain(n_classes: int, seed: int):
    """Two images per class; the new domain adds a strong shared nuisance direction."""
    nuisance = np.random.default_rng(99).normal(size=16)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, 16))
    x = np.repeat(centres, 2, 0) + 0.3 * rng.normal(size=(2 * n_classes, 16)) + rng.normal(size=(2 * n_classes, 1)) * 4 * nuisance
    return torch.tensor(x, dtype=torch.float32), torch.tensor(np.repeat(np.arange(n_classes), 2))


def _pair_accuracy(model, x, y):
    with torch.no_grad():
        e = F.normalize(model(x), dim=1)
    sim = e @ e.T
    same = y[:, None] == y[None, :]
    off = ~torch.eye(len(y), dtype=torch.bool)
    # fraction of images whose nearest other image is its pair
    sim = sim.masked_fill(~off, -2)
    return float(same[torch.arange(len(y)), sim.argmax(1)].float().mean())


def test_finetune_with_two_images_per_class_improves_a_new_domain():
    torch.manual_seed(0)
    x, y = _domain(60, seed=1)
    xt, yt = _domain(40, seed=2)  # same domain (same nuisance direction), unseen classes
    model = torch.nn.Linear(16, 16)
    with torch.no_grad():
        model.weight.copy_(torch.eye(16))
        model.bias.zero_()
    before = _pair_accuracy(model, xt, yt)
    result = finetune_with_imprinting(model, x, y, epochs=40, classes_per_batch=20, lr=1e-2)
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    after = _pair_accuracy(model, xt, yt)
    assert after > before + 0.2, (before, after)
    assert torch.allclose(result.head.weight.norm(dim=1), torch.ones(60))
