"""Enrolling a video track later: ``faceprint enroll NAME --track RESULT.json:ID``.

The timeline JSON of ``faceprint video`` stores, per track, the model tag and the track's
highest-quality embeddings (``enrolment``); they are enrolled as the person's faces (the
gallery refuses them when its model differs, as for any embedding)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faceprint.errors import InvalidInput
from faceprint.types import Embedding
from faceprint.video.results import embeddings_from_track_dict

__all__ = ["enroll_tracks", "parse_track_ref", "track_embeddings"]


def parse_track_ref(ref: str) -> tuple[Path, int]:
    """``RESULT.json:ID`` → (path, track id)."""
    path, sep, tid = ref.rpartition(":")
    if not sep or not path or not tid.strip().isdigit():
        raise InvalidInput(f"--track takes RESULT.json:ID (a timeline file and a track id), got {ref!r}")
    return Path(path), int(tid)


def track_embeddings(path: str | Path, track_id: int) -> list[Embedding]:
    """The enrolment embeddings of track ``track_id`` in the timeline file ``path``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput("no such file", source=str(p)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"not a timeline JSON file ({e})", source=str(p)) from None
    tracks = data.get("tracks") if isinstance(data, dict) else None
    if not isinstance(tracks, list):
        raise InvalidInput("not a timeline of `faceprint video` (no 'tracks')", source=str(p))
    for t in tracks:
        if isinstance(t, dict) and t.get("track_id") == track_id:
            return embeddings_from_track_dict(t, f"{p}:{track_id}")
    ids = ", ".join(str(t.get("track_id")) for t in tracks if isinstance(t, dict))
    raise InvalidInput(f"no track {track_id} (tracks: {ids or 'none'})", source=str(p))


def enroll_tracks(args: argparse.Namespace, open_gallery: Callable[[argparse.Namespace], Any]) -> int:
    """The CLI's ``enroll NAME --track ...``: every referenced track's embeddings as NAME's faces."""
    from faceprint.cli._common import print_json
    from faceprint.matching.names import validate_name

    if not args.name or args.images or args.folders:
        raise InvalidInput("usage: faceprint enroll NAME --track RESULT.json:ID [--track ...] (no images, no --folders)")
    name = validate_name(args.name)
    embs: list[Embedding] = []
    for ref in args.track:
        embs += track_embeddings(*parse_track_ref(ref))
    with open_gallery(args) as g:
        res = g.enroll(name, embs)
    if args.json:
        print_json(res.to_dict())
    else:
        print(f"{name}: {res.n_enrolled} face(s) enrolled, {res.n_duplicates} already there "
              f"(from {', '.join(args.track)})")  # fmt: skip
    return 0
