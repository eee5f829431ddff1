import subprocess
import sys

import pytest

from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.models import registry
from faceprint.models.card import ModelCard, WeightSource


def _card(name, **kw):
    return ModelCard(name=name, task="embedder", version="1", source=WeightSource(None, "x"), license="MIT", **kw)


def test_register_create_and_list():
    card = _card("unit_test_model", embedding_dim=3)

    @registry.register(card)
    class M:
        def __init__(self, card, scale=1):
            self.card, self.scale = card, scale

    m = registry.create("unit_test_model", scale=2)
    assert m.card is card and m.scale == 2
    assert card in registry.list_models(task="embedder")
    assert card not in registry.list_models(task="detector")
    assert registry.get_card("unit_test_model").tag == "unit_test_model@1"


def test_name_clash_refused():
    registry.register(_card("unit_test_clash"))(lambda card: card)
    with pytest.raises(InvalidInput):
        registry.register(_card("unit_test_clash", notes="different"))(lambda card: None)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ModelUnavailable, match="registered models"):
        registry.create("no_such_model")


def test_builtin_models_are_registered_with_cards():
    names = {c.name for c in registry.list_models()}
    for expected in ("dlib_hog", "mtcnn", "dlib_shape5", "dlib_resnet_v1", "onnx_arcface"):
        assert expected in names
    for c in registry.list_models():
        if c.name not in registry_builtin_names():
            continue
        assert c.license and c.version and c.task in ("detector", "landmarker", "embedder", "analyzer")
        if c.source.package:  # shipped weights carry a checksum
            assert c.source.sha256 and len(c.source.sha256) == 64
        if c.task == "embedder":
            assert c.template and c.input_size


def test_import_loads_nothing():
    code = (
        "import sys, faceprint, faceprint.api, faceprint.pipeline, faceprint.cli.main;"
        "heavy=[m for m in ('dlib','onnxruntime','cv2','torch','PIL.Image','faceprint.models.embedders.dlib_resnet')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def registry_builtin_names():
    return {
        "dlib_hog",
        "dlib_mmod",
        "mtcnn",
        "dlib_shape5",
        "dlib_shape68",
        "dlib_resnet_v1",
        "onnx_arcface",
        "fer_mini_xception",
    }


def test_card_threshold_matches_shipped_calibration():
    from faceprint.matching.thresholds import resolve_threshold, shipped_calibration

    card = registry.get_card("dlib_resnet_v1")
    cal = shipped_calibration("dlib_resnet_v1")
    assert cal.model == card.tag and abs(cal.threshold_ - card.default_threshold) < 1e-6
    assert cal.n_impostor_ == 1100 and "pairsDevTrain" in cal.source_
    assert resolve_threshold(card.tag, home="/nonexistent").source.startswith("model card default")
