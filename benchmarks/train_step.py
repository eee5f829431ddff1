"""Training step time per batch for every loss of faceprint.train.losses, in one run.

Same backbone (the tiny IR-ResNet, 128-d), same batch (P×K = 16×4 = 64 images of 112×112, random
pixels, 256 classes), CPU, a few warm-up steps, then the median of the timed steps (forward +
backward + SGD step of backbone and head); the losses take turns step by step, so that load from
other processes on the machine falls on all of them alike. Also times the head alone (loss forward + backward on
fixed embeddings) to isolate each loss's own cost, and the full step of faceprint's Trainer
(ArcFace) in float32 and under AMP (bfloat16 autocast; float16 autocast + gradient scaling), in
turns too. Prints a table, writes benchmarks/results/train_step.json.

    python benchmarks/train_step.py [--steps 8] [--warmup 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from _common import write_result
from faceprint.train.backbones import build_backbone
from faceprint.train.data import TensorData
from faceprint.train.heads import build_head
from faceprint.train.loop import LossConfig, ModelConfig, TrainConfig, Trainer
from faceprint.train.losses import LOSSES


def _setup(name: str, num_classes: int):
    torch.manual_seed(0)
    model = build_backbone("iresnet_tiny", 128)
    head = build_head(name, 128, num_classes)
    params = [p for p in list(model.parameters()) + list(head.parameters()) if p.requires_grad]
    model.train()
    head.train()
    return model, head, torch.optim.SGD(params, lr=0.01, momentum=0.9)


def _step(model, head, opt, images, labels) -> float:
    t0 = time.perf_counter()
    loss = head(model(images), labels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def _head_only(head, emb, labels) -> float:
    t0 = time.perf_counter()
    head(emb, labels).backward()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", type=int, default=256)
    ap.add_argument("--big-classes", type=int, default=100_000, help="class count of the Partial FC comparison")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    p, k = 16, 4
    images = torch.rand(p * k, 3, 112, 112, generator=g) * 2 - 1
    labels = torch.arange(p).repeat_interleave(k)  # P×K batch: every loss sees positives and negatives
    load_before = os.getloadavg()[0]
    # Round-robin over the losses, so that load from elsewhere on the machine spreads evenly.
    setups = {name: _setup(name, args.classes) for name in LOSSES}
    emb = torch.randn(len(labels), 128, generator=g, requires_grad=True)
    full: dict[str, list[float]] = {n: [] for n in LOSSES}
    only: dict[str, list[float]] = {n: [] for n in LOSSES}
    for r in range(args.warmup + args.steps):
        for name, (model, head, opt) in setups.items():
            dt = _step(model, head, opt, images, labels)
            if r >= args.warmup:
                full[name].append(dt)
    for r in range(args.warmup + 4 * args.steps):
        for name, (_, head, _) in setups.items():
            dt = _head_only(head, emb, labels)
            if r >= args.warmup:
                only[name].append(dt)
    rows = {}
    for name in LOSSES:
        rows[name] = {
            "step_ms": 1e3 * statistics.median(full[name]),
            "step_ms_min": 1e3 * min(full[name]),
            "head_ms": 1e3 * statistics.median(only[name]),
            "head_ms_min": 1e3 * min(only[name]),
        }
        r = rows[name]
        print(
            f"{name:<15} step {r['step_ms']:7.1f} ms (min {r['step_ms_min']:6.1f})   "
            f"head only {r['head_ms']:6.2f} ms (min {r['head_ms_min']:5.2f})"
        )
    # Where the head does matter: many classes. ArcFace head alone, full vs Partial FC.
    pfc_rows = {}
    for label, rate in (("full", 1.0), ("partial_fc_r0.1", 0.1)):
        head = build_head("arcface", 128, args.big_classes, sample_rate=rate)
        times = [_head_only(head, emb, labels) for _ in range(args.warmup + args.steps)][args.warmup :]
        pfc_rows[label] = {"head_ms": 1e3 * statistics.median(times), "head_ms_min": 1e3 * min(times)}
        print(f"arcface head, {args.big_classes} classes, {label:<16} {pfc_rows[label]['head_ms']:7.1f} ms")
    # The Trainer's own step (autocast, scaler, clipping, scheduler) by precision.
    data = TensorData(images, labels.numpy())
    trainers = {}
    for label, amp, dtype in (("float32", "off", "auto"), ("bfloat16", "on", "bfloat16"), ("float16+scaler", "on", "float16")):
        cfg = TrainConfig(
            batch_size=len(labels), device="cpu", amp=amp, amp_dtype=dtype, progress=False, export_onnx=False,
            output_dir="/nonexistent", model=ModelConfig(backbone="iresnet_tiny", embedding_dim=128),
            loss=LossConfig(name="arcface"),
        )
        trainers[label] = Trainer(cfg, data=data)
    amp_times: dict[str, list[float]] = {k: [] for k in trainers}
    for r in range(args.warmup + args.steps):
        for label, trainer in trainers.items():
            t0 = time.perf_counter()
            trainer.train_step(images, labels)
            if r >= args.warmup:
                amp_times[label].append(time.perf_counter() - t0)
    amp_rows = {}
    for label, times in amp_times.items():
        amp_rows[label] = {"step_ms": 1e3 * statistics.median(times), "step_ms_min": 1e3 * min(times)}
        ratio = amp_rows[label]["step_ms"] / (1e3 * statistics.median(amp_times["float32"]))
        print(f"Trainer step, arcface, {label:<15} {amp_rows[label]['step_ms']:7.1f} ms  ({ratio:.2f}x float32)")
    out = {
        "precision": {"loss": "arcface", "results": amp_rows, "note": "CPU autocast; on CUDA the float16 row is amp='auto'"},
        "partial_fc": {"classes": args.big_classes, "loss": "arcface", "results": pfc_rows},
        "backbone": "iresnet_tiny (128-d)",
        "batch": f"{p}x{k}={p * k} images, 3x112x112",
        "classes": args.classes,
        "device": "cpu",
        "threads": args.threads,
        "steps": args.steps,
        "warmup": args.warmup,
        "torch": torch.__version__,
        "load_average_1min": [load_before, os.getloadavg()[0]],
        "results": rows,
    }
    write_result("train_step", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
