"""A registry of models by name, each with its :class:`~faceprint.models.card.ModelCard`.

Built-in models live one per file under ``models/<task>s/`` and register themselves with
:func:`register` when their module is imported. The registry imports those modules lazily, the
first time it is asked for a list or a model, so ``import faceprint`` loads nothing.

    >>> from faceprint.models import registry
    >>> registry.list_models(task="embedder")          # doctest: +SKIP
    >>> emb = registry.create("dlib_resnet_v1")         # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.models.card import ModelCard

logger = logging.getLogger(__name__)

#: Modules that define the built-in models; imported on first use of the registry.
BUILTIN_MODULES: tuple[str, ...] = (
    "faceprint.models.detectors.dlib_hog",
    "faceprint.models.detectors.dlib_mmod",
    "faceprint.models.detectors.mtcnn",
    "faceprint.models.detectors.yunet",
    "faceprint.models.landmarks.dlib_shape",
    "faceprint.models.embedders.dlib_resnet",
    "faceprint.models.embedders.onnx_arcface",
    "faceprint.models.embedders.sface",
    "faceprint.models.embedders.fusion",
    "faceprint.models.analyzers.expression",
    "faceprint.models.analyzers.fer_cnn",
    "faceprint.models.analyzers.liveness",
    "faceprint.models.analyzers.age",
    "faceprint.models.analyzers.gender",
    "faceprint.models.analyzers.quality",
    "faceprint.models.analyzers.race",
)


@dataclass(frozen=True)
class _Entry:
    card: ModelCard
    factory: Callable[..., Any]


_lock = threading.Lock()
_entries: dict[str, _Entry] = {}
_builtins_loaded = False


def register(card: ModelCard) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class/function decorator: register ``factory(card=card, **kwargs)`` under ``card.name``."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        with _lock:
            existing = _entries.get(card.name)
            if existing is not None and existing.factory is not factory and existing.card != card:
                raise InvalidInput(f"model name {card.name!r} is already registered")
            _entries[card.name] = _Entry(card, factory)
        return factory

    return deco


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    for mod in BUILTIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a built-in module not present in this build
            if e.name and mod.startswith(e.name):
                logger.debug("built-in model module %s not present", mod)
                continue
            raise
    _builtins_loaded = True
    _load_user_cards()


def _load_user_cards() -> None:
    """Register user models whose card files are listed in ``$FACEPRINT_MODEL_CARDS``
    (separated by the OS path separator), e.g. models exported by ``faceprint train``: embedders,
    or expression analyzers when the card says ``"task": "analyzer"``."""
    env = os.environ.get("FACEPRINT_MODEL_CARDS", "")
    if not env:
        return
    from faceprint.models.embedders.onnx_arcface import register_from_card_file

    for path in filter(None, env.split(os.pathsep)):
        if _card_task(path) == "analyzer":
            from faceprint.models.analyzers.fer_cnn import register_from_card_file as register_analyzer

            register_analyzer(path)
        else:
            register_from_card_file(path)


def _card_task(path: str) -> str | None:
    """The ``task`` a JSON card file declares (None when it declares none or cannot be read; the
    loader then reports the problem)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            task = json.load(f).get("task")
    except (OSError, ValueError, AttributeError):
        return None
    return task if isinstance(task, str) else None


def list_models(task: str | None = None) -> list[ModelCard]:
    """Cards of every registered model (optionally of one task), sorted by name."""
    _load_builtins()
    with _lock:
        cards = [e.card for e in _entries.values()]
    return sorted((c for c in cards if task is None or c.task == task), key=lambda c: c.name)


def get_card(name: str) -> ModelCard:
    _load_builtins()
    with _lock:
        entry = _entries.get(name)
    if entry is None:
        known = ", ".join(sorted(_entries)) or "none"
        raise ModelUnavailable(f"unknown model {name!r}; registered models: {known}")
    return entry.card


def create(name: str, **kwargs: Any) -> Any:
    """Instantiate the model registered as ``name`` (weights are loaded lazily by the instance)."""
    card = get_card(name)
    with _lock:
        factory = _entries[name].factory
    return factory(card=card, **kwargs)
