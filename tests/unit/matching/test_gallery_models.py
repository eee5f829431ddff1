"""A gallery holding two models' embeddings per face, on both store backends: enrolment embeds
with every model, identification uses the matching model only, deletion removes every model's
embedding, ``add_model`` (``gallery reembed --add-model``) embeds existing faces and keeps those
whose photo is gone (reported missing for the new model), ``drop_model`` forgets one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import DIM, MODEL, FakePipeline, make_image, save_png, vector

from faceprint.errors import GalleryError
from faceprint.matching.gallery import Gallery, config_from_record, pipeline_record
from faceprint.types import Embedding

OTHER = "other@1"
ODIM = 16
THR = 0.7


def _two(tmp_path: Path, store, **kw) -> Gallery:
    return Gallery(home=tmp_path, pipeline=FakePipeline(), pipelines=[FakePipeline(OTHER, ODIM)], store=store,
                   threshold=THR, **kw)


def test_enrol_identify_delete_with_two_models(make_store, tmp_path: Path) -> None:
    store = make_store()
    g = _two(tmp_path, store)
    g.enroll("ada", [make_image(1, 0), make_image(1, 1)])
    g.enroll("bob", make_image(2, 0))
    outs = list(g.enroll_many([("cy", make_image(3, 0)), ("cy", make_image(3, 1))]))
    assert [o.status for o in outs] == ["enrolled", "enrolled"]
    # every face holds both models' embeddings, each of its own dimension
    assert g.models == [MODEL, OTHER] and g.model == MODEL
    assert store.model_counts() == {MODEL: 5, OTHER: 5} and store.count() == (3, 5)
    assert all(f.models == tuple(sorted((MODEL, OTHER))) for f in store.faces())
    fa, _, ma = store.vectors(model=MODEL)
    fb, _, mb = store.vectors(model=OTHER)
    assert fa.tolist() == fb.tolist() and ma.shape == (5, DIM) and mb.shape == (5, ODIM)
    # re-running bulk enrolment: known with every model, nothing re-embedded
    again = list(g.enroll_many([("cy", make_image(3, 0))]))
    assert again[0].status == "duplicate"

    # identify with either model: the matching model's embeddings only
    by_a = g.identify(make_image(1, 5))[0]
    gb = Gallery(home=tmp_path, pipeline=FakePipeline(OTHER, ODIM), store=store, threshold=THR)
    by_b = gb.identify(make_image(1, 5))[0]
    assert by_a.identity == by_b.identity == "ada"
    assert by_a.score != pytest.approx(by_b.score)  # two models, two scores
    exp_b = vector(1, 5, dim=ODIM) @ np.mean([vector(1, v, dim=ODIM) for v in (0, 1)], axis=0)
    exp_b /= np.linalg.norm(np.mean([vector(1, v, dim=ODIM) for v in (0, 1)], axis=0))
    assert by_b.score == pytest.approx(float(exp_b), abs=1e-5)  # the mean template of OTHER's vectors
    # never mixed: a third model's embedding, or one model's vector given as another's
    with pytest.raises(GalleryError, match="never mixed"):
        g.identify_embeddings([Embedding(vector(1, 0, dim=8), model="third@1")])
    with pytest.raises(GalleryError, match="16-d"):
        g.identify_embeddings(np.stack([vector(1, 0)]), model=OTHER)
    # the open-set composition is per model
    assert g.composition(MODEL) == g.composition(OTHER) == {1: 1, 2: 2}

    # delete: every model's embeddings go, and both searches forget the person
    assert g.delete("bob") == 1
    assert store.model_counts() == {MODEL: 4, OTHER: 4}
    for gal in (g, gb):
        assert all(c.identity != "bob" for c in gal.identify(make_image(2, 3))[0].candidates)
    g.close()
    gb.close()


def test_enrolment_needs_a_pipeline_for_every_model(make_store, tmp_path: Path) -> None:
    store = make_store()
    g = _two(tmp_path, store)
    g.enroll("ada", make_image(1, 0))
    # a pipeline of a model the gallery lacks: a clear error, unless asked to add it
    g3 = Gallery(home=tmp_path, pipeline=FakePipeline("third@1", 8), pipelines=[FakePipeline(OTHER, ODIM)],
                 store=store, threshold=THR)
    with pytest.raises(GalleryError, match="never mixed"):
        g3.enroll("bob", make_image(2, 0))
    with pytest.raises(GalleryError, match="never mixed"):
        g3.identify(make_image(1, 1))
    # a gallery model with no pipeline configured or recorded: enrolment refuses
    g_only_a = Gallery(home=tmp_path, pipeline=FakePipeline(), store=store, threshold=THR)
    with pytest.raises(GalleryError, match="no pipeline"):
        g_only_a.enroll("bob", make_image(2, 0))
    assert store.count() == (1, 1)
    # add_model=True: the third model joins; the face enrolled before lacks it (reported)
    g3_full = Gallery(home=tmp_path, pipeline=FakePipeline("third@1", 8),
                      pipelines=[FakePipeline(), FakePipeline(OTHER, ODIM)], store=store, threshold=THR)
    with pytest.raises(GalleryError, match="never mixed"):
        g3_full.enroll("bob", make_image(2, 0))
    r = g3_full.enroll("bob", make_image(2, 0), add_model=True)
    assert r.n_enrolled == 1
    info = {m["model"]: m for m in g3_full.info()["models"]}
    assert info["third@1"]["faces"] == 1 and info["third@1"]["faces_lacking"] == 1
    assert info["third@1"]["lacking"] == ["ada: face 1"] or info["third@1"]["lacking"][0].startswith("ada: ")
    assert info[MODEL]["faces_lacking"] == 0  # bob was embedded with the gallery's other models too
    for gal in (g, g3, g3_full, g_only_a):
        gal.close()


def test_add_model_from_photos_and_drop_it(make_store, tmp_path: Path) -> None:
    store = make_store()
    photos = tmp_path / "photos"
    paths = {(p, v): save_png(photos / f"{p}_{v}.png", p, v) for p in (1, 2, 3) for v in (0, 1)}
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), store=store, threshold=THR)
    for p in (1, 2, 3):
        g.enroll(f"p{p}", [str(paths[(p, 0)]), str(paths[(p, 1)])])
    assert g.models == [MODEL]
    paths[(3, 1)].unlink()  # this photo is gone
    moved = tmp_path / "moved"
    moved.mkdir()
    paths[(2, 1)].rename(moved / "renamed.png")  # this one moved: found by content under --roots

    rep = g.add_model(FakePipeline(OTHER, ODIM), roots=[moved])
    assert rep.added and rep.model_to == OTHER and rep.model_from == MODEL
    assert rep.n_reembedded == 5 and rep.n_dropped == 0 and rep.n_missing == 1
    assert rep.missing[0].startswith("p3: ") and rep.missing[0].endswith("3_1.png")
    # the face whose photo is gone is kept, with its old model; it lacks the new one
    assert store.count() == (3, 6) and store.model_counts() == {MODEL: 6, OTHER: 5}
    lacking = store.faces_lacking(OTHER)
    assert [f.identity for f in lacking] == ["p3"] and lacking[0].models == (MODEL,)
    info = {m["model"]: m for m in g.info()["models"]}
    assert info[OTHER]["faces_lacking"] == 1 and info[MODEL]["faces_lacking"] == 0
    # identification with the new model sees p3 through its one remaining face
    gb = Gallery(home=tmp_path, pipeline=FakePipeline(OTHER, ODIM), store=store, threshold=THR)
    assert gb.identify(make_image(3, 7))[0].identity == "p3"
    assert gb.composition(OTHER) == {2: 2, 1: 1} and g.composition(MODEL) == {2: 3}
    # the re-embedded vectors are the new model's vectors of those photos
    fids, _, mat = store.vectors(model=OTHER)
    want = {f.id: f for f in store.faces()}
    for fid, v in zip(fids.tolist(), mat, strict=True):
        p = int(want[fid].identity[1:])
        assert any(np.allclose(v, vector(p, var, dim=ODIM), atol=1e-6) for var in (0, 1))
    # running it again (the photo is back) embeds only the face still lacking the model
    save_png(paths[(3, 1)], 3, 1)
    rep2 = g.add_model(FakePipeline(OTHER, ODIM))
    assert rep2.n_reembedded == 1 and rep2.n_missing == 0 and store.model_counts()[OTHER] == 6

    # drop a model: its embeddings go, the faces stay
    assert g.drop_model(OTHER) == 6
    assert g.models == [MODEL] and store.count() == (3, 6) and store.model_counts() == {MODEL: 6}
    with pytest.raises(GalleryError, match="only model"):
        g.drop_model(MODEL)
    with pytest.raises(GalleryError, match="holds no model"):
        g.drop_model(OTHER)
    assert g.identify(make_image(1, 9))[0].identity == "p1"
    g.close()
    gb.close()


def test_dropping_the_primary_model_promotes_the_next(make_store, tmp_path: Path) -> None:
    store = make_store()
    g = _two(tmp_path, store)
    g.enroll("ada", make_image(1, 0))
    g.drop_model(MODEL)
    assert store.model() == (OTHER, ODIM) and g.models == [OTHER]
    gb = Gallery(home=tmp_path, pipeline=FakePipeline(OTHER, ODIM), store=store, threshold=THR)
    assert gb.identify(make_image(1, 2))[0].identity == "ada"
    g.close()
    gb.close()


def test_legacy_reembed_replaces_every_model(make_store, tmp_path: Path) -> None:
    store = make_store()
    photos = tmp_path / "photos"
    g = _two(tmp_path, store)
    g.enroll("ada", str(save_png(photos / "a.png", 1, 0)))
    rep = g.reembed(FakePipeline("third@1", 8))
    assert rep.n_reembedded == 1 and not rep.added
    assert g.models == ["third@1"] and store.model_counts() == {"third@1": 1}
    g.close()


def test_export_import_keeps_every_model(make_store, tmp_path: Path) -> None:
    g = _two(tmp_path, make_store("src"))
    g.enroll("ada", [make_image(1, 0), make_image(1, 1)])
    out = g.export(tmp_path / "two.faceprint")
    h = Gallery(home=tmp_path / "other", pipeline=FakePipeline(), pipelines=[FakePipeline(OTHER, ODIM)], threshold=THR)
    assert h.import_(out) == {"identities": 1, "faces_added": 2, "duplicates": 0}
    assert h.models == [MODEL, OTHER] and h.store.model_counts() == {MODEL: 2, OTHER: 2}
    # a gallery holding faces of one model only refuses a file holding another
    k = Gallery(home=tmp_path / "third", pipeline=FakePipeline(), threshold=THR)
    k.enroll("bob", make_image(2, 0))
    with pytest.raises(GalleryError, match="does not hold"):
        k.import_(out)
    for x in (g, h, k):
        x.close()


def test_pipeline_record_roundtrip() -> None:
    from faceprint.pipeline import PipelineConfig, preset_config

    for cfg in (PipelineConfig(), preset_config("fast"), preset_config("fusion")):
        fake = FakePipeline()
        fake.config = cfg  # type: ignore[attr-defined]
        rec = pipeline_record(fake)
        assert rec is not None and config_from_record(rec) == cfg
    assert pipeline_record(FakePipeline()) is None
