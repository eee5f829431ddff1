"""The age analyzers on labelled real faces: error in years on LFW public figures of known birth year,
and age-group agreement on a balanced FairFace sample (children to over-70s, women and men), all in one
run, every model on the same boxes.

LFW (the primary measurement, ages in years): ``benchmarks/lfw_birth_years.csv`` (committed metadata:
name, birth year from public biographies, gender) — 108 people. LFW's photos are Yahoo News photos of
2002-2003, so each photo's label is 2002.5 − birth year, within about ±1 year (the CSV's header says
why). Up to ``--per-person`` photos of each person, evenly spaced over their sorted files, so the
people with many photos do not dominate; figures are given over faces and averaged per person.

FairFace (age groups only; ``--fairface DIR``): 540 FairFace images (Kärkkäinen & Joo, WACV 2021,
CC BY 4.0), 30 per age group × gender over 9 groups (0-2 … 70+), as committed in
github:thlaiquid-ai/demographic-test-images @23e52d68 ``fairface/`` (their ``ground_truth.json`` and
``fairface_NNNN.jpg``, sha256 pinned below; bring the folder outside the repository, e.g. with
``git archive``). FairFace's age labels are annotators' apparent-age groups, not true ages; the figure
is the fraction of estimates inside the labelled group (and within one group of it).

Faces: in each image the MTCNN face nearest the centre (LFW names the person at the centre; the
FairFace crops hold one centred face). One face per call, so the timing is per face.

    python benchmarks/age.py [--fairface DIR] [--per-person 10] [--threads 1]

Prints the figures and writes benchmarks/results/age.json.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_analyzer_args, lfw_root, write_result  # noqa: E402

BIRTH_YEARS = Path(__file__).resolve().parent / "lfw_birth_years.csv"
PHOTO_YEAR = 2003.0  # the middle of 2002-2003; with the birthday at mid-year the label is 2002.5 - birth year
ANALYZERS = ("human_faceres_age", "human_ssrnet_age", "human_gear_age")
FAIRFACE_LABELS = ("ground_truth.json", "01c86d96218fd939d172f30a9d9de91bf824ea3b4688cf03c85f343d50667380")
#: sha256 over the 540 images: each image's sha256 hex and file name, one "hex  name" line each, sorted by name.
FAIRFACE_IMAGES = "2514a4c00f822530dcbf90e673b9bd7f151abc08b598cef1d02a44ab7e11fda3"
FAIRFACE_GROUPS = {
    "0-2": (0, 3),
    "3-9": (3, 10),
    "10-19": (10, 20),
    "20-29": (20, 30),
    "30-39": (30, 40),
    "40-49": (40, 50),
    "50-59": (50, 60),
    "60-69": (60, 70),
    "70+": (70, 1000),
}
ORDER = list(FAIRFACE_GROUPS)


def read_birth_years(path: Path = BIRTH_YEARS) -> list[dict]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return [{"name": r["name"], "birth_year": int(r["birth_year"]), "gender": r["gender"]} for r in csv.DictReader(lines)]


def lfw_faces(people: list[dict], per_person: int, root: Path) -> list[tuple[Path, dict]]:
    out = []
    for p in people:
        files = sorted((root / p["name"]).glob("*.jpg"))
        if not files:
            sys.exit(f"{root / p['name']}: no images")
        step = len(files) / min(per_person, len(files))
        out += [(files[int(k * step)], p) for k in range(min(per_person, len(files)))]
    return out


def images_digest(paths: list[Path]) -> str:
    lines = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(paths, key=lambda q: q.name))
    return hashlib.sha256(lines.encode()).hexdigest()


def read_fairface(folder: Path) -> list[tuple[Path, str]]:
    name, sha = FAIRFACE_LABELS
    data = (folder / name).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        sys.exit(f"{folder / name}: sha256 {got}, expected {sha}")
    rows = json.loads(data)
    paths = [folder / r["filename"] for r in rows]
    got = images_digest(paths)
    if got != FAIRFACE_IMAGES:
        sys.exit(f"{folder}: images digest {got}, expected {FAIRFACE_IMAGES}")
    return [(folder / r["filename"], r["age"]) for r in rows]


def central_box(det, img):
    found = det.detect(img)
    if not found:
        return None
    cx, cy = img.shape[1] / 2, img.shape[0] / 2
    return min(found, key=lambda d: ((d.box.x1 + d.box.x2) / 2 - cx) ** 2 + ((d.box.y1 + d.box.y2) / 2 - cy) ** 2).box


def year_errors(rows: list[dict], n: str) -> dict:
    err = [r[n] - r["age"] for r in rows]
    ae = [abs(e) for e in err]
    by_person: dict[str, list[float]] = {}
    for r, a in zip(rows, ae, strict=True):
        by_person.setdefault(r["name"], []).append(a)
    decades: dict[str, list[float]] = {}
    for r, a in zip(rows, ae, strict=True):
        d = int(r["age"] // 10) * 10
        decades.setdefault(f"{d}-{d + 9}", []).append(a)
    genders = {g: [a for r, a in zip(rows, ae, strict=True) if r["gender"] == g] for g in ("f", "m")}
    return {
        "faces": len(rows),
        "people": len(by_person),
        "mae": statistics.fmean(ae),
        "mae_per_person": statistics.fmean(statistics.fmean(v) for v in by_person.values()),
        "median_ae": statistics.median(ae),
        "within_5": sum(a <= 5 for a in ae) / len(ae),
        "within_10": sum(a <= 10 for a in ae) / len(ae),
        "bias": statistics.fmean(err),
        "mae_by_decade": {k: {"faces": len(v), "mae": statistics.fmean(v)} for k, v in sorted(decades.items())},
        "mae_by_gender": {g: {"faces": len(v), "mae": statistics.fmean(v)} for g, v in genders.items() if v},
    }


def group_of(age: float) -> int:
    return next(i for i, (lo, hi) in enumerate(FAIRFACE_GROUPS.values()) if lo <= age < hi)


def group_scores(rows: list[dict], n: str) -> dict:
    hit, near, dist = [], [], []
    per: dict[str, list[tuple[bool, float]]] = {g: [] for g in ORDER}
    for r in rows:
        lo, hi = FAIRFACE_GROUPS[r["group"]]
        a = r[n]
        off = abs(group_of(a) - ORDER.index(r["group"]))
        hit.append(off == 0)
        near.append(off <= 1)
        dist.append(max(lo - a, a - hi, 0.0))
        per[r["group"]].append((off == 0, a))
    return {
        "faces": len(rows),
        "group_accuracy": sum(hit) / len(hit),
        "within_one_group": sum(near) / len(near),
        "mean_years_outside_group": statistics.fmean(dist),
        "by_group": {
            g: {"faces": len(v), "accuracy": sum(h for h, _ in v) / len(v), "median_estimate": statistics.median(a for _, a in v)}
            for g, v in per.items()
            if v
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fairface", type=Path, default=None, help="folder with ground_truth.json and fairface_NNNN.jpg")
    ap.add_argument("--per-person", type=int, default=10)
    add_analyzer_args(ap, ANALYZERS)
    args = ap.parse_args()
    root = lfw_root()

    from faceprint.io.decode import load_image
    from faceprint.models import registry
    from faceprint.pipeline import detector_defaults

    people = read_birth_years()
    items = [
        ("lfw", p, {"name": d["name"], "gender": d["gender"], "age": PHOTO_YEAR - (d["birth_year"] + 0.5)})
        for p, d in lfw_faces(people, args.per_person, root)
    ]
    if args.fairface:
        items += [("fairface", p, {"group": g}) for p, g in read_fairface(args.fairface)]
    kw = {"threads": args.threads} if args.threads else {}
    det = registry.create("mtcnn", **detector_defaults("mtcnn"), **kw)
    names = args.analyzers.split(",")
    analyzers = {n: registry.create(n, **kw) for n in names}
    times: dict[str, list[float]] = {n: [] for n in ["detector", *names]}
    warm = load_image(items[0][1])
    box = central_box(det, warm)
    for a in analyzers.values():
        if box is not None:
            a.analyze(warm, [box])
    rows = []
    for i, (source, path, label) in enumerate(items):
        img = load_image(path)
        t0 = time.perf_counter()
        box = central_box(det, img)
        times["detector"].append(time.perf_counter() - t0)
        row = {"source": source, "photo": path.name, **label, "face": box is not None}
        if box is not None:
            for n, a in analyzers.items():
                t0 = time.perf_counter()
                (pred,) = a.analyze(img, [box])
                times[n].append(time.perf_counter() - t0)
                row[n] = pred.age
        rows.append(row)
        if (i + 1) % 200 == 0:
            print(f"  {i + 1}/{len(items)} photos", file=sys.stderr)

    result: dict = {"per_person": args.per_person, "photo_year": PHOTO_YEAR}
    lfw = [r for r in rows if r["source"] == "lfw" and r["face"]]
    n_lfw = sum(r["source"] == "lfw" for r in rows)
    result["lfw"] = {
        "photos": n_lfw,
        "faces": len(lfw),
        "people": len({r["name"] for r in lfw}),
        "label_age_range": [min(r["age"] for r in lfw), max(r["age"] for r in lfw)],
        "models": {n: year_errors(lfw, n) for n in names},
    }
    print(
        f"LFW: {n_lfw} photos of {len(people)} people (<= {args.per_person} each), face found in {len(lfw)}; "
        f"label ages {result['lfw']['label_age_range'][0]:.1f}-{result['lfw']['label_age_range'][1]:.1f}"
    )
    for n, m in result["lfw"]["models"].items():
        dec = " ".join(f"{k}:{v['mae']:.1f}" for k, v in m["mae_by_decade"].items())
        print(
            f"{n:<20} MAE {m['mae']:.2f} (per person {m['mae_per_person']:.2f})  median {m['median_ae']:.2f}  "
            f"<=5y {m['within_5']:.3f}  <=10y {m['within_10']:.3f}  bias {m['bias']:+.2f}  "
            f"f {m['mae_by_gender']['f']['mae']:.2f} m {m['mae_by_gender']['m']['mae']:.2f}  decades {dec}"
        )
    if args.fairface:
        ff = [r for r in rows if r["source"] == "fairface" and r["face"]]
        n_ff = sum(r["source"] == "fairface" for r in rows)
        result["fairface"] = {"photos": n_ff, "faces": len(ff), "models": {n: group_scores(ff, n) for n in names}}
        print(f"FairFace: {n_ff} photos, face found in {len(ff)}")
        for n, m in result["fairface"]["models"].items():
            per = " ".join(f"{g}:{v['accuracy']:.2f}" for g, v in m["by_group"].items())
            print(
                f"{n:<20} group accuracy {m['group_accuracy']:.3f}  within one group {m['within_one_group']:.3f}  "
                f"mean years outside group {m['mean_years_outside_group']:.2f}  by group {per}"
            )
    ms = {n: 1000 * statistics.median(v) for n, v in times.items() if v}
    result["ms_per_face_median"] = ms
    for n, v in ms.items():
        print(f"{n:<20} {v:7.2f} ms per face (median, one face per call)")
    result["command"] = "python benchmarks/age.py " + " ".join(sys.argv[1:])
    result["labels"] = (
        "LFW: benchmarks/lfw_birth_years.csv (birth years from public biographies; label 2002.5 - birth year, +-1 y); "
        "FairFace: thlaiquid-ai/demographic-test-images@23e52d68 fairface/ (CC BY 4.0, apparent-age groups)"
    )
    write_result("age", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
