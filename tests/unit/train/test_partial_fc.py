"""Partial FC: equals the full head at rate 1.0; samples positives + uniform negatives; 2 gloo
processes (classes sharded, unequal local batches) equal 1 process."""

from __future__ import annotations

import math
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train import losses as L  # noqa: E402
from faceprint.train.partial_fc import PartialFC, shard_bounds  # noqa: E402

D, C, B = 5, 7, 10

#: name → (class, kwargs); every margin loss of the template.
CASES: dict[str, tuple[type, dict]] = {
    "softmax": (L.SoftmaxLoss, {"bias": False}),
    "normface": (L.NormFaceLoss, {"scale": 4.0}),
    "sphereface": (L.SphereFaceLoss, {"margin": 3}),
    "lsoftmax": (L.LSoftmaxLoss, {"margin": 2}),
    "cosface": (L.CosFaceLoss, {"scale": 8.0, "margin": 0.35}),
    "arcface": (L.ArcFaceLoss, {"scale": 8.0, "margin": 0.5}),
    "curricularface": (L.CurricularFaceLoss, {"scale": 8.0, "margin": 0.5, "momentum": 0.5}),
    "adaface": (L.AdaFaceLoss, {"scale": 8.0, "margin": 0.4, "momentum": 0.5}),
    "magface": (L.MagFaceLoss, {"scale": 8.0, "l_a": 0.5, "u_a": 5.0, "lambda_g": 2.0}),
    "circle": (L.CircleLoss, {"scale": 16.0, "margin": 0.25}),
    "sphereface2": (L.SphereFace2Loss, {"scale": 8.0, "margin": 0.3, "total_classes": C}),
    "normface_learned": (L.NormFaceLoss, {"scale": 4.0, "learn_scale": True}),
}


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, D, generator=g, dtype=torch.float64) * 2.0
    y = torch.tensor([0, 3, 6, 1, 3, 5, 2, 6, 4, 0])
    W = torch.randn(C, D, generator=g, dtype=torch.float64)
    return x, y, W


def _margin(name: str):
    cls, kw = CASES[name]
    return cls(D, 0, **kw).double()


def _full(name: str, W):
    cls, kw = CASES[name]
    kw = {k: v for k, v in kw.items() if k != "total_classes"}
    loss = cls(D, C, **kw).double()
    with torch.no_grad():
        loss.weight.copy_(W)
    return loss


def _run_pfc(head: PartialFC, x, y):
    x = x.clone().requires_grad_(True)
    head.train()
    loss = head(x, y)
    loss.backward()
    params = {n: p.grad.clone() for n, p in head.margin_loss.named_parameters() if p.grad is not None}
    buffers = {n: b.clone() for n, b in head.margin_loss.named_buffers()}
    return loss.detach(), x.grad, head.weight.grad.clone(), params, buffers


@pytest.mark.parametrize("name", sorted(CASES))
def test_rate_one_single_process_equals_the_full_head(name):
    x, y, W = _data()
    full = _full(name, W).train()
    xf = x.clone().requires_grad_(True)
    want = full(xf, y)
    want.backward()
    head = PartialFC(_margin(name), D, C, sample_rate=1.0).double()
    head.load_full_weight(W)
    loss, gx, gw, params, buffers = _run_pfc(head, x, y)
    assert abs(float(loss) - float(want)) < 1e-6
    assert torch.allclose(gx, xf.grad, atol=1e-6, rtol=0)
    assert torch.allclose(gw, full.weight.grad, atol=1e-6, rtol=0)
    for n, g in params.items():
        assert torch.allclose(g, dict(full.named_parameters())[n].grad, atol=1e-6), n
    for n, b in buffers.items():
        assert torch.allclose(b.double(), dict(full.named_buffers())[n].double(), atol=1e-12), n


def test_sampling_keeps_positives_and_fills_with_uniform_negatives():
    head = PartialFC(_margin("cosface"), D, 20, sample_rate=0.5).double()
    y = torch.tensor([0, 1, 0, 1])
    counts = np.zeros(20)
    for _ in range(300):
        index, target = head.sample(y)
        assert len(index) == math.ceil(0.5 * 20)
        assert {0, 1} <= set(index.tolist())
        assert torch.equal(index[target], y)  # targets point at the right centres
        counts[index.numpy()] += 1
        head.step += 1
    assert counts[0] == counts[1] == 300
    neg = counts[2:]
    expected = 300 * 8 / 18
    assert np.all(np.abs(neg - expected) < 5 * math.sqrt(expected)), neg


def test_sampled_loss_is_the_full_loss_on_the_sampled_classes():
    g = torch.Generator().manual_seed(1)
    W = torch.randn(30, D, generator=g, dtype=torch.float64)
    x = torch.randn(6, D, generator=g, dtype=torch.float64)
    y = torch.tensor([3, 17, 3, 29, 0, 17])
    head = PartialFC(_margin("arcface"), D, 30, sample_rate=0.3).double().eval()
    head.load_full_weight(W)
    loss = head(x, y)
    index = head.last_index
    assert len(index) == 9 and {0, 3, 17, 29} <= set(index.tolist())
    sub = L.ArcFaceLoss(D, len(index), scale=8.0, margin=0.5).double()
    with torch.no_grad():
        sub.weight.copy_(W[index])
    relabel = torch.searchsorted(index, y)
    assert float(loss) == pytest.approx(float(sub(x, relabel)), abs=1e-12)


def test_more_positives_than_the_rate_allows_are_all_kept():
    head = PartialFC(_margin("cosface"), D, 10, sample_rate=0.2).double()
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    index, _ = head.sample(y)
    assert set(index.tolist()) == set(range(6))


def test_validation():
    with pytest.raises(InvalidInput):
        PartialFC(_margin("arcface"), D, C, sample_rate=0.0)
    with pytest.raises(InvalidInput):
        PartialFC(L.TripletLoss(), D, C)
    with pytest.raises(InvalidInput):
        PartialFC(L.SoftmaxLoss(D, 0), D, C)  # per-class bias
    head = PartialFC(_margin("arcface"), D, C)
    with pytest.raises(InvalidInput):
        head(torch.zeros(2, D + 1, dtype=torch.float64), torch.tensor([0, 1]))
    with pytest.raises(InvalidInput):
        head(torch.zeros(2, D), torch.tensor([0, C]))


def test_shard_bounds_cover_every_class_once():
    for n, w in ((7, 2), (10, 3), (5, 5)):
        spans = [shard_bounds(n, r, w) for r in range(w)]
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert all(a[1] == b[0] for a, b in pairwise(spans))


# ------------------------------------------------------------------------ 2 processes (gloo)
SPLIT = (6, 4)  # unequal local batches exercise the padded all-gather


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        x, y, W = _data()
        lo = sum(SPLIT[:rank])
        sl = slice(lo, lo + SPLIT[rank])
        results = {}
        for name in sorted(CASES):
            head = PartialFC(_margin(name), D, C, sample_rate=1.0).double()
            head.load_full_weight(W)
            loss, gx, gw, params, buffers = _run_pfc(head, x[sl], y[sl])
            results[name] = {
                "loss": loss,
                "gx": gx,
                "gw": gw,
                "span": (head.class_start, head.class_end),
                "params": params,
                "buffers": buffers,
            }
        # sampled: every rank keeps its positives, the loss is finite and identical on both ranks
        head = PartialFC(_margin("arcface"), D, 40, sample_rate=0.25, seed=3).double()
        yy = torch.tensor([0, 39, 21, 5, 19, 20, 1, 38, 2, 22])
        loss, *_ = _run_pfc(head, x[sl], yy[sl])
        mine = set(range(head.class_start, head.class_end))
        results["sampled"] = {
            "loss": loss,
            "kept": set(head.last_index.tolist()),
            "positives": {int(v) for v in yy} & mine,
            "n": len(head.last_index),
            "num_sample": head.num_sample,
        }
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_one_process(tmp_path):
    t0 = time.perf_counter()
    ctx = mp.start_processes(
        _worker, args=(2, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + 90
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("the 2-process Partial FC run did not finish in 90 s")
    elapsed = time.perf_counter() - t0
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    x, y, W = _data()
    for name in sorted(CASES):
        head = PartialFC(_margin(name), D, C, sample_rate=1.0).double()
        head.load_full_weight(W)
        loss, gx, gw, params, buffers = _run_pfc(head, x, y)
        r0, r1 = ranks[0][name], ranks[1][name]
        assert abs(float(r0["loss"]) - float(loss)) < 1e-6, name
        assert abs(float(r1["loss"]) - float(loss)) < 1e-6, name
        assert torch.allclose(torch.cat([r0["gx"], r1["gx"]]), gx, atol=1e-6, rtol=0), name
        assert r0["span"] == (0, 4) and r1["span"] == (4, 7)
        assert torch.allclose(torch.cat([r0["gw"], r1["gw"]]), gw, atol=1e-6, rtol=0), name
        for n, g in params.items():  # replicated parameters: gradients summed over ranks
            assert torch.allclose(r0["params"][n], g, atol=1e-6) and torch.allclose(r1["params"][n], g, atol=1e-6), (name, n)
        for n, b in buffers.items():
            assert torch.allclose(r0["buffers"][n].double(), b.double(), atol=1e-12), (name, n)
    s0, s1 = ranks[0]["sampled"], ranks[1]["sampled"]
    assert float(s0["loss"]) == pytest.approx(float(s1["loss"]), abs=1e-12) and math.isfinite(float(s0["loss"]))
    for s in (s0, s1):
        assert s["positives"] <= s["kept"] and s["n"] == max(s["num_sample"], len(s["positives"]))
    assert elapsed < 60, f"2-process test took {elapsed:.1f} s"
