"""End to end (decode + detect + align + embed) of the pipeline presets against face_recognition 1.3.0,
in one process, on the same LFW images (every 37th of the sorted list, 200 images), best of 2 rounds.

    cd benchmarks && PYTHONPATH=../src ../.venv/bin/python presets_end_to_end.py
"""

from __future__ import annotations

from _common import lfw_images, write_result
from end_to_end import run_face_recognition, run_faceprint
from faceprint.pipeline import Pipeline, preset_config


def main() -> None:
    paths = lfw_images(200, stride=37)
    res: dict[str, list[tuple[float, int]]] = {}
    names = ("default", "accurate", "sface", "yunet_sface", "fusion")
    pipes = {k: Pipeline.from_config(preset_config(k)) for k in names}
    for p in pipes.values():
        run_faceprint(paths[:3], p)  # load
    run_face_recognition(paths[:3])
    for _ in range(2):
        t, nf, _ = run_face_recognition(paths)
        res.setdefault("face_recognition", []).append((len(paths) / t, len(nf)))
        for k, p in pipes.items():
            t, nf, _ = run_faceprint(paths, p)
            res.setdefault(k, []).append((len(paths) / t, len(nf)))
    fr = max(r[0] for r in res["face_recognition"])
    for k, v in res.items():
        best = max(r[0] for r in v)
        print(f"{k:<18} {best:6.1f} images/s (best of 2)  {best / fr:4.2f}x face_recognition  no-face {v[0][1]}")
    write_result("presets_end_to_end", {k: [list(r) for r in v] for k, v in res.items()})


if __name__ == "__main__":
    main()
