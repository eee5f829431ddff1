"""The library's people: ``faceprint people``, ``name``, ``merge``, ``split``, ``find``.

* ``faceprint people [--min-faces N] [--named] [--json]`` — clusters and named people with counts.
* ``faceprint name CLUSTER NAME`` — name a cluster (its faces become that person's; a name already
  taken merges the cluster into that person).
* ``faceprint merge TARGET CLUSTER...`` — one person from several clusters.
* ``faceprint split FACE_ID... [--name NAME]`` — move faces (ids from ``find --faces``) into a new cluster.
* ``faceprint find NAME|CLUSTER [--faces] [--json]`` — every photo of a person (or its faces).
"""

from __future__ import annotations

import argparse

from faceprint.cli._common import add_output_args, print_json
from faceprint.cli.index_cmd import add_library_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("people", help="list the library's people and clusters",
                       description="Named people first, then the clusters the library proposes, with face and photo counts.")
    p.add_argument("--min-faces", type=int, default=1, help="only clusters with at least this many faces")
    p.add_argument("--named", action="store_true", help="only named people")
    add_library_args(p)
    add_output_args(p)
    p.set_defaults(func=run_people)

    p = sub.add_parser("name", help="name a cluster of the library",
                       description="Name a cluster: its faces become that person's and stay with them.")
    p.add_argument("cluster", help="cluster id (from `faceprint people`) or a person's current name")
    p.add_argument("name", help="the person's name")
    add_library_args(p)
    add_output_args(p)
    p.set_defaults(func=run_name)

    p = sub.add_parser("merge", help="merge clusters of the library into one person")
    p.add_argument("target", help="cluster id or name that stays")
    p.add_argument("others", nargs="+", help="cluster ids or names merged into it")
    add_library_args(p)
    add_output_args(p)
    p.set_defaults(func=run_merge)

    p = sub.add_parser("split", help="move faces into a new cluster of the library")
    p.add_argument("faces", nargs="+", type=int, metavar="FACE_ID", help="face ids (from `faceprint find X --faces`)")
    p.add_argument("--name", default=None, help="name the new cluster")
    add_library_args(p)
    add_output_args(p)
    p.set_defaults(func=run_split)

    p = sub.add_parser("find", help="every photo of a person in the library")
    p.add_argument("person", help="a person's name or a cluster id")
    p.add_argument("--faces", action="store_true", help="list the faces (ids, boxes, quality) instead of photos")
    add_library_args(p)
    add_output_args(p)
    p.set_defaults(func=run_find)


def _kw(args: argparse.Namespace) -> dict[str, str | None]:
    return {"library": args.library, "home": args.home}


def run_people(args: argparse.Namespace) -> int:
    from faceprint.library.api import people

    found = people(min_faces=args.min_faces, named_only=args.named, **_kw(args))
    if args.json:
        print_json([c.to_dict() for c in found])
        return 0
    for c in found:
        label = c.name if c.name is not None else "(unnamed)"
        print(f"{c.id:>6}  {label:<30} {c.faces:>5} face(s) in {c.photos} photo(s)")
    named = sum(1 for c in found if c.name is not None)
    print(f"{len(found)} cluster(s), {named} named")
    return 0


def run_name(args: argparse.Namespace) -> int:
    from faceprint.library.api import name

    cid = name(args.cluster, args.name, **_kw(args))
    if args.json:
        print_json({"cluster": cid, "name": " ".join(args.name.split())})
    else:
        print(f"cluster {cid} is {' '.join(args.name.split())}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from faceprint.library.api import merge

    cid = merge(args.target, args.others, **_kw(args))
    if args.json:
        print_json({"cluster": cid})
    else:
        print(f"merged into cluster {cid}")
    return 0


def run_split(args: argparse.Namespace) -> int:
    from faceprint.library.api import split

    cid = split(args.faces, name=args.name, **_kw(args))
    if args.json:
        print_json({"cluster": cid, "faces": args.faces})
    else:
        print(f"{len(set(args.faces))} face(s) moved to new cluster {cid}")
    return 0


def run_find(args: argparse.Namespace) -> int:
    from faceprint.library.api import faces, find

    if args.faces:
        fs = faces(args.person, **_kw(args))
        if args.json:
            print_json([f.to_dict() for f in fs])
        else:
            for f in fs:
                x1, y1, x2, y2 = f.box
                print(f"face {f.id}: {f.path} box=({x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}) size={f.face_px:.0f}px "
                      f"blur={f.blur:.0f}{' pinned' if f.pinned else ''}")
        return 0 if fs else 1
    photos = find(args.person, **_kw(args))
    if args.json:
        print_json([p.to_dict() for p in photos])
    else:
        for ph in photos:
            print(ph.paths[0] if ph.paths else f"(photo {ph.photo_id}: no file left)")
    return 0 if photos else 1
