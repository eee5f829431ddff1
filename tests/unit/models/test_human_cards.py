"""Cards of the human-model analyzers state each model's upstream licence, training data and the
authors' figure (human_provenance), and keep the measured-here wording (no weights loaded)."""

from __future__ import annotations

import pytest

from faceprint.models import registry
from faceprint.models.analyzers import age, gender, liveness, race  # noqa: F401  (registers the cards)
from faceprint.models.analyzers.human_provenance import UPSTREAM

CARDS = {
    "human_faceres_age": ("faceres",),
    "human_ssrnet_age": ("age",),
    "human_gear_age": ("gear",),
    "human_faceres_gender": ("faceres",),
    "human_oarriaga_gender": ("gender",),
    "human_gear_gender": ("gear",),
    "human_gear_race": ("gear",),
    "human_liveness": ("antispoof", "liveness"),
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_states_upstream(name: str) -> None:
    c = registry.get_card(name)
    assert tuple(c.extra["human_models"]) == CARDS[name]
    assert "not verified" not in c.license and "not verified" not in c.notes
    assert "MIT" in c.license  # the package's licence, stated beside the model's own
    for model in CARDS[name]:
        up = UPSTREAM[model]
        assert up.licence in c.license and up.notes() in c.notes
        assert "Training data:" in c.notes and "Published by the authors" in c.notes


def test_licences_read_from_upstream() -> None:
    assert "Apache-2.0" in UPSTREAM["faceres"].licence and "@53b11e10" in UPSTREAM["faceres"].licence
    assert "Apache-2.0" in UPSTREAM["age"].licence and "@f98b6cbe" in UPSTREAM["age"].licence
    assert UPSTREAM["gear"].licence.startswith("GPL-3.0") and "@36c03997" in UPSTREAM["gear"].licence
    assert UPSTREAM["gender"].licence.startswith("MIT") and "@b861d21b" in UPSTREAM["gender"].licence
    assert UPSTREAM["antispoof"].licence.startswith("MIT") and "byte-identical" in UPSTREAM["antispoof"].licence
    assert UPSTREAM["liveness"].licence.startswith("no LICENSE file") and "all rights reserved" in UPSTREAM["liveness"].licence


def test_measured_wording_kept() -> None:
    for card in (age.FACERES_CARD, age.SSRNET_CARD, age.GEAR_CARD):
        assert age._MEASURED in card.notes and "lfw_age" in card.extra
    for card in (gender.FACERES_CARD, gender.OARRIAGA_CARD, gender.GEAR_CARD):
        assert gender._MEASURED in card.notes
    assert "not measured" in race.CARD.notes
    assert "accuracy against attacks is not measured" in liveness.CARD.notes
    assert "(not measured here)" in UPSTREAM["antispoof"].published and "0.60" in UPSTREAM["antispoof"].published
