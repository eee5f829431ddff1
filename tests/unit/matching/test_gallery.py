"""Gallery behaviour with a fake pipeline, on both store backends where it matters."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import MODEL, FakePipeline, make_image, save_png, vector

from faceprint.errors import GalleryError, InvalidInput, MultipleFaces, NoFaceFound, UnknownIdentity
from faceprint.matching.gallery import Gallery
from faceprint.types import Embedding

THR = 0.7


@pytest.fixture
def gallery(make_store, tmp_path: Path):
    g = Gallery(home=tmp_path / "home", pipeline=FakePipeline(), store=make_store(), threshold=THR)
    yield g
    g.close()


def names(faces) -> list[list[str]]:
    return [[c.identity for c in f.candidates] for f in faces]


@pytest.mark.parametrize("combine", ["mean", "max"])
def test_enroll_identify_delete(make_store, tmp_path: Path, combine: str) -> None:
    gallery = Gallery(home=tmp_path, pipeline=FakePipeline(), store=make_store(), threshold=THR, combine=combine)
    assert Gallery(home=tmp_path / "x", pipeline=FakePipeline()).combine == "mean"  # the default
    r = gallery.enroll("ada", [make_image(1, 0), make_image(1, 1)])
    assert r.n_enrolled == 2 and len(set(r.face_ids)) == 2
    gallery.enroll("bob", make_image(2, 0))
    gallery.enroll("cy", make_image(3, 0))
    res = gallery.identify(make_image(1, 9))
    assert len(res) == 1
    f = res[0]
    assert f.identity == "ada" and f.score > 0.9 and not f.is_unknown
    assert [c.identity for c in f.candidates] == ["ada", "bob", "cy"] or f.candidates[0].identity == "ada"
    assert len(f.candidates) == 3
    assert f.candidates[0].face_id in r.face_ids if combine == "max" else f.candidates[0].face_id == -1
    assert f.threshold == THR and f.threshold_source == "argument"
    assert f.box is not None and f.detection_score == pytest.approx(0.9)
    # delete: the person's embeddings are gone from the store and from the index
    assert gallery.delete("ada") == 2
    res = gallery.identify(make_image(1, 9), k=10)
    assert "ada" not in names(res)[0] and res[0].identity is None
    assert set(names(res)[0]) == {"bob", "cy"}
    assert not set(r.face_ids) & {c.face_id for c in res[0].candidates}
    gallery.close()
    with pytest.raises(UnknownIdentity):
        gallery.delete("ada")
    assert [p.name for p in gallery.list()] == ["bob", "cy"]


def test_open_set_unknown_and_several_faces(gallery: Gallery) -> None:
    gallery.enroll("ada", make_image(1, 0))
    gallery.enroll("bob", make_image(2, 0))
    res = gallery.identify(make_image(7, 3))  # person 7 was never enrolled
    assert res[0].identity is None and res[0].score is not None and res[0].score < THR
    assert len(res[0].candidates) == 2  # candidates are still listed
    # an image with three faces: persons 1, 2, 3 (3 unknown), most prominent first
    res = gallery.identify(make_image(1, 4, n_faces=3), k=1)
    assert [f.identity for f in res] == ["ada", "bob", None]
    assert res[0].box.area > res[1].box.area > res[2].box.area
    assert gallery.identify(make_image(1, 4, n_faces=0)) == []
    assert gallery.identify(Embedding(vector(2, 8), model=MODEL))[0].identity == "bob"


def test_empty_gallery_identifies_nobody(gallery: Gallery) -> None:
    res = gallery.identify(make_image(1, 0))
    assert len(res) == 1 and res[0].identity is None and res[0].candidates == () and res[0].score is None


def test_enroll_needs_exactly_one_face_unless_told(gallery: Gallery) -> None:
    with pytest.raises(NoFaceFound):
        gallery.enroll("ada", make_image(1, 0, n_faces=0))
    with pytest.raises(MultipleFaces, match="2 faces"):
        gallery.enroll("ada", make_image(1, 0, n_faces=2))
    with pytest.raises(MultipleFaces):  # one bad image in a list: nothing stored
        gallery.enroll("ada", [make_image(1, 1), make_image(1, 0, n_faces=2)])
    assert gallery.count() == (0, 0)
    r = gallery.enroll("ada", make_image(1, 0, n_faces=2), select="largest")
    r2 = gallery.enroll("bob", make_image(1, 0, n_faces=2), select=1)  # second face is person 2
    assert r.n_enrolled == r2.n_enrolled == 1
    assert gallery.identify(make_image(2, 5))[0].identity == "bob"
    with pytest.raises(InvalidInput):
        gallery.enroll("cy", make_image(1, 0, n_faces=2), select=5)


def test_duplicates_are_not_stored_twice(gallery: Gallery) -> None:
    img = make_image(1, 0)
    assert gallery.enroll("ada", img).n_enrolled == 1
    again = gallery.enroll("ada", [img.copy(), make_image(1, 1)])
    assert [o.status for o in again.outcomes] == ["duplicate", "enrolled"]
    assert gallery.count() == (1, 2)


def test_model_mismatch_refused(make_store, tmp_path: Path) -> None:
    store = make_store()
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), store=store, threshold=THR)
    g.enroll("ada", make_image(1, 0))
    other = Gallery(home=tmp_path, pipeline=FakePipeline("fake@2"), store=store, threshold=THR)
    with pytest.raises(GalleryError, match="never mixed"):
        other.enroll("bob", make_image(2, 0))
    with pytest.raises(GalleryError, match="never mixed"):
        other.identify(make_image(1, 0))
    with pytest.raises(GalleryError, match="never mixed"):
        g.identify(Embedding(vector(1, 0), model="fake@2"))
    with pytest.raises(GalleryError):
        list(other.enroll_many([("bob", make_image(2, 0))]))
    assert g.count() == (1, 1)


def test_changes_by_another_instance_are_seen_immediately(make_store, tmp_path: Path) -> None:
    s1, s2 = make_store("shared"), make_store("shared")
    g1 = Gallery(home=tmp_path, pipeline=FakePipeline(), store=s1, threshold=THR)
    g2 = Gallery(home=tmp_path, pipeline=FakePipeline(), store=s2, threshold=THR)
    g1.enroll("ada", make_image(1, 0))
    assert g2.identify(make_image(1, 5))[0].identity == "ada"
    g1.enroll("bob", make_image(2, 0))
    assert g2.identify(make_image(2, 5))[0].identity == "bob"  # g2's index caught up
    g1.delete("bob")
    assert "bob" not in names(g2.identify(make_image(2, 5), k=5))[0]  # deletion effective at once


def test_enroll_many_continues_past_bad_images(gallery: Gallery) -> None:
    items = [
        ("ada", make_image(1, 0)),
        ("ada", make_image(1, 0, n_faces=0)),
        ("bob", make_image(2, 0, n_faces=2)),
        ("bob", b"not an image"),
        ("bob", make_image(2, 1)),
        ("ada", make_image(1, 0)),
    ]
    outs = list(gallery.enroll_many(items, batch=4))
    assert [o.status for o in outs] == ["enrolled", "error", "error", "error", "enrolled", "duplicate"]
    assert outs[1].error_code == "no_face" and outs[2].error_code == "multiple_faces"
    assert outs[3].error_code in ("invalid_image", "invalid_input")
    assert gallery.count() == (2, 2)
    # re-running skips what is already there without re-embedding
    calls = gallery.pipeline.calls
    outs = list(gallery.enroll_many([("ada", make_image(1, 0)), ("bob", make_image(2, 1))]))
    assert [o.status for o in outs] == ["duplicate", "duplicate"] and gallery.pipeline.calls == calls


@pytest.mark.parametrize("combine", ["max", "mean"])
def test_identity_templates(make_store, tmp_path: Path, combine: str) -> None:
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), store=make_store(), threshold=THR, combine=combine)
    g.enroll("ada", [make_image(1, v) for v in range(4)])
    g.enroll("bob", make_image(2, 0))
    res = g.identify(make_image(1, 20))[0]
    assert res.identity == "ada"
    best = max(float(vector(1, 20) @ vector(1, v)) for v in range(4))
    mean = np.mean([vector(1, v) for v in range(4)], axis=0)
    mean_score = float(vector(1, 20) @ (mean / np.linalg.norm(mean)))
    assert res.score == pytest.approx(best if combine == "max" else mean_score, abs=1e-5)
    g.enroll("ada", make_image(1, 9))  # template updated incrementally
    g.delete("bob")
    res = g.identify(make_image(1, 20))[0]
    mean = np.mean([vector(1, v) for v in (0, 1, 2, 3, 9)], axis=0)
    want = (
        max(float(vector(1, 20) @ vector(1, v)) for v in (0, 1, 2, 3, 9))
        if combine == "max"
        else float(vector(1, 20) @ (mean / np.linalg.norm(mean)))
    )
    assert res.score == pytest.approx(want, abs=1e-5) and [c.identity for c in res.candidates] == ["ada"]


def test_mean_rule_candidate_rescoring_matches_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.matching import gallery as gallery_mod

    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR, combine="mean")
    for p in range(40):
        g.enroll(f"p{p}", [Embedding(vector(p, v), model=MODEL) for v in range(3)])
    q = np.stack([vector(p, 77) for p in range(0, 40, 5)])
    exact = g.search(q, 3)
    monkeypatch.setattr(gallery_mod, "MEAN_EXACT_MAX", 2)  # force the large-gallery path
    approx = g.search(q, 3)
    assert [[i for i, _, _ in r] for r in approx] == [[i for i, _, _ in r] for r in exact]
    np.testing.assert_allclose([[s for _, s, _ in r] for r in approx], [[s for _, s, _ in r] for r in exact], atol=1e-5)


@pytest.mark.parametrize("combine", ["mean", "max"])
def test_many_faces_per_identity_still_gives_k_identities(tmp_path: Path, combine: str) -> None:
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR, combine=combine)
    for p in range(6):
        g.enroll(f"p{p}", [Embedding(vector(p, v), model=MODEL) for v in range(30)])
    res = g.identify(Embedding(vector(0, 99), model=MODEL), k=5)[0]
    assert len(res.candidates) == 5 and res.candidates[0].identity == "p0"
    assert len({c.identity for c in res.candidates}) == 5


# --------------------------------------------------------------- index cache (SQLite)


def test_index_persisted_loaded_and_caught_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
    g.enroll("ada", make_image(1, 0))
    g.enroll("bob", make_image(2, 0))
    g.identify(make_image(1, 1))
    g.close()
    assert g.index_path is not None and g.index_path.is_file()
    # a new instance loads the saved index: no full read of the store
    g2 = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
    calls = []
    real = g2.store.vectors
    monkeypatch.setattr(g2.store, "vectors", lambda ids=None, **kw: calls.append(ids) or real(ids, **kw))
    assert g2.identify(make_image(2, 3))[0].identity == "bob"
    assert calls == []
    # stale: another instance enrolls; the saved index is caught up from the change log
    g3 = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
    g3.enroll("cy", make_image(3, 0))
    g3.close()
    assert g2.identify(make_image(3, 3))[0].identity == "cy"
    assert calls and all(c is not None for c in calls)  # only the new faces were read
    g2.close()


def test_index_rebuilt_when_missing_or_corrupt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
    g.enroll("ada", make_image(1, 0))
    g.identify(make_image(1, 0))
    g.close()
    path = g.index_path
    path.unlink()
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
    assert g.identify(make_image(1, 2))[0].identity == "ada"
    g.close()
    assert path.is_file()
    path.write_bytes(b"\x00" * 100)
    with caplog.at_level(logging.WARNING):
        g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
        assert g.identify(make_image(1, 2))[0].identity == "ada"
    assert "rebuilt" in caplog.text
    g.close()


def test_index_from_another_gallery_is_not_used(tmp_path: Path) -> None:
    a = Gallery(home=tmp_path / "a", pipeline=FakePipeline(), threshold=THR)
    a.enroll("ada", make_image(1, 0))
    a.identify(make_image(1, 0))
    a.close()
    b = Gallery(home=tmp_path / "b", pipeline=FakePipeline(), threshold=THR)
    b.enroll("bob", make_image(2, 0))
    b.close()
    b.index_path.write_bytes(a.index_path.read_bytes())  # wrong gallery's index (other uuid)
    b = Gallery(home=tmp_path / "b", pipeline=FakePipeline(), threshold=THR)
    assert [c.identity for c in b.identify(make_image(1, 0))[0].candidates] == ["bob"]


def test_hnsw_index_kind(tmp_path: Path) -> None:
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR, index="hnsw")
    for p in range(20):
        g.enroll(f"p{p}", [Embedding(vector(p, v), model=MODEL) for v in range(3)])
    assert g.sync_index().kind == "hnsw"
    assert g.identify(Embedding(vector(13, 50), model=MODEL))[0].identity == "p13"
    g.delete("p13")
    assert "p13" not in [c.identity for c in g.identify(Embedding(vector(13, 50), model=MODEL), k=20)[0].candidates]
    g.close()
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR, index="hnsw")
    assert g.sync_index().kind == "hnsw" and len(g.sync_index()) == 57


# ------------------------------------------------------------ export / import / re-embed


def test_export_import_roundtrip(make_store, tmp_path: Path) -> None:
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), store=make_store("src"), threshold=THR)
    g.enroll("ada", [make_image(1, 0), make_image(1, 1)], metadata={"dept": "x"})
    g.enroll("bob", make_image(2, 0))
    out = g.export(tmp_path / "export.faceprint")
    with pytest.raises(InvalidInput, match="exists"):
        g.export(out)
    h = Gallery(home=tmp_path / "other", pipeline=FakePipeline(), threshold=THR)
    stats = h.import_(out)
    assert stats == {"identities": 2, "faces_added": 3, "duplicates": 0}
    assert {p.name: p.n_faces for p in h.list()} == {"ada": 2, "bob": 1}
    assert h.show("ada")[0].metadata == {"dept": "x"}
    assert h.identify(make_image(2, 7))[0].identity == "bob"
    assert h.import_(out)["duplicates"] == 3  # importing twice adds nothing
    wrong = Gallery(home=tmp_path / "wrong", pipeline=FakePipeline("fake@2"), threshold=THR)
    wrong.enroll("zed", make_image(9, 0))
    with pytest.raises(GalleryError, match="never mixed"):
        wrong.import_(out)


def test_reembed_from_source_files(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    files = [save_png(photos / f"ada{v}.png", 1, v) for v in range(2)] + [save_png(photos / "bob.png", 2, 0)]
    g = Gallery(home=tmp_path / "home", pipeline=FakePipeline(), threshold=THR)
    g.enroll("ada", files[:2])
    g.enroll("bob", files[2])
    assert g.identify(make_image(1, 5))[0].identity == "ada"
    new = FakePipeline("fake@2", dim=16)
    files[2].rename(tmp_path / "moved.png")
    with pytest.raises(GalleryError, match="missing"):
        g.reembed(new)
    assert g.model == MODEL  # nothing changed
    report = g.reembed(new, roots=[tmp_path])  # found again by content hash
    assert report.n_reembedded == 3 and report.n_dropped == 0 and g.model == "fake@2"
    assert g.store.model() == ("fake@2", 16)
    assert g.identify(make_image(2, 5))[0].identity == "bob"  # queries in the new model work
    (tmp_path / "moved.png").unlink()
    report = g.reembed(FakePipeline("fake@3"), drop_missing=True)
    assert report.n_dropped == 1 and g.count() == (2, 2) and g.model == "fake@3"


def test_show_and_list(gallery: Gallery) -> None:
    gallery.enroll("ada", [make_image(1, 0), make_image(1, 1)], metadata={"a": 1})
    rec, faces = gallery.show("ada")
    assert rec.n_faces == 2 and rec.metadata == {"a": 1} and len(faces) == 2
    assert all(f.model == MODEL and len(f.sha256) == 64 for f in faces)
    with pytest.raises(UnknownIdentity):
        gallery.show("nobody")


def test_function_api(tmp_path: Path) -> None:
    import faceprint

    pipe = FakePipeline()
    r = faceprint.enroll("ada", make_image(1, 0), home=tmp_path, pipeline=pipe)
    assert r.n_enrolled == 1
    res = faceprint.identify(make_image(1, 3), home=tmp_path, pipeline=pipe, threshold=THR)
    assert res[0].identity == "ada"
    assert faceprint.gallery(home=tmp_path, pipeline=pipe) is faceprint.gallery(home=tmp_path, pipeline=pipe)
