"""The gallery and clustering on real LFW photos through the real default pipeline.

Small, fixed subset (sorted names): the first 30 identities with ≥ 3 images enroll their first two
photos and are probed with the third; 20 single-image identities are never enrolled (non-mated
probes). Decisions use the defaults a user gets: the open-set threshold solved for FPIR 1e-2 and
this gallery's size, and the clustering threshold calibrated for the number of faces. Skips when
the data or the models are not available.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceprint.pipeline import PipelineConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline():
    from faceprint.api import default_pipeline
    from faceprint.errors import ModelUnavailable

    try:
        p = default_pipeline()
        p.process(np.zeros((64, 64, 3), np.uint8))
    except (ModelUnavailable, ImportError, NotImplementedError) as e:
        pytest.skip(f"default pipeline not available: {e}")
    return p


@pytest.fixture(scope="module")
def subset(lfw_root: Path) -> dict[str, list[Path]]:
    people = sorted(d for d in (lfw_root / "images").iterdir() if d.is_dir())
    multi, single = {}, {}
    for d in people:
        imgs = sorted(d.glob("*.jpg"))
        if len(imgs) >= 3 and len(multi) < 30:
            multi[d.name] = imgs[:3]
        elif len(imgs) == 1 and len(single) < 20:
            single[d.name] = imgs
        if len(multi) == 30 and len(single) == 20:
            break
    return {"multi": multi, "single": single}  # type: ignore[dict-item]


def central(faces, shape):
    h, w = shape[:2]
    return min(faces, key=lambda f: (f.box.center[0] - w / 2) ** 2 + (f.box.center[1] - h / 2) ** 2)


@pytest.fixture(scope="module")
def enrolled(pipeline, subset, tmp_path_factory: pytest.TempPathFactory):
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.thresholds import open_set_calibration

    if open_set_calibration(pipeline.model_tag) is None:
        pytest.skip(f"no open-set calibration for {pipeline.model_tag} (scripts/calibrate_open_set.py)")
    home = tmp_path_factory.mktemp("lfw-gallery")
    g = Gallery(home=home, pipeline=pipeline)
    items = [(name, p) for name, imgs in subset["multi"].items() for p in imgs[:2]]
    outcomes = list(g.enroll_many(items, select="center"))  # LFW: the person named is the central face
    ok = [o for o in outcomes if o.status == "enrolled"]
    assert len(ok) >= 50, [o.to_dict() for o in outcomes if not o.ok]
    assert all(o.error_code == "no_face" for o in outcomes if not o.ok)
    thr = g.threshold().value  # the open-set default for this gallery
    yield g, home, thr
    g.close()


def _identify_central(g, path: Path, k: int = 5):
    """The result for the central face, or None when the detector finds no face."""
    from faceprint.io import load_image

    img = load_image(path)
    res = g.identify(img, k=k)
    return central(res, img.shape) if res else None


def test_closed_and_open_set_identification(enrolled, subset) -> None:
    from faceprint.matching.thresholds import open_set_calibration

    g, _, thr = enrolled
    people = {r.name for r in g.list()}
    assert len(people) >= 25 and g.model == f"{PipelineConfig().embedder}@1"
    comp = g.composition()
    assert sum(comp.values()) == len(people) and set(comp) <= {1, 2}
    cal, _ = open_set_calibration(g.model)
    assert thr == pytest.approx(cal.threshold(1e-2, comp).value)
    from faceprint.matching.thresholds import shipped_calibration

    one_to_one = shipped_calibration(g.model.split("@")[0])
    assert one_to_one is not None and thr > one_to_one.threshold_  # ~30 people: stricter than the 1:1 threshold
    assert thr == pytest.approx(cal.threshold(1e-2, 30).value, abs=0.03)
    results = {name: _identify_central(g, imgs[2]) for name, imgs in subset["multi"].items() if name in people}
    found = {n: r for n, r in results.items() if r is not None}
    assert all(r.threshold == pytest.approx(thr) and r.threshold_source.startswith("open-set: FPIR 0.01") for r in found.values())
    assert len(found) >= 0.8 * len(results)  # the detector finds most probe faces
    rank1 = np.mean([r.candidates[0].identity == n for n, r in found.items()])
    assert rank1 >= 0.9, f"rank-1 {rank1:.3f}"
    known = np.mean([r.identity == n for n, r in found.items()])
    assert known >= 0.8, f"identified at threshold {thr:.3f}: {known:.3f}"
    strangers = [_identify_central(g, imgs[0]) for imgs in subset["single"].values()]
    unknown = [f.is_unknown for f in strangers if f is not None]
    assert len(unknown) >= 15 and np.mean(unknown) >= 0.9, f"non-mated probes reported unknown: {np.mean(unknown):.3f}"


def test_delete_removes_person_from_search_and_persists(enrolled, subset, pipeline) -> None:
    from faceprint.matching.gallery import Gallery

    g, home, thr = enrolled
    name, imgs = next((n, i) for n, i in subset["multi"].items() if _identify_central(g, i[2]) is not None)
    g.enroll("to-delete", imgs[2], select="center")
    before = _identify_central(g, imgs[2], k=40)
    assert "to-delete" in [c.identity for c in before.candidates]
    assert g.delete("to-delete") == 1
    after = _identify_central(g, imgs[2], k=40)
    assert "to-delete" not in [c.identity for c in after.candidates]
    g.save_index()
    g2 = Gallery(home=home, pipeline=pipeline, threshold=thr)  # a new instance: same answers
    again = _identify_central(g2, imgs[2], k=40)
    assert [c.identity for c in again.candidates] == [c.identity for c in after.candidates]
    assert "to-delete" not in [r.name for r in g2.list()]


def test_cli_bulk_enroll_and_identify(pipeline, subset, enrolled, tmp_path: Path, capsys, monkeypatch) -> None:
    import faceprint.api as api
    from faceprint.cli.main import main

    monkeypatch.setattr(api, "_default", pipeline)
    tree = tmp_path / "people"
    for name, imgs in list(subset["multi"].items())[:5]:
        (tree / name).mkdir(parents=True)
        for p in imgs[:2]:
            (tree / name / p.name).symlink_to(p)  # links, not copies, of the shared data
    home = str(tmp_path / "home")
    code = main(["enroll", "--folders", str(tree), "--select", "center", "--home", home, "--no-progress", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["enrolled"] >= 8 and out["counts"]["enrolled"] + out["counts"]["error"] == 10
    assert code == (0 if out["counts"]["error"] == 0 else 1)
    code = main(["identify", *[str(i[2]) for i in list(subset["multi"].values())[:5]], "--home", home, "--json", "-k", "3"])
    results = json.loads(capsys.readouterr().out)["results"]
    hits = [
        any(f["candidates"][0]["identity"] == n for f in r["faces"])
        for n, r in zip(subset["multi"], results, strict=False)
        if r["faces"]
    ]
    assert len(hits) >= 3 and np.mean(hits) >= 0.75
    sources = {f["threshold_source"] for r in results for f in r["faces"]}
    assert sources and all(s.startswith("open-set: FPIR 0.01 over 5 identities") for s in sources)


def test_clustering_recovers_identities(pipeline, subset, enrolled) -> None:
    from faceprint.cluster import ChineseWhispers, CosineDBSCAN, cluster_scores
    from faceprint.io import load_image
    from faceprint.types import Embedding

    vecs, truth = [], []
    for name, imgs in list(subset["multi"].items())[:15]:
        for p in imgs:
            img = load_image(p)
            faces = pipeline.process(img)
            if faces:
                vecs.append(central(faces, img.shape).embedding.vector)
                truth.append(name)
    assert len(vecs) >= 36
    x = [Embedding(v, model=pipeline.model_tag) for v in vecs]
    for est in (ChineseWhispers(), CosineDBSCAN()):  # the calibrated default for this many faces
        s = cluster_scores(est.fit(x).labels_, np.array(truth))
        assert est.threshold_source_.startswith(f"clustering {len(x)} faces"), est.threshold_source_
        assert s.pairwise_f1 >= 0.8 and s.bcubed_f >= 0.85, (type(est).__name__, s)
