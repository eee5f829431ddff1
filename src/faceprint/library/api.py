"""The library's function API (the CLI's ``index``, ``people``, ``name``, ``merge``, ``split`` and
``find`` call these). Every function takes ``library=`` (a path to the library file) or ``home=``
(the faceprint home holding ``library.sqlite``), default ``$FACEPRINT_HOME``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from faceprint.library import people_ops as _people
from faceprint.library.records import ClusterInfo, FaceInfo, IndexReport, PhotoInfo, PhotoResult
from faceprint.library.store import LibraryStore, default_library_path

PathLike = str | os.PathLike[str]


def open_library(library: PathLike | None = None, *, home: PathLike | None = None, create: bool = True) -> LibraryStore:
    """The library ``library`` (a file, or a ``postgresql://`` URL: :mod:`faceprint.library.backends`),
    else ``library.sqlite`` in the faceprint home."""
    from faceprint.library.backends import open_store

    return open_store(library if library is not None else default_library_path(home), create=create)


def index(
    roots: Sequence[PathLike] | PathLike,
    *,
    library: PathLike | None = None,
    home: PathLike | None = None,
    pipeline: Any = None,
    jobs: int | None = None,
    threshold: float | None = None,
    engine: str = "local",
    pool: str = "auto",
    address: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[str, PhotoResult | None], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> IndexReport:
    """Index every photo under ``roots`` into the library (see :mod:`faceprint.library.indexer`).
    ``engine="ray"`` runs it on Ray (:mod:`faceprint.library.ray_engine`: ``address`` of a running
    cluster, else a local Ray; ``workers`` actors, default ``jobs``)."""
    from faceprint.library.engine import make_engine

    paths = [os.fspath(roots)] if isinstance(roots, (str, os.PathLike)) else [os.fspath(r) for r in roots]
    with open_library(library, home=home) as store:
        eng = make_engine(engine, store=store, pipeline=pipeline, jobs=jobs, threshold=threshold, home=home,
                          pool=pool, **({"address": address, "workers": workers} if engine == "ray" else {}))
        return eng.index(paths, on_progress=on_progress, on_total=on_total)


def people(*, library: PathLike | None = None, home: PathLike | None = None, min_faces: int = 1,
           named_only: bool = False) -> list[ClusterInfo]:
    """Named people and proposed clusters, with counts."""
    with open_library(library, home=home, create=False) as store:
        return _people.list_clusters(store, min_faces=min_faces, named_only=named_only)


def name(cluster: int | str, person: str, *, library: PathLike | None = None, home: PathLike | None = None) -> int:
    """Name a cluster (its faces become ``person``'s); returns the person's cluster id."""
    with open_library(library, home=home, create=False) as store:
        return _people.name_cluster(store, cluster, person)


def merge(target: int | str, others: Sequence[int | str], *, library: PathLike | None = None,
          home: PathLike | None = None) -> int:
    """Merge ``others`` into ``target``; returns the target's id."""
    with open_library(library, home=home, create=False) as store:
        return _people.merge(store, target, others)


def split(face_ids: Sequence[int], *, name: str | None = None, library: PathLike | None = None,
          home: PathLike | None = None) -> int:
    """Move faces into a new cluster; returns its id."""
    with open_library(library, home=home, create=False) as store:
        return _people.split(store, face_ids, name=name)


def find(person: int | str, *, library: PathLike | None = None, home: PathLike | None = None) -> list[PhotoInfo]:
    """Every photo of a person (or cluster)."""
    with open_library(library, home=home, create=False) as store:
        return _people.find(store, person)


def faces(cluster: int | str, *, library: PathLike | None = None, home: PathLike | None = None) -> list[FaceInfo]:
    """Every face of a person (or cluster), with its id (for ``split``)."""
    with open_library(library, home=home, create=False) as store:
        return _people.faces_of(store, cluster)
