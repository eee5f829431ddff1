"""A photo library: index a collection, cluster its faces into people, name them, find their photos.

    from faceprint import library
    report = library.index(["~/Pictures"])     # resumable; skips unchanged files
    for c in library.people():                 # clusters and named people, with counts
        print(c.id, c.name, c.faces)
    library.name(12, "Ada")                    # cluster 12's faces are Ada's
    library.find("Ada")                        # every photo of Ada

Modules: :mod:`~faceprint.library.walk` (finding photos), :mod:`~faceprint.library.store` and
:mod:`~faceprint.library.schema` (the SQLite file), :mod:`~faceprint.library.indexer` (hash →
pipeline → store), :mod:`~faceprint.library.quality` (face quality, thumbnails),
:mod:`~faceprint.library.clustering` (incremental Chinese whispers),
:mod:`~faceprint.library.people_ops` (name, merge, split, find), :mod:`~faceprint.library.engine`
(the Engine Protocol) and :mod:`~faceprint.library.local` (the local engine). Importing this
package loads nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from faceprint._lazy import lazy_exports

if TYPE_CHECKING:
    from faceprint.library.api import faces, find, index, merge, name, open_library, people, split
    from faceprint.library.engine import Engine
    from faceprint.library.local import LocalEngine
    from faceprint.library.records import ClusterInfo, FaceInfo, FileError, IndexReport, PhotoInfo

_API = "faceprint.library.api"
_REC = "faceprint.library.records"
_EXPORTS = {
    "index": _API, "people": _API, "name": _API, "merge": _API, "split": _API, "find": _API, "faces": _API,
    "open_library": _API,
    "Engine": "faceprint.library.engine", "LocalEngine": "faceprint.library.local",
    "ClusterInfo": _REC, "FaceInfo": _REC, "FileError": _REC, "IndexReport": _REC, "PhotoInfo": _REC,
}
__all__ = [
    "ClusterInfo",
    "Engine",
    "FaceInfo",
    "FileError",
    "IndexReport",
    "LocalEngine",
    "PhotoInfo",
    "faces",
    "find",
    "index",
    "merge",
    "name",
    "open_library",
    "people",
    "split",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
