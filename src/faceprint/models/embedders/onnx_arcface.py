"""Any user-supplied ArcFace-style ONNX embedder (insightface's w600k/glint models, models exported
by ``faceprint train``, ...).

Such models take aligned 112×112 chips (the standard ArcFace 5-point template), normalised as
``(pixel − mean) / std`` in a stated colour order and layout, and return one descriptor per chip.
Nothing is guessed from the file: its card states input size, normalisation, colour order and
layout, and the file's sha256 is checked when the card gives one.

    >>> from faceprint.models.embedders.onnx_arcface import register_onnx_embedder
    >>> register_onnx_embedder("my_arcface", "/models/w600k_r50.onnx", version="1")   # doctest: +SKIP
    >>> Pipeline.from_config(PipelineConfig(embedder="my_arcface"))                  # doctest: +SKIP

A card can also be kept beside the model as ``<model>.card.json`` and loaded with
:func:`register_from_card_file`.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.registry import register

logger = logging.getLogger(__name__)

#: The generic card: a template for user models (its path is supplied per instance).
CARD = ModelCard(
    name="onnx_arcface",
    task="embedder",
    version="user",
    source=WeightSource(package=None, path=""),
    license="as stated by the model's authors (user-supplied)",
    input_size=(112, 112),
    mean=(127.5, 127.5, 127.5),
    std=(127.5, 127.5, 127.5),
    color_order="RGB",
    template="arcface_112",
    notes="Generic loader for user-supplied ArcFace-style ONNX files: pass path=... (and card overrides).",
    extra={"layout": "NCHW"},
)


@register(CARD)
class OnnxArcFaceEmbedder:
    """Embed aligned chips with a user ONNX model described by its card.

    Args:
        card: the model's card (``source.path`` is the ONNX file unless ``path`` is given).
        path: the ONNX file (overrides ``card.source.path``).
        threads: onnxruntime intra-op threads.
    """

    def __init__(
        self, card: ModelCard = CARD, path: str | Path | None = None, threads: int | None = None, **overrides: Any
    ) -> None:
        if path is not None:
            card = replace(card, source=replace(card.source, path=str(path)))
        if overrides:
            card = replace(card, **overrides)
        if not card.source.path:
            raise InvalidInput("onnx_arcface needs the model file: create('onnx_arcface', path='model.onnx')")
        if card.input_size is None or card.mean is None or card.std is None:
            raise InvalidInput(f"card of {card.name} must state input_size, mean and std")
        if card.color_order not in ("RGB", "BGR"):
            raise InvalidInput(f"color_order must be RGB or BGR, got {card.color_order!r}")
        layout = card.extra.get("layout", "NCHW")
        if layout not in ("NCHW", "NHWC"):
            raise InvalidInput(f"layout must be NCHW or NHWC, got {layout!r}")
        self.card = card
        self._size: tuple[int, int] = card.input_size
        self._mean = np.asarray(card.mean, np.float32)
        self._std = np.asarray(card.std, np.float32)
        self._layout = layout
        self._threads = threads
        self._session = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from faceprint.models.runtime.onnx import create_session
                    from faceprint.models.sources import verify_sha256

                    path = Path(self.card.source.path)
                    if not path.is_file():
                        raise ModelUnavailable(f"ONNX model file not found: {path}")
                    verify_sha256(path, self.card.source.sha256)
                    try:
                        sess = create_session(path, threads=self._threads)
                    except Exception as e:  # onnxruntime raises its own exception types
                        raise ModelUnavailable(f"cannot load ONNX model {path}: {e}") from None
                    inputs = sess.get_inputs()
                    if len(inputs) != 1:
                        raise ModelUnavailable(f"{path}: expected one input, found {len(inputs)}")
                    self._input = inputs[0].name
                    self._session = sess
        return self._session

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        chips = np.asarray(chips)
        w, h = self._size
        if chips.ndim != 4 or chips.shape[1:] != (h, w, 3) or chips.dtype != np.uint8:
            raise InvalidInput(f"{self.card.name} expects chips (N, {h}, {w}, 3) uint8 RGB, got {chips.shape} {chips.dtype}")
        if len(chips) == 0:
            return np.zeros((0, self.card.embedding_dim or 0), np.float32)
        sess = self._load()
        x = chips.astype(np.float32)
        if self.card.color_order == "BGR":
            x = x[..., ::-1]
        x = (x - self._mean) / self._std
        if self._layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        out = sess.run(None, {self._input: np.ascontiguousarray(x)})[0]
        out = np.asarray(out, np.float32).reshape(len(chips), -1)
        if self.card.embedding_dim is not None and out.shape[1] != self.card.embedding_dim:
            raise ModelUnavailable(f"{self.card.name}: card says {self.card.embedding_dim}-d, model gave {out.shape[1]}-d")
        return out


def register_onnx_embedder(
    name: str,
    path: str | Path,
    *,
    version: str = "1",
    input_size: tuple[int, int] = (112, 112),
    mean: tuple[float, float, float] = (127.5, 127.5, 127.5),
    std: tuple[float, float, float] = (127.5, 127.5, 127.5),
    color_order: str = "RGB",
    layout: str = "NCHW",
    template: str = "arcface_112",
    embedding_dim: int | None = None,
    sha256: str | None = None,
    license: str = "as stated by the model's authors",
    default_threshold: float | None = None,
    threshold_provenance: str | None = None,
) -> ModelCard:
    """Register a user ONNX embedder under ``name``, so pipelines can name it."""
    card = ModelCard(
        name=name,
        task="embedder",
        version=version,
        source=WeightSource(package=None, path=str(Path(path).expanduser().resolve()), sha256=sha256),
        license=license,
        input_size=(input_size[0], input_size[1]),
        mean=tuple(mean),
        std=tuple(std),
        color_order=color_order,
        embedding_dim=embedding_dim,
        template=template,
        default_threshold=default_threshold,
        threshold_provenance=threshold_provenance,
        extra={"layout": layout},
    )

    def factory(card: ModelCard, **kwargs: Any) -> OnnxArcFaceEmbedder:
        return OnnxArcFaceEmbedder(card=card, **kwargs)

    register(card)(factory)
    return card


def register_from_card_file(card_json: str | Path) -> ModelCard:
    """Register a user model from a JSON card (keys as :func:`register_onnx_embedder`'s arguments,
    plus ``name`` and ``path``; a relative path is relative to the card file)."""
    p = Path(card_json)
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise InvalidInput(f"cannot read model card {p}: {e}") from None
    try:
        name, path = d.pop("name"), d.pop("path")
    except KeyError as e:
        raise InvalidInput(f"model card {p} lacks {e.args[0]!r}") from None
    mp = Path(path)
    if not mp.is_absolute():
        mp = p.parent / mp
    for k in ("input_size", "mean", "std"):
        if k in d:
            d[k] = tuple(d[k])
    try:
        return register_onnx_embedder(name, mp, **d)
    except TypeError as e:
        raise InvalidInput(f"model card {p}: {e}") from None
