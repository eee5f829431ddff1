"""Moving a gallery's content: export to one file, import (merge) from one, re-embed in place.

* :func:`export_store` writes the whole store to one portable SQLite gallery file (online backup
  for SQLite stores, a copy otherwise), ``0600``, atomically (``<file>.partial`` + rename).
* :func:`import_file` merges such a file into a store by identity name, skipping faces already
  present (same identity and content hash), every model's embeddings with them; a file holding a
  model the (non-empty) gallery lacks is refused.
* :func:`reembed_store` re-computes every face from its source file with another pipeline and
  switches the store's model in one transaction.
* :func:`add_model_to_store` embeds every face with one more model, in one transaction, keeping
  faces whose source is gone (reported missing for the new model).
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

__all__ = ["add_model_to_store", "copy_store", "export_store", "import_file", "reembed_store"]


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
    """Copy every identity and face of ``src`` (with every model's embeddings) into ``dst``
    (merging by name; duplicates skipped, though they gain the models they lacked)."""
    smodels = src.models()
    dmodels = {m.tag: m.dim for m in dst.models()}
    if dst.count()[1]:
        alien = [m.tag for m in smodels if m.tag not in dmodels or dmodels[m.tag] != m.dim]
        if alien:
            raise GalleryError(
                f"cannot import: the file holds embeddings of {', '.join(alien)}, which this gallery "
                f"({', '.join(dmodels) or 'no model'}) does not hold; models are never mixed "
                "(add the model first: `faceprint gallery reembed --add-model`)"
            )
    else:  # an empty gallery follows the file's models
        for tag in dmodels:
            if tag not in {m.tag for m in smodels}:
                dst.drop_model(tag)
    for m in smodels:
        dst.add_model(m.tag, m.dim, m.pipeline)
    metas = {r.name: r.metadata for r in src.identities()}
    added = dup = no_embedding = 0
    for batch in src.iter_faces(batch=5000, with_vectors=False):
        ids = [f.id for f in batch]
        vecs: dict[int, list[Embedding]] = {}
        for m in smodels:
            fids, _, mat = src.vectors(ids, model=m.tag)
            for fid, v in zip(fids.tolist(), mat, strict=True):
                vecs.setdefault(int(fid), []).append(Embedding(v, model=m.tag))
        by_name: dict[str, list[NewFace]] = {}
        for f in batch:
            embs = vecs.get(f.id)
            if not embs:
                no_embedding += 1  # a face whose every model was dropped: nothing to compare
                continue
            by_name.setdefault(f.identity, []).append(
                NewFace(embs[0], f.sha256, box=f.box, quality=f.quality, source=f.source, extra=tuple(embs[1:]))
            )
        if isinstance(dst, WritesInBulk):  # one transaction per batch
            n = dst.add_faces_bulk(list(by_name.items()), add_models=True)
            added += n
            dup += sum(len(v) for v in by_name.values()) - n
            continue
        for name, faces in by_name.items():
            res = dst.add_faces(name, faces, metadata=metas.get(name) or None, add_models=True)
            dup += sum(r.duplicate for r in res)
            added += sum(not r.duplicate for r in res)
    if isinstance(dst, WritesIdentities):  # metadata, and identities without faces
        have = {r.name: r.metadata for r in dst.identities()}
        for name, meta in metas.items():
            if name not in have or (meta and have[name] != meta):
                dst.add_identity(name, meta or None)
    out = {"identities": len(metas), "faces_added": added, "duplicates": dup}
    if no_embedding:
        out["skipped_without_embedding"] = no_embedding
    return out


def _source_bytes(rec: Any, roots: Sequence[str | os.PathLike[str]], cache: dict[str, dict[str, Path]]) -> bytes | None:
    """The bytes of a face's source: at its stored path when its content hash still matches, else
    found by content hash under ``roots`` (hashed once, cached in ``cache``)."""
    if rec.source and Path(rec.source).is_file():
        try:
            b = Path(rec.source).read_bytes()
        except OSError:
            b = b""
        if hashlib.sha256(b).hexdigest() == rec.sha256:
            return b
    if roots:
        if "tree" not in cache:
            cache["tree"] = _hash_tree(roots)
        p = cache["tree"].get(rec.sha256)
        if p is not None:
            try:
                return p.read_bytes()
            except OSError:
                return None
    return None


def _embed_at_box(pipeline: Any, data: bytes, rec: Any) -> np.ndarray | None:
    from faceprint.io import load_image

    img = load_image(data)
    faces = pipeline.process(img, boxes=[rec.box]) if rec.box is not None else pipeline.process(img)
    faces = [f for f in faces if f.embedding is not None]
    if not faces:
        return None
    emb = _most_prominent(faces).embedding
    return None if emb is None else np.asarray(emb.vector, np.float32)


def add_model_to_store(
    store: GalleryStore,
    pipeline: Any,
    *,
    roots: Sequence[str | os.PathLike[str]] = (),
    progress: Callable[[int, int], None] | None = None,
    pipeline_config: dict[str, Any] | None = None,
) -> ReembedReport:
    """Embed the faces of ``store`` that lack ``pipeline``'s model (all of them when the model is
    new) from their source files, at their stored boxes, and store those embeddings in one
    transaction (recording the model and ``pipeline_config``). Faces whose source cannot be found
    are kept and reported in ``missing``."""
    tag = str(pipeline.model_tag)
    held = {m.tag: m.dim for m in store.models()}
    primary = store.model()
    records = store.faces_lacking(tag) if tag in held else [f for b in store.iter_faces(with_vectors=False) for f in b]
    cache: dict[str, dict[str, Path]] = {}
    vectors: dict[int, np.ndarray] = {}
    missing: list[str] = []
    for i, rec in enumerate(records):
        data = _source_bytes(rec, roots, cache)
        vec = _embed_at_box(pipeline, data, rec) if data is not None else None
        if vec is None:
            missing.append(f"{rec.identity}: {rec.source or f'face {rec.id}'}")
        else:
            vectors[rec.id] = vec
        if progress:
            progress(i + 1, len(records))
    if vectors:
        dim = int(next(iter(vectors.values())).size)
    elif tag in held:
        dim = held[tag]
    else:
        card = getattr(getattr(pipeline, "embedder", None), "card", None)
        dim = int(getattr(card, "embedding_dim", 0) or 0)
        if not dim:
            raise GalleryError(f"cannot add {tag}: no face of the gallery could be embedded (every source is missing)")
    store.set_embeddings(tag, dim, vectors, pipeline=pipeline_config)
    return ReembedReport(primary[0] if primary else None, tag, len(vectors), 0, (), tuple(missing), added=True)


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
    m = store.model()
    old = m[0] if m else None
    tag = str(pipeline.model_tag)
    records = [f for batch in store.iter_faces(with_vectors=False) for f in batch]
    cache: dict[str, dict[str, Path]] = {}
    vectors: dict[int, np.ndarray] = {}
    missing: list[str] = []
    for i, rec in enumerate(records):
        data = _source_bytes(rec, roots, cache)
        vec = _embed_at_box(pipeline, data, rec) if data is not None else None
        if vec is None:
            missing.append(rec.source or f"face {rec.id} of {rec.identity}")
        else:
            vectors[rec.id] = vec
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
