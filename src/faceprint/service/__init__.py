"""The REST service: ``create_app(settings)`` builds the FastAPI application that ``faceprint serve``
runs (see docs/service.md). Importing this package loads nothing; FastAPI is only imported when an
app is built (install the ``service`` extra)."""

from __future__ import annotations

from faceprint._lazy import lazy_exports

_EXPORTS = {
    "create_app": "faceprint.service.app",
    "ServiceSettings": "faceprint.service.settings",
    "ApiKeyStore": "faceprint.service.keys",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
