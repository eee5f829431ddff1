"""The photo library the service serves (``faceprint serve --library FILE [--library-root DIR]``).

One :class:`ServiceLibrary` per app (``ctx.library``; None when no library is configured, and
the ``/v1/library`` routes then answer 409 ``library_off``). It holds the library file (one SQLite
connection per work-pool thread), reads pages of people, faces and photos, does what the user
decides (name, merge, split: :mod:`faceprint.library.people_ops`), and runs at most one indexing
job at a time on a thread of its own, over the configured **library root** or a sub-folder of it
that a client names by a relative path. A client never gives a server path: absolute paths, ``..``
parts, NUL and anything that resolves (symlinks included) outside the root are refused.

Photos are shown to clients by their path relative to the root (else by file name only): the
server's own paths never leave it.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from faceprint.errors import InvalidInput
from faceprint.library import people_ops
from faceprint.library.records import ClusterInfo, PhotoResult
from faceprint.library.store import LibraryStore
from faceprint.service.errors import ServiceError

logger = logging.getLogger(__name__)

#: The most items one page holds (a larger ``limit`` is clamped to it).
MAX_PAGE = 500
#: Largest offset looked at (beyond it a page is simply empty).
MAX_OFFSET = 1 << 62
PREVIEW_MIN, PREVIEW_MAX = 32, 1024
KINDS = ("all", "people", "clusters")


class IndexCancelled(Exception):
    """Raised inside an indexing job's progress callback when the service stops."""


def page_bounds(offset: int, limit: int) -> tuple[int, int]:
    """``(offset, limit)`` clamped to ``[0, MAX_OFFSET]`` and ``[1, MAX_PAGE]``."""
    return max(0, min(int(offset), MAX_OFFSET)), max(1, min(int(limit), MAX_PAGE))


def resolve_folder(root: Path, folder: str) -> Path:
    """The folder ``folder`` (relative, ``/``-separated) under ``root``; InvalidInput for an
    absolute path, a ``..`` part, NUL or control characters, or anything that resolves outside
    ``root`` (through a symlink too) or is not a folder."""
    if not isinstance(folder, str) or any(ord(ch) < 32 for ch in folder) or "\\" in folder:
        raise InvalidInput("field 'folder': a relative path under the library root ('/'-separated, no control characters)")
    rel = PurePosixPath(folder)
    if rel.is_absolute() or ".." in rel.parts:
        raise InvalidInput("field 'folder': must be a relative path under the library root (no '/' at the start, no '..')")
    base = root.resolve()
    real = (base / rel).resolve()
    if real != base and base not in real.parents:
        raise InvalidInput("field 'folder': it leads outside the library root")
    if not real.is_dir():
        raise InvalidInput(f"field 'folder': no folder {folder!r} under the library root")
    return Path(os.path.normpath(root / rel))  # as spelt under the root: the paths `faceprint index` records


class ServiceLibrary:
    """Args:
        path: the library file (must exist unless ``root`` is given: then it is created empty).
        root: the folder clients may have indexed (None: indexing from the service is off).
        pipeline: the service's pipeline (indexing uses it; the library's pipeline must match).
        max_pixels: the decode limit for photo previews.
    """

    def __init__(self, path: Path, root: Path | None, pipeline: Any, *, max_pixels: int) -> None:
        self.path = Path(path)
        self.root = None if root is None else Path(os.path.abspath(root))
        if self.root is not None and not self.root.is_dir():
            raise InvalidInput(f"library_root: {self.root} is not a folder")
        self.store = LibraryStore(self.path, create=self.root is not None)
        self.pipeline = pipeline
        self.max_pixels = max_pixels
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faceprint-index")
        self._job: dict[str, Any] = {"status": "idle", "folder": None, "progress": _progress(0, None, 0.0),
                                     "report": None, "error": None}

    # ------------------------------------------------------------ paths

    def shown_path(self, path: str) -> str:
        """``path`` as a client sees it: relative to the root, else its file name."""
        if self.root is not None:
            try:
                return Path(path).relative_to(self.root).as_posix()
            except ValueError:
                pass
        return os.path.basename(path)

    # ------------------------------------------------------------ reads

    def summary(self) -> dict[str, Any]:
        q = self.store.q
        people = int(q("SELECT COUNT(*) FROM clusters WHERE name IS NOT NULL")[0][0])
        return {
            "enabled": True,
            "photos": self.store.count("photos"),
            "faces": self.store.count("faces"),
            "clusters": self.store.count("clusters") - people,
            "people": people,
            "model": self.store.meta("model"),
            "can_index": self.root is not None,
            "indexing": self.job(),
        }

    def cluster(self, cluster_id: int) -> ClusterInfo:
        rows = self.store.q(
            "SELECT c.id, c.name, COUNT(f.id), COUNT(DISTINCT f.photo_id) FROM clusters c "
            "LEFT JOIN faces f ON f.cluster_id = c.id WHERE c.id = ? GROUP BY c.id", (int(cluster_id),))
        if not rows:
            raise ServiceError(404, "not_found", f"no cluster {cluster_id} in the library")
        cover = self.store.q("SELECT id FROM faces WHERE cluster_id = ? "
                             "ORDER BY pinned DESC, face_px * MIN(blur, 500.0) DESC, id LIMIT 1", (int(cluster_id),))
        cid, name, n_faces, n_photos = rows[0]
        return ClusterInfo(int(cid), name, int(n_faces), int(n_photos), int(cover[0][0]) if cover else None)

    def people(self, kind: str, min_faces: int, offset: int, limit: int) -> dict[str, Any]:
        offset, limit = page_bounds(offset, limit)
        rows = people_ops.list_clusters(self.store, min_faces=max(0, min(int(min_faces), MAX_OFFSET)))
        if kind == "people":
            rows = [c for c in rows if c.name is not None]
        elif kind == "clusters":
            rows = [c for c in rows if c.name is None]
        return {"items": [cluster_out(c) for c in rows[offset:offset + limit]], "total": len(rows),
                "offset": offset, "limit": limit}

    def faces(self, cluster_id: int, offset: int, limit: int) -> dict[str, Any]:
        offset, limit = page_bounds(offset, limit)
        info = self.cluster(cluster_id)
        faces = people_ops.faces_of(self.store, cluster_id)
        items = [{
            "id": f.id, "photo_id": f.photo_id, "photo": None if f.path is None else self.shown_path(f.path),
            "box": [round(float(v), 2) for v in f.box], "score": round(f.score, 4), "face_px": round(f.face_px, 1),
            "blur": round(f.blur, 1), "pinned": f.pinned, "thumbnail": thumb_url(f.id),
        } for f in faces[offset:offset + limit]]
        return {"cluster": cluster_out(info), "faces": items, "total": len(faces), "offset": offset, "limit": limit}

    def photos(self, cluster_id: int, offset: int, limit: int) -> dict[str, Any]:
        offset, limit = page_bounds(offset, limit)
        info = self.cluster(cluster_id)
        photos = people_ops.find(self.store, cluster_id)
        page = photos[offset:offset + limit]
        sizes = self._sizes([p.photo_id for p in page])
        items = [{
            "photo_id": p.photo_id, "paths": [self.shown_path(x) for x in p.paths], "face_ids": list(p.face_ids),
            "width": sizes.get(p.photo_id, (0, 0))[0], "height": sizes.get(p.photo_id, (0, 0))[1],
            "image": f"/v1/library/photos/{p.photo_id}/image",
        } for p in page]
        return {"cluster": cluster_out(info), "photos": items, "total": len(photos), "offset": offset, "limit": limit}

    def thumbnail(self, face_id: int) -> bytes:
        rows = self.store.q("SELECT thumb FROM faces WHERE id = ?", (int(face_id),))
        if not rows:
            raise ServiceError(404, "not_found", f"no face {face_id} in the library")
        if rows[0][0] is None:
            raise ServiceError(404, "not_found", f"face {face_id} has no thumbnail")
        return bytes(rows[0][0])

    def preview(self, photo_id: int, size: int) -> bytes:
        """A JPEG of photo ``photo_id`` at most ``size`` px on its longer side, from its file, which
        must be as it was indexed (same byte size and modification time)."""
        from PIL import Image

        from faceprint.io.decode import load_image, read_image_bytes

        side = max(PREVIEW_MIN, min(int(size), PREVIEW_MAX))
        rows = self.store.q("SELECT path, size, mtime_ns FROM paths WHERE photo_id = ? ORDER BY path", (int(photo_id),))
        if not rows:
            raise ServiceError(404, "not_found", f"no photo {photo_id} in the library")
        for path, nbytes, mtime_ns in rows:
            try:
                st = os.stat(path)
            except OSError:
                continue
            if st.st_size != nbytes or st.st_mtime_ns != mtime_ns:
                continue
            image = load_image(read_image_bytes(path), max_pixels=self.max_pixels, name=f"photo {photo_id}", max_side=side)
            im = Image.fromarray(image)
            im.thumbnail((side, side))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=85)
            return buf.getvalue()
        raise ServiceError(404, "not_found", f"photo {photo_id}'s file is gone or changed since it was indexed")

    def _sizes(self, ids: list[int]) -> dict[int, tuple[int, int]]:
        if not ids:
            return {}
        rows = self.store.q(f"SELECT id, width, height FROM photos WHERE id IN ({','.join('?' * len(ids))})", ids)
        return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}

    def _known(self, cluster_id: int) -> None:
        if not self.store.q("SELECT 1 FROM clusters WHERE id = ?", (int(cluster_id),)):
            raise ServiceError(404, "not_found", f"no cluster {cluster_id} in the library")

    # ------------------------------------------------------------ the user's decisions

    def name(self, cluster_id: int, name: str) -> ClusterInfo:
        try:
            person = people_ops.check_name(name)
        except InvalidInput as e:
            raise InvalidInput(f"field 'name': {e}") from None
        self._known(cluster_id)
        return self.cluster(people_ops.name_cluster(self.store, cluster_id, person))

    def merge(self, target: int, others: list[int]) -> ClusterInfo:
        for c in [target, *others]:
            self._known(c)
        return self.cluster(people_ops.merge(self.store, target, others))

    def split(self, face_ids: list[int], name: str | None) -> ClusterInfo:
        if name is not None:
            try:
                name = people_ops.check_name(name)
            except InvalidInput as e:
                raise InvalidInput(f"field 'name': {e}") from None
        marks = ",".join("?" * len(face_ids))
        known = {int(r[0]) for r in self.store.q(f"SELECT id FROM faces WHERE id IN ({marks})", face_ids)}
        missing = sorted(set(face_ids) - known)
        if missing:
            raise ServiceError(404, "not_found", f"no face {', '.join(map(str, missing[:10]))} in the library")
        return self.cluster(people_ops.split(self.store, face_ids, name=name))

    # ------------------------------------------------------------ indexing

    def job(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._job)

    def start_index(self, folder: str) -> dict[str, Any]:
        if self.root is None:
            raise ServiceError(409, "indexing_off", "this server has no library root: start it with "
                               "`faceprint serve --library FILE --library-root DIR` to index from here")
        target = resolve_folder(self.root, folder)
        with self._lock:
            if self._job["status"] in ("queued", "running"):
                raise ServiceError(409, "busy", "an indexing job is already running (GET /v1/library/index)")
            self._job = {"status": "queued", "folder": "" if target == self.root else self.shown_path(str(target)),
                         "progress": _progress(0, None, 0.0), "report": None, "error": None}
            state = dict(self._job)
        self._pool.submit(self._run, target)
        return state

    def _set(self, **kw: Any) -> None:
        with self._lock:
            self._job.update(kw)

    def _run(self, target: Path) -> None:
        from faceprint.errors import FaceprintError
        from faceprint.library.indexer import index

        t0 = time.perf_counter()
        total: list[int | None] = [None]
        done = [0]

        def on_total(n: int) -> None:
            total[0] = n
            self._set(status="running", progress=_progress(0, n, 0.0))

        def on_progress(path: str, result: PhotoResult | None) -> None:
            if self._stop.is_set():
                raise IndexCancelled
            done[0] += 1
            self._set(progress=_progress(done[0], total[0], time.perf_counter() - t0))

        try:
            report = index([str(target)], self.store, self.pipeline, jobs=1, on_progress=on_progress, on_total=on_total)
            d = report.to_dict()
            d["error_list"] = [{**e, "path": self.shown_path(e["path"])} for e in d["error_list"][:100]]
            self._set(status="done", report=d)
        except IndexCancelled:
            self._set(status="failed", error={"code": "cancelled", "message": "the service stopped; index again to resume"})
        except FaceprintError as e:
            self._set(status="failed", error={"code": e.code, "message": self._scrub(str(e))})
        except Exception as e:  # noqa: BLE001 - reported in the job, never lost
            logger.error("indexing failed: %s", type(e).__name__, exc_info=e)
            self._set(status="failed", error={"code": "internal_error", "message": type(e).__name__})

    def _scrub(self, message: str) -> str:
        for value, label in ((str(self.root or ""), "<library root>"), (str(self.path), "<library>")):
            if len(value) > 1:
                message = message.replace(value, label)
        return message

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.store.close()


def _progress(done: int, total: int | None, elapsed: float) -> dict[str, Any]:
    eta = elapsed / done * (total - done) if total and done else None
    return {"files": done, "total": total, "eta_s": None if eta is None else round(eta, 1)}


def thumb_url(face_id: int | None) -> str | None:
    return None if face_id is None else f"/v1/library/faces/{face_id}/thumbnail"


def cluster_out(c: ClusterInfo) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "faces": c.faces, "photos": c.photos, "cover_face": c.cover_face,
            "thumbnail": thumb_url(c.cover_face)}
