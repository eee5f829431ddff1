"""scripts/bootstrap.sh without a real install: a fake virtualenv whose ``python`` records its
arguments and prints pip's usual noise, so the logic (one environment for both README commands,
quiet on success, the log on failure) is checked in a second."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bootstrap.sh"

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../calls"
echo "ERROR: pip's dependency resolver does not currently take into account all the packages that are installed."
echo "WARNING: Location '/some/wheels' is ignored: it is either a non-existing path or lacks a specific scheme." >&2
[ -n "${FAKE_PIP_FAIL:-}" ] && [[ "$*" == *"$FAKE_PIP_FAIL"* ]] && { echo "pip boom: $FAKE_PIP_FAIL" >&2; exit 1; }
exit 0
"""


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    v = tmp_path / "venv"
    (v / "bin").mkdir(parents=True)
    py = v / "bin" / "python"
    py.write_text(FAKE_PYTHON)
    py.chmod(0o755)
    return v


def _run(venv: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACEPRINT_VENV": str(venv), **extra}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def _script_calls(name: str) -> list[str]:
    return [line.split("#")[0].strip() for line in (REPO / "scripts" / name).read_text().splitlines()
            if "bootstrap.sh" in line.split("#")[0]]


def test_main_and_test_scripts_share_one_environment() -> None:
    calls = {name: _script_calls(name) for name in ("main.sh", "test.sh")}
    assert calls["main.sh"] == calls["test.sh"] == ["scripts/bootstrap.sh"], calls  # same (default) extras


def test_quiet_on_success_then_a_no_op(venv: Path) -> None:
    r = _run(venv)
    assert r.returncode == 0, r.stderr
    noise = r.stdout + r.stderr
    assert "ERROR" not in noise and "is ignored" not in noise, noise  # pip's output stays in the log
    calls = (venv / "calls").read_text()
    for req in ("base.txt", "weights.txt", "service.txt", "test.txt", "train.txt", "bench.txt"):
        assert f"requirements/{req}" in calls
    assert (venv / ".faceprint-stamp").read_text().strip() == _run(venv, "--print-stamp").stdout.strip()
    (venv / "calls").unlink()
    again = _run(venv)  # the stamp matches: nothing runs, nothing printed
    assert again.returncode == 0 and again.stdout == again.stderr == "" and not (venv / "calls").exists()


def test_failure_shows_the_log(venv: Path) -> None:
    r = _run(venv, FAKE_PIP_FAIL="requirements/train.txt")
    assert r.returncode == 1
    assert "requirements/train.txt" in r.stderr and "pip boom" in r.stderr  # the failing step and pip's own words
    assert not (venv / ".faceprint-stamp").exists()  # not marked ready


def test_dry_run_installs_nothing(venv: Path) -> None:
    r = _run(venv, "--dry-run")
    assert r.returncode == 0 and "would set up" in r.stdout and "service test train bench" in r.stdout
    assert not (venv / "calls").exists()
