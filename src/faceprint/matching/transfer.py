"""Moving a gallery's content: export to one file, import (merge) from one, re-embed in place.

* :func:`export_store` writes the whole store to one portable SQLite gallery file (online backup
  for SQLite stores, a copy otherwise), ``0600``, atomically (``<file>.partial`` + rename).
* :func:`import_file` merges such a file into a store by identity name, skipping faces already
  present (same identity, model and content hash); a file of another model is refused.
* :func:`reembed_store` re-computes every face from its source file with another pipeline and
  switches the store's model in one transaction.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import GalleryError, InvalidInput
from faceprint.fsperm import create_private_file, make_private
from faceprint.matching.results import ReembedReport
from faceprint.matching.store.base import BacksUp, GalleryStore, NewFace, WritesIdentities, WritesInBulk
from faceprint.types import Embedding, Face

__all__ = ["copy_store", "export_store", "import_file", "reembed_store"]


def export_store(store: GalleryStore, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write the whole of ``store`` to one SQLite gallery file at ``path`` (owner-only)."""
    from faceprint.matching.store.sqlite import SqliteStore

    dest = Path(path)
    if dest.exists():
        if not overwrite:
            raise InvalidInput(f"{dest} exists; pass overwrite=True (CLI: --force) to replace it")
        dest.unlink()
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        tmp.unlink()
    create_private_file(tmp)
    try:
        if isinstance(store, BacksUp):
            store.backup_to(tmp)
        else:
            with SqliteStore(tmp) as out:
                copy_store(store, out)
        make_private(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def import_file(store: GalleryStore, path: str | os.PathLike[str]) -> dict[str, int]:
    """Merge the gallery file at ``path`` (written by :func:`export_store`) into ``store``."""
    from faceprint.matching.store.sqlite import SqliteStore

    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no gallery file at {p}")
    with SqliteStore(p, create=False) as src:
        return copy_store(src, store)


def copy_store(src: GalleryStore, dst: GalleryStore) -> dict[str, int]:
    """Copy every identity and face of ``src`` into ``dst`` (merging by name; duplicates skipped)."""
    sm, dm = src.model(), dst.model()
    if sm is not None and dm is not None and sm != dm and dst.count()[1]:
        raise GalleryError(
            f"cannot import: the file holds embeddings of {sm[0]} ({sm[1]}-d), this gallery {dm[0]} ({dm[1]}-d); "
            "models are never mixed"
        )
    metas = {r.name: r.metadata for r in src.identities()}
    added = dup = 0
    for batch in src.iter_faces(batch=5000, with_vectors=True):
        by_name: dict[str, list[NewFace]] = {}
        for f in batch:
            if f.vector is None:  # pragma: no cover - asked for with_vectors
                raise GalleryError(f"face {f.id} of {f.identity} came back without its embedding")
            by_name.setdefault(f.identity, []).append(
                NewFace(Embedding(f.vector, model=f.model), f.sha256, box=f.box, quality=f.quality, source=f.source)
            )
        if isinstance(dst, WritesInBulk):  # one transaction per batch
            n = dst.add_faces_bulk(list(by_name.items()))
            added += n
            dup += sum(len(v) for v in by_name.values()) - n
            continue
        for name, faces in by_name.items():
            res = dst.add_faces(name, faces, metadata=metas.get(name) or None)
            dup += sum(r.duplicate for r in res)
            added += sum(not r.duplicate for r in res)
    if isinstance(dst, WritesIdentities):  # metadata, and identities without faces
        have = {r.name: r.metadata for r in dst.identities()}
        for name, meta in metas.items():
            if name not in have or (meta and have[name] != meta):
                dst.add_identity(name, meta or None)
    return {"identities": len(metas), "faces_added": added, "duplicates": dup}


def _hash_tree(roots: Sequence[str | os.PathLike[str]]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for r in roots:
        for p in Path(r).rglob("*"):
            if p.is_file():
                try:
                    out.setdefault(hashlib.sha256(p.read_bytes()).hexdigest(), p)
                except OSError:
                    continue
    return out


def _most_prominent(faces: Sequence[Face]) -> Face:
    from faceprint.pipeline import prominence_order

    return prominence_order(faces)[0]


def reembed_store(
    store: GalleryStore,
    pipeline: Any,
    *,
    roots: Sequence[str | os.PathLike[str]] = (),
    drop_missing: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReembedReport:
    """Re-compute every face's embedding with ``pipeline`` from its source file (found at its
    stored path, content hash checked, or by content hash under ``roots``), at its stored box, and
    make the pipeline's model the store's, in one transaction. Missing sources make it fail
    (nothing changed) unless ``drop_missing``."""
    from faceprint.io import load_image

    m = store.model()
    old = m[0] if m else None
    tag = str(pipeline.model_tag)
    records = [f for batch in store.iter_faces(with_vectors=False) for f in batch]
    by_hash: dict[str, Path] | None = None
    vectors: dict[int, np.ndarray] = {}
    missing: list[str] = []
    for i, rec in enumerate(records):
        data = None
        if rec.source and Path(rec.source).is_file():
            b = Path(rec.source).read_bytes()
            if hashlib.sha256(b).hexdigest() == rec.sha256:
                data = b
        if data is None and roots:
            if by_hash is None:
                by_hash = _hash_tree(roots)
            p = by_hash.get(rec.sha256)
            if p is not None:
                data = p.read_bytes()
        if data is None:
            missing.append(rec.source or f"face {rec.id} of {rec.identity}")
            continue
        img = load_image(data)
        faces = pipeline.process(img, boxes=[rec.box]) if rec.box is not None else pipeline.process(img)
        faces = [f for f in faces if f.embedding is not None]
        if not faces:
            missing.append(rec.source or f"face {rec.id} of {rec.identity}")
            continue
        emb = _most_prominent(faces).embedding
        if emb is not None:
            vectors[rec.id] = emb.vector
        if progress:
            progress(i + 1, len(records))
    if missing and not drop_missing:
        raise GalleryError(
            f"cannot re-embed {len(missing)} face(s) whose source image is missing or changed "
            f"(e.g. {missing[:3]}); pass roots=[...] (CLI: --roots DIR) to search for them by content, "
            "or drop_missing=True (CLI: --drop-missing) to drop them"
        )
    dim = int(next(iter(vectors.values())).size) if vectors else (m or ("", 0))[1]
    store.replace_model(tag, dim, vectors)
    return ReembedReport(old, tag, len(vectors), len(missing), tuple(missing))
