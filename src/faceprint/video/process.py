"""The video loop: read → detect (every frame or every Nth) → track → template → identify.

:class:`VideoRun` iterates :class:`~faceprint.video.results.FrameResult` (one per frame read) and
:class:`~faceprint.video.results.TrackResult` (each time a track ends, identified from its
quality-weighted template with the gallery's open-set threshold); after the iteration,
:attr:`VideoRun.result` holds the :class:`~faceprint.video.results.VideoResult`. A source that fails
mid-way (a dropped stream, a decoder error) ends the iteration normally: the tracks so far are
finished and identified, and the result carries the error.

Detection rate (``detect_every``): an int N detects on every Nth frame and only predicts the
tracks (Kalman) in between; ``"auto"`` adapts N to the rate this machine keeps up with: it
measures the cost of a detection frame and of a tracked frame and takes the smallest N whose
average cost fits the budget of ``speed`` × real time (``speed`` default: 3 for files, 1 for live
sources; planned with :data:`AUTO_HEADROOM`), capped so that a face is looked at at least every ``max_gap`` seconds.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from faceprint.errors import FaceprintError, InvalidInput
from faceprint.types import Box, Embedding, Face
from faceprint.video.reader import Frame, VideoReader
from faceprint.video.results import FaceInFrame, FrameResult, TrackResult, VideoResult
from faceprint.video.tracker import FaceTracker, Track, TrackerConfig

if TYPE_CHECKING:
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.results import IdentifiedFace
    from faceprint.pipeline import Pipeline

logger = logging.getLogger(__name__)

__all__ = ["DetectRate", "VideoRun", "crop_face"]

DetectRate = int | Literal["auto"]

#: ``"auto"`` plans on this much more speed than it promises: its costs are running averages, and a
#: plan made exactly at the budget lands on either side of it (measured: 2.99-3.03x at 3x).
AUTO_HEADROOM = 1.1

#: A crop around the best face: the box grown by this fraction on every side.
CROP_MARGIN = 0.3


def crop_face(rgb: np.ndarray, box: Box, margin: float = CROP_MARGIN) -> np.ndarray:
    """A copy of ``rgb`` around ``box`` grown by ``margin`` (clipped to the image)."""
    h, w = rgb.shape[:2]
    mx, my = box.width * margin, box.height * margin
    x1, y1 = max(0, int(box.x1 - mx)), max(0, int(box.y1 - my))
    x2, y2 = min(w, int(math.ceil(box.x2 + mx))), min(h, int(math.ceil(box.y2 + my)))
    return rgb[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)].copy()


class _RateControl:
    """Chooses which frames to detect on (see the module docstring)."""

    def __init__(self, every: DetectRate, fps: float, speed: float, max_gap: float) -> None:
        if every != "auto" and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
            raise InvalidInput(f"detect_every must be a positive integer or 'auto', got {every!r}")
        if not speed > 0:
            raise InvalidInput(f"speed must be > 0, got {speed}")
        self.auto = every == "auto"
        self.n = 1 if self.auto else int(every)
        self.fps = fps if fps > 0 else 30.0
        self.budget = 1.0 / (self.fps * speed * AUTO_HEADROOM)  # seconds a frame may cost on average
        self.max_n = max(1, round(self.fps * max_gap))
        self.c_det: float | None = None
        self.c_trk: float | None = None
        self.last_detect = -(10**9)
        self.used: Counter[int] = Counter()
        self.n_det = 0

    def should_detect(self, index: int) -> bool:
        return index - self.last_detect >= self.n

    def record(self, index: int, detected: bool, cost: float) -> None:
        if detected:
            self.last_detect = index
            self.used[self.n] += 1
            self.n_det += 1
            if self.n_det == 1:
                return  # the first detection pays for loading the models: not a rate to plan on
            self.c_det = cost if self.c_det is None else 0.7 * self.c_det + 0.3 * cost
        else:
            self.c_trk = cost if self.c_trk is None else 0.9 * self.c_trk + 0.1 * cost
        if self.auto and self.c_det is not None:
            c_trk = self.c_trk if self.c_trk is not None else 0.0
            spare = self.budget - c_trk  # what a tracked frame leaves of its budget
            n = self.max_n if spare <= 0 else math.ceil(max(self.c_det - c_trk, 0.0) / spare)
            self.n = int(min(max(n, 1), self.max_n))

    def describe(self) -> str:
        if not self.auto:
            return str(self.n)
        parts = ", ".join(f"{n}: {c}" for n, c in sorted(self.used.items()))
        return f"auto (detections at every N-th frame, N: count = {parts})"


class VideoRun:
    """One analysis of one source; iterate it (once) for per-frame and per-track results.

    Args:
        source: a file path, a camera index or a stream URL (:class:`~faceprint.video.reader.VideoReader`),
            or an open reader.
        pipeline: the face pipeline (default: the process-wide default pipeline).
        gallery: the gallery to identify tracks against (None: every track is unknown).
        detect_every: N or ``"auto"`` (module docstring).
        speed: the processing speed ``"auto"`` aims at, in multiples of real time (default 3 for
            files, 1 for live sources).
        max_gap: ``"auto"`` never detects less often than every ``max_gap`` seconds.
        k: candidates per track.
        threshold, target_fpir: the open-set decision (default: the gallery's, solved for its size).
        frame_level: also identify every detection on its own (frame-level identities).
        keep_crops: keep each track's best face crop (``TrackResult.best_crop``).
        tracker: :class:`~faceprint.video.tracker.TrackerConfig`.
        cut_threshold: a shot cut is declared when the mean absolute difference of two consecutive
            frames' 64×36 grey thumbnails reaches this (grey levels); every track ends at a cut and
            the new shot is detected at once, so a track never carries over to another person
            framed where the last one was. On the Hamilton clip the three cuts score 27–30 and
            every other frame pair ≤ 13.3. None: no cut detection.
    """

    def __init__(
        self,
        source: str | int | os.PathLike[str] | VideoReader,
        *,
        pipeline: Pipeline | None = None,
        gallery: Gallery | None = None,
        detect_every: DetectRate = "auto",
        speed: float | None = None,
        max_gap: float = 0.5,
        k: int = 5,
        threshold: float | None = None,
        target_fpir: float | None = None,
        frame_level: bool = True,
        keep_crops: bool = True,
        tracker: TrackerConfig | None = None,
        cut_threshold: float | None = 20.0,
    ) -> None:
        from faceprint import defaults

        if k < 1:
            raise InvalidInput(f"k must be >= 1, got {k}")
        self.reader = source if isinstance(source, VideoReader) else VideoReader(source)
        self.info = self.reader.info
        # frames are scenes, never face crops: a frame with no face must not pay for the pad steps
        self.pipeline = (pipeline if pipeline is not None else defaults.default_pipeline()).without_tight_crop_fallback()
        self.gallery = gallery
        self.model = str(self.pipeline.model_tag)
        if gallery is not None and gallery.model is not None and gallery.model != self.model:
            from faceprint.errors import GalleryError

            raise GalleryError(
                f"the gallery holds embeddings of model {gallery.model} but the pipeline makes {self.model}: "
                "models are never mixed (use the gallery's pipeline, or re-embed the gallery)"
            )
        self.k, self.threshold, self.target_fpir = int(k), threshold, target_fpir
        self.frame_level, self.keep_crops = frame_level, keep_crops
        if speed is None:
            speed = 1.0 if self.info.live else 3.0
        self.rate = _RateControl(detect_every, self.info.fps, float(speed), max_gap)
        self.tracker = FaceTracker(self.model, tracker)
        self._identity: dict[int, IdentifiedFace] = {}
        self._votes: dict[int, Counter[str | None]] = {}
        self.tracks: list[TrackResult] = []
        self.result: VideoResult | None = None
        self._started = False
        self.cut_threshold = cut_threshold
        self._thumb: np.ndarray | None = None
        self.cuts = 0
        self.frames = self.detected = 0
        self._last_time = 0.0
        self._t0: float | None = None
        self.last_frame: Frame | None = None

    # ------------------------------------------------------------------ identification

    def _identify(self, embs: list[Embedding]) -> list[IdentifiedFace | None]:
        if self.gallery is None or not embs or self.gallery.model is None:
            return [None] * len(embs)
        return list(
            self.gallery.identify_embeddings(embs, self.k, threshold=self.threshold, target_fpir=self.target_fpir)
        )

    def _finish(self, t: Track) -> TrackResult:
        b = t.builder
        template = b.template()
        ident = self._identify([template])[0] if template is not None else None
        best = b.best_observation
        votes = self._votes.pop(t.id, Counter())
        self._identity.pop(t.id, None)
        return TrackResult(
            track_id=t.id,
            identity=ident.identity if ident else None,
            score=ident.score if ident else None,
            threshold=ident.threshold if ident else None,
            threshold_source=ident.threshold_source if ident else None,
            candidates=ident.candidates if ident else (),
            first_frame=t.first_frame,
            last_frame=t.last_frame,
            first_time=t.first_time,
            last_time=t.last_time,
            best_frame=best.frame if best else t.first_frame,
            best_time=best.time if best else t.first_time,
            best_box=best.box if best else (t.last_box or t.box()),
            best_quality=best.quality if best else 0.0,
            n_detections=t.hits,
            model=b.model,
            template=template,
            embeddings=tuple(o.embedding for o in b.best),
            qualities=tuple(o.quality for o in b.best),
            frame_votes=tuple(sorted(votes.items(), key=lambda kv: (-kv[1], kv[0] or ""))),
            best_crop=t.best_crop,
        )

    # ------------------------------------------------------------------ the loop

    def __iter__(self) -> Iterator[FrameResult | TrackResult]:
        if self._started:
            raise InvalidInput("a VideoRun is iterated once; start another for a second pass")
        self._started = True
        self._t0 = time.perf_counter()
        error: FaceprintError | None = None
        it = iter(self.reader)
        try:
            while True:
                f_start = time.perf_counter()
                try:
                    frame = next(it)
                except StopIteration:
                    break
                except FaceprintError as e:
                    error = e
                    break
                self.last_frame = frame
                if self._is_cut(frame):
                    self.cuts += 1
                    self.rate.last_detect = -(10**9)
                    yield from self._end_all()
                detect = self.rate.should_detect(frame.index)
                if detect:
                    fr, ended = self._detect_frame(frame)
                    self.detected += 1
                else:
                    fr, ended = self._track_frame(frame), []
                self.frames += 1
                self._last_time = frame.time
                yield fr
                for tr in ended:
                    self.tracks.append(tr)
                    yield tr
                self.rate.record(frame.index, detect, time.perf_counter() - f_start)
        finally:
            self.reader.close()
        yield from self._end_all()
        if error is not None:
            logger.warning("%s: stopped after %d frames: %s", self.info.source, self.frames, error)
        self._make_result(error)

    def _end_all(self) -> Iterator[TrackResult]:
        for t in self.tracker.finish():
            tr = self._finish(t)
            self.tracks.append(tr)
            yield tr

    def _make_result(self, error: FaceprintError | None) -> VideoResult:
        self.result = VideoResult(
            info=self.info,
            tracks=tuple(sorted(self.tracks, key=lambda t: t.track_id)),
            frames=self.frames,
            detected_frames=self.detected,
            elapsed=time.perf_counter() - (self._t0 if self._t0 is not None else time.perf_counter()),
            model=self.model,
            detect_every=self.rate.describe(),
            truncated=self.reader.truncated,
            error=None if error is None else str(error),
            error_code=None if error is None else error.code,
            last_time=self._last_time,
            cuts=self.cuts,
        )
        return self.result

    def stop(self) -> VideoResult:
        """End a run whose iteration was left early (a ``break``, Ctrl-C): the source is closed,
        the open tracks are finished and identified, and the :class:`VideoResult` so far returned."""
        if self.result is not None:
            return self.result
        self.reader.close()
        for _ in self._end_all():
            pass
        return self._make_result(None)

    def run(self) -> VideoResult:
        """Iterate to the end and return the :class:`VideoResult`."""
        for _ in self:
            pass
        if self.result is None:  # pragma: no cover - set at the end of every iteration
            raise InvalidInput("the run did not finish")
        return self.result

    def _is_cut(self, frame: Frame) -> bool:
        if self.cut_threshold is None:
            return False
        import cv2

        small = cv2.resize(frame.bgr, (64, 36), interpolation=cv2.INTER_AREA)
        thumb = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        prev, self._thumb = self._thumb, thumb
        return prev is not None and float(np.abs(thumb - prev).mean()) >= self.cut_threshold

    def _detect_frame(self, frame: Frame) -> tuple[FrameResult, list[TrackResult]]:
        rgb = frame.rgb()
        faces: list[Face] = [f for f in self.pipeline.process(rgb) if f.embedding is not None]
        matches = self.tracker.update(frame.index, frame.time, faces)
        ended = [self._finish(t) for t in self.tracker.expire(frame.time)]
        # one gallery search for the frame: each detection alone, then each matched track's template
        embs = [f.embedding for _, f, _ in matches if f.embedding is not None] if self.frame_level else []
        templates = [t.builder.template() for t, _, _ in matches]
        tmpl = [e for e in templates if e is not None]
        ids = self._identify(embs + tmpl)
        per_face, per_track = ids[: len(embs)], ids[len(embs) :]
        ti = iter(per_track)
        out = []
        for n, (t, f, obs) in enumerate(matches):
            if templates[n] is not None:
                got = next(ti)
                if got is not None:
                    self._identity[t.id] = got
            fid = per_face[n] if self.frame_level else None
            if self.frame_level:
                self._votes.setdefault(t.id, Counter())[fid.identity if fid else None] += 1
            if self.keep_crops and obs is not None and t.builder.best_observation is obs:
                t.best_crop = crop_face(rgb, f.box)
            if not t.confirmed:
                continue
            cur = self._identity.get(t.id)
            out.append(
                FaceInFrame(
                    track_id=t.id,
                    box=f.box,
                    detected=True,
                    detection_score=f.detection.score,
                    identity=cur.identity if cur else None,
                    score=cur.score if cur else None,
                    frame_identity=fid.identity if fid else None,
                    frame_score=fid.score if fid else None,
                )
            )
        return FrameResult(frame.index, frame.time, True, tuple(out)), ended

    def _track_frame(self, frame: Frame) -> FrameResult:
        self.tracker.predict(frame.time)
        out = []
        for t in self.tracker.tracks:
            if not t.confirmed or t.last_frame != self.rate.last_detect:
                continue  # only tracks seen at the latest detection are drawn between detections
            cur = self._identity.get(t.id)
            box = t.box().clip(frame.width, frame.height)
            if box.width < 1 or box.height < 1:
                continue
            out.append(FaceInFrame(t.id, box, False, identity=cur.identity if cur else None, score=cur.score if cur else None))
        return FrameResult(frame.index, frame.time, False, tuple(out))


def video(source: Any, **kwargs: Any) -> VideoRun:
    """A :class:`VideoRun` (see there); the function API's :func:`faceprint.video` wraps it."""
    return VideoRun(source, **kwargs)
