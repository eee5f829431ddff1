"""The training loop: config file → trained embedder (+ checkpoints, metrics, ONNX).

A run is described by a :class:`TrainConfig`, read from TOML (``tomllib``) or, when PyYAML is
installed, YAML. Relative paths in the file (``data.root``, ``output_dir``) are relative to the
file. Example::

    epochs = 20
    batch_size = 128
    output_dir = "runs/arcface"

    [data]
    root = "/data/faces_112"       # one sub-folder per identity, aligned 112×112 chips

    [model]
    backbone = "iresnet18"
    embedding_dim = 512

    [loss]
    name = "arcface"               # any name of faceprint.train.losses.LOSSES
    sample_rate = 1.0              # < 1: Partial FC
    params = { scale = 64.0, margin = 0.5 }

    [optim]
    lr = 0.1
    scheduler = "cosine"
    warmup_steps = 500

What the loop guarantees:

* **Determinism and resumption.** Batch order and flips depend only on ``(seed, epoch)``; a
  checkpoint (model, head, optimiser, scheduler, AMP scaler, epoch/step, metrics history and the
  python/numpy/torch RNG states) is written atomically every ``checkpoint_every`` steps and at each
  epoch end, so ``--resume`` continues — even mid-epoch — exactly as an uninterrupted run would.
  Checkpoints hold only tensors and plain values and load with ``torch.load(weights_only=True)``.
* **Divergence guard.** A non-finite loss, or a non-finite gradient norm outside AMP, stops the run
  with :class:`~faceprint.train.errors.TrainingDiverged` (under AMP, non-finite gradients are
  skipped by the scaler; more than 20 in a row also stop the run).
* **AMP** (:func:`resolve_amp`): ``amp = "auto"`` turns on float16 autocast with gradient scaling
  when training on CUDA; ``amp = "on"`` also autocasts on CPU (bfloat16 by default, which needs no
  scaling; ``amp_dtype = "float16"`` gives the CUDA recipe — float16 + scaler — on CPU too, which is
  how the test suite exercises it on machines without a GPU). The loss head always runs in float32.
  A checkpoint written without a scaler (e.g. on CPU) resumes under AMP with a fresh scaler.
* A tqdm progress bar, ``metrics.csv`` and ``metrics.jsonl`` (one row per logged step) in
  ``output_dir``, and ``model.onnx`` (+ ``model.onnx.json``) at the end of the run.

**Classification** (``task = "classification"``, e.g. expression recognition on FER2013; see
``configs/fer_vgg.toml`` and docs/training.md): ``[data] kind = "fer"`` reads a folder tree of the
seven expression classes (:class:`faceprint.train.fer_data.FerFolderData`, with its augmentation
options under ``[data.augment]``), the backbone emits the class logits (``fer_vgg``) and the loss is
``cross_entropy`` (``params = { label_smoothing = 0.1 }``). After every epoch the model is scored on
``data.val_root`` (accuracy and macro F1, and with ``tta_flip`` the mirror-averaged figures too),
one row per epoch goes to ``val_metrics.csv``/``val_metrics.jsonl``, and the weights with the best
``select_metric`` so far are written to ``model_best.pt``. At the end the best weights are exported
with :func:`~faceprint.train.export.export_classifier_onnx` (``model.onnx`` + ``model.card.json``,
an expression analyzer named ``export_name``). Augmentations are drawn from a generator seeded by
``(seed, epoch, batch)``, so resumption stays exact.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from faceprint.errors import InvalidInput
from faceprint.models.sources import atomic_write_bytes
from faceprint.train.backbones import build_backbone
from faceprint.train.data import ImageFolderData
from faceprint.train.errors import TrainingDiverged
from faceprint.train.export import WEIGHT_DTYPES, export_onnx
from faceprint.train.heads import build_head, is_pair_based
from faceprint.train.samplers import PKSampler, RandomBatchSampler

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint_last.pt"
CHECKPOINT_FORMAT = "faceprint-train-checkpoint/1"
MAX_SKIPPED_AMP_STEPS = 20


# ---------------------------------------------------------------------------------------- config
@dataclass
class DataConfig:
    root: str = ""
    image_size: int = 112
    max_identities: int | None = None
    max_per_identity: int | None = None
    min_per_identity: int = 1
    flip: bool = True
    cache: bool = True
    kind: str = "faces"  # "faces": one folder per identity (RGB chips) | "fer": 7 expression folders (grey)
    val_root: str = ""  # classification: scored after every epoch (model selection)
    include: str = ""  # training images (data.root) only: regex a file name must match in full ("" = all)
    augment: dict[str, Any] = field(default_factory=dict)  # kind "fer": FerAugment options


@dataclass
class ModelConfig:
    backbone: str = "iresnet_tiny"
    embedding_dim: int = 128
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class LossConfig:
    name: str = "arcface"
    params: dict[str, Any] = field(default_factory=dict)
    sample_rate: float = 1.0
    imprinting: bool = False


@dataclass
class OptimConfig:
    name: str = "sgd"  # "sgd" | "adamw"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"  # "cosine" | "step" | "constant"
    warmup_steps: int = 0
    milestones: list[int] = field(default_factory=list)  # steps, for "step"
    gamma: float = 0.1
    grad_clip: float | None = 5.0


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10
    batch_size: int = 64
    sampler: str = "auto"  # "auto" | "random" | "pk"
    pk_p: int = 16
    pk_k: int = 4
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    amp: str = "auto"  # "auto" (on with CUDA) | "on" | "off"
    amp_dtype: str = "auto"  # "auto" (float16 on CUDA, bfloat16 on CPU) | "float16" | "bfloat16"
    output_dir: str = "runs/faceprint"
    checkpoint_every: int = 0  # steps; 0 = at epoch ends only
    log_every: int = 1
    progress: bool = True
    max_steps: int | None = None
    export_onnx: bool = True
    threads: int | None = None
    task: str = "embedding"  # "embedding" | "classification"
    tta_flip: bool = True  # classification: also score mirror-averaged probabilities
    select_metric: str = "accuracy"  # classification: accuracy | macro_f1 | accuracy_flip | macro_f1_flip
    export_name: str = ""  # classification: registry name in the exported card (default: file stem)
    export_version: str = "1"
    export_weights_dtype: str = "float32"  # classification export: "float16" / "int8" store the weights at 1/2 / 1/4 size
    export_license: str = ""
    export_notes: str = ""

    _SECTIONS = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "optim": OptimConfig}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, base_dir: str | Path | None = None) -> TrainConfig:
        """Build from nested dicts; unknown keys are errors (typos should not pass silently)."""
        if not isinstance(raw, dict):
            raise InvalidInput("a training config must be a mapping")
        kwargs: dict[str, Any] = {}
        top = {f.name for f in dataclasses.fields(cls)}
        for key, value in raw.items():
            if key not in top:
                raise InvalidInput(f"unknown training config key {key!r}; known: {sorted(top)}")
            section = cls._SECTIONS.get(key)
            if section is not None:
                if not isinstance(value, dict):
                    raise InvalidInput(f"[{key}] must be a table")
                known = {f.name for f in dataclasses.fields(section)}
                bad = set(value) - known
                if bad:
                    raise InvalidInput(f"unknown key(s) {sorted(bad)} in [{key}]; known: {sorted(known)}")
                kwargs[key] = section(**value)
            else:
                kwargs[key] = value
        cfg = cls(**kwargs)
        if base_dir is not None:
            base = Path(base_dir)
            if cfg.data.root and not Path(cfg.data.root).is_absolute():
                cfg.data.root = str((base / cfg.data.root).resolve())
            if cfg.data.val_root and not Path(cfg.data.val_root).is_absolute():
                cfg.data.val_root = str((base / cfg.data.val_root).resolve())
            if not Path(cfg.output_dir).is_absolute():
                cfg.output_dir = str((base / cfg.output_dir).resolve())
        cfg.validate()
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a ``.toml`` (or, with PyYAML installed, ``.yaml``/``.yml``) config file."""
        path = Path(path)
        if not path.is_file():
            raise InvalidInput(f"config file not found: {path}")
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml
            except ModuleNotFoundError:
                raise InvalidInput("YAML configs need PyYAML (pip install pyyaml); or write the config as TOML") from None
            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise InvalidInput(f"{path}: invalid YAML: {e}") from None
        else:
            import tomllib

            try:
                raw = tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                raise InvalidInput(f"{path}: invalid TOML: {e}") from None
        return cls.from_dict(raw or {}, base_dir=path.parent)

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise InvalidInput("epochs and batch_size must be >= 1")
        if self.sampler not in ("auto", "random", "pk"):
            raise InvalidInput(f"sampler must be auto, random or pk, got {self.sampler!r}")
        if self.optim.name not in ("sgd", "adamw"):
            raise InvalidInput(f"optim.name must be sgd or adamw, got {self.optim.name!r}")
        if self.optim.scheduler not in ("cosine", "step", "constant"):
            raise InvalidInput(f"optim.scheduler must be cosine, step or constant, got {self.optim.scheduler!r}")
        resolve_amp("cpu", self.amp, self.amp_dtype)  # raises on bad values
        if self.export_weights_dtype not in WEIGHT_DTYPES:
            raise InvalidInput(f"export_weights_dtype must be one of {sorted(WEIGHT_DTYPES)}, got {self.export_weights_dtype!r}")
        if self.task not in ("embedding", "classification"):
            raise InvalidInput(f"task must be embedding or classification, got {self.task!r}")
        if self.data.kind not in ("faces", "fer"):
            raise InvalidInput(f"data.kind must be faces or fer, got {self.data.kind!r}")
        if self.task == "classification" and self.loss.name != "cross_entropy":
            raise InvalidInput(f"a classification task trains with loss 'cross_entropy', got {self.loss.name!r}")
        if self.task == "classification" and self.data.kind == "faces" and self.data.val_root:
            raise InvalidInput("data.val_root needs data.kind = 'fer'")
        metrics = ("accuracy", "macro_f1", "accuracy_flip", "macro_f1_flip")
        if self.select_metric not in metrics:
            raise InvalidInput(f"select_metric must be one of {metrics}, got {self.select_metric!r}")
        if self.select_metric.endswith("_flip") and not self.tta_flip:
            raise InvalidInput(f"select_metric {self.select_metric!r} needs tta_flip = true")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------- results
@dataclass
class TrainResult:
    steps: int
    epochs_completed: int
    final_loss: float
    history: list[dict[str, float]]
    output_dir: str
    checkpoint: str | None
    onnx: str | None
    stopped_early: bool
    best: dict[str, float] = field(default_factory=dict)  # classification: the selected epoch's validation scores
    device: str = "cpu"
    amp: str = "off"  # "off", or the autocast dtype ("float16+scaler", "bfloat16")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["history"] = d["history"][-5:]
        return d


# --------------------------------------------------------------------------------------- helpers
def build_data(d: DataConfig, *, root: str | None = None, train: bool = True) -> Any:
    """The dataset ``d`` describes (``root`` overrides ``d.root``, e.g. for the validation set;
    ``train=False`` turns augmentation and the ``include`` filter off)."""
    root = root or d.root
    if not root:
        raise InvalidInput("data.root is not set")
    if d.kind == "fer":
        from faceprint.train.fer_data import FerAugment, FerFolderData

        return FerFolderData(
            root,
            include=(d.include or None) if train else None,
            image_size=d.image_size,
            augment=d.augment if train else FerAugment.none(d.image_size),
            max_per_class=d.max_per_identity,
        )
    return ImageFolderData(
        root,
        image_size=d.image_size,
        max_identities=d.max_identities,
        max_per_identity=d.max_per_identity,
        min_per_identity=d.min_per_identity,
        cache=d.cache,
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInput("device 'cuda' requested but CUDA is not available")
    return dev


_AMP_DTYPES = {"auto": None, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class AmpPlan:
    """How a step runs: autocast on or off, its dtype, and whether gradients are scaled
    (float16 only: bfloat16 has float32's range and needs no scaler)."""

    enabled: bool
    dtype: torch.dtype
    scaled: bool

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        return str(self.dtype).removeprefix("torch.") + ("+scaler" if self.scaled else "")


def resolve_amp(device_type: str, amp: str = "auto", amp_dtype: str = "auto") -> AmpPlan:
    """The AMP plan for a device type (``"cuda"``, ``"cpu"``…) and the config's ``amp``/``amp_dtype``.

    ``auto`` enables AMP on CUDA only; ``on`` enables it anywhere; ``off`` never. The dtype defaults
    to float16 on CUDA and bfloat16 elsewhere."""
    flag = str(amp)
    if flag not in ("auto", "on", "off", "True", "False"):
        raise InvalidInput(f"amp must be auto, on or off, got {amp!r}")
    if amp_dtype not in _AMP_DTYPES:
        raise InvalidInput(f"amp_dtype must be one of {sorted(_AMP_DTYPES)}, got {amp_dtype!r}")
    enabled = flag in ("on", "True") or (flag == "auto" and device_type == "cuda")
    dtype = _AMP_DTYPES[amp_dtype] or (torch.float16 if device_type == "cuda" else torch.bfloat16)
    return AmpPlan(enabled=enabled, dtype=dtype, scaled=enabled and dtype == torch.float16)


def _lr_lambda(cfg: OptimConfig, total_steps: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.scheduler == "cosine":
            span = max(1, total_steps - cfg.warmup_steps)
            progress = min(1.0, (step - cfg.warmup_steps) / span)
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if cfg.scheduler == "step":
            return cfg.gamma ** sum(step >= m for m in cfg.milestones)
        return 1.0

    return f


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state(legacy=True)
    if not isinstance(np_state, tuple):  # legacy=True gives the tuple for numpy's global MT19937
        raise RuntimeError(f"unexpected numpy RNG state {type(np_state).__name__}")
    py_version, py_internal, py_gauss = random.getstate()
    state = {
        "python": [py_version, torch.tensor(py_internal, dtype=torch.int64), py_gauss],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(int(i) for i in internal.tolist()), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------------------- trainer
class Trainer:
    """Runs one training configuration. ``data``, ``model`` and ``head`` may be injected (tests);
    otherwise they are built from the config."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        data: Any = None,
        model: nn.Module | None = None,
        head: nn.Module | None = None,
        val_data: Any = None,
    ) -> None:
        config.validate()
        self.config = config
        if config.threads:
            torch.set_num_threads(int(config.threads))
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        self.device = resolve_device(config.device)
        if data is None:
            data = build_data(config.data)
        self.data = data
        if val_data is None and config.data.val_root:
            val_data = build_data(config.data, root=config.data.val_root, train=False)
        self.val_data = val_data
        self.classification = config.task == "classification"
        # a classifier's backbone emits the class logits: its output size is the number of classes
        out_dim = data.num_classes if self.classification else config.model.embedding_dim
        self.model = (model or build_backbone(config.model.backbone, out_dim, **config.model.params)).to(self.device)
        lc = config.loss
        self.head = (
            head
            or build_head(
                lc.name,
                config.model.embedding_dim,
                data.num_classes,
                params=lc.params,
                sample_rate=lc.sample_rate,
                imprinting=lc.imprinting,
                seed=config.seed,
            )
        ).to(self.device)
        use_pk = config.sampler == "pk" or (config.sampler == "auto" and is_pair_based(lc.name))
        if use_pk:
            self.sampler: PKSampler | RandomBatchSampler = PKSampler(data.labels, config.pk_p, config.pk_k, seed=config.seed)
        else:
            self.sampler = RandomBatchSampler(len(data), config.batch_size, seed=config.seed)
        self.steps_per_epoch = len(self.sampler)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.params = [p for p in list(self.model.parameters()) + list(self.head.parameters()) if p.requires_grad]
        oc = config.optim
        if oc.name == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                self.params, lr=oc.lr, momentum=oc.momentum, weight_decay=oc.weight_decay
            )
        else:
            self.optimizer = torch.optim.AdamW(self.params, lr=oc.lr, weight_decay=oc.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_lambda(oc, self.total_steps))
        self.amp = resolve_amp(self.device.type, config.amp, config.amp_dtype)
        if self.amp.enabled:
            logger.info(
                "AMP: %s autocast on %s%s", self.amp.dtype, self.device, " with gradient scaling" if self.amp.scaled else ""
            )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp.scaled)
        self.epoch = 0
        self.step = 0
        self.skipped = 0
        self.history: list[dict[str, float]] = []
        self.val_history: list[dict[str, float]] = []
        self.best: dict[str, float] = {}
        self.output_dir = Path(config.output_dir)

    # ------------------------------------------------------------------------------ one step
    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        self.model.train()
        self.head.train()
        images, labels = images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
        with torch.autocast(device_type=self.device.type, dtype=self.amp.dtype, enabled=self.amp.enabled):
            embeddings = self.model(images)
        loss = self.head(embeddings.float(), labels)
        value = float(loss.detach())
        if not math.isfinite(value):
            self._diverged(f"the loss became {value}", value)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.amp.scaled:
            self.scaler.unscale_(self.optimizer)
        clip = self.config.optim.grad_clip
        norm = float(torch.nn.utils.clip_grad_norm_(self.params, max_norm=clip if clip else float("inf")))
        if not math.isfinite(norm):
            if not self.amp.scaled:
                self._diverged(f"the gradient norm became {norm} (loss {value:.4g})", norm)
            self.skipped += 1
            if self.skipped > MAX_SKIPPED_AMP_STEPS:
                self._diverged(f"{self.skipped} consecutive AMP steps had non-finite gradients", norm)
        else:
            self.skipped = 0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with warnings.catch_warnings():
            # the schedule follows the step count even when the scaler skipped an overflowing step
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`", category=UserWarning)
            self.scheduler.step()
        return value

    def _diverged(self, what: str, value: float) -> None:
        ckpt = self.output_dir / CHECKPOINT_NAME
        hint = f"; the last good checkpoint is {ckpt} (resume with a lower lr)" if ckpt.exists() else ""
        raise TrainingDiverged(
            f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: {what} with lr={self.lr:.3g}. "
            f"Lower the learning rate, add warm-up or gradient clipping, or check the data{hint}.",
            step=self.step + 1,
            epoch=self.epoch + 1,
            value=value,
            lr=self.lr,
        )

    # ------------------------------------------------------------------------------ the loop
    def fit(self, max_steps: int | None = None) -> TrainResult:
        cfg = self.config
        max_steps = max_steps if max_steps is not None else cfg.max_steps
        self.output_dir.mkdir(parents=True, exist_ok=True)
        from tqdm.auto import tqdm

        stopped = False
        ckpt: Path | None = None
        while self.epoch < cfg.epochs and not stopped:
            batches = self.sampler.batches(self.epoch)
            flips = np.random.default_rng([cfg.seed, self.epoch, 1]).random((len(batches), max(map(len, batches)))) < 0.5
            start = self.step - self.epoch * self.steps_per_epoch
            bar = tqdm(
                total=len(batches),
                initial=start,
                desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                disable=not cfg.progress,
                leave=False,
            )
            t0 = time.perf_counter()
            for b in range(start, len(batches)):
                if max_steps is not None and self.step >= max_steps:
                    stopped = True
                    break
                idx = batches[b]
                images, labels = self._batch(idx, flips[b, : len(idx)] if cfg.data.flip else None, b)
                loss = self.train_step(images, labels)
                self.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{self.lr:.3g}")
                if cfg.log_every and (self.step % cfg.log_every == 0 or b == len(batches) - 1):
                    self._log(
                        {
                            "step": self.step,
                            "epoch": self.epoch + 1,
                            "loss": loss,
                            "lr": self.lr,
                            "seconds": time.perf_counter() - t0,
                        }
                    )
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    ckpt = self.save_checkpoint()
            bar.close()
            if not stopped:
                self.epoch += 1
                if self.val_data is not None:
                    self.validate(seconds=time.perf_counter() - t0)
            ckpt = self.save_checkpoint()
        onnx_path = None
        if not stopped and cfg.export_onnx:
            if self.classification:
                onnx_path = str(self.export_classifier())
            else:
                onnx_path = str(export_onnx(self.model, self.output_dir / "model.onnx", input_size=cfg.data.image_size))
        final = self.history[-1]["loss"] if self.history else float("nan")
        return TrainResult(
            steps=self.step,
            epochs_completed=self.epoch,
            final_loss=final,
            history=list(self.history),
            output_dir=str(self.output_dir),
            checkpoint=str(ckpt) if ckpt else None,
            onnx=onnx_path,
            stopped_early=stopped,
            best=dict(self.best),
            device=str(self.device),
            amp=self.amp.describe(),
        )

    def _batch(self, idx: Any, flip: np.ndarray | None, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch; data that augments randomly gets a generator seeded by
        ``(seed, epoch, batch)``, so a resumed run draws the same augmentations."""
        if getattr(self.data, "random_augment", False):
            rng = np.random.default_rng([self.config.seed, self.epoch, 2, b])
            return self.data.batch(idx, flip, rng=rng)
        return self.data.batch(idx, flip)

    # ------------------------------------------------------------------------- validation
    BEST_NAME = "model_best.pt"

    def validate(self, seconds: float | None = None) -> dict[str, float]:
        """Score the model on the validation data (after an epoch), log a row to
        ``val_metrics.csv``/``.jsonl`` and, when ``select_metric`` improved, write the weights to
        ``model_best.pt``. Returns the row."""
        from faceprint.train.classify import evaluate_classifier

        cfg = self.config
        # under AMP the per-epoch validation autocasts too (it only selects the epoch; the exported
        # float32 model is what `faceprint eval fer` scores)
        with torch.autocast(device_type=self.device.type, dtype=self.amp.dtype, enabled=self.amp.enabled):
            scores = evaluate_classifier(self.model, self.val_data, tta_flip=cfg.tta_flip, device=self.device)
        losses = [r["loss"] for r in self.history if int(r["epoch"]) == self.epoch]
        row: dict[str, float] = {
            "epoch": self.epoch,
            "step": self.step,
            "train_loss": float(np.mean(losses)) if losses else float("nan"),
            "lr": self.lr,
            **{k: float(v) for k, v in scores.items()},
            "train_seconds": float(seconds) if seconds is not None else float("nan"),
        }
        score = row[cfg.select_metric]
        improved = not self.best or score > self.best["score"]
        row["best"] = float(improved)
        self.val_history.append(row)
        self._write_val_logs()
        if improved:
            self.best = {"epoch": float(self.epoch), "score": float(score), **{k: row[k] for k in scores if k != "val_seconds"}}
            buf = io.BytesIO()
            torch.save(
                {
                    "format": CHECKPOINT_FORMAT + "/best",
                    "config": cfg.to_dict(),
                    "model": self.model.state_dict(),
                    "epoch": self.epoch,
                    "metrics": dict(self.best),
                    "class_names": list(getattr(self.data, "class_names", [])),
                },
                buf,
            )
            atomic_write_bytes(self.output_dir / self.BEST_NAME, buf.getvalue())
        flip = f", flip-TTA {100 * row['accuracy_flip']:.2f}%" if "accuracy_flip" in row else ""
        msg = (
            f"epoch {self.epoch}/{cfg.epochs}: train loss {row['train_loss']:.4f}, val accuracy {100 * row['accuracy']:.2f}% "
            f"(macro F1 {100 * row['macro_f1']:.2f}%{flip}){' *best*' if improved else ''}"
        )
        logger.info(msg)
        if cfg.progress:
            from tqdm.auto import tqdm

            tqdm.write(msg)
        return row

    def _write_val_logs(self) -> None:
        if not self.val_history:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        fields = list(self.val_history[0])
        with open(self.output_dir / "val_metrics.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(self.val_history)
        with open(self.output_dir / "val_metrics.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in self.val_history)

    def export_classifier(self, path: str | Path | None = None) -> Path:
        """Export the best validated weights (else the current ones) as an ONNX expression
        analyzer with its card (:func:`~faceprint.train.export.export_classifier_onnx`)."""
        from faceprint.train.export import export_classifier_onnx

        cfg = self.config
        path = Path(path) if path else self.output_dir / "model.onnx"
        model = self.model
        best = self.output_dir / self.BEST_NAME
        extra: dict[str, Any] = {"trained_epochs": self.epoch, "config": cfg.to_dict()}
        if best.is_file():
            import copy

            state = torch.load(best, map_location="cpu", weights_only=True)
            model = copy.deepcopy(self.model).cpu()
            model.load_state_dict(state["model"])
            extra["selected_epoch"] = int(state["epoch"])
            extra["validation"] = {k: round(float(v), 6) for k, v in state["metrics"].items() if k not in ("epoch", "score")}
            extra["selected_on"] = cfg.select_metric
        size = int(getattr(self.data, "image_size", cfg.data.image_size))
        return export_classifier_onnx(
            model,
            path,
            labels=list(getattr(self.data, "class_names", [])),
            input_size=size,
            mean=127.5,
            std=127.5,
            name=cfg.export_name or None,
            version=cfg.export_version,
            license=cfg.export_license or "trained with faceprint; the licence of its training data applies",
            notes=cfg.export_notes,
            extra=extra,
            weights_dtype=cfg.export_weights_dtype,
        )

    # ---------------------------------------------------------------------------- logging
    _FIELDS = ("step", "epoch", "loss", "lr", "seconds")

    def _log(self, row: dict[str, float]) -> None:
        self.history.append(row)
        csv_path = self.output_dir / "metrics.csv"
        new = not csv_path.exists()
        with open(csv_path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._FIELDS)
            if new:
                w.writeheader()
            w.writerow(row)
        with open(self.output_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def _rewrite_logs(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output_dir / "metrics.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._FIELDS)
            w.writeheader()
            w.writerows(self.history)
        with open(self.output_dir / "metrics.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in self.history)

    # ------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "head": self.head.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "val_history": self.val_history,
            "best": self.best,
            "rng": _rng_state(),
            "class_names": list(getattr(self.data, "class_names", [])),
        }

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write the full training state atomically (default ``output_dir/checkpoint_last.pt``)."""
        path = Path(path) if path else self.output_dir / CHECKPOINT_NAME
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def load_checkpoint(self, path: str | Path | None = None) -> None:
        """Restore everything :meth:`save_checkpoint` wrote; the metrics logs are rewritten to the
        checkpoint's history."""
        path = Path(path) if path else self.output_dir / CHECKPOINT_NAME
        if not path.is_file():
            raise InvalidInput(f"no checkpoint to resume from at {path}")
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise InvalidInput(f"{path} is not a faceprint training checkpoint")
        saved = state["config"]
        for section in ("model", "loss"):
            if saved[section] != asdict(getattr(self.config, section)):
                raise InvalidInput(f"checkpoint {path} was trained with a different [{section}] config: {saved[section]}")
        try:
            self.model.load_state_dict(state["model"])
            self.head.load_state_dict(state["head"])
        except RuntimeError as e:
            raise InvalidInput(f"checkpoint {path} does not fit this model: {e}") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"] and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        elif self.scaler.is_enabled():
            logger.info("the checkpoint has no gradient-scaler state (written without float16 AMP): starting a fresh scaler")
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = [dict(r) for r in state["history"]]
        self.val_history = [dict(r) for r in state.get("val_history", [])]
        self.best = dict(state.get("best", {}))
        _set_rng_state(state["rng"])
        self._rewrite_logs()
        self._write_val_logs()
        logger.info("resumed from %s at epoch %d, step %d", path, self.epoch, self.step)


def train(config: TrainConfig, *, resume: bool = False, max_steps: int | None = None) -> TrainResult:
    """Build a :class:`Trainer` for ``config``, optionally resume from its last checkpoint, and fit."""
    trainer = Trainer(config)
    if resume:
        trainer.load_checkpoint()
    return trainer.fit(max_steps=max_steps)


__all__ = [
    "AmpPlan",
    "DataConfig",
    "build_data",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "export_onnx",
    "resolve_amp",
    "train",
]
