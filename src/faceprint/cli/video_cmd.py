"""``faceprint video INPUT``: who appears when in a video file, a camera or a stream.

    faceprint video clip.mp4 [--out DIR] [--detect-every N|auto] [--json]
    faceprint video 0                      # camera 0, live lines on stdout, Ctrl-C to stop
    faceprint video rtsp://host/stream

Writes into ``--out`` (default ``<name>_faceprint/`` beside the file, ``./faceprint_video/`` for
live sources): ``timeline.json`` (tracks with identity or unknown, first/last time, best frame,
score, and the embeddings ``faceprint enroll NAME --track timeline.json:ID`` needs),
``timeline.csv``, ``annotated.mp4`` (boxes and names) and ``crops/track_<id>.jpg``.

Exit codes: 0 ok; 1 no face track; 2 bad input (unreadable video, unreachable stream), also when
reading stopped early (the results up to the failure are written); 3 model or internal error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from faceprint.cli._common import add_pipeline_args, pipeline_from_args, print_json


def _rate(value: str) -> Any:
    if value == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {value!r}")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video",
        help="track and identify faces through a video, a camera or a stream",
        description="Detect faces (every frame or every Nth), track them, identify each track against the gallery "
        "from its quality-weighted template, and write the timeline (JSON, CSV), an annotated video and the best "
        "face crop of each track.",
    )
    p.add_argument("input", help="a video file, a camera index (0, 1, ...) or a stream URL (rtsp://, http://, ...)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <name>_faceprint beside the file)")
    p.add_argument("--detect-every", type=_rate, default="auto", metavar="N|auto",
                   help="detect on every Nth frame, tracking in between; auto (default) adapts N to --speed")
    p.add_argument("--speed", type=float, default=None,
                   help="processing speed 'auto' aims at, in multiples of real time (default 3 for files, 1 live)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--no-video", action="store_true", help="do not write the annotated video")
    p.add_argument("--no-crops", action="store_true", help="do not write the best face crops")
    p.add_argument("--no-identify", action="store_true", help="track only (no gallery)")
    p.add_argument("-k", type=int, default=3, help="candidates per track (default 3)")
    p.add_argument("--threshold", type=float, default=None, help="cosine threshold (default: the gallery's open-set one)")
    p.add_argument("--fpir", type=float, default=None, help="accepted false-positive identification rate (default 0.01)")
    p.add_argument("--home", default=None, help="data directory holding the gallery")
    add_pipeline_args(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def register_eval(eval_sub: Any) -> None:
    """``faceprint eval video MANIFEST`` (registered by :mod:`faceprint.cli.eval_cmd`)."""
    p = eval_sub.add_parser(
        "video",
        help="track-level identification on annotated videos (file, time span, identity)",
        description="Run every video of MANIFEST (CSV: file,start,end,identity[,region]; see "
        "faceprint.video.evaluate) against the gallery and report frame-level and track-level accuracy side by "
        "side, the unknown rate, identity switches and fragmentations.",
    )
    p.add_argument("manifest", type=Path)
    p.add_argument("--detect-every", type=_rate, default="auto", metavar="N|auto")
    p.add_argument("--speed", type=float, default=None)
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--fpir", type=float, default=None)
    p.add_argument("--home", default=None, help="data directory holding the gallery")
    add_pipeline_args(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from faceprint.matching.gallery import Gallery
    from faceprint.video.evaluate import evaluate_manifest

    pipe = _pipeline(args)
    with Gallery(home=args.home, pipeline=pipe, target_fpir=args.fpir) as g:
        if g.model is None:
            from faceprint.errors import InvalidInput

            raise InvalidInput("the gallery is empty: enrol the people of the manifest first")
        ev = evaluate_manifest(args.manifest, pipeline=pipe, gallery=g, detect_every=args.detect_every,
                               speed=args.speed, threshold=args.threshold, keep_crops=False)  # fmt: skip
    d = ev.to_dict()
    if args.json:
        print_json(d)
        return 0
    fl, tl = d["frame_level"], d["track_level"]
    print(f"{ev.annotated_detections} annotated detections in {ev.tracks} tracks")
    print(f"{'':28}{'frame-level':>12}{'track-level':>12}")
    for key in ("accuracy", "unknown_rate", "false_identification_rate"):
        print(f"{key:28}{fl[key]:>12.4f}{tl[key]:>12.4f}")
    print(f"track accuracy {tl['track_accuracy']:.4f}, identity switches {tl['identity_switches']}, "
          f"fragmentations {tl['fragmentations']}")  # fmt: skip
    return 0


def _pipeline(args: argparse.Namespace) -> Any:
    return pipeline_from_args(args)  # --preset and the stage options (cli._common.add_pipeline_args)


def _out_dir(args: argparse.Namespace, live: bool) -> Path:
    if args.out is not None:
        return Path(args.out)
    if live:
        return Path("faceprint_video")
    src = Path(args.input)
    return src.with_name(f"{src.stem}_faceprint")


def _fmt_track(t: Any) -> str:
    who = t.identity or "unknown"
    score = f" {t.score:.3f}" if t.score is not None else ""
    return (f"track {t.track_id:>3}  {t.first_time:8.2f}s – {t.last_time:8.2f}s  {who}{score}"
            f"  (best frame {t.best_frame}, {t.n_detections} detections)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from faceprint.errors import InvalidInput
    from faceprint.video.output import AnnotatedWriter, annotate_file, save_crops, write_timeline
    from faceprint.video.process import VideoRun
    from faceprint.video.reader import VideoReader
    from faceprint.video.results import FrameResult, TrackResult

    if args.max_frames is not None and args.max_frames < 1:
        raise InvalidInput("--max-frames must be >= 1")
    reader = VideoReader(args.input)  # bad input fails here, before any model loads
    live = reader.live
    pipe = _pipeline(args)
    gallery = None
    if not args.no_identify:
        from faceprint.matching.gallery import Gallery

        gallery = Gallery(home=args.home, pipeline=pipe, target_fpir=args.fpir)
    out = _out_dir(args, live)
    out.mkdir(parents=True, exist_ok=True)
    run_ = VideoRun(reader, pipeline=pipe, gallery=gallery, detect_every=args.detect_every, speed=args.speed, k=args.k,
                    threshold=args.threshold, keep_crops=not args.no_crops)  # fmt: skip
    frames: dict[int, FrameResult] = {}
    live_writer = None
    if live and not args.no_video:
        live_writer = AnnotatedWriter(out / "annotated.mp4", reader.info.fps, reader.info.width, reader.info.height)
    bar = None
    if not args.no_progress and not live and not args.json:
        from tqdm import tqdm

        bar = tqdm(total=reader.info.frame_count, desc="video", unit="frame", file=sys.stderr, dynamic_ncols=True)
    seen: dict[int, str | None] = {}
    interrupted = False
    it = iter(run_)
    try:
        for item in it:
            if isinstance(item, TrackResult):
                line = _fmt_track(item)
                if not args.json:
                    (bar.write(line, file=sys.stdout) if bar else print(line, flush=True))
                continue
            if not args.no_video and not live and item.faces:
                frames[item.index] = item
            if live:
                for f in item.faces:  # live output: a line when a track appears or gets its name
                    if f.track_id not in seen or seen[f.track_id] != f.identity:
                        seen[f.track_id] = f.identity
                        if not args.json:
                            print(f"{item.time:8.2f}s  track {f.track_id}: {f.identity or 'unknown'}", flush=True)
                if live_writer is not None:
                    live_writer.write(_bgr_of(run_, item), item.faces)
            if bar:
                bar.update(1)
            if args.max_frames is not None and item.index + 1 >= args.max_frames:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()  # a run left early closes its source here
        if bar:
            bar.close()
        if live_writer is not None:
            live_writer.close()
    result = run_.result if run_.result is not None else run_.stop()
    if not args.no_crops:
        result = save_crops(result, out / "crops")
    write_timeline(result, out / "timeline.json", out / "timeline.csv")
    if not args.no_video and not live:
        annotate_file(args.input, frames, result.tracks, out / "annotated.mp4", upto=result.frames)
    if args.json:
        print_json(result.to_dict(embeddings=False))
    else:
        speed = f", {result.speed:.2f}x real time" if result.speed else ""
        print(f"{len(result.tracks)} track(s), {result.frames} frames ({result.detected_frames} detected) in "
              f"{result.elapsed:.1f}s ({result.fps_processed:.1f} fps{speed}); written to {out}/", file=sys.stderr)  # fmt: skip
    if result.error:
        print(f"faceprint: error: {result.error} (results up to it are written)", file=sys.stderr)
        return 2
    if result.truncated:
        print("faceprint: warning: the file ended before its announced frame count (truncated?)", file=sys.stderr)
    if interrupted:
        return 130
    return 0 if result.tracks else 1


def _bgr_of(run_: Any, item: Any) -> Any:
    return run_.last_frame.bgr
