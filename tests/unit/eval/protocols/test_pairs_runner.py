"""The pairs runner behind ``faceprint eval lfw|pairs`` and the ``eval`` / ``calibrate`` commands, on a
small real LFW pairs file (40 pairs from View 1 DevTest in 4 folds, one image replaced by a blank
one that holds no face). Expected figures are computed here independently: each image embedded with
the pipeline directly, scores, fold thresholds and accuracies by hand with numpy."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceprint.cli.main import main
from faceprint.eval.protocols.pairs import read_lfw_pairs, run_pairs, write_plots

K, N = 4, 5  # 4 folds of 5 genuine + 5 impostor pairs
BLANK = "Blank_Nobody"


@pytest.fixture(scope="module")
def pairs_root(lfw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LFW-format root in tmp: symlinks to the real identity folders, a blank image, pairs.txt."""
    lines = (lfw_root / "pairsDevTest.txt").read_text().splitlines()[1:]
    genuine, impostor = lines[:500][: K * N], lines[500:][: K * N]
    impostor[1] = f"{BLANK} 1 {impostor[1].split()[2]} {impostor[1].split()[3]}"  # no face in fold 1
    root = tmp_path_factory.mktemp("lfwmini")
    (root / "images").mkdir()
    for ln in genuine + impostor:
        f = ln.split()
        for name in (f[0], f[2]) if len(f) == 4 else (f[0],):
            if name != BLANK and not (root / "images" / name).exists():
                (root / "images" / name).symlink_to((lfw_root / "images" / name).resolve())
    (root / "images" / BLANK).mkdir()
    cv2.imwrite(str(root / "images" / BLANK / f"{BLANK}_0001.jpg"), np.full((250, 250, 3), 128, np.uint8))
    body = []
    for k in range(K):
        body += genuine[k * N : (k + 1) * N] + impostor[k * N : (k + 1) * N]
    (root / "pairs.txt").write_text(f"{K} {N}\n" + "\n".join(body) + "\n")
    return root


@pytest.fixture(scope="module")
def pipeline():  # type: ignore[no-untyped-def]
    from faceprint.api import default_pipeline

    return default_pipeline()


def _embed_by_hand(path: Path, pipeline) -> tuple[np.ndarray, bool]:  # type: ignore[no-untyped-def]
    """(unit embedding, found a face): the face nearest the image centre, or the central box."""
    from faceprint.io import load_image
    from faceprint.pipeline import central_box

    img = load_image(path.read_bytes())
    faces = pipeline.process(img)
    if not faces:
        return pipeline.process(img, boxes=[central_box(img.shape)])[0].embedding.vector, False
    h, w = img.shape[:2]
    d = [((f.box.x1 + f.box.x2) / 2 - w / 2) ** 2 + ((f.box.y1 + f.box.y2) / 2 - h / 2) ** 2 for f in faces]
    return faces[int(np.argmin(d))].embedding.vector, True


def _best_threshold_by_hand(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    u = np.unique(s)
    cands = [u[0] - 1e-6] + [(a + b) / 2 for a, b in zip(u[:-1], u[1:], strict=True)] + [u[-1] + 1e-6]
    accs = np.array([np.mean((s >= t) == y) for t in cands])
    best = np.flatnonzero(accs == accs.max())
    i = int(best[len(best) // 2])
    return float(cands[i]), float(accs[i])


@pytest.fixture(scope="module")
def expected(pairs_root: Path, pipeline) -> dict:  # type: ignore[no-untyped-def]
    body = [ln.split() for ln in (pairs_root / "pairs.txt").read_text().splitlines()[1:]]
    img = pairs_root / "images"

    def path(name: str, i: str) -> Path:
        return img / name / f"{name}_{int(i):04d}.jpg"

    cache: dict[Path, tuple[np.ndarray, bool]] = {}
    scores, labels = [], []
    for f in body:
        a, b = (path(f[0], f[1]), path(f[0], f[2])) if len(f) == 3 else (path(f[0], f[1]), path(f[2], f[3]))
        for p in (a, b):
            if p not in cache:
                cache[p] = _embed_by_hand(p, pipeline)
        scores.append(float(np.dot(cache[a][0], cache[b][0])))
        labels.append(len(f) == 3)
    s, y = np.array(scores), np.array(labels)
    folds = np.repeat(np.arange(K), 2 * N)
    accs, thrs = [], []
    for k in range(K):
        thr, _ = _best_threshold_by_hand(s[folds != k], y[folds != k])
        accs.append(float(np.mean((s[folds == k] >= thr) == y[folds == k])))
        thrs.append(thr)
    g, i = s[y][:, None], s[~y][None, :]
    auc = float(((g > i).sum() + 0.5 * (g == i).sum()) / (g.size * i.size))
    no_face = sorted(str(p) for p, (_, found) in cache.items() if not found)
    return {"scores": s, "labels": y, "fold_acc": accs, "fold_thr": thrs, "auc": auc, "no_face": no_face,
            "n_images": len(cache), "best": _best_threshold_by_hand(s, y)}


def test_runner_folds_fallback_report_and_plots(pairs_root: Path, pipeline, expected: dict, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ps = read_lfw_pairs(pairs_root / "pairs.txt", pairs_root)
    assert ps.n_folds == K and len(ps.pairs) == 2 * K * N
    rep = run_pairs(ps, pipeline, select="center")
    np.testing.assert_allclose(rep["_scores"], expected["scores"], atol=1e-6)
    assert rep["n_pairs"] == 40 and rep["n_genuine"] == rep["n_impostor"] == 20
    assert rep["n_images"] == expected["n_images"]
    np.testing.assert_allclose([f["accuracy"] for f in rep["folds"]], expected["fold_acc"])
    np.testing.assert_allclose([f["threshold"] for f in rep["folds"]], expected["fold_thr"], atol=1e-6)
    assert rep["accuracy"] == pytest.approx(np.mean(expected["fold_acc"]))
    assert rep["std_error"] == pytest.approx(np.std(expected["fold_acc"], ddof=1) / np.sqrt(K))
    assert rep["roc_auc"] == pytest.approx(expected["auc"], abs=1e-12)
    # the blank image: no face, embedded from the central box, its pair kept and listed
    assert rep["no_face"]["count"] == 1 and rep["no_face"]["images"] == expected["no_face"]
    assert expected["no_face"][0].endswith(f"{BLANK}_0001.jpg")
    # TAR@FAR=1e-2 with 20 impostors: FAR 0 reached, flagged as not resolvable
    op = rep["tar_at_far"][0]
    s, y = expected["scores"], expected["labels"]
    assert op["far"] == 0.0 and not op["resolvable"]
    assert op["tar"] == pytest.approx(np.mean(s[y] > s[~y].max()))
    far_e, frr_e = np.mean(s[~y] >= rep["eer_threshold"]), np.mean(s[y] < rep["eer_threshold"])
    assert abs(far_e - rep["eer"]) <= 1 / 20 + 1e-9 and abs(frr_e - rep["eer"]) <= 1 / 20 + 1e-9
    plots = write_plots(rep, tmp_path, "mini")
    for p in plots.values():
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_lfw_and_pairs_commands(pairs_root: Path, expected: dict, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert main(["eval", "lfw", "--root", str(pairs_root), "--pairs", "pairs.txt", "--out", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["accuracy"] == pytest.approx(np.mean(expected["fold_acc"]))
    assert rep["no_face"]["count"] == 1 and len(rep["folds"]) == K
    assert json.loads((out / "lfw.json").read_text())["accuracy"] == rep["accuracy"]
    assert (out / "roc.png").is_file() and (out / "det.png").is_file()
    # the same pairs as a one-set LFW file through `eval pairs`: threshold chosen on all pairs
    one = tmp_path / "one.txt"
    one.write_text(f"{2 * K * N // 2}\n" + "\n".join(
        [ln for ln in (pairs_root / "pairs.txt").read_text().splitlines()[1:] if len(ln.split()) == 3]
        + [ln for ln in (pairs_root / "pairs.txt").read_text().splitlines()[1:] if len(ln.split()) == 4]) + "\n")
    assert main(["eval", "pairs", str(one), "--root", str(pairs_root), "--out", str(out), "--json"]) == 0
    rep1 = json.loads(capsys.readouterr().out)
    thr, acc = expected["best"]
    assert rep1["accuracy"] == pytest.approx(acc) and rep1["best_threshold"] == pytest.approx(thr, abs=1e-6)
    assert main(["eval", "lfw", "--root", str(pairs_root), "--out", str(out)]) == 0  # text report
    text = capsys.readouterr().out
    assert "no face found in 1 image(s)" in text and f"{np.mean(expected['fold_acc']):.4f}" in text


def test_calibrate_command(pairs_root: Path, expected: dict, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    s, y = expected["scores"], expected["labels"]
    out = tmp_path / "cal.json"
    assert main(["calibrate", str(pairs_root / "pairs.txt"), "--root", str(pairs_root), "--max-accuracy",
                 "--out", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    thr, acc = expected["best"]
    assert d["threshold"] == pytest.approx(thr, abs=1e-6) and d["accuracy"] == pytest.approx(acc)
    assert json.loads(out.read_text())["threshold"] == d["threshold"]
    # FAR <= 0.1 of 20 impostors: two may pass; the threshold is the lowest score above the 3rd-highest impostor
    assert main(["calibrate", str(pairs_root / "pairs.txt"), "--root", str(pairs_root), "--target-far", "0.1",
                 "--out", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    want = s[s > np.sort(s[~y])[::-1][2]].min()
    assert d["threshold"] == pytest.approx(want, abs=1e-6)
    assert d["far"] == pytest.approx(np.mean(s[~y] >= want)) and d["tar"] == pytest.approx(np.mean(s[y] >= want))
    assert d["resolvable"] and d["n_impostor"] == 20
