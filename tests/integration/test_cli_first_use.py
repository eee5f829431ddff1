"""Issue 18's traps for a new user, on real photos: per-image face selection in verify, the busy
port, exit codes of typos, folders and --jobs, --version, short verify lines."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from faceprint.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def ex(fr_examples: Path) -> Path:
    return fr_examples / "examples"


def test_verify_group_photo_warns_and_selects_per_image(capsys, ex, tmp_path) -> None:
    two, obama = str(ex / "two_people.jpg"), str(ex / "obama.jpg")
    code, out, err = run(capsys, "verify", two, obama, "--json")
    res = json.loads(out)
    assert "has 2 faces" in err and "--select-a" in err  # warned, and told how to choose
    assert res["face_a"]["faces"] == 2 and res["face_b"]["faces"] == 1
    used = res["face_a"]["used"]
    other = 1 - used
    # the other face of the group photo, chosen for A only (B has one face: index 0 stays valid)
    code2, out2, _ = run(capsys, "verify", two, obama, "--select-a", str(other), "--json", "--draw", str(tmp_path / "d"))
    res2 = json.loads(out2)
    assert res2["face_a"]["used"] == other and res2["face_b"]["used"] == 0
    assert res2["score"] != pytest.approx(res["score"])
    assert {code, code2} == {0, 1}  # Obama matches one face of the group photo and not the other
    code3, out3, _ = run(capsys, "verify", two, obama, "--select", f"{other},0", "--json")
    assert json.loads(out3)["face_a"]["used"] == other and code3 == code2  # the A,B form
    code4, _, err4 = run(capsys, "verify", two, obama, "--select", "1")  # one index for both: B has one face
    assert code4 == 2 and "obama.jpg" in err4 and "--select-b" in err4
    drawn = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert drawn == ["a_two_people_verify.jpg", "b_obama_verify.jpg"]
    from faceprint.io import load_image

    a = load_image(tmp_path / "d" / drawn[0])
    x1, y1, x2, y2 = (int(v) for v in res2["face_a"]["box"])
    edge = a[max(y1, 0):y2, max(x1, 0)]  # the used face's box is drawn in green on its left edge
    assert ((edge[:, 1] > 200) & (edge[:, 0] < 80)).mean() > 0.5


def test_verify_line_is_short_unless_verbose(capsys, ex) -> None:
    _, out, _ = run(capsys, "verify", str(ex / "obama.jpg"), str(ex / "obama2.jpg"))
    assert out.startswith("SAME person") and len(out.splitlines()[0]) < 80, out
    _, out_v, _ = run(capsys, "verify", str(ex / "obama.jpg"), str(ex / "obama2.jpg"), "--verbose")
    assert "threshold: " in out_v and len(out_v) > len(out) + 100  # the explanation, on request
    _, out_j, _ = run(capsys, "verify", str(ex / "obama.jpg"), str(ex / "obama2.jpg"), "--json")
    assert "model card default" in json.loads(out_j)["threshold_source"]


def test_serve_busy_port_says_how_to_choose_another(capsys) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        code, out, err = run(capsys, "serve", "--port", str(port), "--home", "/nonexistent-not-reached")
    assert code == 2
    assert "already in use" in err and "--port" in err and "FACEPRINT_PORT" in err
    assert "serving on" not in err + out


def test_typos_exit_2_not_3(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "gallery", "show", "Nobody", "--home", str(tmp_path))
    assert code == 2 and "Nobody" in err
    code, _, _ = run(capsys, "gallery", "remove", "Nobody", "--home", str(tmp_path))
    assert code == 1


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("faceprint ")


def test_folders_are_searched_recursively_in_order(capsys, ex, tmp_path) -> None:
    root = tmp_path / "photos"
    (root / "b" / "deeper").mkdir(parents=True)
    shutil.copy(ex / "obama.jpg", root / "b" / "deeper" / "2.jpg")
    shutil.copy(ex / "biden.jpg", root / "b" / "1.jpg")
    shutil.copy(ex / "two_people.jpg", root / "a.jpg")
    (root / "readme.txt").write_text("not an image")
    (root / ".hidden.jpg").write_bytes(b"hidden: skipped")
    want = [str(root / "a.jpg"), str(root / "b" / "1.jpg"), str(root / "b" / "deeper" / "2.jpg")]
    for cmd in ("detect", "embed", "analyze"):
        code, out, _ = run(capsys, cmd, str(root), "--json", "--no-progress", "--jobs", "2")
        assert code == 0, (cmd, out)
        assert [r["image"] for r in json.loads(out)["results"]] == want, cmd
    home = tmp_path / "home"
    code, _, _ = run(capsys, "enroll", "obama", str(root / "b" / "deeper"), "--home", str(home), "--no-progress")
    assert code == 0
    code, out, _ = run(capsys, "identify", str(root), "--home", str(home), "--json", "--jobs", "2")
    res = json.loads(out)["results"]
    assert code == 0 and [r["image"] for r in res] == want
    assert res[2]["faces"][0]["identity"] == "obama"
    code, _, err = run(capsys, "detect", str(tmp_path / "home"))  # a folder without images: bad input
    assert code == 2 and "no images" in err


def test_jobs_keep_order_and_results(capsys, ex, tmp_path) -> None:
    imgs = [str(ex / n) for n in ("obama.jpg", "two_people.jpg", "biden.jpg", "obama2.jpg", "obama_small.jpg")]
    _, one, _ = run(capsys, "embed", *imgs, "--json", "--jobs", "1")
    _, two, _ = run(capsys, "embed", *imgs, "--json", "--jobs", "3")
    a, b = json.loads(one)["results"], json.loads(two)["results"]
    assert [r["image"] for r in b] == imgs
    for ra, rb in zip(a, b, strict=True):
        assert len(ra["faces"]) == len(rb["faces"])
        for fa, fb in zip(ra["faces"], rb["faces"], strict=True):
            assert fa["embedding"]["vector"] == pytest.approx(fb["embedding"]["vector"], abs=1e-5)
    code, _, err = run(capsys, "detect", imgs[0], "--jobs", "0")
    assert code == 2 and "--jobs" in err


def test_detect_draw_numbers_the_boxes(capsys, ex, tmp_path) -> None:
    import numpy as np

    from faceprint.io import load_image

    out = tmp_path / "drawn.png"
    code, js, _ = run(capsys, "detect", str(ex / "two_people.jpg"), "--draw", str(out), "--json")
    assert code == 0
    faces = json.loads(js)["results"][0]["faces"]
    img, drawn = load_image(ex / "two_people.jpg"), load_image(out)
    for f in faces:  # a filled label (the face's number) sits just above each box
        x1, y1 = int(f["box"][0]), int(f["box"][1])
        band = drawn[max(0, y1 - 12):max(1, y1 - 4), x1 + 2:x1 + 12].astype(int)
        assert np.abs(band - img[max(0, y1 - 12):max(1, y1 - 4), x1 + 2:x1 + 12]).mean() > 40


def test_unknown_identity_messages_carry_no_placeholder(capsys, tmp_path) -> None:
    """The REST 404 said "... in the gallery <gallery>" (the scrubbed server path); the CLI names
    the gallery's real location and how to list who is there."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from faceprint.service import ServiceSettings, create_app

    with TestClient(create_app(ServiceSettings(home=tmp_path / "srv", analyzer=None)), base_url="http://127.0.0.1") as c:
        for method in ("get", "delete"):
            r = getattr(c, method)("/v1/identities/Nobody")
            err = r.json()["error"]
            assert r.status_code == 404 and err["code"] == "unknown_identity"
            assert err["message"] == "no identity named 'Nobody' in the gallery", err
    code, _, err = run(capsys, "gallery", "show", "Nobody", "--home", str(tmp_path / "cli"))
    assert code == 2 and str(tmp_path / "cli") in err and "gallery list" in err and "<" not in err
