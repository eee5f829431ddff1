"""`faceprint keys` and `faceprint serve` argument handling (no server is started here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service extra is not installed")

from faceprint.cli.main import main  # noqa: E402


def test_keys_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--scope", "admin", "--label", "ops", "--home", str(tmp_path), "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["key"].startswith("fpk_") and created["scope"] == "admin" and created["label"] == "ops"
    assert main(["keys", "list", "--home", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["keys"]
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    assert main(["keys", "revoke", created["id"], "--home", str(tmp_path)]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "list", "--home", str(tmp_path)]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "revoke", "nope", "--home", str(tmp_path)]) == 2
    assert "no API key" in capsys.readouterr().err


def test_keys_plain_output_shows_the_key_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fpk_") and "not shown again" in out[1]


def test_serve_refuses_bad_settings_before_starting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--home", str(tmp_path), "--cors-origin", "*"]) == 2
    assert "cors_origins" in capsys.readouterr().err
    assert main(["serve", "--home", str(tmp_path), "--host", "0.0.0.0"]) == 2  # no key exists
    assert "requires API keys" in capsys.readouterr().err
    assert main(["serve", "--home", str(tmp_path), "--port", "-1"]) == 2


def test_serve_refuses_an_unknown_preset_with_exit_2(tmp_path) -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "serve", "--preset", "nope", "--home", str(tmp_path),
                        "--port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown preset" in r.stderr, (r.returncode, r.stderr[-500:])
