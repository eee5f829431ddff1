"""faceprint keys create|list|revoke: API keys of the service (stored hashed in --home).

``create`` prints the new key once: keep it, it cannot be shown again.
"""

from __future__ import annotations

import argparse
from typing import Any

from faceprint.cli._common import print_json


def register(sub: Any) -> None:
    p = sub.add_parser("keys", help="manage the service's API keys", description=__doc__.split("\n\n")[0])
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    c = ks.add_parser("create", help="create a key and print it (once)")
    c.add_argument("--scope", choices=["read", "write", "admin"], default="read")
    c.add_argument("--label", default="", help="what the key is for")
    ls = ks.add_parser("list", help="every key (never the secrets)")
    r = ks.add_parser("revoke", help="revoke a key by id")
    r.add_argument("key_id")
    for q in (c, ls, r):
        q.add_argument("--home", default=None, help="data directory (default: $FACEPRINT_HOME)")
        q.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceprint.config import home_dir
    from faceprint.service.keys import ApiKeyStore

    store = ApiKeyStore(home_dir(args.home))
    try:
        if args.keys_command == "create":
            new = store.create(args.scope, args.label)
            if args.json:
                print_json(new.to_dict())
            else:
                print(new.key)
                print(f"(id {new.info.id}, scope {new.info.scope}: store it now, it is not shown again)", flush=True)
        elif args.keys_command == "list":
            keys = store.list()
            if args.json:
                print_json({"keys": [k.to_dict() for k in keys]})
            else:
                for k in keys:
                    state = "active" if k.active else "revoked"
                    print(f"{k.id}  {k.scope:<5}  {state:<7}  {k.label}")
        else:
            k = store.revoke(args.key_id)
            print_json(k.to_dict()) if args.json else print(f"revoked {k.id}")
    finally:
        store.close()
    return 0
