"""End to end (decode + detect + align + embed) on LFW images: faceprint vs face_recognition 1.3.0.

Both run in this one process on the same images, one after the other, each with its documented
defaults (faceprint: PipelineConfig(), i.e. MTCNN → dlib 5-point → dlib ResNet, flip-averaged;
face_recognition: HOG detector with one upsampling, 5-point landmarks, one jitter).
Prints images/s for each, the ratio, and the images where each found no face.

    scripts/bootstrap.sh bench && .venv/bin/python benchmarks/end_to_end.py [--n 500]
"""

from __future__ import annotations

import argparse
import time

from _common import lfw_images, write_result


def run_faceprint(paths, pipeline):
    from faceprint.io import load_image

    no_face, n_faces = [], 0
    t0 = time.perf_counter()
    for p in paths:
        faces = pipeline.process(load_image(p))
        n_faces += len(faces)
        if not faces:
            no_face.append(p.name)
    return time.perf_counter() - t0, no_face, n_faces


def run_face_recognition(paths):
    import face_recognition

    no_face, n_faces = [], 0
    t0 = time.perf_counter()
    for p in paths:
        img = face_recognition.load_image_file(str(p))
        locs = face_recognition.face_locations(img)
        enc = face_recognition.face_encodings(img, known_face_locations=locs)
        n_faces += len(enc)
        if not enc:
            no_face.append(p.name)
    return time.perf_counter() - t0, no_face, n_faces


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--detector", default=None, help="faceprint detector (default: the pipeline default)")
    args = ap.parse_args()
    from faceprint.pipeline import Pipeline, PipelineConfig

    paths = lfw_images(args.n, stride=9)
    cfg = PipelineConfig() if not args.detector else PipelineConfig(detector=args.detector)  # its measured options
    pipeline = Pipeline.from_config(cfg)
    t_load = time.perf_counter()
    run_faceprint(paths[:3], pipeline)  # warm-up: loads (and on a first run converts) the models
    t_load = time.perf_counter() - t_load
    import face_recognition  # noqa: F401  (its models load at import)

    run_face_recognition(paths[:3])

    fp_t, fp_nf, fp_n = run_faceprint(paths, pipeline)
    fr_t, fr_nf, fr_n = run_face_recognition(paths)
    fp_rate, fr_rate = len(paths) / fp_t, len(paths) / fr_t
    print(f"{len(paths)} LFW images (every 9th in sorted order), 2 cores")
    print(f"{'':18}{'img/s':>8}{'ms/img':>9}{'no face':>9}{'faces':>7}")
    print(f"{'faceprint':18}{fp_rate:8.1f}{1000 / fp_rate:9.1f}{len(fp_nf):9d}{fp_n:7d}")
    print(f"{'face_recognition':18}{fr_rate:8.1f}{1000 / fr_rate:9.1f}{len(fr_nf):9d}{fr_n:7d}")
    print(f"speed-up: {fp_rate / fr_rate:.2f}x  (target >= 3x, with no more detection failures)")
    write_result("end_to_end", {
        "n_images": len(paths),
        "faceprint": {"pipeline": pipeline.config.signature(), "images_per_s": fp_rate, "seconds": fp_t,
                      "no_face": len(fp_nf), "no_face_images": fp_nf, "faces": fp_n, "warmup_s": t_load},
        "face_recognition": {"version": "1.3.0", "defaults": "hog, upsample=1, model=small, num_jitters=1",
                             "images_per_s": fr_rate, "seconds": fr_t, "no_face": len(fr_nf),
                             "no_face_images": fr_nf, "faces": fr_n},
        "speedup": fp_rate / fr_rate,
        "target": {"speedup": 3.0, "no_face_not_above_peer": True},
        "pass": fp_rate / fr_rate >= 3.0 and len(fp_nf) <= len(fr_nf),
    })


if __name__ == "__main__":
    main()
