"""What the user does with the people the library finds: list, name, merge, split, find.

A *cluster* is a group of faces the library believes are one person (``faces.cluster_id``);
naming it makes it a named person (the name is unique: naming a second cluster with a name already
taken merges it into that person). Every face the user places (naming, merging, splitting) is
*pinned*: automatic clustering never moves it again, and new faces like it join its cluster.

A cluster is referred to by its id (``12``) or, once named, by its name.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from faceprint.errors import InvalidInput, UnknownIdentity
from faceprint.library.records import ClusterInfo, FaceInfo, PhotoInfo
from faceprint.library.store import LibraryStore


def check_name(name: str) -> str:
    """A person's name: the gallery's rules (:func:`faceprint.matching.names.validate_name`: NFC,
    1-200 characters, no control, invisible or bidirectional characters, no ``/``), inner runs
    of spaces collapsed, and not all digits (that would read as a cluster id)."""
    from faceprint.matching.names import validate_name

    n = validate_name(" ".join(str(name).split()) if isinstance(name, str) else name)
    if n.isdigit():
        raise InvalidInput(f"{n!r} looks like a cluster id; a name must hold a non-digit")
    return n


def resolve_cluster(store: LibraryStore, ref: int | str) -> int:
    """The id of the cluster ``ref`` names (an id, or a person's name)."""
    if isinstance(ref, int) or str(ref).strip().isdigit():
        cid = int(ref)
        if not store.q("SELECT 1 FROM clusters WHERE id = ?", (cid,)):
            raise UnknownIdentity(f"no cluster {cid} in the library (`faceprint people` lists them)")
        return cid
    rows = store.q("SELECT id FROM clusters WHERE name = ?", (" ".join(str(ref).split()),))
    if not rows:
        raise UnknownIdentity(f"no person named {ref!r} in the library (`faceprint people` lists them)")
    return int(rows[0][0])


def list_clusters(store: LibraryStore, *, min_faces: int = 1, named_only: bool = False) -> list[ClusterInfo]:
    """Named people first (by name), then clusters by size (largest first)."""
    rows = store.q(
        "SELECT c.id, c.name, COUNT(f.id), COUNT(DISTINCT f.photo_id) FROM clusters c "
        "LEFT JOIN faces f ON f.cluster_id = c.id GROUP BY c.id HAVING COUNT(f.id) >= ?"
        + (" AND c.name IS NOT NULL" if named_only else ""),
        (min_faces,),
    )
    covers = {
        int(r[0]): int(r[1])
        for r in store.q(
            "SELECT cluster_id, id FROM (SELECT cluster_id, id, ROW_NUMBER() OVER (PARTITION BY cluster_id "
            "ORDER BY pinned DESC, face_px * MIN(blur, 500.0) DESC, id) AS k FROM faces WHERE cluster_id IS NOT NULL) "
            "AS ranked WHERE k = 1"
        )
    }
    out = [ClusterInfo(int(cid), name, int(nf), int(np_), covers.get(int(cid))) for cid, name, nf, np_ in rows]
    return sorted(out, key=lambda c: (c.name is None, (c.name or "").casefold(), -c.faces, c.id))


def faces_of(store: LibraryStore, ref: int | str) -> list[FaceInfo]:
    """Every face of a cluster, with one path of its photo."""
    cid = resolve_cluster(store, ref)
    rows = store.q(
        "SELECT f.id, f.photo_id, (SELECT MIN(path) FROM paths p WHERE p.photo_id = f.photo_id), "
        "f.x1, f.y1, f.x2, f.y2, f.score, f.face_px, f.blur, f.cluster_id, f.pinned "
        "FROM faces f WHERE f.cluster_id = ? ORDER BY f.id",
        (cid,),
    )
    return [
        FaceInfo(int(r[0]), int(r[1]), r[2], (r[3], r[4], r[5], r[6]), float(r[7]), float(r[8]), float(r[9]),
                 r[10], bool(r[11]))
        for r in rows
    ]


def name_cluster(store: LibraryStore, ref: int | str, name: str) -> int:
    """Name cluster ``ref``; its faces become that person's (pinned). When another cluster
    already has the name, ``ref`` is merged into it. Returns the person's cluster id."""
    name = check_name(name)
    cid = resolve_cluster(store, ref)
    with store.write() as w:
        other = w.execute("SELECT id FROM clusters WHERE name = ?", (name,)).fetchone()
        if other is not None and int(other[0]) != cid:
            target = int(other[0])
            w.execute("UPDATE faces SET cluster_id = ?, pinned = 1 WHERE cluster_id IN (?, ?)", (target, cid, target))
            w.execute("DELETE FROM clusters WHERE id = ?", (cid,))
            return target
        w.execute("UPDATE clusters SET name = ? WHERE id = ?", (name, cid))
        w.execute("UPDATE faces SET pinned = 1 WHERE cluster_id = ?", (cid,))
    return cid


def unname(store: LibraryStore, ref: int | str) -> int:
    """Take the name off a person (its faces stay together, pinned)."""
    cid = resolve_cluster(store, ref)
    with store.write() as w:
        w.execute("UPDATE clusters SET name = NULL WHERE id = ?", (cid,))
    return cid


def merge(store: LibraryStore, target: int | str, others: Sequence[int | str]) -> int:
    """Move every face of ``others`` into ``target`` (all pinned). The result keeps ``target``'s
    name, else the one name among ``others``; two different names are refused."""
    tid = resolve_cluster(store, target)
    oids = sorted({resolve_cluster(store, o) for o in others} - {tid})
    if not oids:
        raise InvalidInput("merge needs at least one other cluster than the target")
    with store.write() as w:
        ids = [tid, *oids]
        marks = ",".join("?" * len(ids))
        names = {r[0] for r in w.execute(f"SELECT name FROM clusters WHERE id IN ({marks}) AND name IS NOT NULL", ids)}
        if len(names) > 1:
            raise InvalidInput(f"cannot merge different people ({', '.join(sorted(names))}); rename one first")
        w.execute(f"UPDATE faces SET cluster_id = ?, pinned = 1 WHERE cluster_id IN ({marks})", [tid, *ids])
        w.execute(f"DELETE FROM clusters WHERE id IN ({','.join('?' * len(oids))})", oids)
        if names:
            w.execute("UPDATE clusters SET name = ? WHERE id = ?", (names.pop(), tid))
    return tid


def split(store: LibraryStore, face_ids: Sequence[int], *, name: str | None = None) -> int:
    """Move the faces ``face_ids`` (all of one cluster) into a new cluster, named ``name`` when
    given; those faces and the ones left behind are pinned, so clustering does not join them
    again. Returns the new cluster's id."""
    ids = sorted({int(i) for i in face_ids})
    if not ids:
        raise InvalidInput("split needs the ids of the faces to move (`faceprint find CLUSTER` shows them)")
    if name is not None:
        name = check_name(name)
    with store.write() as w:
        marks = ",".join("?" * len(ids))
        rows = w.execute(f"SELECT id, cluster_id FROM faces WHERE id IN ({marks})", ids).fetchall()
        missing = set(ids) - {int(r[0]) for r in rows}
        if missing:
            raise InvalidInput(f"no face with id {', '.join(map(str, sorted(missing)))} in the library")
        clusters = {r[1] for r in rows}
        if len(clusters) != 1:
            raise InvalidInput("the faces to split off must all be in one cluster")
        old = clusters.pop()
        if name is not None and w.execute("SELECT 1 FROM clusters WHERE name = ?", (name,)).fetchone():
            raise InvalidInput(f"{name!r} is already a person's name; split without --name, then merge")
        new = int(w.execute("INSERT INTO clusters(name, created) VALUES (?, ?)", (name, time.time())).lastrowid or 0)
        w.execute(f"UPDATE faces SET cluster_id = ?, pinned = 1 WHERE id IN ({marks})", [new, *ids])
        if old is not None:
            w.execute("UPDATE faces SET pinned = 1 WHERE cluster_id = ?", (old,))
            w.execute("DELETE FROM clusters WHERE id = ? AND NOT EXISTS (SELECT 1 FROM faces WHERE cluster_id = ?)",
                      (old, old))
    return new


def find(store: LibraryStore, ref: int | str) -> list[PhotoInfo]:
    """Every photo of a person (or cluster), with all its paths and that person's faces in it."""
    cid = resolve_cluster(store, ref)
    faces: dict[int, list[int]] = {}
    for fid, pid in store.q("SELECT id, photo_id FROM faces WHERE cluster_id = ? ORDER BY photo_id, id", (cid,)):
        faces.setdefault(int(pid), []).append(int(fid))
    paths: dict[int, list[str]] = {}
    pids = list(faces)
    for s in range(0, len(pids), 900):
        chunk = pids[s:s + 900]
        q = f"SELECT photo_id, path FROM paths WHERE photo_id IN ({','.join('?' * len(chunk))}) ORDER BY path"
        for pid, path in store.q(q, chunk):
            paths.setdefault(int(pid), []).append(str(path))
    out = [PhotoInfo(pid, tuple(paths.get(pid, ())), tuple(fids)) for pid, fids in faces.items()]
    return sorted(out, key=lambda p: (p.paths[:1], p.photo_id))


def face_thumbnail(store: LibraryStore, face_id: int) -> bytes:
    """The JPEG thumbnail of a face."""
    rows = store.q("SELECT thumb FROM faces WHERE id = ?", (int(face_id),))
    if not rows or rows[0][0] is None:
        raise InvalidInput(f"no face with id {face_id} in the library")
    return bytes(rows[0][0])
