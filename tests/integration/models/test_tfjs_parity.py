"""The ONNX conversions of the human TFJS models against the original runtime (node + tfjs 4.22.0):
committed reference outputs (scripts/tfjs_parity.py) and, when node is here, a live run."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import ModelUnavailable

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / "tests" / "data" / "tfjs_reference.json"


def _parity():
    spec = importlib.util.spec_from_file_location("tfjs_parity", REPO / "scripts" / "tfjs_parity.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def parity(shared_data):
    mod = _parity()
    from faceprint.models.analyzers.human_models import human_model_json

    try:
        human_model_json("antispoof")
    except ModelUnavailable as e:
        pytest.skip(f"human models not installed: {e}")
    return mod


def test_onnx_matches_committed_tfjs_outputs(parity):
    ref = json.loads(REFERENCE.read_text())
    faces = ref["faces"]
    worst = parity.compare([f["outputs"] for f in faces], parity.onnx_outputs(faces))
    assert set(worst) == set(parity.MODELS)
    for model, diff in worst.items():
        assert diff <= ref["rtol"], f"{model}: max relative difference {diff:.2e} > {ref['rtol']}"


def test_numpy_preprocessing_matched_tf_ops():
    ref = json.loads(REFERENCE.read_text())
    # on the 0..255 scale of age/faceres inputs 2.1e-3 is float32 rounding; the others are in [-1, 1]
    for model, diff in ref["preprocessing_max_abs_diff"].items():
        assert diff < (5e-3 if model in ("age", "faceres", "faceres-deep") else 1e-4), model


def test_live_node_run_matches(parity):
    if shutil.which("node") is None or parity.tfjs_node_path() is None:
        pytest.skip("node or @tensorflow/tfjs 4.22.0 not installed (scripts/npm_weights.sh installs tfjs when npm is present)")
    faces = json.loads(REFERENCE.read_text())["faces"][:2]
    res = parity.run_node(faces, parity.tfjs_node_path())
    worst = parity.compare([r["outputs"] for r in res["faces"]], parity.onnx_outputs(faces))
    assert max(worst.values()) <= parity.RTOL, worst
    got = np.asarray(res["faces"][0]["outputs"]["antispoof"][0])
    np.testing.assert_allclose(got, faces[0]["outputs"]["antispoof"][0], rtol=1e-5)
