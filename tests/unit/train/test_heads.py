import pytest

torch = pytest.importorskip("torch")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train.heads import build_head, is_pair_based  # noqa: E402
from faceprint.train.imprinting import DynamicWeightImprinting  # noqa: E402
from faceprint.train.losses import ArcFaceLoss, TripletLoss  # noqa: E402
from faceprint.train.partial_fc import PartialFC  # noqa: E402


def test_build_head_variants():
    assert isinstance(build_head("arcface", 8, 10), ArcFaceLoss)
    pfc = build_head("sphereface2", 8, 10, sample_rate=0.5)
    assert isinstance(pfc, PartialFC) and pfc.num_sample == 5
    assert float(pfc.margin_loss.bias) == pytest.approx(float(build_head("sphereface2", 8, 10).bias))
    assert isinstance(build_head("cosface", 8, 10, imprinting=True), DynamicWeightImprinting)
    assert isinstance(build_head("triplet", 8, 0, params={"miner": "semi_hard"}), TripletLoss)
    assert is_pair_based("triplet") and not is_pair_based("arcface")


def test_build_head_rejects_impossible_combinations():
    with pytest.raises(InvalidInput):
        build_head("triplet", 8, 10, sample_rate=0.5)
    with pytest.raises(InvalidInput):
        build_head("center", 8, 10, imprinting=True)
    with pytest.raises(InvalidInput):
        build_head("cosface", 8, 10, imprinting=True, sample_rate=0.5)
    with pytest.raises(InvalidInput):
        build_head("arcfacee", 8, 10)
