"""`faceprint enroll / identify / gallery ... / cluster` through the CLI entry point, with a fake
pipeline installed as the default (no model) and PNG files decoded by faceprint.io."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "matching"))
from gallery_fakes import FakePipeline, fake_open_set_calibration, save_png  # noqa: E402

import faceprint.api as api  # noqa: E402
from faceprint.cli.main import main  # noqa: E402


@pytest.fixture
def fake_pipeline():
    pipe = FakePipeline()
    api.set_default_pipeline(pipe)
    yield pipe
    api.set_default_pipeline(None)


@pytest.fixture
def people(tmp_path: Path) -> Path:
    root = tmp_path / "people"
    for p, name in enumerate(["ada", "bob", "cy"], start=1):
        for v in range(2):
            save_png(root / name / f"{v}.png", p, v)
    save_png(root / "bob" / "group.png", 2, 5, n_faces=2)  # refused: two faces
    (root / "cy" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "notes.txt").write_text("ignored")
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_bulk_enroll_identify_and_manage(fake_pipeline, people: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    home = str(tmp_path / "home")
    code, out, err = run(capsys, "enroll", "--folders", str(people), "--home", home)
    assert code == 0  # bad photos are skipped: every person still got one (issue 18)
    assert "2 photo(s) skipped" in err
    lines = out.strip().splitlines()
    assert sum(line.startswith("enrolled") for line in lines) == 6
    assert any(line.startswith("error") and "group.png" in line and "2 faces" in line for line in lines)
    assert any(line.startswith("error") and "broken.jpg" in line for line in lines)
    assert "6 enrolled, 0 already there, 2 failed" in err

    # a second run enrolls nothing new
    code, out, _ = run(capsys, "enroll", "--folders", str(people), "--home", home, "--json", "--no-progress")
    assert json.loads(out)["counts"] == {"enrolled": 0, "duplicate": 6, "error": 2}

    # a person left without any usable photo is a failure (exit 1), named in a warning
    save_png(people / "dee" / "group.png", 7, 1, n_faces=2)
    code, out, err = run(capsys, "enroll", "--folders", str(people), "--home", home, "--no-progress")
    assert code == 1 and "no photo enrolled for dee" in err
    # named images (not --folders): any failure is exit 1, as before
    code, _, _ = run(capsys, "enroll", "dee", str(people / "dee" / "group.png"), "--home", home)
    assert code == 1

    # FACEPRINT_HOME is used when --home is absent
    monkeypatch.setenv("FACEPRINT_HOME", home)
    code, out, _ = run(capsys, "gallery", "list", "--json")
    assert {p["name"]: p["n_faces"] for p in json.loads(out)["identities"]} == {"ada": 2, "bob": 2, "cy": 2}

    probe = save_png(tmp_path / "probe.png", 2, 9, n_faces=2)  # bob + person 3 (cy)
    stranger = save_png(tmp_path / "stranger.png", 50, 1)
    code, out, _ = run(capsys, "identify", str(probe), str(stranger), "--threshold", "0.7")
    assert code == 0
    assert "bob  (score" in out and "cy  (score" in out and "unknown  (closest" in out
    code, out, _ = run(capsys, "identify", str(probe), "--json", "-k", "2", "--threshold", "0.7")
    faces = json.loads(out)["results"][0]["faces"]
    assert [f["identity"] for f in faces] == ["bob", "cy"] and len(faces[0]["candidates"]) == 2
    assert faces[0]["box"] and faces[0]["score"] >= 0.7
    code, _, _ = run(capsys, "identify", str(stranger), "--threshold", "0.7")
    assert code == 1  # nobody identified

    code, out, _ = run(capsys, "gallery", "show", "bob")
    assert "bob: 2 face(s)" in out and "0.png" in out
    code, out, _ = run(capsys, "gallery", "info", "--json")
    info = json.loads(out)
    assert info["identities"] == 3 and info["faces"] == 6 and info["model"] == "fake@1"

    export = tmp_path / "g.faceprint"
    assert run(capsys, "gallery", "export", str(export))[0] == 0
    assert run(capsys, "gallery", "remove", "bob", "nobody")[0] == 1
    code, out, _ = run(capsys, "identify", str(probe), "--json", "--threshold", "0.7")
    assert [f["identity"] for f in json.loads(out)["results"][0]["faces"]] == [None, "cy"]
    code, out, _ = run(capsys, "gallery", "import", str(export), "--json")
    assert json.loads(out) == {"identities": 3, "faces_added": 2, "duplicates": 4}
    code, out, _ = run(capsys, "identify", str(probe), "--json", "--threshold", "0.7")
    assert [f["identity"] for f in json.loads(out)["results"][0]["faces"]][0] == "bob"


def test_enroll_names_and_select(fake_pipeline, tmp_path: Path, capsys) -> None:
    home = str(tmp_path / "home")
    group = save_png(tmp_path / "group.png", 4, 0, n_faces=2)
    code, out, _ = run(capsys, "enroll", "dee", str(group), "--home", home)
    assert code == 1 and "2 faces found" in out
    code, out, _ = run(capsys, "enroll", "dee", str(group), "--select", "largest", "--home", home)
    assert code == 0 and out.startswith("enrolled")
    code, _, err = run(capsys, "enroll", "dee", "--home", home)
    assert code == 2 and "usage" in err
    code, _, err = run(capsys, "enroll", "x", str(group), "--folders", str(tmp_path), "--home", home)
    assert code == 2
    code, out, err = run(capsys, "identify", str(tmp_path / "missing.png"), "--home", home)
    assert code == 2 and "missing.png" in err


def test_gallery_reembed_cli(fake_pipeline, people: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    home = str(tmp_path / "home")
    run(capsys, "enroll", "--folders", str(people), "--home", home, "--no-progress")
    api.set_default_pipeline(FakePipeline("fake@9"))
    code, out, _ = run(capsys, "gallery", "reembed", "--home", home, "--json")
    assert code == 0 and json.loads(out)["reembedded"] == 6 and json.loads(out)["model_to"] == "fake@9"


def test_gallery_reembed_adds_and_drops_a_model(fake_pipeline, people: Path, tmp_path: Path, capsys) -> None:
    home = str(tmp_path / "home")
    run(capsys, "enroll", "--folders", str(people), "--home", home, "--no-progress")
    (people / "ada" / "1.png").unlink()  # a photo gone before the new model is added
    api.set_default_pipeline(FakePipeline("other@1", 16))
    code, out, err = run(capsys, "gallery", "reembed", "--add-model", "--home", home)
    assert code == 0 and "added other@1: 5 faces embedded; 1 kept without it" in out
    assert "lacking other@1: ada:" in err and "1.png" in err
    code, out, _ = run(capsys, "gallery", "info", "--home", home, "--json")
    info = json.loads(out)
    assert info["faces"] == 6 and info["model"] == "fake@1"
    by = {m["model"]: m for m in info["models"]}
    assert by["fake@1"]["faces"] == 6 and by["fake@1"]["primary"] and by["fake@1"]["faces_lacking"] == 0
    assert by["other@1"]["faces"] == 5 and by["other@1"]["faces_lacking"] == 1 and by["other@1"]["dim"] == 16
    assert "threshold_source" in by["other@1"]
    code, out, _ = run(capsys, "gallery", "info", "--home", home)
    assert code == 0 and "other@1, 16-D, 5 faces, 1 lacking it" in out and "lacking: ada:" in out
    # identification with either model sees its own embeddings only
    code, out, _ = run(capsys, "identify", str(people / "bob" / "0.png"), "--home", home, "--json", "--threshold", "0.7")
    assert code == 0 and json.loads(out)["results"][0]["faces"][0]["identity"] == "bob"
    code, out, _ = run(capsys, "gallery", "reembed", "--drop-model", "other@1", "--home", home, "--json")
    assert code == 0 and json.loads(out) == {"dropped_model": "other@1", "embeddings_removed": 5, "models": ["fake@1"]}
    code, out, _ = run(capsys, "gallery", "reembed", "--add-model", "--home", home)  # added again, photo still gone
    assert code == 0 and "5 faces embedded; 1 kept without it" in out
    (people / "ada" / "1.png").write_bytes(b"")  # still unreadable: re-running adds nothing, says so
    code, out, _ = run(capsys, "gallery", "reembed", "--add-model", "--home", home)
    assert code == 0 and "1 kept without it" in out
    save_png(people / "ada" / "1.png", 1, 1)  # the photo is back: the face lacking the model gets it
    code, out, _ = run(capsys, "gallery", "reembed", "--add-model", "--home", home, "--roots", str(people))
    assert code == 0 and "1 faces embedded; 0 kept without it" in out
    code, out, _ = run(capsys, "gallery", "reembed", "--add-model", "--home", home)
    assert code == 0 and "already holds other@1: every face has it" in out
    code, _, err = run(capsys, "gallery", "reembed", "--drop-model", "nope@1", "--home", home)
    assert code == 2 and "holds no model nope@1" in err  # the user's typo: exit 2, nothing changed
    assert run(capsys, "gallery", "reembed", "--drop-model", "other@1", "--home", home)[0] == 0
    code, _, err = run(capsys, "gallery", "reembed", "--drop-model", "fake@1", "--home", home)
    assert code == 2 and "only model" in err
    with pytest.raises(SystemExit) as e:
        main(["gallery", "reembed", "--add-model", "--drop-model", "x@1", "--home", home])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_cluster_writes_json_and_contact_sheet(fake_pipeline, tmp_path: Path, capsys) -> None:
    photos = tmp_path / "photos"
    for p in range(3):
        for v in range(3):
            save_png(photos / f"{p}_{v}.png", p, v)
    save_png(photos / "sub" / "group.png", 0, 9, n_faces=2)  # persons 0 and 1
    (photos / "broken.png").write_bytes(b"nope")
    out = tmp_path / "out"
    for method in ("chinese_whispers", "dbscan"):
        code, stdout, _ = run(capsys, "cluster", str(photos), "--out", str(out / method), "--method", method,
                              "--threshold", "0.7", "--no-progress")
        assert code == 0
        res = json.loads((out / method / "clusters.json").read_text())
        assert res["n_faces"] == 11 and res["n_clusters"] == 3 and res["threshold"] == pytest.approx(0.7)
        groups = sorted(sorted(f["image"] for f in c["faces"]) for c in res["clusters"])
        assert groups == [
            ["0_0.png", "0_1.png", "0_2.png", "sub/group.png"],
            ["1_0.png", "1_1.png", "1_2.png", "sub/group.png"],
            ["2_0.png", "2_1.png", "2_2.png"],
        ]
        assert len(res["errors"]) == 1 and "broken.png" in res["errors"][0]["image"]
        html = (out / method / "index.html").read_text()
        assert html.count("<section>") == 3 and html.count("<img") == 11
        for c in res["clusters"]:
            for f in c["faces"]:
                assert (out / method / f["thumb"]).stat().st_size > 0


def test_identify_threshold_follows_gallery_size_and_fpir(fake_pipeline, people: Path, tmp_path: Path, capsys) -> None:
    from faceprint.matching.thresholds import user_open_set_path

    home = tmp_path / "home"
    cal = fake_open_set_calibration()
    cal.save(user_open_set_path("fake", home))
    run(capsys, "enroll", "--folders", str(people), "--home", str(home), "--no-progress")
    probe = save_png(tmp_path / "probe.png", 2, 9)
    code, out, _ = run(capsys, "identify", str(probe), "--json", "--home", str(home))
    face = json.loads(out)["results"][0]["faces"][0]
    assert code == 0 and face["identity"] == "bob"
    assert face["threshold"] == pytest.approx(cal.threshold(1e-2, {2: 3}).value, abs=1e-6)
    assert face["threshold_source"].startswith("open-set: FPIR 0.01 over 3 identities (3 with 2 photos)")
    assert 0 <= face["fpir_estimate"] <= 1e-2
    code, out, _ = run(capsys, "identify", str(probe), "--json", "--home", str(home), "--fpir", "0.0001")
    strict = json.loads(out)["results"][0]["faces"][0]
    assert strict["threshold"] > face["threshold"] and "FPIR 0.0001" in strict["threshold_source"]
    code, out, _ = run(capsys, "gallery", "info", "--json", "--home", str(home))
    info = json.loads(out)
    assert info["threshold"] == pytest.approx(face["threshold"], abs=1e-6) and info["target_fpir"] == 0.01


def test_enroll_jobs_and_folders_give_the_same_gallery(fake_pipeline, people: Path, tmp_path: Path, capsys) -> None:
    """`enroll NAME DIR --jobs 2` reads the folder recursively and enrols what --jobs 1 does, in order."""
    outs = {}
    for jobs in ("1", "2"):
        code, out, _ = run(capsys, "enroll", "bob", str(people / "bob"), "--home", str(tmp_path / jobs), "--json",
                           "--jobs", jobs, "--select", "largest")
        assert code == 0
        outs[jobs] = [(o["source"], o["status"]) for o in json.loads(out)["images"]]
    assert outs["1"] == outs["2"] and [Path(s).name for s, _ in outs["1"]] == ["0.png", "1.png", "group.png"]


def test_jobs_pipeline_keeps_order(fake_pipeline) -> None:
    from faceprint.cli._common import JobsPipeline

    imgs = [np.full((8, 8, 3), i, np.uint8) for i in range(7)]
    seen: list[int] = []

    class Recorder:
        model_tag = "rec"

        def process_many(self, images, *, boxes=None, embed=True):
            for im in images:
                seen.append(int(im[0, 0, 0]))
                yield [int(im[0, 0, 0])]

    jp = JobsPipeline(Recorder(), 3)
    assert list(jp.process_many(imgs)) == [[i] for i in range(7)]
    assert sorted(seen) == list(range(7)) and jp.model_tag == "rec"
