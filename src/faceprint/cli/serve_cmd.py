"""faceprint serve [--host H --port P ...]: the REST service and its web page (FastAPI on uvicorn).

Every flag has an environment variable (``FACEPRINT_<FLAG>``, see
:class:`faceprint.service.settings.ServiceSettings`); flags win. Binding beyond loopback requires
API keys (``faceprint keys create --scope admin``). SIGTERM/Ctrl-C: stop accepting, let in-flight
requests finish (``--grace`` seconds), close the gallery.
"""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
from typing import Any

EXIT_BAD_INPUT = 2


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the REST service with its web page", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1; beyond loopback needs API keys)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument("--home", default=None, help="data directory: gallery and API keys (default: $FACEPRINT_HOME)")
    p.add_argument("--store", default=None, help="gallery store URL, e.g. postgresql://... (default: SQLite in --home)")
    p.add_argument("--auth", choices=["auto", "on", "off"], default=None, help="API keys: auto = required unless on loopback")
    p.add_argument("--workers", type=int, default=None, help="threads for detection/embedding (default 2)")
    p.add_argument("--max-upload-mb", type=float, default=None, help="largest request body (default 10)")
    p.add_argument("--timeout", type=float, default=None, dest="request_timeout_s",
                   help="per-request time limit in s (default 30)")
    p.add_argument("--cors-origin", action="append", default=None, dest="cors_origins",
                   help="allow this origin (repeatable; default: CORS off)")
    p.add_argument("--analyzer", default=None,
                   help="expression model for /v1/analyze (default faceprint_fer_cnn; or fer_mini_xception, or 'none')")
    p.add_argument("--preset", default=None,
                   help="named pipeline (faceprint.pipeline.PRESETS: default, fast, accurate, ...; default: default)")
    p.add_argument("--grace", type=float, default=None, dest="shutdown_grace_s",
                   help="seconds in-flight requests get on SIGTERM (default 20)")
    p.add_argument("--library", default=None,
                   help="serve this photo library file under /v1/library and on the page (default: off)")
    p.add_argument("--library-root", default=None, dest="library_root",
                   help="folder the page/API may index into --library (clients name sub-folders only; default: off)")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> Any:
    from faceprint.service.settings import ServiceSettings

    keys = ("host", "port", "home", "store", "auth", "workers", "max_upload_mb", "request_timeout_s", "cors_origins",
            "shutdown_grace_s", "analyzer", "preset", "library", "library_root")
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if str(overrides.get("analyzer", "")).lower() == "none":
        overrides["analyzer"] = None
    try:
        return ServiceSettings(**overrides)
    except ValueError as e:  # pydantic's ValidationError
        from faceprint.errors import InvalidInput

        raise InvalidInput(str(e)) from None


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound (in use, no permission, bad address), or None when it can.

    Binds a probe socket the way uvicorn will (SO_REUSEADDR) and closes it, so a busy port is
    reported before anything says "serving on"."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        return f"cannot resolve --host {host!r}: {e.strerror}"
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as e:
            hint = "choose another with --port N or FACEPRINT_PORT=N"
            if e.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use (another faceprint serve?): {hint}"
            if e.errno == errno.EACCES:
                return f"no permission to bind port {port} on {host}: {hint} (ports below 1024 need root)"
            return f"cannot bind {host}:{port}: {e.strerror}: check --host / FACEPRINT_HOST, or {hint}"
    return None


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from faceprint.service import create_app
    except ModuleNotFoundError as e:
        print(f"faceprint: the service needs the 'service' extra ({e.name} is missing): pip install 'faceprint[service]'",
              file=sys.stderr)
        return 3
    settings = settings_from_args(args)
    problem = port_problem(settings.host, settings.port)
    if problem:
        print(f"faceprint: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    app = create_app(settings)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"faceprint: serving on http://{shown}:{settings.port}/ (web page) — API schema at /openapi.json; Ctrl-C to stop",
          file=sys.stderr)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        timeout_graceful_shutdown=settings.shutdown_grace_s,  # a float works (asyncio.wait_for)
        log_level="info" if getattr(args, "verbose", 0) else "warning",
        server_header=False,
        log_config=None,  # uvicorn's loggers go through the CLI's root handler (SafeFormatter: no forged lines)
        limit_concurrency=settings.max_connections,  # beyond it: 503, so idle or slow clients cannot hold every socket
        timeout_keep_alive=5,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)

    # uvicorn handles SIGTERM/SIGINT itself while it serves (graceful shutdown), then re-raises the
    # signal, which would kill the process (exit -15) after a clean shutdown. These handlers take
    # that re-raised signal (and one arriving before uvicorn's own are in place: stop at once), so
    # a graceful stop exits 0.
    def stop(sig: int, frame: Any) -> None:
        server.should_exit = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if not server.started:
        return 3  # start-up failed (the reason is in the log)
    return 0
