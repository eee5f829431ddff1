"""Which requests may reach the service at all: the Host header against an allow-list (against DNS
rebinding: a page whose name resolves to 127.0.0.1 sends its own name as Host), and the origin of
state-changing requests (against cross-site form posts: multipart is a CORS-safelisted type, so a
browser sends it cross-origin without a preflight).

* Host: an IP literal is always accepted (rebinding needs a DNS name); a name must be ``localhost``,
  the bound host, or one of the configured ``allowed_hosts``.
* POST/PUT/PATCH/DELETE: an ``Origin`` header must name this server (the same scheme-less
  ``host:port`` as the Host header) or a configured CORS origin; ``Origin: null`` (sandboxed frames,
  ``file:`` pages) is refused. Without an ``Origin``, a browser's ``Sec-Fetch-Site`` of
  ``cross-site`` or ``same-site`` (another port of the same host) is refused. Clients that are not
  browsers (curl, the SDKs) send neither header and are unaffected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` (IPv6 in brackets) -> (lower-case host, port or None); None when malformed."""
    value = value.strip().lower()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if not name:
            return None
    else:
        name, sep, port_text = value.rpartition(":")
        if not sep:
            name, rest = value, ""
        else:
            rest = ":" + port_text
        if ":" in name or not name:
            return None
    port: int | None = None
    if rest:
        if not rest.startswith(":") or not rest[1:].isdigit() or len(rest) > 6:
            return None
        port = int(rest[1:])
        if port > 65535:
            return None
    return name.rstrip("."), port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OriginPolicy:
    """The allow-lists, built once from the settings."""

    host_names: frozenset[str]
    origins: frozenset[str]

    @classmethod
    def build(cls, bound_host: str, allowed_hosts: Iterable[str], cors_origins: Iterable[str]) -> OriginPolicy:
        names = {"localhost", "ip6-localhost"}
        bound = bound_host.strip("[]").lower()
        if bound and not _is_ip(bound):
            names.add(bound.rstrip("."))
        names.update(h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip())
        return cls(frozenset(names), frozenset(o.strip().rstrip("/").lower() for o in cors_origins))

    def host_allowed(self, host_header: str | None) -> bool:
        if host_header is None:
            return False
        parts = split_host(host_header)
        if parts is None:
            return False
        name = parts[0]
        return _is_ip(name) or name in self.host_names

    def origin_allowed(self, origin: str | None, host_header: str | None, fetch_site: str | None, scheme: str = "http") -> bool:
        """May a state-changing request with these headers, received over ``scheme``, go ahead?"""
        if origin is None:
            return (fetch_site or "").lower() not in ("cross-site", "same-site")
        origin = origin.strip().lower()
        if origin.rstrip("/") in self.origins:
            return True
        if origin == "null" or host_header is None:
            return False
        u = urlsplit(origin)
        if u.scheme != scheme or u.scheme not in _DEFAULT_PORTS or not u.netloc:
            return False
        theirs = split_host(u.netloc)
        ours = split_host(host_header)
        if theirs is None or ours is None:
            return False
        default = _DEFAULT_PORTS[u.scheme]
        return theirs[0] == ours[0] and (theirs[1] or default) == (ours[1] or default)
