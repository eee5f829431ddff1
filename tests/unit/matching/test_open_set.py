"""Open-set thresholds: the tail fit, the FPIR model, its resolution, the shipped calibration, and
the gallery and clusterers using it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import MODEL, FakePipeline, fake_open_set_calibration, make_image, vector

from faceprint.errors import InvalidInput
from faceprint.matching.open_set import (
    FarTable,
    OpenSetCalibration,
    fit_gpd_pwm,
    gpd_isf,
    gpd_sf,
    impostor_scores,
)
from faceprint.matching.thresholds import (
    open_set_calibration,
    resolve_cluster_threshold,
    resolve_identification_threshold,
    shipped_open_set_path,
    user_open_set_path,
)

XI, SIGMA, BASE = -0.14, 0.0075, 0.9  # a generalized Pareto "impostor" distribution above BASE


def gpd_scores(n: int, seed: int = 0) -> np.ndarray:
    return BASE + gpd_isf(np.random.default_rng(seed).random(n), XI, SIGMA)


def exact_score_at_far(far: float) -> float:
    return BASE + float(gpd_isf(far, XI, SIGMA))


@pytest.fixture(scope="module")
def gpd_cal() -> OpenSetCalibration:
    t1 = FarTable.from_scores(gpd_scores(2_000_000))
    # a "two-photo" table: the same tail shifted up by 0.01
    t2 = FarTable(t1.log10_far, t1.score + 0.01, t1.n_impostor, t1.empirical_min_far, t1.tail)
    return OpenSetCalibration(
        {1: t1, 2: t2}, model="m@1", source="unit test", clustering={"chinese_whispers": {"false_links_per_face": 0.05}}
    )


# ------------------------------------------------------------------ tail fit


def test_gpd_pwm_recovers_parameters() -> None:
    x = gpd_isf(np.random.default_rng(1).random(400_000), XI, SIGMA)
    xi, sigma = fit_gpd_pwm(x)
    assert xi == pytest.approx(XI, abs=0.01) and sigma == pytest.approx(SIGMA, rel=0.02)
    xi, sigma = fit_gpd_pwm(np.random.default_rng(2).exponential(0.01, 400_000))  # ξ = 0
    assert abs(xi) < 0.01 and sigma == pytest.approx(0.01, rel=0.02)
    s = np.array([0.5, 1e-3, 1e-7])
    for shape in (XI, 0.0, 0.2):
        np.testing.assert_allclose(gpd_sf(gpd_isf(s, shape, SIGMA), shape, SIGMA), s, rtol=1e-9)
    with pytest.raises(InvalidInput):
        fit_gpd_pwm(np.ones(5))


def test_far_table_matches_closed_form_beyond_the_data() -> None:
    t = FarTable.from_scores(gpd_scores(2_000_000))
    assert t.empirical_min_far == pytest.approx(25 / 2_000_000)
    assert np.all(np.diff(t.score) > 0) and np.all(np.diff(t.log10_far) < 0)
    for far in (1e-2, 1e-4, 1e-5):  # empirical region
        assert float(t.score_at(far)) == pytest.approx(exact_score_at_far(far), abs=2e-4)
    # 80x and 8,000x beyond the sample: the fitted tail (its sampling error grows: ~1e-3 at 1e-7
    # over seeds, ~2e-3 at 1e-9, against a tail width of ~0.05)
    for far, tol in ((1e-7, 1.5e-3), (1e-9, 3e-3)):
        assert float(t.score_at(far)) == pytest.approx(exact_score_at_far(far), abs=tol)
    assert float(t.far(float(t.score_at(3e-6)))) == pytest.approx(3e-6, rel=1e-6)  # far and score_at are inverses
    assert float(t.far(2.0)) == pytest.approx(1e-10)  # clamped at the end of the table
    back = FarTable.from_dict(json.loads(json.dumps(t.to_dict())))
    assert float(back.score_at(1e-6)) == pytest.approx(float(t.score_at(1e-6)), abs=1e-6)
    with pytest.raises(InvalidInput):
        FarTable.from_scores(np.zeros(10))


def test_a_shape_floor_turns_a_bounded_tail_into_an_exponential_one() -> None:
    scores = gpd_scores(2_000_000)  # ξ = -0.14: the free fit finds the bounded tail
    free = FarTable.from_scores(scores)
    floored = FarTable.from_scores(scores, min_shape=0.0)
    assert free.tail["shape"] < -0.1 and floored.tail["shape"] == 0.0 and floored.info["shape_floor"] == 0.0
    exc = np.sort(scores)[::-1][: floored.tail["n_exceedances"]] - floored.tail["u"]
    assert floored.tail["scale"] == pytest.approx(float(exc.mean()), rel=1e-9)  # ξ = 0: σ is the mean exceedance
    for far in (1e-2, 1e-3, 1e-4):  # the empirical region (>= 25 pairs) is the data's, with or without the floor
        assert float(floored.score_at(far)) == pytest.approx(float(free.score_at(far)), abs=1e-12)
    u, far_u, sigma = floored.tail["u"], floored.tail["far_u"], floored.tail["scale"]
    for far in (1e-7, 1e-9):  # beyond it: u + σ ln(far_u / far), stricter than the bounded fit
        assert float(floored.score_at(far)) == pytest.approx(u + sigma * math.log(far_u / far), abs=1e-6)
        assert float(floored.score_at(far)) > float(free.score_at(far))
    later = FarTable.from_scores(scores, min_shape=0.0, min_tail_count=200)  # the fitted tail takes over sooner
    assert later.empirical_min_far == pytest.approx(200 / scores.size)
    far = 10**-4.5  # a grid point supported by 63 pairs: empirical with the default count, the tail with 200
    assert float(later.score_at(far)) == pytest.approx(u + sigma * math.log(far_u / far), abs=1e-6)
    assert float(floored.score_at(far)) == pytest.approx(float(np.quantile(scores, 1 - far)), abs=1e-6)
    a_free = FarTable.from_scores(np.random.default_rng(3).exponential(0.01, 200_000) + BASE, min_shape=-1.0)
    assert a_free.tail["shape"] > -1.0 and "shape_floor" not in a_free.info  # a floor below the fit changes nothing
    with pytest.raises(InvalidInput, match="min_shape"):
        FarTable.from_scores(scores, min_shape=1.0)
    with pytest.raises(InvalidInput, match="min_tail_count"):
        FarTable.from_scores(scores, min_tail_count=0)


def test_impostor_scores_count_every_cross_identity_pair_once() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.repeat(np.arange(10), 3)
    s, n_probe, n_tmpl = impostor_scores(x, ids, 1, block=7)
    assert s.size == 30 * 29 // 2 - 10 * 3 and (n_probe, n_tmpl) == (30, 30)
    full = x @ x.T
    iu = np.triu_indices(30, 1)
    np.testing.assert_allclose(np.sort(s), np.sort(full[iu][(ids[:, None] != ids[None, :])[iu]]), atol=1e-6)
    s2, _, n2 = impostor_scores(x, ids, 2, templates_per_identity=2)
    assert n2 == 20 and s2.size == 30 * 18  # each face against the 2 templates of the 9 others


# ------------------------------------------------------------------ FPIR model


def test_threshold_solves_the_fpir_formula(gpd_cal: OpenSetCalibration) -> None:
    for n in (1, 10, 1000, 100_000):
        r = gpd_cal.threshold(1e-2, n)
        far = 1 - (1 - 1e-2) ** (1 / n)  # closed form for one-photo templates
        assert r.value == pytest.approx(gpd_cal.score_at_far(far, 1), abs=1e-7)
        assert float(gpd_cal.fpir(r.value, n)) == pytest.approx(1e-2, rel=1e-4)
        assert r.n_compared == n and r.far_per_comparison == pytest.approx(far, rel=1e-4)
    ts = [gpd_cal.threshold(1e-2, n).value for n in (1, 10, 100, 10_000, 1_000_000)]
    assert ts == sorted(ts) and ts[-1] - ts[0] > 0.02  # stricter for larger galleries
    assert gpd_cal.threshold(1e-3, 1000).value > gpd_cal.threshold(1e-2, 1000).value
    assert gpd_cal.threshold(None, 1000).target_fpir == 1e-2  # the calibration's default


def test_mixed_templates_and_larger_templates_use_the_largest_table(gpd_cal: OpenSetCalibration) -> None:
    comp = {1: 500, 2: 300, 5: 200}  # 5-photo templates use the 2-photo table (the largest calibrated)
    r = gpd_cal.threshold(1e-2, comp)
    t = r.value
    fpir = 1 - (1 - gpd_cal.far(t, 1)) ** 500 * (1 - gpd_cal.far(t, 2)) ** 500
    assert fpir == pytest.approx(1e-2, rel=1e-4)
    assert r.composition == ((1, 500), (2, 300), (5, 200)) and r.n_compared == 1000
    assert gpd_cal.threshold(1e-2, 1000).value < t < gpd_cal.threshold(1e-2, {2: 1000}).value


def test_extrapolated_and_clamped_are_flagged(gpd_cal: OpenSetCalibration) -> None:
    assert not gpd_cal.threshold(1e-2, 100).extrapolated  # FAR 1e-4: measured
    r = gpd_cal.threshold(1e-2, 100_000)  # FAR 1e-7: beyond 2M impostor pairs
    assert r.extrapolated and not r.clamped
    r = gpd_cal.threshold(1e-2, 10**15)  # FAR 1e-17: beyond the table
    assert r.clamped and r.value == pytest.approx(float(gpd_cal.tables[1].score[-1]))
    assert gpd_cal.threshold(1e-2, {}).n_compared == 1  # empty gallery: the one-comparison threshold
    with pytest.raises(InvalidInput):
        gpd_cal.threshold(1.5, 10)


def test_cluster_threshold_expects_c_false_links_per_face(gpd_cal: OpenSetCalibration) -> None:
    for n in (50, 5000):
        t, c = gpd_cal.cluster_threshold(n)
        assert c == 0.05 and (n - 1) * gpd_cal.far(t, 1) == pytest.approx(0.05, rel=1e-4)
    assert gpd_cal.cluster_threshold(5000)[0] > gpd_cal.cluster_threshold(50)[0]
    with pytest.raises(InvalidInput, match="no clustering calibration"):
        gpd_cal.cluster_threshold(10, "dbscan")


def test_round_trip_and_format(gpd_cal: OpenSetCalibration, tmp_path: Path) -> None:
    p = gpd_cal.save(tmp_path / "c.json")
    back = OpenSetCalibration.load(p)
    assert back.model == "m@1" and set(back.tables) == {1, 2}
    assert back.threshold(1e-2, 777).value == pytest.approx(gpd_cal.threshold(1e-2, 777).value, abs=1e-6)
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(InvalidInput, match="not a faceprint open-set calibration"):
        OpenSetCalibration.load(tmp_path / "bad.json")
    with pytest.raises(InvalidInput):
        OpenSetCalibration({2: gpd_cal.tables[2]})  # the one-photo table is required


# ------------------------------------------------------------------ resolution


fake_calibration = fake_open_set_calibration


@pytest.fixture()
def fake_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    fake_calibration().save(user_open_set_path("fake", home))
    return home


def test_resolution_precedence(fake_home: Path, tmp_path: Path) -> None:
    assert resolve_identification_threshold(MODEL, 100, threshold=0.8).source == "argument"
    t = resolve_identification_threshold(MODEL, {1: 90, 2: 10}, home=fake_home)
    cal = fake_calibration()
    assert t.value == pytest.approx(cal.threshold(1e-2, {1: 90, 2: 10}).value)
    assert t.source.startswith("open-set: FPIR 0.01 over 100 identities (90 with 1 photo, 10 with 2 photos)")
    assert "user calibration" in t.source and t.target_fpir == 1e-2 and t.composition == ((1, 90), (2, 10))
    s = 0.5 * (t.value + 1)
    assert t.fpir_at(s) == pytest.approx(float(cal.fpir(s, {1: 90, 2: 10}))) and t.far_at(s) == pytest.approx(cal.far(s))
    stricter = resolve_identification_threshold(MODEL, 100, target_fpir=1e-3, home=fake_home)
    assert stricter.value > resolve_identification_threshold(MODEL, 100, home=fake_home).value
    faces = resolve_identification_threshold(MODEL, {1: 300}, unit="faces", home=fake_home)
    assert "over 300 faces" in faces.source
    # no open-set calibration: the verification threshold, and the source says so
    empty = tmp_path / "empty"
    from faceprint.matching.calibration import ThresholdCalibrator

    scores = np.array([0.9, 0.8, 0.3, 0.2])
    ThresholdCalibrator(target_far=None, model=MODEL).fit(scores, np.array([1, 1, 0, 0])).save(
        empty / "calibration" / "fake.json"
    )
    t = resolve_identification_threshold(MODEL, 100, home=empty)
    assert t.source.startswith("verification threshold, no open-set calibration for fake@1: user calibration")
    c = resolve_cluster_threshold(MODEL, 50, home=empty)
    assert c.source.startswith("verification threshold (no open-set calibration")
    # a calibration made for another model version is refused
    other = OpenSetCalibration.from_dict({**fake_calibration().to_dict(), "model": "fake@2"})
    other.save(user_open_set_path("fake", tmp_path / "h2"))
    with pytest.raises(InvalidInput, match="made for model fake@2"):
        resolve_identification_threshold(MODEL, 10, home=tmp_path / "h2")
    with pytest.raises(InvalidInput):
        resolve_identification_threshold(MODEL, 10, target_fpir=0.0, home=fake_home)


def test_cluster_threshold_resolution(fake_home: Path) -> None:
    cal = fake_calibration()
    t = resolve_cluster_threshold(MODEL, 200, home=fake_home)
    assert t.value == pytest.approx(cal.cluster_threshold(200)[0]) and "clustering 200 faces" in t.source
    d = resolve_cluster_threshold(MODEL, 200, method="dbscan", home=fake_home)
    assert d.value > t.value  # fewer false links per face wanted
    assert resolve_cluster_threshold(MODEL, 200, threshold=0.3).source == "argument"


def test_clusterers_use_the_size_aware_default(fake_home: Path) -> None:
    from faceprint.cluster import ChineseWhispers, CosineDBSCAN, cluster_scores
    from faceprint.types import Embedding

    x = np.stack([vector(p, v) for p in range(100, 140) for v in range(10, 14)])
    y = np.repeat(np.arange(40), 4)
    cw = ChineseWhispers(home=fake_home).fit([Embedding(v, model=MODEL) for v in x])
    cal = fake_calibration()
    assert cw.threshold_ == pytest.approx(cal.cluster_threshold(len(x))[0]) and "clustering 160 faces" in cw.threshold_source_
    assert cluster_scores(cw.labels_, y).pairwise_f1 > 0.8  # ~0.05 false links per face by design
    small = ChineseWhispers(home=fake_home, model=MODEL).fit(x[:8])
    assert small.threshold_ < cw.threshold_
    db = CosineDBSCAN(home=fake_home, model=MODEL).fit(x)
    assert 1 - db.eps_ == pytest.approx(cal.cluster_threshold(len(x), "dbscan")[0])


# ------------------------------------------------------------------ gallery


def test_gallery_identify_uses_the_open_set_threshold(make_store, fake_home: Path) -> None:
    from faceprint.matching.gallery import Gallery

    cal = fake_calibration()
    g = Gallery(home=fake_home, pipeline=FakePipeline(), store=make_store(), persist_index=False)
    g.enroll("ada", make_image(1, 0))
    g.enroll("bob", [make_image(2, 0), make_image(2, 1)])
    g.enroll("cy", [make_image(3, 0), make_image(3, 1)])
    assert g.composition() == {1: 1, 2: 2}
    f = g.identify(make_image(2, 5))[0]
    assert f.identity == "bob"
    assert f.threshold == pytest.approx(cal.threshold(1e-2, {1: 1, 2: 2}).value)
    assert f.threshold_source.startswith("open-set: FPIR 0.01 over 3 identities")
    assert f.fpir_estimate == pytest.approx(float(cal.fpir(f.score, {1: 1, 2: 2})), rel=1e-6)
    assert f.far_estimate == pytest.approx(cal.far(f.score, 1), rel=1e-6)
    d = f.to_dict()
    assert d["fpir_estimate"] == f.fpir_estimate and d["threshold_source"] == f.threshold_source
    # more people: a stricter threshold; a stricter FPIR per call: stricter still
    for p in range(10, 60):
        g.enroll(f"p{p}", make_image(p, 0))
    assert g.composition() == {1: 51, 2: 2}
    f2 = g.identify(make_image(2, 5))[0]
    assert f2.threshold > f.threshold and "over 53 identities" in f2.threshold_source
    f3 = g.identify(make_image(2, 5), target_fpir=1e-4)[0]
    assert f3.threshold > f2.threshold and "FPIR 0.0001" in f3.threshold_source
    assert g.identify(make_image(2, 5), threshold=0.5)[0].threshold_source == "argument"
    # a deletion is seen by the next search's threshold
    g.delete("bob")
    assert g.composition() == {1: 51, 2: 1}
    assert "over 52 identities" in g.identify(make_image(3, 5))[0].threshold_source


def test_gallery_max_rule_counts_faces_and_gallery_level_fpir(make_store, fake_home: Path) -> None:
    from faceprint.matching.gallery import Gallery

    cal = fake_calibration()
    g = Gallery(home=fake_home, pipeline=FakePipeline(), store=make_store(), combine="max", target_fpir=1e-3, persist_index=False)
    g.enroll("bob", [make_image(2, v) for v in range(3)])
    g.enroll("ada", make_image(1, 0))
    assert g.composition() == {1: 4}
    f = g.identify(make_image(1, 9))[0]
    assert f.threshold == pytest.approx(cal.threshold(1e-3, 4).value) and "over 4 faces" in f.threshold_source
    assert g.threshold().value == f.threshold and g.threshold(target_fpir=1e-2).value < f.threshold
    with pytest.raises(InvalidInput):
        Gallery(home=fake_home, pipeline=FakePipeline(), target_fpir=2.0)


def test_composition_is_cached_until_the_gallery_changes_by_one_percent(tmp_path: Path, fake_home: Path) -> None:
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.store.base import NewFace
    from faceprint.types import Embedding

    g = Gallery(home=fake_home, pipeline=FakePipeline(), persist_index=False)
    g.store.add_faces_bulk([(f"p{i}", [NewFace(Embedding(vector(i % 250, i), model=MODEL), f"h{i}")]) for i in range(1000)])
    g.identify_embeddings([Embedding(vector(1, 5000), model=MODEL)])
    assert g.composition() == {1: 1000}
    for i in range(5):  # 0.5 %: the cached composition (and threshold) stand
        g.store.add_faces(f"new{i}", [NewFace(Embedding(vector(7, 9000 + i), model=MODEL), f"n{i}")])
    g.identify_embeddings([Embedding(vector(1, 5000), model=MODEL)])
    assert g.composition() == {1: 1000}
    for i in range(5, 12):  # past 1 %: recounted
        g.store.add_faces(f"new{i}", [NewFace(Embedding(vector(7, 9000 + i), model=MODEL), f"n{i}")])
    r = g.identify_embeddings([Embedding(vector(1, 5000), model=MODEL)])[0]
    assert g.composition() == {1: 1012} and "over 1,012 identities" in r.threshold_source
    g.close()


# ------------------------------------------------------------------ shipped


def test_shipped_calibration_of_the_default_model() -> None:
    p = shipped_open_set_path("dlib_resnet_v1")
    if not p.is_file():
        pytest.skip("no shipped open-set calibration (run scripts/calibrate_open_set.py)")
    found = open_set_calibration("dlib_resnet_v1@1")
    assert found is not None
    cal, where = found
    assert where.startswith("shipped calibration") and cal.model == "dlib_resnet_v1@1"
    assert "pairsDevTrain" in cal.source and "pairs.txt" not in cal.source.replace("pairsDevTrain.txt", "")
    assert set(cal.tables) == {1, 2, 3, 4} and cal.tables[1].n_impostor > 5_000_000
    for k in (2, 3, 4):  # more photos per template: impostors score (weakly) higher
        assert np.all(cal.tables[k].score >= cal.tables[k - 1].score - 1e-9)
    # one comparison at FPIR 1e-2 is the 1e-2 FAR point, close to the verification threshold's FAR
    assert cal.threshold(1e-2, 1).value == pytest.approx(cal.score_at_far(1e-2), abs=1e-6)
    assert 0.89 < cal.threshold(1e-2, 1).value < 0.92
    ts = [cal.threshold(1e-2, n).value for n in (1, 100, 10_000, 1_000_000)]
    assert ts == sorted(ts) and 0.95 < cal.threshold(1e-2, 4000).value < 0.97 and ts[2] < 0.98
    # the tail is floored at an exponential (scripts/calibrate_open_set.py TAIL_MIN_SHAPE): dlib's compressed
    # impostor scores then need about 1.0 at a million people, where FPIR 1e-2 is out of this model's reach
    assert cal.tables[1].tail["shape"] >= 0 and ts[-1] > 0.99
    for m in ("chinese_whispers", "dbscan"):
        c = cal.clustering[m]
        assert 1e-3 < c["false_links_per_face"] < 1 and c["mean_pairwise_f1"] > 0.7
    assert math.isclose(cal.default_target_fpir, 1e-2)
    assert cal.report["self_check"] and all(abs(r["observed_fpir"] - 0.01) < 0.005 for r in cal.report["self_check"])


def test_a_threshold_above_any_cosine_says_no_one_can_be_named(caplog: pytest.LogCaptureFixture) -> None:
    """dlib's floored tail needs a threshold above 1 for FPIR 1e-2 over a million people: the source says so
    (and a warning is logged) rather than silently naming no one; the default model's threshold there is reachable."""
    if not shipped_open_set_path("dlib_resnet_v1").is_file():
        pytest.skip("no shipped open-set calibration")
    with caplog.at_level("WARNING", logger="faceprint.matching.thresholds"):
        t = resolve_identification_threshold("dlib_resnet_v1@1", 1_000_000)
    assert t.value > 1.0 and "no one can be named" in t.source and "above any cosine" in caplog.text
    cal = open_set_calibration("dlib_resnet_v1@1")[0]  # type: ignore[index]
    assert cal.threshold(1e-2, 1_000_000).unreachable and not cal.threshold(1e-2, 1_000).unreachable
    caplog.clear()
    small = resolve_identification_threshold("dlib_resnet_v1@1", 1_000)
    ok = resolve_identification_threshold("sface_int8@1", 1_000_000)
    assert small.value < 1.0 and ok.value < 1.0 and "no one" not in small.source + ok.source and not caplog.text


@pytest.mark.parametrize("name", ["sface_int8", "sface", "dlib_resnet_v1+sface"])
def test_shipped_open_set_tables_of_every_recogniser(name: str) -> None:
    """Issue 12: each shipped recogniser (and the fusion) has impostor tables from DevTrain identities only, made
    with the pipeline that uses it, and its thresholds grow with the gallery as the FPIR model says."""
    from faceprint.pipeline import PRESETS

    found = open_set_calibration(f"{name}@1")
    assert found is not None, f"run scripts/calibrate_open_set.py for {name}"
    cal, where = found
    assert where.startswith("shipped calibration") and cal.model == f"{name}@1"
    assert cal.pipeline in {cfg.signature() for cfg in PRESETS.values()}  # made by a named pipeline, as shipped
    assert "pairsDevTrain" in cal.source and "pairs.txt" not in cal.source.replace("pairsDevTrain.txt", "")
    assert set(cal.tables) == {1, 2, 3, 4} and cal.tables[1].n_impostor > 5_000_000
    ts = [cal.threshold(1e-2, n).value for n in (1, 100, 10_000, 1_000_000)]
    assert ts == sorted(ts) and ts[0] < ts[-1] < 0.95
    # every shipped tail is floored at an exponential, the choice benchmarks/open_set_transfer.py's rule made
    assert cal.report["tail_model"]["min_shape"] == 0.0
    assert all(t.tail["shape"] >= 0 for t in cal.tables.values())
    # the 1:1 operating point of the same model sits between FAR 1e-2 and the strict end of the table
    assert cal.threshold(1e-2, 1).value == pytest.approx(cal.score_at_far(1e-2), abs=1e-6)
    for m in ("chinese_whispers", "dbscan"):
        c = cal.clustering[m]
        assert 1e-3 < c["false_links_per_face"] < 1 and c["mean_pairwise_f1"] > 0.95  # far above dlib's 0.85-0.90
    assert cal.report["self_check"] and all(abs(r["observed_fpir"] - 0.01) < 0.005 for r in cal.report["self_check"])


def test_the_default_pipeline_has_its_open_set_table() -> None:
    """The test that fails when the default pipeline changes without re-running scripts/calibrate_open_set.py."""
    from faceprint.pipeline import PipelineConfig

    cfg = PipelineConfig()
    found = open_set_calibration(f"{cfg.embedder}@1")
    assert found is not None and found[0].pipeline == cfg.signature()
