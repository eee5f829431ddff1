"""scripts/main.sh end to end (FACEPRINT_SERVE=0): a bad photo in PEOPLE_DIR is reported and
skipped, the job identifies and reaches its end, and the CLI's default home sees what it enrolled.

The script's bootstrap step is a no-op when the environment's stamp matches (see
scripts/bootstrap.sh); the test skips when it would install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _venv() -> Path:
    return Path(os.environ.get("FACEPRINT_VENV", REPO / ".venv"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    venv = _venv()
    if not (venv / "bin" / "faceprint").exists():
        pytest.skip(f"no faceprint console script in {venv}")
    want = subprocess.run([str(REPO / "scripts/bootstrap.sh"), "--print-stamp"], capture_output=True, text=True,
                          check=True).stdout.strip()
    stamp = venv / ".faceprint-stamp"
    if not stamp.exists() or stamp.read_text().strip() != want:
        pytest.skip("scripts/bootstrap.sh would install (stamp mismatch): not done inside the test suite")
    e = {k: v for k, v in os.environ.items() if k != "FACEPRINT_HOME"}  # the CLI's own default home
    e["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # ... which lives here (platformdirs' user data dir)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e["FACEPRINT_SERVE"] = "0"
    e["FACEPRINT_VENV"] = str(venv)
    return e


def test_main_job_skips_bad_photos_and_shares_the_cli_home(
    fr_examples: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    ex = fr_examples / "examples"
    people = tmp_path / "people"
    for name, photos in {"obama": ["obama.jpg", "obama2.jpg"], "biden": ["biden.jpg"]}.items():
        (people / name).mkdir(parents=True)
        for p in photos:
            shutil.copy(ex / p, people / name / p)
    shutil.copy(ex / "two_people.jpg", people / "obama" / "group.jpg")  # two faces: must be skipped
    (people / "biden" / "broken.jpg").write_bytes(b"\xff\xd8\xff not an image")  # corrupt: skipped
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(ex / "two_people.jpg", photos / "two_people.jpg")
    (photos / "notes.txt").write_text("not an image: ignored in a folder")
    r = subprocess.run([str(REPO / "scripts/main.sh"), str(people), str(photos)], env=env, capture_output=True, text=True,
                       timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "group.jpg" in out and "broken.jpg" in out  # each bad photo is named ...
    assert "skipped" in r.stderr  # ... and said to be skipped
    assert "who is in these photos?" in r.stdout and "two_people.jpg" in r.stdout  # it went on to identify
    assert "obama" in r.stdout.split("== gallery")[-1] and "biden" in r.stdout.split("== gallery")[-1]
    # the CLI, without FACEPRINT_HOME, sees the people the main job enrolled
    ls = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "gallery", "list"], env=env, capture_output=True,
                        text=True, timeout=300)
    assert ls.returncode == 0, ls.stderr
    assert {"obama", "biden"} <= {line.split()[0] for line in ls.stdout.splitlines() if line.strip()}
    assert str(tmp_path / "xdg") in subprocess.run(
        [sys.executable, "-m", "faceprint.cli.main", "gallery", "info", "--json"], env=env, capture_output=True, text=True
    ).stdout
