"""Track-level identification protocol: ``faceprint eval video MANIFEST``.

A manifest is a CSV file with a header and the columns ``file, start, end, identity`` and an
optional ``region`` (``x1 y1 x2 y2`` in pixels): who is on screen in that time span (and,
when several people are, where). ``identity`` ``unknown`` marks people who are not enrolled;
relative file paths are taken from the manifest's folder. A detection is annotated by the first row
of its file whose span holds its time and whose region (if any) holds its box centre; others are
not scored.

Figures, each over the annotated detections (``frame-level``: each detection identified on its
own; ``track-level``: each detection given its track's identity):

* ``accuracy`` — the identity (or unknown) equals the annotation;
* ``unknown_rate`` — detections of enrolled people reported unknown;
* ``false_identification_rate`` — detections reported as someone they are not;
* ``track_accuracy`` — tracks whose identity equals the annotation most of their detections have;
* ``identity_switches`` — tracks whose detections cover more than one annotated person (the
  tracker merged two people) plus, within each track, changes of the shown name from one person to
  another; ``fragmentations`` — over the spans of enrolled people, the tracks covering a span less
  one (a track broken in two counts one).
"""

from __future__ import annotations

import csv
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceprint.errors import InvalidInput
from faceprint.types import Box
from faceprint.video.results import FrameResult, TrackResult

__all__ = ["ManifestRow", "VideoEvaluation", "evaluate_items", "read_manifest"]

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ManifestRow:
    file: str
    start: float
    end: float
    identity: str | None  # None: a person who is not enrolled
    region: Box | None = None

    def holds(self, time: float, box: Box) -> bool:
        if not self.start <= time <= self.end:
            return False
        if self.region is None:
            return True
        cx, cy = box.center
        return self.region.x1 <= cx <= self.region.x2 and self.region.y1 <= cy <= self.region.y2


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """The rows of a manifest (module docstring); bad rows raise InvalidInput naming the line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput("no such file", source=str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"cannot read the manifest ({e})", source=str(p)) from None
    kept = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(line for _, line in kept)
    need = {"file", "start", "end", "identity"}
    if reader.fieldnames is None or not need <= {f.strip() for f in reader.fieldnames}:
        raise InvalidInput(f"a manifest needs the columns {', '.join(sorted(need))} (and optional region)", source=str(p))
    rows = []
    for k, r in enumerate(reader, start=1):
        n = kept[k][0] if k < len(kept) else k + 1  # the file's own line number (comments skipped)
        r = {k.strip(): (v or "").strip() for k, v in r.items() if k}
        try:
            start, end = float(r["start"]), float(r["end"])
            region = None
            if r.get("region"):
                x1, y1, x2, y2 = (float(v) for v in r["region"].split())
                region = Box(x1, y1, x2, y2)
        except (ValueError, InvalidInput) as e:
            raise InvalidInput(f"line {n}: bad number or region ({e})", source=str(p)) from None
        if end < start or not r["file"] or not r["identity"]:
            raise InvalidInput(f"line {n}: needs a file, an identity and end >= start", source=str(p))
        f = Path(r["file"])
        file = str(f if f.is_absolute() else (p.parent / f))
        ident = None if r["identity"].lower() == UNKNOWN else r["identity"]
        rows.append(ManifestRow(file, start, end, ident, region))
    if not rows:
        raise InvalidInput("the manifest has no rows", source=str(p))
    return rows


@dataclass(frozen=True)
class VideoEvaluation:
    """The protocol's figures (module docstring); ``to_dict`` for JSON."""

    annotated_detections: int
    tracks: int
    frame_accuracy: float
    track_accuracy_per_detection: float
    frame_unknown_rate: float
    track_unknown_rate: float
    frame_false_identification_rate: float
    track_false_identification_rate: float
    track_accuracy: float
    identity_switches: int
    fragmentations: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "annotated_detections": self.annotated_detections,
            "tracks": self.tracks,
            "frame_level": {
                "accuracy": round(self.frame_accuracy, 4),
                "unknown_rate": round(self.frame_unknown_rate, 4),
                "false_identification_rate": round(self.frame_false_identification_rate, 4),
            },
            "track_level": {
                "accuracy": round(self.track_accuracy_per_detection, 4),
                "unknown_rate": round(self.track_unknown_rate, 4),
                "false_identification_rate": round(self.track_false_identification_rate, 4),
                "track_accuracy": round(self.track_accuracy, 4),
                "identity_switches": self.identity_switches,
                "fragmentations": self.fragmentations,
            },
        }


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def evaluate_items(runs: Iterable[tuple[Sequence[ManifestRow], Iterable[FrameResult | TrackResult]]]) -> VideoEvaluation:
    """Score the items of one or more runs (``VideoRun`` iterations), each with its file's rows."""
    n = f_ok = t_ok = f_unk = t_unk = f_fi = t_fi = enrolled = 0
    n_tracks = track_right = switches = frags = 0
    for rows, items in runs:
        dets: list[tuple[int, int, str | None, str | None]] = []  # (row, track, frame identity, shown identity)
        finals: dict[int, str | None] = {}
        for it in items:
            if isinstance(it, TrackResult):
                finals[it.track_id] = it.identity
                continue
            for f in it.faces:
                if not f.detected:
                    continue
                row = next((i for i, r in enumerate(rows) if r.holds(it.time, f.box)), None)
                if row is not None:
                    dets.append((row, f.track_id, f.frame_identity, f.identity))
        shown: dict[int, list[str]] = defaultdict(list)
        per_track: dict[int, Counter[int]] = defaultdict(Counter)
        row_tracks: dict[int, set[int]] = defaultdict(set)
        for row, tid, frame_id, shown_id in dets:
            gt = rows[row].identity
            track_id = finals.get(tid)
            n += 1
            f_ok += frame_id == gt
            t_ok += track_id == gt
            if gt is not None:
                enrolled += 1
                f_unk += frame_id is None
                t_unk += track_id is None
            f_fi += frame_id is not None and frame_id != gt
            t_fi += track_id is not None and track_id != gt
            per_track[tid][row] += 1
            if shown_id is not None and (not shown[tid] or shown[tid][-1] != shown_id):
                shown[tid].append(shown_id)
            if gt is not None:
                row_tracks[row].add(tid)
        frags += sum(len(v) - 1 for v in row_tracks.values())
        for tid, rows_seen in per_track.items():
            n_tracks += 1
            people = {rows[r].identity or f"unknown#{r}" for r in rows_seen}
            switches += len(people) > 1
            switches += max(0, len(shown[tid]) - 1)
            majority = rows[rows_seen.most_common(1)[0][0]].identity
            track_right += finals.get(tid) == majority
    return VideoEvaluation(
        annotated_detections=n,
        tracks=n_tracks,
        frame_accuracy=_ratio(f_ok, n),
        track_accuracy_per_detection=_ratio(t_ok, n),
        frame_unknown_rate=_ratio(f_unk, enrolled),
        track_unknown_rate=_ratio(t_unk, enrolled),
        frame_false_identification_rate=_ratio(f_fi, n),
        track_false_identification_rate=_ratio(t_fi, n),
        track_accuracy=_ratio(track_right, n_tracks),
        identity_switches=switches,
        fragmentations=frags,
    )


def evaluate_manifest(manifest: str | os.PathLike[str], **run_options: Any) -> VideoEvaluation:
    """Run every file of ``manifest`` (:class:`~faceprint.video.process.VideoRun` with
    ``run_options``: pipeline, gallery, detect_every ...) and score it."""
    from faceprint.video.process import VideoRun

    rows = read_manifest(manifest)
    by_file: dict[str, list[ManifestRow]] = defaultdict(list)
    for r in rows:
        by_file[r.file].append(r)
    return evaluate_items((fr, VideoRun(f, **run_options)) for f, fr in by_file.items())
